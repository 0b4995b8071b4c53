package acd_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/acd/acdtest"
	"github.com/callwerk/callwerk/queues"
)

// ringNode runs one ACD with a ring-all and a ring-progressively queue and
// agents a1..a3 online in that order (a1 idle longest).
func ringNode(t *testing.T) (*acd.ACD, *queues.Memory, *acdtest.FakeClock) {
	t.Helper()
	store := queues.NewMemory()
	clock := acdtest.NewFakeClock(t0)
	qs := []acd.QueueConfig{
		{Name: "all", RingTimeout: 20 * time.Second, Strategy: acd.RingAll, MaxMisses: 3},
		{Name: "prog", RingTimeout: 20 * time.Second, Strategy: acd.RingProgressively, RingStep: 5 * time.Second},
	}
	a := acd.New(store, qs, clock, nil, zerolog.New(zerolog.NewTestWriter(t)), acd.WithNode("n1"))
	stop := runACD(t, a)
	t.Cleanup(stop)
	for _, id := range []acd.AgentID{"a1", "a2", "a3"} {
		require.NoError(t, store.PutAgent(t.Context(), acd.Agent{ID: id, Queues: []string{"all", "prog"}}))
		require.NoError(t, a.SetPresence(t.Context(), id, acd.Registered))
		clock.Advance(time.Second)
	}
	return a, store, clock
}

func runACD(t *testing.T, a *acd.ACD) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	return func() { cancel(); <-done }
}

func states(t *testing.T, s acd.Store) map[acd.AgentID]acd.State {
	t.Helper()
	as, err := s.Agents(t.Context())
	require.NoError(t, err)
	out := map[acd.AgentID]acd.State{}
	for _, a := range as {
		out[a.ID] = a.State
	}
	return out
}

func TestRingAllOffersEveryFreeAgent(t *testing.T) {
	a, store, _ := ringNode(t)
	ctx := t.Context()
	ch, err := a.Enqueue(ctx, acd.Call{ID: "c1", Queue: "all"})
	require.NoError(t, err)
	o := offerWithin(t, ch, waitFor)
	assert.Equal(t, acd.AgentID("a1"), o.Agent, "longest idle first")
	assert.Equal(t, []acd.Target{{Agent: "a2"}, {Agent: "a3"}}, o.Also, "all ring at once")
	assert.Equal(t, map[acd.AgentID]acd.State{"a1": acd.Reserved, "a2": acd.Reserved, "a3": acd.Reserved}, states(t, store))

	// a3 answers: the others are withdrawn (no miss), then a3 connects.
	require.NoError(t, a.OfferFailed(ctx, "c1", "a1", acd.Withdrawn))
	require.NoError(t, a.OfferFailed(ctx, "c1", "a2", acd.Withdrawn))
	require.NoError(t, a.Connect(ctx, "c1", "a3"))
	assert.Equal(t, map[acd.AgentID]acd.State{"a1": acd.Available, "a2": acd.Available, "a3": acd.OnCall}, states(t, store))
	as, err := store.Agents(ctx)
	require.NoError(t, err)
	for _, ag := range as {
		assert.Zero(t, ag.Misses, "%s: a withdrawn ring is no miss", ag.ID)
	}
}

func TestRingAllNobodyAnswers(t *testing.T) {
	a, store, _ := ringNode(t)
	ctx := t.Context()
	ch, err := a.Enqueue(ctx, acd.Call{ID: "c1", Queue: "all"})
	require.NoError(t, err)
	o := offerWithin(t, ch, waitFor)
	require.NoError(t, a.SetPause(ctx, "a1", "break")) // after this offer: a1 takes no retry
	for _, tg := range o.Targets() {
		require.NoError(t, a.OfferFailed(ctx, "c1", tg.Agent, acd.NoAnswer))
	}
	again := offerWithin(t, ch, waitFor)
	assert.Equal(t, acd.AgentID("a2"), again.Agent, "offered again once everybody rang out")
	cs, err := store.Calls(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []acd.AgentID{"a1", "a2", "a3"}, cs[0].Tried)
	assert.Equal(t, acd.Paused, states(t, store)["a1"])
}

func TestRingAllAbandonFreesEveryPhone(t *testing.T) {
	a, store, _ := ringNode(t)
	ctx := t.Context()
	ch, err := a.Enqueue(ctx, acd.Call{ID: "c1", Queue: "all"})
	require.NoError(t, err)
	offerWithin(t, ch, waitFor)
	require.NoError(t, a.Abandon(ctx, "c1"))
	assert.Equal(t, map[acd.AgentID]acd.State{"a1": acd.Available, "a2": acd.Available, "a3": acd.Available}, states(t, store))
}

func TestRingProgressivelyAddsAnAgentEachStep(t *testing.T) {
	a, _, _ := ringNode(t)
	ch, err := a.Enqueue(t.Context(), acd.Call{ID: "c1", Queue: "prog"})
	require.NoError(t, err)
	o := offerWithin(t, ch, waitFor)
	assert.Equal(t, acd.AgentID("a1"), o.Agent)
	assert.Equal(t, []acd.Target{{Agent: "a2", After: 5 * time.Second}, {Agent: "a3", After: 10 * time.Second}}, o.Also)
}

func TestRingAllAgentLetGoRingsForTheNextCall(t *testing.T) {
	a, store, _ := ringNode(t)
	ctx := t.Context()
	// Two calls arrive before the dispatcher runs: each gets an agent by
	// the usual order; ring-all adds only agents no call took.
	ch1, err := a.Enqueue(ctx, acd.Call{ID: "c1", Queue: "all", Priority: 1})
	require.NoError(t, err)
	o1 := offerWithin(t, ch1, waitFor)
	ch2, err := a.Enqueue(ctx, acd.Call{ID: "c2", Queue: "all"})
	require.NoError(t, err)
	require.NoError(t, a.OfferFailed(ctx, "c1", o1.Also[0].Agent, acd.Withdrawn))
	o2 := offerWithin(t, ch2, waitFor)
	assert.Equal(t, o1.Also[0].Agent, o2.Agent, "the agent c1 let go rings for c2")
	assert.Empty(t, o2.Also)
	assert.Equal(t, acd.Reserved, states(t, store)[o2.Agent])
}
