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

// A table of the pause, presence and miss rules of transitions.go.
func TestPauseAndPresence(t *testing.T) {
	online := func(s acd.State, mod ...func(*acd.Agent)) acd.Agent {
		a := acd.Agent{ID: "a1", Queues: []string{"q"}, State: s, Online: true}
		if s == acd.Reserved || s == acd.OnCall || s == acd.WrapUp {
			a.Call = "c1"
		}
		for _, m := range mod {
			m(&a)
		}
		return a
	}
	pausedFor := func(r string) func(*acd.Agent) { return func(a *acd.Agent) { a.Pause = r } }
	gone := func(lost bool) func(*acd.Agent) { return func(a *acd.Agent) { a.Online, a.Lost = false, lost } }

	cases := []struct {
		name      string
		agent     acd.Agent
		op        func(*acd.Agent) error
		wantErr   error
		wantState acd.State
		wantPause string
	}{
		{"pause an available agent", online(acd.Available), pause("lunch"), nil, acd.Paused, "lunch"},
		{"change the reason while paused", online(acd.Paused, pausedFor("break")), pause("lunch"), nil, acd.Paused, "lunch"},
		{"unpause", online(acd.Paused, pausedFor("lunch")), pause(""), nil, acd.Available, ""},
		{"pause on a call applies after it", online(acd.OnCall), pause("break"), nil, acd.OnCall, "break"},
		{"pause while ringing applies after it", online(acd.Reserved), pause("break"), nil, acd.Reserved, "break"},
		{"a logged-out agent cannot pause", acd.Agent{ID: "a1", State: acd.LoggedOut}, pause("break"), acd.ErrConflict, acd.LoggedOut, ""},
		{"registration expires: unreachable", online(acd.Available), presence(acd.Lost), nil, acd.Unreachable, ""},
		{"expired while paused keeps the pause", online(acd.Paused, pausedFor("lunch")), presence(acd.Lost), nil, acd.Unreachable, "lunch"},
		{"back from unreachable: paused again", online(acd.Unreachable, pausedFor("lunch"), gone(true)), presence(acd.Registered), nil, acd.Paused, "lunch"},
		{"back from unreachable: available", online(acd.Unreachable, gone(true)), presence(acd.Registered), nil, acd.Available, ""},
		{"unregister logs out and forgets the pause", online(acd.Paused, pausedFor("lunch")), presence(acd.Unregistered), nil, acd.LoggedOut, ""},
		{"unreachable then unregistered: logged out", online(acd.Unreachable, gone(true)), presence(acd.Unregistered), nil, acd.LoggedOut, ""},
		{"expiry during a call changes nothing yet", online(acd.OnCall), presence(acd.Lost), nil, acd.OnCall, ""},
		{"wrap-up ends into the pause asked for", online(acd.WrapUp, pausedFor("break")), endWrap("c1"), nil, acd.Paused, "break"},
		{"wrap-up ends unreachable if the phone expired", online(acd.WrapUp, gone(true)), endWrap("c1"), nil, acd.Unreachable, ""},
		{"wrap-up ends logged out if the phone unregistered", online(acd.WrapUp, gone(false), pausedFor("break")), endWrap("c1"), nil, acd.LoggedOut, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.agent.Clone()
			err := tc.op(&a)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantState, a.State)
			assert.Equal(t, tc.wantPause, a.Pause)
		})
	}
}

func pause(reason string) func(*acd.Agent) error {
	return func(a *acd.Agent) error { return acd.SetPause(a, reason, now) }
}

func presence(p acd.Presence) func(*acd.Agent) error {
	return func(a *acd.Agent) error { acd.SetPresence(a, p, "", now); return nil }
}

func endWrap(id acd.CallID) func(*acd.Agent) error {
	return func(a *acd.Agent) error { return acd.EndWrapUp(a, id, now) }
}

