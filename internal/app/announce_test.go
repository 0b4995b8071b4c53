package app

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/internal/prompts"
	"github.com/callwerk/callwerk/loadtest"
	"github.com/callwerk/callwerk/media"
)

// heard labels what a member received, frame by frame, by the clip each
// payload belongs to, and returns the labels in order with repeats and
// the silence between clips dropped.
func heard(t *testing.T, payloads [][]byte, clips map[string]*media.Source) []string {
	t.Helper()
	label := map[string]string{}
	for name, src := range clips {
		for i := range src.Frames() {
			f := string(src.Frame(media.PCMU, i))
			if _, dup := label[f]; !dup {
				label[f] = name
			}
		}
	}
	var out []string
	for _, p := range payloads {
		name, ok := label[string(p)]
		switch {
		case len(p) >= 5 && string(p[:4]) == "CWLT" && loadtest.Tag(p[4]) == loadtest.TagAgent:
			name = "agent"
		case !ok || allSilent(p):
			continue
		}
		if len(out) == 0 || out[len(out)-1] != name {
			out = append(out, name)
		}
	}
	return out
}

func allSilent(p []byte) bool {
	for _, b := range p {
		if b != 0xFF && b != 0x7F { // µ-law zero
			return false
		}
	}
	return true
}

// A member third in line hears, in this order: the greeting, the music,
// "Sie sind jetzt an Position drei", the music, "... Position zwei" once a
// call ahead has left, the music, and then the agent. Decoded from the RTP
// payloads the member received.
func TestMemberHearsGreetingPositionsThenAgent(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Queues[0].AnnounceFirst = config.Duration(time.Second)
		c.Queues[0].AnnounceEvery = config.Duration(5 * time.Second)
		c.Queues[0].Announce = config.AnnouncePosition
	})
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, n.acd.SetPause(ctx, "1001", "break"))
	first := call(t, n, newMember(t), "100")
	second := call(t, n, newMember(t), "100")
	member := newMember(t)
	third, err := member.Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "+4930555003", KeepPayloads: true})
	require.NoError(t, err)
	defer func() { _ = third.Hangup(ctx) }()

	greeting, err := prompts.Load(prompts.Greeting)
	require.NoError(t, err)
	clip := func(name string) *media.Source {
		src, err := prompts.Load(name)
		require.NoError(t, err)
		return src
	}
	// The greeting, then "position three" at the first announcement after it.
	require.Eventually(t, func() bool { return logged(n, "announcement", "position", "3") }, 15*time.Second, 20*time.Millisecond)
	said := clip(prompts.Position).Frames() + clip(prompts.Number(3)).Frames()
	time.Sleep(time.Duration(said)*20*time.Millisecond + time.Second) // heard to the end, then music
	require.NoError(t, first.Hangup(ctx))                             // the third call is second now
	// The second call heard "position two" first; then the third call does.
	require.Eventually(t, func() bool { return countLogged(n, "announcement", "position", "2") == 2 }, 7*time.Second, 20*time.Millisecond,
		"the third call's next announcement says position two")
	said = clip(prompts.Position).Frames() + clip(prompts.Number(2)).Frames()
	time.Sleep(time.Duration(said)*20*time.Millisecond + time.Second) // heard to the end, then music
	require.NoError(t, second.Hangup(ctx))
	require.NoError(t, n.acd.SetPause(ctx, "1001", ""))
	waitAnswered(t, agent, 5*time.Second)
	require.Eventually(t, func() bool { return third.RTP.Stats().ByTag[loadtest.TagAgent] > 25 }, 5*time.Second, 20*time.Millisecond)

	got := heard(t, third.RTP.Payloads(), map[string]*media.Source{
		"greeting": greeting, "music": holdMusic(),
		"position": clip(prompts.Position), "3": clip(prompts.Number(3)), "2": clip(prompts.Number(2)),
	})
	assert.Equal(t, []string{"greeting", "music", "position", "3", "music", "position", "2", "music", "agent"}, got)
}
