package queues_test

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/queues"
)

func TestSyncCarriesChanges(t *testing.T) {
	bus := newBus(t)
	s := queues.NewSync(bus.Conn, zerolog.New(zerolog.NewTestWriter(t)))
	got := make(chan acd.Change, 4)
	require.NoError(t, s.Subscribe(func(ch acd.Change) { got <- ch }))
	t.Cleanup(s.Close)

	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	sent := []acd.Change{
		{Node: "n1", Agent: &acd.Agent{ID: "a1", Queues: []string{"sales"}, State: acd.Reserved, Since: at, Call: "c1", Fence: 2, CallNode: "n1", Version: 7}},
		{Node: "n1", Call: &acd.Call{ID: "c1", Queue: "sales", Enqueued: at, Agent: "a1", Node: "n1", Fence: 2, Version: 3}},
		{Node: "n2", Removed: "c9"},
	}
	for _, ch := range sent {
		s.Publish(ch)
	}
	for _, want := range sent {
		select {
		case ch := <-got:
			assert.Equal(t, want, ch)
		case <-time.After(waitFor):
			t.Fatal("change not delivered")
		}
	}
}

func TestSyncDropsGarbage(t *testing.T) {
	bus := newBus(t)
	s := queues.NewSync(bus.Conn, zerolog.New(zerolog.NewTestWriter(t)))
	got := make(chan acd.Change, 4)
	require.NoError(t, s.Subscribe(func(ch acd.Change) { got <- ch }))
	t.Cleanup(s.Close)
	require.NoError(t, bus.Conn.Publish(queues.SubjectSync, []byte("{not json")))
	s.Publish(acd.Change{Node: "n1", Removed: "c1"})
	select {
	case ch := <-got:
		assert.Equal(t, acd.CallID("c1"), ch.Removed, "garbage skipped, the next change delivered")
	case <-time.After(waitFor):
		t.Fatal("change not delivered")
	}
}
