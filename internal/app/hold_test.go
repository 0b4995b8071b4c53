package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
	"github.com/callwerk/callwerk/media"
)

// The agent holds the call (re-INVITE a=sendonly): the member hears the
// hold music; resumed (a=sendrecv), the agent again. A held call is not
// ended for silence.
func TestAgentHoldPlaysMusicToMember(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Queues[0].Greeting = config.GreetingNone
		c.Media.Timeout = config.Duration(2 * time.Second)
	})
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mc, err := newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "+4930555010", KeepPayloads: true})
	require.NoError(t, err)
	defer func() { _ = mc.Hangup(ctx) }()
	ac := waitAnswered(t, agent, 3*time.Second)
	require.Eventually(t, func() bool { return mc.RTP.Stats().ByTag[loadtest.TagAgent] > 10 }, 3*time.Second, 20*time.Millisecond)

	code, err := ac.Hold(ctx, true)
	require.NoError(t, err)
	require.Equal(t, 200, code)
	ac.RTP.Mute() // a held phone may fall silent: no media timeout while held
	time.Sleep(3 * time.Second)
	select {
	case <-mc.Done():
		t.Fatal("the held call was ended for silence")
	default:
	}
	resumed := time.Now()
	code, err = ac.Hold(ctx, false)
	require.NoError(t, err)
	require.Equal(t, 200, code)
	got := heard(t, mc.RTP.Payloads(), map[string]*media.Source{"music": holdMusic()})
	assert.Equal(t, []string{"agent", "music"}, got, "the agent, then music while held")
	assert.True(t, logged(n, "call on hold", "by", "agent"))
	assert.True(t, logged(n, "call resumed", "by", "agent"))

	// Resumed, but the agent's phone stays silent: the media timeout (2 s)
	// ends the call, counted from the resume, not from the last packet.
	select {
	case <-mc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the silent call was not ended by the media timeout")
	}
	assert.GreaterOrEqual(t, time.Since(resumed), 1900*time.Millisecond, "silence counts from the resume")
	assert.Eventually(t, func() bool {
		return strings.Contains(n.logs.String(), `"reason":"media timeout: no RTP from the agent for `)
	}, time.Second, 10*time.Millisecond)
}
