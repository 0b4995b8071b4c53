package acd_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// at returns t0 plus s seconds.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// idle returns an online, available agent who became free at second s.
func idle(id acd.AgentID, s int, queues ...string) acd.Agent {
	return acd.Agent{ID: id, Queues: queues, State: acd.Available, Since: at(s), IdleSince: at(s), Online: true}
}

// inState returns agent a moved to state st (on call c if st needs one).
func inState(a acd.Agent, st acd.State, c acd.CallID) acd.Agent {
	a.State = st
	if st == acd.Reserved || st == acd.OnCall || st == acd.WrapUp {
		a.Call = c
	}
	if st == acd.LoggedOut {
		a.Online = false
	}
	return a
}

// waiting returns a call of queue q enqueued at second s.
func waiting(id acd.CallID, q string, s, prio int, tried ...acd.AgentID) acd.Call {
	return acd.Call{ID: id, Queue: q, Priority: prio, Enqueued: at(s), Tried: tried}
}

func TestRoute(t *testing.T) {
	offered := waiting("c1", "sales", 0, 0)
	offered.Agent = "x"
	cases := []struct {
		name   string
		agents []acd.Agent
		calls  []acd.Call
		now    time.Time
		want   []acd.Assignment
	}{
		{
			name:   "nothing to route",
			agents: []acd.Agent{idle("a1", 0, "sales")},
		},
		{
			name:  "no agents",
			calls: []acd.Call{waiting("c1", "sales", 0, 0)},
		},
		{
			name:   "a callback waiting for its next attempt is passed over",
			agents: []acd.Agent{idle("a1", 0, "sales")},
			calls: []acd.Call{
				func() acd.Call { c := waiting("c1", "sales", 0, 0); c.NotBefore = at(61); return c }(),
				func() acd.Call { c := waiting("c2", "sales", 5, 0); c.NotBefore = at(60); return c }(), // due now
			},
			now:  at(60),
			want: []acd.Assignment{{Call: "c2", Agent: "a1"}},
		},
		{
			name:   "longest idle wins",
			agents: []acd.Agent{idle("a1", 20, "sales"), idle("a2", 10, "sales"), idle("a3", 30, "sales")},
			calls:  []acd.Call{waiting("c1", "sales", 40, 0)},
			want:   []acd.Assignment{{Call: "c1", Agent: "a2"}},
		},
		{
			name: "agent must be available",
			agents: []acd.Agent{
				inState(idle("out", 1, "sales"), acd.LoggedOut, ""),
				inState(idle("ring", 2, "sales"), acd.Reserved, "c9"),
				inState(idle("talk", 3, "sales"), acd.OnCall, "c8"),
				inState(idle("wrap", 4, "sales"), acd.WrapUp, "c7"),
				idle("free", 50, "sales"),
			},
			calls: []acd.Call{waiting("c1", "sales", 60, 0)},
			want:  []acd.Assignment{{Call: "c1", Agent: "free"}},
		},
		{
			name:   "only busy agents",
			agents: []acd.Agent{inState(idle("ring", 2, "sales"), acd.Reserved, "c9")},
			calls:  []acd.Call{waiting("c1", "sales", 60, 0)},
		},
		{
			name:   "agent must serve the queue",
			agents: []acd.Agent{idle("a1", 0, "support"), idle("a2", 10, "billing", "sales")},
			calls:  []acd.Call{waiting("c1", "sales", 60, 0)},
			want:   []acd.Assignment{{Call: "c1", Agent: "a2"}},
		},
		{
			name:   "no agent serves the queue",
			agents: []acd.Agent{idle("a1", 0, "support")},
			calls:  []acd.Call{waiting("c1", "sales", 60, 0)},
		},
		{
			name:   "priority before age",
			agents: []acd.Agent{idle("a1", 0, "sales")},
			calls:  []acd.Call{waiting("old", "sales", 10, 0), waiting("vip", "sales", 50, 5)},
			want:   []acd.Assignment{{Call: "vip", Agent: "a1"}},
		},
		{
			name:   "negative priority last",
			agents: []acd.Agent{idle("a1", 0, "sales")},
			calls:  []acd.Call{waiting("low", "sales", 10, -1), waiting("normal", "sales", 50, 0)},
			want:   []acd.Assignment{{Call: "normal", Agent: "a1"}},
		},
		{
			name:   "oldest first within a priority",
			agents: []acd.Agent{idle("a1", 0, "sales")},
			calls:  []acd.Call{waiting("new", "sales", 50, 1), waiting("old", "sales", 10, 1), waiting("mid", "sales", 30, 1)},
			want:   []acd.Assignment{{Call: "old", Agent: "a1"}},
		},
		{
			name:   "one agent per call and one call per agent",
			agents: []acd.Agent{idle("a1", 5, "sales"), idle("a2", 1, "sales")},
			calls:  []acd.Call{waiting("c3", "sales", 30, 0), waiting("c1", "sales", 10, 0), waiting("c2", "sales", 20, 0)},
			want:   []acd.Assignment{{Call: "c1", Agent: "a2"}, {Call: "c2", Agent: "a1"}},
		},
		{
			name:   "more agents than calls",
			agents: []acd.Agent{idle("a1", 5, "sales"), idle("a2", 1, "sales"), idle("a3", 3, "sales")},
			calls:  []acd.Call{waiting("c1", "sales", 10, 0)},
			want:   []acd.Assignment{{Call: "c1", Agent: "a2"}},
		},
		{
			name:   "each queue its own agents",
			agents: []acd.Agent{idle("s1", 1, "sales"), idle("h1", 2, "support")},
			calls:  []acd.Call{waiting("c1", "support", 10, 0), waiting("c2", "sales", 20, 0)},
			want:   []acd.Assignment{{Call: "c1", Agent: "h1"}, {Call: "c2", Agent: "s1"}},
		},
		{
			name:   "calls already offered are skipped",
			agents: []acd.Agent{idle("a1", 0, "sales")},
			calls:  []acd.Call{offered, waiting("c2", "sales", 20, 0)},
			want:   []acd.Assignment{{Call: "c2", Agent: "a1"}},
		},
		{
			name:   "tried agents come last",
			agents: []acd.Agent{idle("a1", 0, "sales"), idle("a2", 10, "sales")},
			calls:  []acd.Call{waiting("c1", "sales", 20, 0, "a1")},
			want:   []acd.Assignment{{Call: "c1", Agent: "a2"}},
		},
		{
			name:   "all tried: least recently tried first",
			agents: []acd.Agent{idle("a1", 0, "sales"), idle("a2", 10, "sales"), idle("a3", 5, "sales")},
			calls:  []acd.Call{waiting("c1", "sales", 20, 0, "a2", "a1", "a3")},
			want:   []acd.Assignment{{Call: "c1", Agent: "a2"}},
		},
		{
			name:   "tried agent starts a new round when no one else is free",
			agents: []acd.Agent{idle("a1", 0, "sales"), inState(idle("a2", 0, "sales"), acd.OnCall, "c5")},
			calls:  []acd.Call{waiting("c1", "sales", 20, 0, "a1")},
			want:   []acd.Assignment{{Call: "c1", Agent: "a1"}},
		},
		{
			name:   "tried by one call, fresh for the next",
			agents: []acd.Agent{idle("a1", 0, "sales"), idle("a2", 10, "sales")},
			calls:  []acd.Call{waiting("c1", "sales", 20, 0, "a1"), waiting("c2", "sales", 30, 0)},
			want:   []acd.Assignment{{Call: "c1", Agent: "a2"}, {Call: "c2", Agent: "a1"}},
		},
		{
			name:   "equal idle time: lowest ID",
			agents: []acd.Agent{idle("b", 7, "sales"), idle("c", 7, "sales"), idle("a", 7, "sales")},
			calls:  []acd.Call{waiting("c1", "sales", 20, 0)},
			want:   []acd.Assignment{{Call: "c1", Agent: "a"}},
		},
		{
			name:   "equal calls go by ID, whatever their input order",
			agents: []acd.Agent{idle("a1", 0, "sales")},
			calls:  []acd.Call{waiting("z", "sales", 20, 0), waiting("y", "sales", 20, 0)},
			want:   []acd.Assignment{{Call: "y", Agent: "a1"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			agents, calls := cloneAll(tc.agents, tc.calls)
			got := acd.Route(agents, calls, acd.Routing{Now: tc.now})
			if len(tc.want) == 0 {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, tc.want, got)
			}
			wantAgents, wantCalls := cloneAll(tc.agents, tc.calls)
			assert.Equal(t, wantAgents, agents, "Route modified the agents")
			assert.Equal(t, wantCalls, calls, "Route modified the calls")
		})
	}
}

