package queues_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/redistest"
	"github.com/callwerk/callwerk/queues"
)

// The tests need Redis (internal/redistest); `make test` starts it.

func TestRedisStore(t *testing.T) {
	c := redistest.Client(t, 0)
	testStore(t, func() acd.Store { return queues.NewRedis(c, redistest.Prefix(t, c)) })
}

// What Redis promises beyond acd.Store.

func TestRedisKeyLayout(t *testing.T) {
	ctx := t.Context()
	c := redistest.Client(t, 0)
	prefix := redistest.Prefix(t, c)
	s := queues.NewRedis(c, prefix)
	putOnline(t, s, "a1")
	require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}))
	require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c2", Queue: "sales", Enqueued: t0}))
	require.NoError(t, s.RemoveCall(ctx, "c2", nil))

	keys, err := redistest.KeysUnder(ctx, c, prefix)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{prefix + "agent:a1", prefix + "call:c1", prefix + "agents", prefix + "calls"}, keys)
	assert.Equal(t, []string{"a1"}, c.SMembers(ctx, prefix+"agents").Val())
	assert.Equal(t, []string{"c1"}, c.SMembers(ctx, prefix+"calls").Val())
	assert.JSONEq(t, `{"ID":"c1","Queue":"sales","Priority":0,"Enqueued":"2025-03-01T09:00:00Z","Agent":"","Ringing":null,"Tried":null,"Node":"","Callback":false,"NotBefore":"0001-01-01T00:00:00Z","Fence":0,"Version":1}`,
		c.Get(ctx, prefix+"call:c1").Val())
}

func TestRedisFnErrorIsReturnedAsIs(t *testing.T) {
	cases := []struct {
		name string
		run  func(ctx context.Context, s acd.Store) error
	}{
		{"update agent", func(ctx context.Context, s acd.Store) error {
			_, err := s.UpdateAgent(ctx, "a1", func(*acd.Agent) error { return errVeto })
			return err
		}},
		{"update call and agent", func(ctx context.Context, s acd.Store) error {
			return s.UpdateCallAgent(ctx, "c1", "a1", func(*acd.Call, *acd.Agent) error { return errVeto })
		}},
		{"remove call", func(ctx context.Context, s acd.Store) error {
			return s.RemoveCall(ctx, "c1", func(*acd.Call, *acd.Agent) error { return errVeto })
		}},
	}
	c := redistest.Client(t, 0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := queues.NewRedis(c, redistest.Prefix(t, c))
			putOnline(t, s, "a1")
			reserved(t, s, "c1", "a1")
			assert.Same(t, errVeto, tc.run(t.Context(), s))
		})
	}
}

func TestRedisCorruptRecord(t *testing.T) {
	ctx := t.Context()
	c := redistest.Client(t, 0)
	prefix := redistest.Prefix(t, c)
	s := queues.NewRedis(c, prefix)
	putOnline(t, s, "a1")
	require.NoError(t, c.Set(ctx, prefix+"agent:a1", "{not json", 0).Err())

	_, err := s.Agents(ctx)
	require.ErrorContains(t, err, prefix+"agent:a1")
	_, err = s.UpdateAgent(ctx, "a1", func(*acd.Agent) error {
		t.Error("fn called with a corrupt record")
		return nil
	})
	require.ErrorContains(t, err, prefix+"agent:a1")
	assert.NotErrorIs(t, err, acd.ErrNotFound)
}

// A node whose watched keys change on every attempt gives up after
// RedisAttempts and reports a conflict.
func TestRedisGivesUpAfterBoundedRetries(t *testing.T) {
	ctx := t.Context()
	c1, c2 := redistest.Client(t, 0), redistest.Client(t, 0)
	prefix := redistest.Prefix(t, c1)
	node1, node2 := queues.NewRedis(c1, prefix), queues.NewRedis(c2, prefix)
	putOnline(t, node1, "a1")
	require.NoError(t, node1.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}))

	runs := 0
	err := node1.UpdateCallAgent(ctx, "c1", "a1", func(c *acd.Call, a *acd.Agent) error {
		runs++
		_, err := node2.UpdateAgent(ctx, "a1", func(a *acd.Agent) error { // the other node wins this race
			a.Since = a.Since.Add(time.Second)
			return nil
		})
		require.NoError(t, err)
		return acd.Reserve(a, c, t0)
	})
	require.ErrorIs(t, err, acd.ErrConflict)
	assert.Equal(t, queues.RedisAttempts, runs)
	assert.Empty(t, calls(t, node1)[0].Agent, "no reservation written")
	a := agents(t, node2)[0]
	assert.Equal(t, acd.Available, a.State)
	assert.Equal(t, t0.Add(queues.RedisAttempts*time.Second), a.Since, "every write of the other node kept")
}

