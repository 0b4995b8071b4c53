package acd_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/callwerk/callwerk/acd"
)

func TestRouteStrategies(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	// a1 idle longest, then a2, then a3.
	agent := func(id string, idle int, mod func(*acd.Agent)) acd.Agent {
		a := acd.Agent{ID: acd.AgentID(id), Queues: []string{"q"}, State: acd.Available, Online: true,
			IdleSince: t0.Add(time.Duration(idle) * time.Second)}
		if mod != nil {
			mod(&a)
		}
		return a
	}
	base := func() []acd.Agent {
		return []acd.Agent{
			agent("a1", 0, func(a *acd.Agent) { a.Answered, a.TalkTime = 5, 10*time.Minute }),
			agent("a2", 1, func(a *acd.Agent) { a.Answered, a.TalkTime = 2, 30*time.Minute }),
			agent("a3", 2, func(a *acd.Agent) { a.Answered, a.TalkTime = 9, 5*time.Minute }),
		}
	}
	call := acd.Call{ID: "c1", Queue: "q", Enqueued: t0.Add(time.Minute)}
	cases := []struct {
		name  string
		q     acd.QueueConfig
		last  acd.AgentID
		intn  func(int) int
		tried []acd.AgentID
		want  acd.AgentID
	}{
		{name: "default is longest idle", q: acd.QueueConfig{}, want: "a1"},
		{name: "longest idle", q: acd.QueueConfig{Strategy: acd.LongestIdle}, want: "a1"},
		{name: "round robin continues after the last offered", q: acd.QueueConfig{Strategy: acd.RoundRobin}, last: "a1", want: "a2"},
		{name: "round robin wraps around", q: acd.QueueConfig{Strategy: acd.RoundRobin}, last: "a3", want: "a1"},
		{name: "round robin without memory starts at the first", q: acd.QueueConfig{Strategy: acd.RoundRobin}, want: "a1"},
		{name: "fewest calls", q: acd.QueueConfig{Strategy: acd.FewestCalls}, want: "a2"},
		{name: "least talk time", q: acd.QueueConfig{Strategy: acd.LeastTalkTime}, want: "a3"},
		{name: "linear follows the queue's order", q: acd.QueueConfig{Strategy: acd.Linear, Order: map[acd.AgentID]int{"a3": 0, "a1": 1, "a2": 2}}, want: "a3"},
		{name: "random uses the source", q: acd.QueueConfig{Strategy: acd.Random}, intn: func(n int) int { return n - 1 }, want: "a3"},
		{name: "tried agents last, whatever the strategy", q: acd.QueueConfig{Strategy: acd.FewestCalls}, tried: []acd.AgentID{"a2"}, want: "a1"},
		{name: "all tried: least recently tried", q: acd.QueueConfig{Strategy: acd.RoundRobin}, tried: []acd.AgentID{"a3", "a1", "a2"}, want: "a3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Name = "q"
			c := call
			c.Tried = tc.tried
			got := acd.Route(base(), []acd.Call{c}, acd.Routing{
				Queues: map[string]acd.QueueConfig{"q": tc.q}, Now: t0.Add(2 * time.Minute),
				LastOffered: map[string]acd.AgentID{"q": tc.last}, Intn: tc.intn,
			})
			assert.Equal(t, []acd.Assignment{{Call: "c1", Agent: tc.want}}, got)
		})
	}
}

func TestRouteSkillsWidenWithWait(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	agents := []acd.Agent{
		{ID: "novice", Queues: []string{"beitrag"}, State: acd.Available, IdleSince: t0, Skills: map[string]int{"beitrag": 2}},
		{ID: "expert", Queues: []string{"beitrag"}, State: acd.Available, IdleSince: t0.Add(time.Second), Skills: map[string]int{"beitrag": 5, "english": 3}},
		{ID: "none", Queues: []string{"beitrag"}, State: acd.Available, IdleSince: t0.Add(-time.Hour)},
	}
	q := acd.QueueConfig{Name: "beitrag", Skills: map[string]int{"beitrag": 4}, Widen: []acd.SkillStep{
		{After: 30 * time.Second, Skills: map[string]int{"beitrag": 2}},
		{After: 90 * time.Second, Skills: nil},
	}}
	cases := []struct {
		name   string
		waited time.Duration
		busy   acd.AgentID
		want   []acd.Assignment
	}{
		{"level 4 needed at first", 0, "", []acd.Assignment{{Call: "c", Agent: "expert"}}},
		{"no qualified agent free: the call waits", 10 * time.Second, "expert", nil},
		{"after 30 s level 2 will do: longest idle of those", 31 * time.Second, "", []acd.Assignment{{Call: "c", Agent: "novice"}}},
		{"after 90 s anyone in the queue", 95 * time.Second, "", []acd.Assignment{{Call: "c", Agent: "none"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			as := make([]acd.Agent, len(agents))
			for i, a := range agents {
				as[i] = a.Clone()
				if a.ID == tc.busy {
					as[i].State = acd.OnCall
				}
			}
			calls := []acd.Call{{ID: "c", Queue: "beitrag", Enqueued: t0}}
			got := acd.Route(as, calls, acd.Routing{Queues: map[string]acd.QueueConfig{"beitrag": q}, Now: t0.Add(tc.waited)})
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRouteCallOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	one := []acd.Agent{{ID: "a", Queues: []string{"kv", "pv"}, State: acd.Available, IdleSince: t0}}
	queues := map[string]acd.QueueConfig{"kv": {Name: "kv", Weight: 1}, "pv": {Name: "pv", Weight: 5}}
	route := func(calls ...acd.Call) acd.CallID {
		got := acd.Route(one, calls, acd.Routing{Queues: queues, Now: t0.Add(time.Hour)})
		if len(got) != 1 {
			t.Fatalf("want one assignment, got %v", got)
		}
		return got[0].Call
	}
	// An agent serving two queues takes the call that waited longest across both.
	assert.Equal(t, acd.CallID("pv-old"), route(
		acd.Call{ID: "kv-new", Queue: "kv", Enqueued: t0.Add(2 * time.Minute)},
		acd.Call{ID: "pv-old", Queue: "pv", Enqueued: t0.Add(time.Minute)},
	))
	// A higher-priority call that has just joined goes first (position 1
	// while others wait).
	assert.Equal(t, acd.CallID("vip"), route(
		acd.Call{ID: "waiting-1", Queue: "kv", Enqueued: t0},
		acd.Call{ID: "waiting-2", Queue: "kv", Enqueued: t0.Add(time.Second)},
		acd.Call{ID: "vip", Queue: "kv", Priority: 10, Enqueued: t0.Add(59 * time.Minute)},
	))
	// Equally old calls: the heavier queue first.
	assert.Equal(t, acd.CallID("pv-1"), route(
		acd.Call{ID: "kv-1", Queue: "kv", Enqueued: t0},
		acd.Call{ID: "pv-1", Queue: "pv", Enqueued: t0},
	))
}