// TestRouteIgnoresAgentOrder checks that the decision does not depend on the
// order the store lists agents in.
func TestRouteIgnoresAgentOrder(t *testing.T) {
	agents := []acd.Agent{
		idle("a", 3, "sales"), idle("b", 3, "sales"), idle("c", 1, "sales", "support"),
		idle("d", 2, "support"), idle("e", 3, "support"), idle("f", 0, "billing"),
	}
	calls := []acd.Call{
		waiting("c1", "sales", 10, 0, "c"), waiting("c2", "support", 11, 0),
		waiting("c3", "sales", 12, 2), waiting("c4", "support", 13, 0), waiting("c5", "sales", 14, 0),
	}
	want := acd.Route(agents, calls, acd.Routing{})
	require.Len(t, want, 5)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		shuffled := slices.Clone(agents)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		assert.Equal(t, want, acd.Route(shuffled, calls, acd.Routing{}), "permutation %d", i)
	}
}

func cloneAll(agents []acd.Agent, calls []acd.Call) ([]acd.Agent, []acd.Call) {
	as := make([]acd.Agent, len(agents))
	for i, a := range agents {
		as[i] = a.Clone()
	}
	cs := make([]acd.Call, len(calls))
	for i, c := range calls {
		cs[i] = c.Clone()
	}
	return as, cs
}

