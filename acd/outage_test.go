package acd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/acd/acdtest"
	"github.com/callwerk/callwerk/queues"
)

// flakyStore is a memory store that can be taken down (every method fails
// with ErrUnavailable, as the Redis store does when it cannot reach the
// server) and brought back empty (a Redis restarted without persistence).
type flakyStore struct {
	mu   sync.Mutex
	mem  *queues.Memory
	down bool
}

func (f *flakyStore) get() (*queues.Memory, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, acd.ErrUnavailable
	}
	return f.mem, nil
}

func (f *flakyStore) setDown(down, wipe bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	if wipe {
		f.mem = queues.NewMemory()
	}
}

func (f *flakyStore) PutAgent(ctx context.Context, a acd.Agent) error {
	m, err := f.get()
	if err != nil {
		return err
	}
	return m.PutAgent(ctx, a)
}

func (f *flakyStore) Agents(ctx context.Context) ([]acd.Agent, error) {
	m, err := f.get()
	if err != nil {
		return nil, err
	}
	return m.Agents(ctx)
}

func (f *flakyStore) UpdateAgent(ctx context.Context, id acd.AgentID, fn func(*acd.Agent) error) (acd.Agent, error) {
	m, err := f.get()
	if err != nil {
		return acd.Agent{}, err
	}
	return m.UpdateAgent(ctx, id, fn)
}

func (f *flakyStore) AddCall(ctx context.Context, c acd.Call) error {
	m, err := f.get()
	if err != nil {
		return err
	}
	return m.AddCall(ctx, c)
}

func (f *flakyStore) Calls(ctx context.Context) ([]acd.Call, error) {
	m, err := f.get()
	if err != nil {
		return nil, err
	}
	return m.Calls(ctx)
}

func (f *flakyStore) UpdateCallAgent(ctx context.Context, c acd.CallID, a acd.AgentID, fn func(*acd.Call, *acd.Agent) error) error {
	m, err := f.get()
	if err != nil {
		return err
	}
	return m.UpdateCallAgent(ctx, c, a, fn)
}

func (f *flakyStore) RemoveCall(ctx context.Context, c acd.CallID, fn func(*acd.Call, *acd.Agent) error) error {
	m, err := f.get()
	if err != nil {
		return err
	}
	return m.RemoveCall(ctx, c, fn)
}

func (f *flakyStore) Epoch(ctx context.Context) (string, error) {
	m, err := f.get()
	if err != nil {
		return "", err
	}
	return m.Epoch(ctx)
}

func (f *flakyStore) RenewNode(ctx context.Context, n acd.NodeInfo) error {
	m, err := f.get()
	if err != nil {
		return err
	}
	return m.RenewNode(ctx, n)
}

func (f *flakyStore) Nodes(ctx context.Context) ([]acd.NodeInfo, error) {
	m, err := f.get()
	if err != nil {
		return nil, err
	}
	return m.Nodes(ctx)
}

func (f *flakyStore) RemoveNode(ctx context.Context, n acd.NodeInfo) error {
	m, err := f.get()
	if err != nil {
		return err
	}
	return m.RemoveNode(ctx, n)
}

// A store outage: the connected call ends and an agent's phone registers
// while the store is down, new calls are refused, the waiting call keeps
// waiting. The store comes back empty: the node restores its agents and
// its waiting call, then writes what happened meanwhile, in order, and
// takes calls again.
func TestStoreOutage(t *testing.T) {
	for _, wipe := range []bool{false, true} {
		name := "store kept its data"
		if wipe {
			name = "store came back empty"
		}
		t.Run(name, func(t *testing.T) { storeOutage(t, wipe) })
	}
}

