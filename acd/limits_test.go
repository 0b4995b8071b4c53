package acd_test

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/acd/acdtest"
	"github.com/callwerk/callwerk/queues"
)

// limitsACD runs an ACD over queues first (max wait 1 min, overflow to
// second), second (max wait 2 min, no overflow, at most 2 calls) and third
// (join when empty, no leave when empty).
func limitsACD(t *testing.T) (*acd.ACD, *queues.Memory, *acdtest.FakeClock) {
	t.Helper()
	store := queues.NewMemory()
	clock := acdtest.NewFakeClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	qs := []acd.QueueConfig{
		{Name: "first", RingTimeout: 10 * time.Second, MaxWait: time.Minute, Overflow: "second", LeaveWhenEmpty: true},
		{Name: "second", RingTimeout: 20 * time.Second, MaxWait: 2 * time.Minute, MaxLength: 2, LeaveWhenEmpty: true},
		{Name: "third", RingTimeout: 10 * time.Second, JoinEmpty: true},
	}
	a := acd.New(store, qs, clock, nil, zerolog.Nop())
	t.Cleanup(runACD(t, a))
	return a, store, clock
}

// next waits for the next offer; the dispatcher enforces limits at least
// once a second.
func next(t *testing.T, ch <-chan acd.Offer) acd.Offer {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(3 * acd.DispatchInterval):
		t.Fatal("no offer")
		return acd.Offer{}
	}
}

func TestAdmit(t *testing.T) {
	a, store, _ := limitsACD(t)
	ctx := t.Context()
	require.ErrorIs(t, a.Admit(ctx, "first"), acd.ErrQueueEmpty, "nobody logged in")
	require.NoError(t, a.Admit(ctx, "third"), "third lets calls join empty")
	require.ErrorIs(t, a.Admit(ctx, "nowhere"), acd.ErrUnknownQueue)

	require.NoError(t, store.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"first", "second"}}))
	require.NoError(t, a.SetPresence(ctx, "a1", acd.Registered))
	require.NoError(t, a.SetPause(ctx, "a1", "lunch"))
	require.NoError(t, a.Admit(ctx, "first"), "a paused agent counts as logged in")

	for _, id := range []acd.CallID{"c1", "c2"} {
		_, err := a.Enqueue(ctx, acd.Call{ID: id, Queue: "second"})
		require.NoError(t, err)
	}
	require.ErrorIs(t, a.Admit(ctx, "second"), acd.ErrQueueFull)
}

func TestMaxWaitOverflowKeepsAgeThenTimesOut(t *testing.T) {
	a, store, clock := limitsACD(t)
	ctx := t.Context()
	require.NoError(t, store.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"first", "second"}}))
	require.NoError(t, a.SetPresence(ctx, "a1", acd.Registered))
	require.NoError(t, a.SetPause(ctx, "a1", "lunch")) // logged in, takes nothing
	entered := clock.Now()
	ch, err := a.Enqueue(ctx, acd.Call{ID: "c1", Queue: "first"})
	require.NoError(t, err)

	clock.Advance(time.Minute)
	require.Eventually(t, func() bool {
		calls, _ := store.Calls(ctx)
		return len(calls) == 1 && calls[0].Queue == "second"
	}, 3*acd.DispatchInterval, 10*time.Millisecond, "overflowed to second after 1 min")
	calls, err := store.Calls(ctx)
	require.NoError(t, err)
	assert.Equal(t, entered, calls[0].Enqueued, "the call keeps its age")

	// second's max wait is 2 min from the first entry, not from the overflow.
	clock.Advance(time.Minute)
	o := next(t, ch)
	assert.Equal(t, acd.Offer{Queue: "second", Leave: acd.LeaveTimeout}, o)
	calls, err = store.Calls(ctx)
	require.NoError(t, err)
	assert.Empty(t, calls)
}

func TestLeaveWhenEmpty(t *testing.T) {
	a, store, _ := limitsACD(t)
	ctx := t.Context()
	require.NoError(t, store.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"first", "third"}}))
	require.NoError(t, a.SetPresence(ctx, "a1", acd.Registered))
	require.NoError(t, a.SetPause(ctx, "a1", "lunch"))
	first, err := a.Enqueue(ctx, acd.Call{ID: "c1", Queue: "first"})
	require.NoError(t, err)
	third, err := a.Enqueue(ctx, acd.Call{ID: "c3", Queue: "third"})
	require.NoError(t, err)

	require.NoError(t, a.SetPresence(ctx, "a1", acd.Unregistered)) // the last agent logs out
	assert.Equal(t, acd.Offer{Queue: "first", Leave: acd.LeaveEmpty}, next(t, first))
	select {
	case o := <-third:
		t.Fatalf("third keeps its calls when empty, got %+v", o)
	case <-time.After(2 * acd.DispatchInterval):
	}
}
