package acd_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
)

// A callback keeps its place; an unanswered attempt frees the agent without
// fault and holds the call back until the retry time; after the last attempt
// the call leaves the queue.
func TestACDCallback(t *testing.T) {
	h := newHarness(t)
	ch := h.enqueue("c1", sales.Name)
	require.NoError(t, h.acd.Callback(h.ctx, "c1"))
	h.rec.expect(t, callEv("call.callback", sales.Name, "", "c1"))
	assert.True(t, h.calls()["c1"].Callback)

	h.online("a1", sales.Name)
	h.expectOffer(ch, "c1", sales, "a1")

	retry := h.clock.Now().Add(5 * time.Minute)
	require.NoError(t, h.acd.RetryCallback(h.ctx, "c1", "a1", retry))
	h.rec.expect(t, callEv("call.callbackretry", sales.Name, "", "c1"), agentEv("a1", acd.Available))
	c1 := h.calls()["c1"]
	assert.Equal(t, retry, c1.NotBefore)
	assert.Empty(t, c1.Agent)
	assert.Empty(t, c1.Tried, "not the agent's fault: no miss, no order change")
	assert.Zero(t, h.agent("a1").Misses)

	h.flush() // the probe goes to its own agent; c1 is held back
	noOffer(t, ch)
	h.clock.Advance(5 * time.Minute)
	h.expectOffer(ch, "c1", sales, "a1") // at the next routing pass

	require.NoError(t, h.acd.GiveUpCallback(h.ctx, "c1"))
	h.rec.expect(t, callEv("call.callbackfailed", sales.Name, "", "c1"), agentEv("a1", acd.Available))
	assert.Empty(t, h.calls())
}
