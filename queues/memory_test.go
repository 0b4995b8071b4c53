package queues_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/queues"
)

func TestMemoryStore(t *testing.T) {
	testStore(t, func() acd.Store { return queues.NewMemory() })
}

// What Memory promises beyond acd.Store.

func TestMemoryOrder(t *testing.T) {
	ctx := t.Context()
	m := queues.NewMemory()
	for _, id := range []acd.AgentID{"c", "a", "b"} {
		require.NoError(t, m.PutAgent(ctx, acd.Agent{ID: id}))
	}
	for _, c := range []acd.Call{
		{ID: "late", Enqueued: t0.Add(time.Minute)},
		{ID: "tie-b", Enqueued: t0},
		{ID: "tie-a", Enqueued: t0},
	} {
		require.NoError(t, m.AddCall(ctx, c))
	}
	var agentIDs []acd.AgentID
	for _, a := range agents(t, m) {
		agentIDs = append(agentIDs, a.ID)
	}
	assert.Equal(t, []acd.AgentID{"a", "b", "c"}, agentIDs, "agents by ID")
	var callIDs []acd.CallID
	for _, c := range calls(t, m) {
		callIDs = append(callIDs, c.ID)
	}
	assert.Equal(t, []acd.CallID{"tie-a", "tie-b", "late"}, callIDs, "calls by enqueue time, then ID")
}

func TestMemoryRemoveCallWithoutFn(t *testing.T) {
	m := queues.NewMemory()
	require.NoError(t, m.AddCall(t.Context(), acd.Call{ID: "c1", Queue: "sales"}))
	require.NoError(t, m.RemoveCall(t.Context(), "c1", nil))
	assert.Empty(t, calls(t, m))
}