// Misses in a row pause the agent; an answered call resets the count; a
// declined offer is no miss but a rest.
func TestMissesAndRejects(t *testing.T) {
	q := acd.QueueConfig{Name: "q", MaxMisses: 2, RejectBackoff: 30 * time.Second}
	a := acd.Agent{ID: "a1", Queues: []string{"q"}, State: acd.Available, Online: true}
	offer := func(id acd.CallID, o acd.Outcome, at time.Time) {
		t.Helper()
		c := acd.Call{ID: id, Queue: "q"}
		require.NoError(t, acd.Reserve(&a, &c, at))
		acd.Unreserve(&a, &c, o, q, at)
		if o != acd.Withdrawn {
			assert.Equal(t, []acd.AgentID{"a1"}, c.Tried)
		}
	}
	offer("c1", acd.NoAnswer, now)
	assert.Equal(t, acd.Available, a.State)
	assert.Equal(t, 1, a.Misses)

	offer("c2", acd.Withdrawn, now) // the member hung up: not the agent's fault
	assert.Equal(t, 1, a.Misses)

	offer("c3", acd.Rejected, now)
	assert.Equal(t, 1, a.Misses, "declining is not a miss")
	assert.Equal(t, now.Add(30*time.Second), a.RestUntil)
	c := acd.Call{ID: "c4", Queue: "q"}
	require.ErrorIs(t, acd.Reserve(&a, &c, now.Add(10*time.Second)), acd.ErrConflict, "resting after a decline")
	assert.Empty(t, acd.Route([]acd.Agent{a}, []acd.Call{c}, acd.Routing{Now: now.Add(10 * time.Second)}), "Route skips a resting agent")

	later := now.Add(time.Minute)
	offer("c5", acd.NoAnswer, later)
	assert.Equal(t, acd.Paused, a.State, "second miss in a row pauses")
	assert.Equal(t, acd.AutoPauseReason, a.Pause)
	assert.Zero(t, a.Misses)

	require.NoError(t, acd.SetPause(&a, "", later))
	offer("c6", acd.NoAnswer, later)
	c7 := acd.Call{ID: "c7", Queue: "q"}
	require.NoError(t, acd.Reserve(&a, &c7, later))
	require.NoError(t, acd.Connect(&a, "c7", later))
	assert.Zero(t, a.Misses, "an answered call resets the misses")
}

// A node that restarts recovers its agents (unreachable until a phone
// registers) and drops its calls, whose members were on the old process.
func TestACDRecoverAfterRestart(t *testing.T) {
	store := queues.NewMemory()
	ctx := t.Context()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	require.NoError(t, store.PutAgent(ctx, acd.Agent{ID: "mine", Queues: []string{"q"}, State: acd.OnCall, Online: true, Node: "n1", Call: "c1"}))
	require.NoError(t, store.PutAgent(ctx, acd.Agent{ID: "paused", Queues: []string{"q"}, State: acd.Paused, Pause: "lunch", Online: true, Node: "n1"}))
	require.NoError(t, store.PutAgent(ctx, acd.Agent{ID: "other", Queues: []string{"q"}, State: acd.Available, Online: true, Node: "n2"}))
	require.NoError(t, store.AddCall(ctx, acd.Call{ID: "old", Queue: "q", Node: "n1", Enqueued: t0}))
	require.NoError(t, store.AddCall(ctx, acd.Call{ID: "theirs", Queue: "q", Node: "n2", Enqueued: t0}))

	a := acd.New(store, []acd.QueueConfig{{Name: "q"}}, acdtest.NewFakeClock(t0), nil, zerolog.Nop(), acd.WithNode("n1"))
	require.NoError(t, a.Recover(ctx))
	agents, err := store.Agents(ctx)
	require.NoError(t, err)
	byID := map[acd.AgentID]acd.Agent{}
	for _, ag := range agents {
		byID[ag.ID] = ag
	}
	assert.Equal(t, acd.Unreachable, byID["mine"].State)
	assert.Empty(t, byID["mine"].Call)
	assert.Equal(t, acd.Unreachable, byID["paused"].State)
	assert.Equal(t, "lunch", byID["paused"].Pause, "the pause survives")
	assert.Equal(t, acd.Available, byID["other"].State, "another node's agent is untouched")
	calls, err := store.Calls(ctx)
	require.NoError(t, err)
	require.Len(t, calls, 1)
	assert.Equal(t, acd.CallID("theirs"), calls[0].ID)
}