// Two nodes (two clients) race to reserve the same agents, each agent for
// several calls: exactly one call wins each agent, and both nodes then see
// the same consistent state.
func TestRedisTwoNodesReserve(t *testing.T) {
	ctx := t.Context()
	c1, c2 := redistest.Client(t, 0), redistest.Client(t, 0)
	prefix := redistest.Prefix(t, c1)
	nodes := []acd.Store{queues.NewRedis(c1, prefix), queues.NewRedis(c2, prefix)}
	const nAgents, callsPerAgent = 5, 12

	agentID := func(i int) acd.AgentID { return acd.AgentID(fmt.Sprintf("a%d", i)) }
	callID := func(i, j int) acd.CallID { return acd.CallID(fmt.Sprintf("c%d-%02d", i, j)) }
	for i := range nAgents {
		putOnline(t, nodes[0], agentID(i))
		for j := range callsPerAgent {
			require.NoError(t, nodes[1].AddCall(ctx, acd.Call{ID: callID(i, j), Queue: "sales", Enqueued: t0}))
		}
	}

	errs := make([][]error, nAgents)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range nAgents {
		errs[i] = make([]error, callsPerAgent)
		for j := range callsPerAgent {
			wg.Go(func() {
				<-start
				errs[i][j] = nodes[j%2].UpdateCallAgent(ctx, callID(i, j), agentID(i), func(c *acd.Call, a *acd.Agent) error {
					return acd.Reserve(a, c, t0.Add(time.Second))
				})
			})
		}
	}
	close(start)
	wg.Wait()

	winner := make(map[acd.AgentID]acd.CallID)
	for i := range nAgents {
		for j, err := range errs[i] {
			if err == nil {
				assert.NotContains(t, winner, agentID(i), "second win for %s", agentID(i))
				winner[agentID(i)] = callID(i, j)
			} else {
				assert.ErrorIs(t, err, acd.ErrConflict)
			}
		}
	}
	require.Len(t, winner, nAgents, "every agent reserved once")

	as, cs := agents(t, nodes[0]), calls(t, nodes[0])
	assert.Equal(t, as, agents(t, nodes[1]), "both nodes see the same agents")
	assert.Equal(t, cs, calls(t, nodes[1]), "both nodes see the same calls")
	for _, a := range as {
		assert.Equal(t, acd.Reserved, a.State, a.ID)
		assert.Equal(t, winner[a.ID], a.Call, a.ID)
	}
	require.Len(t, cs, nAgents*callsPerAgent)
	for _, c := range cs {
		want := acd.AgentID("")
		for a, call := range winner {
			if call == c.ID {
				want = a
			}
		}
		assert.Equal(t, want, c.Agent, c.ID)
	}
}

// Snapshots cost the same number of round trips for 3 and 300 records.
func TestRedisSnapshotRoundTrips(t *testing.T) {
	rt := &redistest.RoundTrips{}
	c := redistest.Client(t, 0, rt)
	measure := func(n int) int64 {
		s := queues.NewRedis(c, redistest.Prefix(t, c))
		for i := range n {
			require.NoError(t, s.PutAgent(t.Context(), acd.Agent{ID: acd.AgentID(fmt.Sprintf("a%03d", i))}))
			require.NoError(t, s.AddCall(t.Context(), acd.Call{ID: acd.CallID(fmt.Sprintf("c%03d", i))}))
		}
		before := rt.N.Load()
		require.Len(t, agents(t, s), n)
		require.Len(t, calls(t, s), n)
		return rt.N.Load() - before
	}
	small, large := measure(3), measure(300)
	assert.Equal(t, small, large)
	assert.Equal(t, int64(4), large, "SMEMBERS and one MGET pipeline per snapshot")
}

func TestOpenRedis(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		s, err := queues.OpenRedis(redistest.URL(), "callwerk-test:open:")
		require.NoError(t, err, "is Redis running? `make test` starts it")
		_, err = s.Agents(t.Context())
		require.NoError(t, err)
		require.NoError(t, s.Close())
	})
	cases := []struct {
		name, url string
		want      string // in the error
	}{
		{"unreachable", "redis://alice:s3cret@127.0.0.1:1/0", "redis://alice:xxxxx@127.0.0.1:1/0"},
		{"unreachable tls", "rediss://:s3cret@127.0.0.1:1", "rediss://:xxxxx@127.0.0.1:1"},
		{"bad port", "redis://alice:s3cret@127.0.0.1:port/0", "redis://alice:xxxxx@127.0.0.1:port/0"},
		{"bad escape in password", "redis://alice:s3%zzcret@host/0", "redis://alice:xxxxx@host/0"},
		{"bad scheme", "http://alice:s3cret@127.0.0.1:6379", "http://alice:xxxxx@127.0.0.1:6379"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // unreachable servers take the client's dial retries
			s, err := queues.OpenRedis(tc.url, "callwerk-test:open:")
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "s3cret")
			assert.NotContains(t, err.Error(), "zz")
		})
	}
}