func storeOutage(t *testing.T, wipe bool) {
	ctx := t.Context()
	store := &flakyStore{mem: queues.NewMemory()}
	clock := acdtest.NewFakeClock(t0)
	a := acd.New(store, []acd.QueueConfig{sales, support}, clock, newRecorder(), zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, store.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"sales"}}))
	require.NoError(t, store.PutAgent(ctx, acd.Agent{ID: "a2", Queues: []string{"support"}, Skills: map[string]int{"de": 3}}))
	require.NoError(t, a.Recover(ctx))
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	defer func() { cancel(); <-done }()

	require.NoError(t, a.SetPresence(ctx, "a1", acd.Registered))
	offers, err := a.Enqueue(ctx, acd.Call{ID: "c1", Queue: "sales"})
	require.NoError(t, err)
	select {
	case o := <-offers:
		require.Equal(t, acd.AgentID("a1"), o.Agent)
	case <-time.After(waitFor):
		t.Fatal("no offer for c1")
	}
	require.NoError(t, a.Connect(ctx, "c1", "a1"))
	waiting, err := a.Enqueue(ctx, acd.Call{ID: "c2", Queue: "support"})
	require.NoError(t, err)
	require.NoError(t, a.Admit(ctx, "sales"))

	store.setDown(true, false)
	assert.NoError(t, a.Complete(ctx, "c1", "sales", "a1", acd.HangupCaller), "kept for later: the SIP side goes on")
	assert.NoError(t, a.SetPresence(ctx, "a2", acd.Registered), "kept for later")
	assert.ErrorIs(t, a.Admit(ctx, "sales"), acd.ErrUnavailable, "new calls are refused while the store is down")
	time.Sleep(2 * acd.ProbeInterval)
	assert.ErrorIs(t, a.Admit(ctx, "sales"), acd.ErrUnavailable, "the probe finds it still down")
	noOffer(t, waiting)

	back := time.Now()
	store.setDown(false, wipe)
	select {
	case o := <-waiting:
		assert.Equal(t, acd.AgentID("a2"), o.Agent, "the call that waited through the outage is routed")
	case <-time.After(waitFor):
		t.Fatal("the waiting call was not routed after the store came back")
	}
	assert.Less(t, time.Since(back), 2*time.Second)
	require.NoError(t, a.Admit(ctx, "sales"), "full service")

	agents, err := store.Agents(ctx)
	require.NoError(t, err)
	require.Len(t, agents, 2)
	assert.Equal(t, acd.WrapUp, agents[0].State, "a1 wraps up after the call that ended during the outage")
	assert.Equal(t, acd.CallID("c1"), agents[0].Call)
	assert.Equal(t, acd.Reserved, agents[1].State, "a2 registered during the outage and got c2")
	assert.Equal(t, map[string]int{"de": 3}, agents[1].Skills)
	clock.Advance(sales.Wrapup)
	require.Eventually(t, func() bool {
		ags, err := store.Agents(ctx)
		return err == nil && ags[0].State == acd.Available
	}, waitFor, 10*time.Millisecond, "a1's wrap-up ends")
}

// After a store outage a node does not judge other nodes' leases for one
// lease period: they were cut off like itself and renew theirs meanwhile.
// A node that stays silent past that is dead and is taken over.
func TestNoTakeoverRightAfterOutage(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	ctx := t.Context()
	store := &flakyStore{mem: queues.NewMemory()}
	require.NoError(t, store.PutAgent(ctx, acd.Agent{ID: "b1", Queues: []string{"sales"}}))
	_, err := store.UpdateAgent(ctx, "b1", func(g *acd.Agent) error {
		acd.SetPresence(g, acd.Registered, "b", t0)
		return nil
	})
	require.NoError(t, err)
	lease := func() {
		require.NoError(t, store.RenewNode(ctx, acd.NodeInfo{Name: "b", Expires: time.Now().Add(ttl)}))
	}
	lease()

	a := acd.New(store, []acd.QueueConfig{sales}, acd.SystemClock{}, newRecorder(), zerolog.New(zerolog.NewTestWriter(t)),
		acd.WithNode("a"), acd.WithLease("", ttl))
	require.NoError(t, a.Recover(ctx))
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	defer func() { cancel(); <-done }()

	online := func() bool {
		agents, err := store.Agents(ctx)
		require.NoError(t, err)
		return agents[0].Online
	}
	time.Sleep(ttl / 2)
	lease()
	store.setDown(true, false)
	time.Sleep(2 * ttl) // b's lease runs out while the store is down
	store.setDown(false, false)
	back := time.Now()
	for time.Since(back) < ttl*3/4 {
		require.True(t, online(), "a took over after b %v after the store came back", time.Since(back))
		time.Sleep(20 * time.Millisecond)
	}
	// b never renews: after the grace it is dead.
	require.Eventually(t, func() bool { return !online() }, 3*ttl, 20*time.Millisecond, "b is taken over once the grace is over")
}