// BenchmarkRoute routes a large backlog: 2,000 agents over 10 queues (each
// agent serves two), half of them available, and 10,000 waiting calls.
func BenchmarkRoute(b *testing.B) {
	const nAgents, nQueues, nCalls = 2000, 10, 10000
	rng := rand.New(rand.NewPCG(7, 11))
	queue := func(i int) string { return fmt.Sprintf("q%02d", i%nQueues) }
	agents := make([]acd.Agent, nAgents)
	for i := range agents {
		a := idle(acd.AgentID(fmt.Sprintf("agent%04d", i)), rng.IntN(3600), queue(i), queue(i+1))
		if i%2 == 1 {
			a = inState(a, acd.OnCall, acd.CallID(fmt.Sprintf("busy%04d", i)))
		}
		agents[i] = a
	}
	calls := make([]acd.Call, nCalls)
	for i := range calls {
		c := waiting(acd.CallID(fmt.Sprintf("call%05d", i)), queue(rng.IntN(nQueues)), rng.IntN(600), rng.IntN(3))
		if i%7 == 0 {
			c.Tried = []acd.AgentID{agents[rng.IntN(nAgents)].ID}
		}
		calls[i] = c
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(acd.Route(agents, calls, acd.Routing{}))
	}
	b.ReportMetric(float64(n), "assignments")
}

// TestRouteInvariants checks, on a random backlog, that every assignment
// pairs a waiting call with an available agent of its queue, and that no
// call and no agent appears twice.
func TestRouteInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	queues := []string{"sales", "support", "billing"}
	var agents []acd.Agent
	for i := range 200 {
		a := idle(acd.AgentID(fmt.Sprintf("a%03d", i)), rng.IntN(100), queues[rng.IntN(3)], queues[rng.IntN(3)])
		if rng.IntN(3) == 0 {
			a = inState(a, acd.State(rng.IntN(5)), "busy")
		}
		agents = append(agents, a)
	}
	var calls []acd.Call
	for i := range 1000 {
		c := waiting(acd.CallID(fmt.Sprintf("c%04d", i)), queues[rng.IntN(3)], rng.IntN(100), rng.IntN(3))
		if rng.IntN(10) == 0 {
			c.Agent = agents[rng.IntN(len(agents))].ID
		}
		calls = append(calls, c)
	}
	byAgent := map[acd.AgentID]acd.Agent{}
	for _, a := range agents {
		byAgent[a.ID] = a
	}
	byCall := map[acd.CallID]acd.Call{}
	for _, c := range calls {
		byCall[c.ID] = c
	}
	got := acd.Route(agents, calls, acd.Routing{})
	require.NotEmpty(t, got)
	seenAgent := map[acd.AgentID]bool{}
	seenCall := map[acd.CallID]bool{}
	for _, as := range got {
		a, c := byAgent[as.Agent], byCall[as.Call]
		assert.False(t, seenAgent[as.Agent], "agent %s twice", as.Agent)
		assert.False(t, seenCall[as.Call], "call %s twice", as.Call)
		seenAgent[as.Agent], seenCall[as.Call] = true, true
		assert.Equal(t, acd.Available, a.State, "agent %s", a.ID)
		assert.True(t, a.Serves(c.Queue), "agent %s for queue %s", a.ID, c.Queue)
		assert.Empty(t, c.Agent, "call %s was already offered", c.ID)
	}
}