// BenchmarkRedisReserve measures one reservation and its undo: two
// UpdateCallAgent transactions.
func BenchmarkRedisReserve(b *testing.B) {
	ctx := b.Context()
	rt := &redistest.RoundTrips{}
	c := redistest.Client(b, 0, rt)
	s := queues.NewRedis(c, redistest.Prefix(b, c))
	require.NoError(b, s.PutAgent(ctx, benchAgent("a1", true)))
	require.NoError(b, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0, Tried: []acd.AgentID{"a7", "a8"}}))

	b.ReportAllocs()
	before := rt.N.Load()
	for b.Loop() {
		if err := s.UpdateCallAgent(ctx, "c1", "a1", func(c *acd.Call, a *acd.Agent) error {
			return acd.Reserve(a, c, t0)
		}); err != nil {
			b.Fatal(err)
		}
		if err := s.UpdateCallAgent(ctx, "c1", "a1", func(c *acd.Call, a *acd.Agent) error {
			a.State, a.Call, c.Agent = acd.Available, "", "" // the undo; not a transition under test
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rt.N.Load()-before)/float64(b.N), "roundtrips/op")
}

// BenchmarkRedisSnapshot measures what the dispatcher reads on each run:
// Agents and Calls with 2,000 agents and 10,000 calls.
func BenchmarkRedisSnapshot(b *testing.B) {
	const nAgents, nCalls = 2000, 10000
	ctx := b.Context()
	rt := &redistest.RoundTrips{}
	c := redistest.Client(b, 0, rt)
	s := queues.NewRedis(c, redistest.Prefix(b, c))
	var g errgroup.Group
	g.SetLimit(32)
	for i := range nAgents {
		g.Go(func() error {
			return s.PutAgent(ctx, benchAgent(acd.AgentID(fmt.Sprintf("agent-%04d", i)), i%4 != 0))
		})
	}
	for i := range nCalls {
		g.Go(func() error {
			return s.AddCall(ctx, acd.Call{
				ID:       acd.CallID(fmt.Sprintf("call-%05d", i)),
				Queue:    []string{"sales", "support"}[i%2],
				Priority: i % 3,
				Enqueued: t0.Add(time.Duration(i) * time.Millisecond),
				Tried:    []acd.AgentID{"agent-0001", "agent-0002"},
			})
		})
	}
	require.NoError(b, g.Wait())

	b.ReportAllocs()
	before := rt.N.Load()
	for b.Loop() {
		as, err := s.Agents(ctx)
		if err != nil {
			b.Fatal(err)
		}
		cs, err := s.Calls(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(as) != nAgents || len(cs) != nCalls {
			b.Fatalf("got %d agents, %d calls", len(as), len(cs))
		}
	}
	b.ReportMetric(float64(rt.N.Load()-before)/float64(b.N), "roundtrips/op")
}

// benchAgent is an agent of queues sales and support, available if online.
// Benchmarks set the state directly so they measure the store, whatever the
// transition functions become.
func benchAgent(id acd.AgentID, online bool) acd.Agent {
	a := acd.Agent{ID: id, Queues: []string{"sales", "support"}}
	if online {
		a.State, a.Since, a.IdleSince, a.Online = acd.Available, t0, t0, true
	}
	return a
}

// The epoch stays while Redis keeps the data and changes when it lost them;
// a server that cannot be reached gives errors that wrap ErrUnavailable.
func TestRedisEpochAndOutage(t *testing.T) {
	ctx := t.Context()
	c := redistest.Client(t, 0)
	prefix := redistest.Prefix(t, c)
	s := queues.NewRedis(c, prefix)
	e1, err := s.Epoch(ctx)
	require.NoError(t, err)
	putOnline(t, s, "a1")
	e2, err := s.Epoch(ctx)
	require.NoError(t, err)
	assert.Equal(t, e1, e2)
	keys, err := redistest.KeysUnder(ctx, c, prefix)
	require.NoError(t, err)
	require.NoError(t, c.Del(ctx, keys...).Err()) // what a restart without persistence leaves
	e3, err := s.Epoch(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, e1, e3)

	gone, err := queues.OpenRedis(redistest.URL(), prefix)
	require.NoError(t, err)
	require.NoError(t, gone.Close()) // a closed client fails like an unreachable server
	_, err = gone.Agents(ctx)
	assert.ErrorIs(t, err, acd.ErrUnavailable)
	_, err = gone.Epoch(ctx)
	assert.ErrorIs(t, err, acd.ErrUnavailable)
	_, err = gone.UpdateAgent(ctx, "a1", func(*acd.Agent) error { return nil })
	assert.ErrorIs(t, err, acd.ErrUnavailable)
}
