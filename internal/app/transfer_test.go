package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
)

// A blind transfer (REFER) from the agent's phone to another number: the
// phone is told it worked and hangs up, wraps up, and the member waits in
// the target queue until an agent there answers; the queue log says
// TRANSFER.
func TestAgentTransfersCallToAnotherQueue(t *testing.T) {
	qlog := filepath.Join(t.TempDir(), "queue_log")
	n := startNode(t, func(c *config.Config) {
		c.Queues = append(c.Queues, config.Queue{Name: "billing", RingTimeout: config.Duration(5 * time.Second), RingStep: config.Duration(time.Second)})
		c.Numbers = append(c.Numbers, config.Number{Number: "300", Queue: "billing", Answer: "immediate"})
		c.Agents[1].Queues = []string{"billing"} // 1002
		c.QueueLog = qlog
	})
	first := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	mc := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, first, 3*time.Second)

	billing := registerAgent(t, n, "1002", loadtest.AgentOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := ac.Transfer(ctx, "404")
	require.NoError(t, err)
	assert.Equal(t, 404, res.StatusCode, "not a configured number")
	res, err = ac.Transfer(ctx, "300")
	require.NoError(t, err)
	assert.Equal(t, 202, res.StatusCode)

	waitClosed(t, ac.Done(), 3*time.Second, "the transferring phone hangs up after the NOTIFY")
	waitAnswered(t, billing, 5*time.Second)
	n.waitAgentState(t, "1002", acd.OnCall, 2*time.Second)
	assert.Contains(t, []acd.State{acd.WrapUp, acd.Available}, n.agentState(t, "1001"))
	select {
	case <-mc.Done():
		t.Fatal("the member's call ended with the transfer")
	default:
	}
	before := mc.RTP.Stats().ByTag[loadtest.TagAgent]
	require.Eventually(t, func() bool { return mc.RTP.Stats().ByTag[loadtest.TagAgent] > before+10 }, 2*time.Second, 20*time.Millisecond,
		"the member hears the billing agent")

	n.stop() // flushes the queue log
	b, err := os.ReadFile(qlog)
	require.NoError(t, err)
	assert.Regexp(t, `\|service\|a-[a-z2-7]{16}\|TRANSFER\|billing\|`, string(b))
	assert.Regexp(t, `\|billing\|NONE\|ENTER\|`, string(b))
}
