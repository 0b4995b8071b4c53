package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
)

// ring-all through SIP: three phones ring at once, the one that answers
// takes the call, the other two stop ringing (CANCEL) without a miss.
func TestRingAllFirstAnswerTakesTheCall(t *testing.T) {
	n := startNode(t, func(c *config.Config) { c.Queues[0].Strategy = "ring-all" })
	quiet1 := registerAgent(t, n, "1001", loadtest.AgentOptions{NeverAnswer: true})
	quiet2 := registerAgent(t, n, "1002", loadtest.AgentOptions{NeverAnswer: true})
	answers := registerAgent(t, n, "1003", loadtest.AgentOptions{AnswerAfter: 300 * time.Millisecond})

	mc := call(t, n, newMember(t), "100")
	require.Eventually(t, func() bool { return mc.RTP.Stats().ByTag[loadtest.TagAgent] > 0 }, 5*time.Second, 10*time.Millisecond,
		"the member hears the agent who answered")
	for _, a := range []*loadtest.Agent{quiet1, quiet2} {
		assert.Equal(t, int64(1), a.Rings.Load(), "%s rang", a.User)
		require.Eventually(t, func() bool { return a.Cancels.Load() == 1 }, 2*time.Second, 10*time.Millisecond, "%s's ring was cancelled", a.User)
		assert.Zero(t, n.agent(t, a.User).Misses, "a ring stopped by another's answer is no miss")
		assert.Equal(t, acd.Available, n.agentState(t, a.User))
	}
	assert.Equal(t, int64(1), answers.Calls.Load())
	assert.Equal(t, acd.OnCall, n.agentState(t, "1003"))
}

// ring-progressively through SIP: the second phone joins one ring_step
// after the first, and the first keeps ringing until the second answers.
func TestRingProgressivelyAddsThePhoneAfterAStep(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Queues[0].Strategy = "ring-progressively"
		c.Queues[0].RingStep = config.Duration(time.Second)
	})
	first := registerAgent(t, n, "1001", loadtest.AgentOptions{NeverAnswer: true})
	time.Sleep(10 * time.Millisecond) // 1001 idle longest: it rings first
	second := registerAgent(t, n, "1002", loadtest.AgentOptions{})

	start := time.Now()
	mc := call(t, n, newMember(t), "100")
	require.Eventually(t, func() bool { return first.Rings.Load() == 1 }, 2*time.Second, 5*time.Millisecond)
	assert.Zero(t, second.Rings.Load(), "the second phone waits its step")
	require.Eventually(t, func() bool { return mc.RTP.Stats().ByTag[loadtest.TagAgent] > 0 }, 5*time.Second, 10*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "the second phone rang after the step")
	assert.Equal(t, int64(1), second.Calls.Load())
	require.Eventually(t, func() bool { return first.Cancels.Load() == 1 }, 2*time.Second, 10*time.Millisecond)
}
