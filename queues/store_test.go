package queues_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

var errVeto = errors.New("veto")

// testStore is the conformance suite of acd.Store: every implementation
// runs it with a constructor of empty stores (STYLE practice 24). Each
// subtest gets a fresh store. It checks only what acd.Store documents, plus
// the deep-copy rule: no caller can reach a store's state through a value it
// passed in or got back.
func testStore(t *testing.T, newStore func() acd.Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s acd.Store)
	}{
		{"put agent then list it", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			a := acd.Agent{ID: "a1", Queues: []string{"sales", "support"}}
			require.NoError(t, s.PutAgent(ctx, a))
			assert.Equal(t, []acd.Agent{a}, agents(t, s))
		}},
		{"put agent keeps the routing state", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"sales"}}))
			want, err := s.UpdateAgent(ctx, "a1", func(a *acd.Agent) error {
				a.State, a.Since, a.IdleSince, a.Call, a.Online = acd.OnCall, t0, t0, "c1", true
				return nil
			})
			require.NoError(t, err)
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"billing"}, State: acd.LoggedOut}))
			want.Queues, want.Version = []string{"billing"}, 0
			assert.Equal(t, []acd.Agent{want}, agents(t, s))
		}},
		{"put agent replaces queues and skills only", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"sales"}, Skills: map[string]int{"de": 3}}))
			want, err := s.UpdateAgent(ctx, "a1", func(a *acd.Agent) error {
				a.State, a.Since, a.IdleSince, a.Online, a.Lost = acd.Paused, t0, t0, true, true
				a.Pause, a.Misses, a.RestUntil, a.Answered, a.TalkTime = "lunch", 2, t0.Add(time.Minute), 7, time.Hour
				return nil
			})
			require.NoError(t, err)
			skills := map[string]int{"en": 5}
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"billing"}, Skills: skills}))
			skills["en"] = 1 // the store keeps its own copy
			want.Queues, want.Skills, want.Version = []string{"billing"}, map[string]int{"en": 5}, 0
			assert.Equal(t, []acd.Agent{want}, agents(t, s))
			snap := agents(t, s)
			snap[0].Skills["en"] = 2 // and hands out copies
			assert.Equal(t, map[string]int{"en": 5}, agents(t, s)[0].Skills)

			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"billing"}}))
			assert.Nil(t, agents(t, s)[0].Skills, "no skills configured: none kept")
		}},
		{"put agent copies its input", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			qs := []string{"sales"}
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: qs}))
			qs[0] = "changed"
			assert.Equal(t, []string{"sales"}, agents(t, s)[0].Queues)
			// and again for an update of an existing agent
			qs2 := []string{"support"}
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: qs2}))
			qs2[0] = "changed"
			assert.Equal(t, []string{"support"}, agents(t, s)[0].Queues)
		}},
		{"agents snapshot is a deep copy", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"sales"}}))
			snap := agents(t, s)
			snap[0].Queues[0] = "changed"
			snap[0].State = acd.OnCall
			assert.Equal(t, []acd.Agent{{ID: "a1", Queues: []string{"sales"}}}, agents(t, s))
		}},
		{"update agent stores and returns the result", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"sales"}}))
			got, err := s.UpdateAgent(ctx, "a1", func(a *acd.Agent) error {
				acd.SetPresence(a, acd.Registered, "", t0)
				return nil
			})
			require.NoError(t, err)
			want := acd.Agent{ID: "a1", Queues: []string{"sales"}, State: acd.Available, Since: t0, IdleSince: t0, Online: true}
			assert.Equal(t, uint64(2), got.Version)
			got.Version = 0
			assert.Equal(t, want, got)
			got.Queues[0] = "changed" // the result is a copy too
			assert.Equal(t, []acd.Agent{want}, agents(t, s))
		}},
		{"update agent error aborts", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			before := acd.Agent{ID: "a1", Queues: []string{"sales"}}
			require.NoError(t, s.PutAgent(ctx, before))
			_, err := s.UpdateAgent(ctx, "a1", func(a *acd.Agent) error {
				a.State = acd.OnCall
				a.Queues[0] = "changed" // in place: must not reach the store either
				return fmt.Errorf("wrapped: %w", errVeto)
			})
			require.ErrorIs(t, err, errVeto)
			assert.Equal(t, []acd.Agent{before}, agents(t, s))
		}},
		{"update unknown agent", func(t *testing.T, s acd.Store) {
			_, err := s.UpdateAgent(t.Context(), "ghost", func(*acd.Agent) error {
				t.Error("fn called for an unknown agent")
				return nil
			})
			require.ErrorIs(t, err, acd.ErrNotFound)
		}},
		{"add call then list it", func(t *testing.T, s acd.Store) {
			c := acd.Call{ID: "c1", Queue: "sales", Priority: 2, Enqueued: t0, Tried: []acd.AgentID{"a9"}}
			require.NoError(t, s.AddCall(t.Context(), c))
			assert.Equal(t, []acd.Call{c}, calls(t, s))
		}},
		{"add call twice is a conflict", func(t *testing.T, s acd.Store) {
			c := acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}
			require.NoError(t, s.AddCall(t.Context(), c))
			require.ErrorIs(t, s.AddCall(t.Context(), acd.Call{ID: "c1", Queue: "support"}), acd.ErrConflict)
			assert.Equal(t, []acd.Call{c}, calls(t, s))
		}},
		{"add call copies its input", func(t *testing.T, s acd.Store) {
			tried := []acd.AgentID{"a1"}
			require.NoError(t, s.AddCall(t.Context(), acd.Call{ID: "c1", Queue: "sales", Enqueued: t0, Tried: tried}))
			tried[0] = "changed"
			assert.Equal(t, []acd.AgentID{"a1"}, calls(t, s)[0].Tried)
		}},
		{"calls snapshot is a deep copy", func(t *testing.T, s acd.Store) {
			c := acd.Call{ID: "c1", Queue: "sales", Enqueued: t0, Tried: []acd.AgentID{"a1"}}
			require.NoError(t, s.AddCall(t.Context(), c))
			snap := calls(t, s)
			snap[0].Tried[0] = "changed"
			snap[0].Agent = "a2"
			assert.Equal(t, []acd.Call{c}, calls(t, s))
		}},
		{"update call and agent together", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			putOnline(t, s, "a1")
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}))
			require.NoError(t, s.UpdateCallAgent(ctx, "c1", "a1", func(c *acd.Call, a *acd.Agent) error {
				require.NotNil(t, a)
				assert.Equal(t, acd.AgentID("a1"), a.ID)
				assert.Equal(t, acd.CallID("c1"), c.ID)
				return acd.Reserve(a, c, t0.Add(time.Second))
			}))
			assert.Equal(t, acd.AgentID("a1"), calls(t, s)[0].Agent)
			a := agents(t, s)[0]
			assert.Equal(t, acd.Reserved, a.State)
			assert.Equal(t, acd.CallID("c1"), a.Call)
		}},
		{"update call without agent passes nil", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0, Agent: "a1"}))
			called := false
			require.NoError(t, s.UpdateCallAgent(ctx, "c1", "", func(c *acd.Call, a *acd.Agent) error {
				called = true
				assert.Nil(t, a)
				acd.Unreserve(a, c, acd.Withdrawn, acd.QueueConfig{}, t0)
				return nil
			}))
			assert.True(t, called)
			assert.Empty(t, calls(t, s)[0].Agent)
		}},
		{"update call and agent error aborts both", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			putOnline(t, s, "a1")
			c := acd.Call{ID: "c1", Queue: "sales", Enqueued: t0, Tried: []acd.AgentID{"a0"}}
			require.NoError(t, s.AddCall(ctx, c))
			agentsBefore := agents(t, s)
			err := s.UpdateCallAgent(ctx, "c1", "a1", func(c *acd.Call, a *acd.Agent) error {
				require.NoError(t, acd.Reserve(a, c, t0))
				c.Tried[0] = "changed"
				a.Queues[0] = "changed"
				return errVeto
			})
			require.ErrorIs(t, err, errVeto)
			assert.Equal(t, []acd.Call{c}, calls(t, s))
			assert.Equal(t, agentsBefore, agents(t, s))
		}},
		{"update call or agent not found", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			putOnline(t, s, "a1")
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}))
			fn := func(*acd.Call, *acd.Agent) error {
				t.Error("fn called for an unknown call or agent")
				return nil
			}
			require.ErrorIs(t, s.UpdateCallAgent(ctx, "ghost", "a1", fn), acd.ErrNotFound)
			require.ErrorIs(t, s.UpdateCallAgent(ctx, "ghost", "", fn), acd.ErrNotFound)
			require.ErrorIs(t, s.UpdateCallAgent(ctx, "c1", "ghost", fn), acd.ErrNotFound)
		}},
		{"remove call with its agent", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			putOnline(t, s, "a1")
			reserved(t, s, "c1", "a1")
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c2", Queue: "sales", Enqueued: t0.Add(time.Second)}))
			require.NoError(t, s.RemoveCall(ctx, "c1", func(c *acd.Call, a *acd.Agent) error {
				require.NotNil(t, a, "the agent the call is offered to")
				assert.Equal(t, acd.AgentID("a1"), a.ID)
				assert.Equal(t, acd.CallID("c1"), c.ID)
				return acd.Connect(a, c.ID, t0.Add(2*time.Second))
			}))
			require.Len(t, calls(t, s), 1)
			assert.Equal(t, acd.CallID("c2"), calls(t, s)[0].ID)
			assert.Equal(t, acd.OnCall, agents(t, s)[0].State)
		}},
		{"remove waiting call passes nil agent", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			putOnline(t, s, "a1")
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}))
			called := false
			require.NoError(t, s.RemoveCall(ctx, "c1", func(_ *acd.Call, a *acd.Agent) error {
				called = true
				assert.Nil(t, a)
				return nil
			}))
			assert.True(t, called)
			assert.Empty(t, calls(t, s))
		}},
		{"remove call error leaves call and agent", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			putOnline(t, s, "a1")
			reserved(t, s, "c1", "a1")
			callsBefore, agentsBefore := calls(t, s), agents(t, s)
			err := s.RemoveCall(ctx, "c1", func(c *acd.Call, a *acd.Agent) error {
				acd.Unreserve(a, c, acd.NoAnswer, acd.QueueConfig{}, t0)
				return errVeto
			})
			require.ErrorIs(t, err, errVeto)
			assert.Equal(t, callsBefore, calls(t, s))
			assert.Equal(t, agentsBefore, agents(t, s))
		}},
		{"remove call offered to an unknown agent passes nil", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			putOnline(t, s, "a1")
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0, Agent: "ghost"}))
			agentsBefore := agents(t, s)
			called := false
			require.NoError(t, s.RemoveCall(ctx, "c1", func(c *acd.Call, a *acd.Agent) error {
				called = true
				assert.Nil(t, a)
				assert.Equal(t, acd.AgentID("ghost"), c.Agent)
				return nil
			}))
			assert.True(t, called)
			assert.Empty(t, calls(t, s))
			assert.Equal(t, agentsBefore, agents(t, s), "no agent created or changed")
		}},
		{"a removed call's ID can be added again", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}))
			require.NoError(t, s.RemoveCall(ctx, "c1", func(*acd.Call, *acd.Agent) error { return nil }))
			again := acd.Call{ID: "c1", Queue: "support", Enqueued: t0.Add(time.Minute)}
			require.NoError(t, s.AddCall(ctx, again))
			assert.Equal(t, []acd.Call{again}, calls(t, s))
		}},
		{"remove unknown call", func(t *testing.T, s acd.Store) {
			err := s.RemoveCall(t.Context(), "ghost", func(*acd.Call, *acd.Agent) error {
				t.Error("fn called for an unknown call")
				return nil
			})
			require.ErrorIs(t, err, acd.ErrNotFound)
		}},
		{"concurrent updates are atomic", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}))
			const n = 50
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					assert.NoError(t, s.UpdateCallAgent(ctx, "c1", "", func(c *acd.Call, _ *acd.Agent) error {
						c.Tried = append(c.Tried, acd.AgentID(fmt.Sprintf("a%02d", i)))
						return nil
					}))
				})
			}
			wg.Wait()
			assert.Len(t, calls(t, s)[0].Tried, n, "no update lost")
		}},
		{"one reservation wins a race", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			const n = 10
			for i := range n {
				putOnline(t, s, acd.AgentID(fmt.Sprintf("a%02d", i)))
			}
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}))
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					errs[i] = s.UpdateCallAgent(ctx, "c1", acd.AgentID(fmt.Sprintf("a%02d", i)), func(c *acd.Call, a *acd.Agent) error {
						return acd.Reserve(a, c, t0)
					})
				})
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else {
					assert.ErrorIs(t, err, acd.ErrConflict)
				}
			}
			assert.Equal(t, 1, won)
			reservedAgents := 0
			for _, a := range agents(t, s) {
				if a.State == acd.Reserved {
					reservedAgents++
					assert.Equal(t, a.ID, calls(t, s)[0].Agent)
				}
			}
			assert.Equal(t, 1, reservedAgents)
		}},
	}
	cases = append(cases, []struct {
		name string
		run  func(t *testing.T, s acd.Store)
	}{
		{"snapshots are ordered: agents by ID, calls by enqueue time, then ID", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			for _, id := range []acd.AgentID{"c", "a", "b"} {
				require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: id}))
			}
			for _, c := range []acd.Call{
				{ID: "late", Enqueued: t0.Add(time.Minute)},
				{ID: "tie-b", Enqueued: t0},
				{ID: "tie-a", Enqueued: t0},
			} {
				require.NoError(t, s.AddCall(ctx, c))
			}
			var agentIDs []acd.AgentID
			for _, a := range agents(t, s) {
				agentIDs = append(agentIDs, a.ID)
			}
			assert.Equal(t, []acd.AgentID{"a", "b", "c"}, agentIDs, "agents by ID")
			var callIDs []acd.CallID
			for _, c := range calls(t, s) {
				callIDs = append(callIDs, c.ID)
			}
			assert.Equal(t, []acd.CallID{"tie-a", "tie-b", "late"}, callIDs, "calls by enqueue time, then ID")
		}},
		{"remove call without fn leaves its agent as it is", func(t *testing.T, s acd.Store) {
			putOnline(t, s, "a1")
			reserved(t, s, "c1", "a1")
			require.NoError(t, s.RemoveCall(t.Context(), "c1", nil))
			assert.Empty(t, calls(t, s))
			assert.Equal(t, acd.Reserved, agents(t, s)[0].State, "agent unchanged")
		}},
		{"every write adds one to the versions it changes, before fn runs", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"sales"}}))
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a2", Queues: []string{"sales"}}))
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0}))
			assert.Equal(t, map[string]uint64{"agent a1": 1, "agent a2": 1, "call c1": 1}, versions(t, s))
			require.NoError(t, s.PutAgent(ctx, acd.Agent{ID: "a1", Queues: []string{"billing"}}))
			var seen uint64
			_, err := s.UpdateAgent(ctx, "a1", func(a *acd.Agent) error {
				seen = a.Version
				acd.SetPresence(a, acd.Registered, "n1", t0)
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, uint64(3), seen)
			putOnline(t, s, "a3")
			var cv, av uint64
			require.NoError(t, s.UpdateCallAgent(ctx, "c1", "a3", func(c *acd.Call, a *acd.Agent) error {
				cv, av = c.Version, a.Version
				return acd.Reserve(a, c, t0)
			}))
			assert.Equal(t, []uint64{2, 3}, []uint64{cv, av})
			require.NoError(t, s.RemoveCall(ctx, "c1", func(c *acd.Call, a *acd.Agent) error {
				av = a.Version
				return acd.Connect(a, c.ID, t0)
			}))
			assert.Equal(t, uint64(4), av)
			_, err = s.UpdateAgent(ctx, "a2", func(*acd.Agent) error { return errVeto })
			require.ErrorIs(t, err, errVeto)
			assert.Equal(t, map[string]uint64{"agent a1": 3, "agent a2": 1, "agent a3": 4}, versions(t, s))
		}},
		{"reserve counts the call's offers as its fence and names the call's node", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			putOnline(t, s, "a1")
			require.NoError(t, s.AddCall(ctx, acd.Call{ID: "c1", Queue: "sales", Enqueued: t0, Node: "n2"}))
			for want := uint64(1); want <= 2; want++ {
				require.NoError(t, s.UpdateCallAgent(ctx, "c1", "a1", func(c *acd.Call, a *acd.Agent) error {
					return acd.Reserve(a, c, t0)
				}))
				as, cs := agents(t, s), calls(t, s)
				assert.Equal(t, []uint64{want, want}, []uint64{as[0].Fence, cs[0].Fence})
				assert.Equal(t, "n2", as[0].CallNode)
				require.NoError(t, s.UpdateCallAgent(ctx, "c1", "a1", func(c *acd.Call, a *acd.Agent) error {
					acd.Unreserve(a, c, acd.Withdrawn, acd.QueueConfig{}, t0)
					return nil
				}))
				assert.Zero(t, agents(t, s)[0].Fence, "a free agent holds no fence")
			}
		}},
		{"node leases: renew, list, remove only an unrenewed one", func(t *testing.T, s acd.Store) {
			ctx := t.Context()
			n1 := acd.NodeInfo{Name: "n1", SIP: "udp:127.0.0.1:5060", Expires: t0}
			n2 := acd.NodeInfo{Name: "n2", SIP: "udp:127.0.0.1:5062", Expires: t0.Add(time.Second)}
			require.NoError(t, s.RenewNode(ctx, n2))
			require.NoError(t, s.RenewNode(ctx, n1))
			nodes, err := s.Nodes(ctx)
			require.NoError(t, err)
			require.Len(t, nodes, 2)
			assert.True(t, nodes[0].Equal(n1) && nodes[1].Equal(n2), "%+v", nodes)
			renewed := n1
			renewed.Expires = t0.Add(time.Minute)
			require.NoError(t, s.RenewNode(ctx, renewed))
			require.NoError(t, s.RemoveNode(ctx, n1)) // n1 renewed meanwhile: kept
			require.NoError(t, s.RemoveNode(ctx, n2))
			nodes, err = s.Nodes(ctx)
			require.NoError(t, err)
			require.Len(t, nodes, 1)
			assert.True(t, nodes[0].Equal(renewed), "%+v", nodes)
		}},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore())
		})
	}
}

// agents is a snapshot of s with Version zeroed: the version case checks
// versions, the others records' contents.
func agents(t *testing.T, s acd.Store) []acd.Agent {
	t.Helper()
	as, err := s.Agents(t.Context())
	require.NoError(t, err)
	for i := range as {
		as[i].Version = 0
	}
	return as
}

// calls is a snapshot of s with Version zeroed.
func calls(t *testing.T, s acd.Store) []acd.Call {
	t.Helper()
	cs, err := s.Calls(t.Context())
	require.NoError(t, err)
	for i := range cs {
		cs[i].Version = 0
	}
	return cs
}

// versions returns the Version of every agent and call in s.
func versions(t *testing.T, s acd.Store) map[string]uint64 {
	t.Helper()
	as, err := s.Agents(t.Context())
	require.NoError(t, err)
	cs, err := s.Calls(t.Context())
	require.NoError(t, err)
	out := map[string]uint64{}
	for _, a := range as {
		out["agent "+string(a.ID)] = a.Version
	}
	for _, c := range cs {
		out["call "+string(c.ID)] = c.Version
	}
	return out
}

// putOnline adds an available agent of queue sales.
func putOnline(t *testing.T, s acd.Store, id acd.AgentID) {
	t.Helper()
	require.NoError(t, s.PutAgent(t.Context(), acd.Agent{ID: id, Queues: []string{"sales"}}))
	_, err := s.UpdateAgent(t.Context(), id, func(a *acd.Agent) error {
		acd.SetPresence(a, acd.Registered, "", t0)
		return nil
	})
	require.NoError(t, err)
}

// reserved adds call id of queue sales, offered to agent.
func reserved(t *testing.T, s acd.Store, id acd.CallID, agent acd.AgentID) {
	t.Helper()
	require.NoError(t, s.AddCall(t.Context(), acd.Call{ID: id, Queue: "sales", Enqueued: t0}))
	require.NoError(t, s.UpdateCallAgent(t.Context(), id, agent, func(c *acd.Call, a *acd.Agent) error {
		return acd.Reserve(a, c, t0)
	}))
}
