package acd_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
)

var now = at(100)

// agentIn returns agent a1 (online, idle since second 0) in state st on call c.
func agentIn(st acd.State, c acd.CallID) acd.Agent {
	a := idle("a1", 0, "sales")
	a.State, a.Call = st, c
	return a
}

func offline(a acd.Agent) acd.Agent {
	a.Online = false
	return a
}

// offeredTo returns call c1 offered to agent id.
func offeredTo(id acd.AgentID, tried ...acd.AgentID) acd.Call {
	c := waiting("c1", "sales", 0, 0, tried...)
	c.Agent, c.Ringing = id, []acd.AgentID{id}
	return c
}

// moved returns a with state st entered at now.
func moved(a acd.Agent, st acd.State) acd.Agent {
	a.State, a.Since = st, now
	return a
}

func TestTransitions(t *testing.T) {
	avail := free()
	cases := []struct {
		name      string
		agent     acd.Agent
		call      acd.Call
		op        func(a *acd.Agent, c *acd.Call) error
		wantErr   error
		wantAgent acd.Agent // ignored (must be unchanged) when wantErr != nil
		wantCall  acd.Call
	}{
		// Reserve
		{
			name:      "reserve available agent",
			agent:     avail,
			call:      waiting("c1", "sales", 0, 0),
			op:        func(a *acd.Agent, c *acd.Call) error { return acd.Reserve(a, c, now) },
			wantAgent: func() acd.Agent { a := moved(avail, acd.Reserved); a.Call, a.Fence = "c1", 1; return a }(),
			wantCall:  func() acd.Call { c := offeredTo("a1"); c.Fence = 1; return c }(),
		},
		{
			name:  "reserve counts the call's offers and names the call's node",
			agent: avail,
			call:  func() acd.Call { c := waiting("c1", "sales", 0, 0); c.Fence, c.Node = 4, "n2"; return c }(),
			op:    reserve,
			wantAgent: func() acd.Agent {
				a := moved(avail, acd.Reserved)
				a.Call, a.Fence, a.CallNode = "c1", 5, "n2"
				return a
			}(),
			wantCall: func() acd.Call { c := offeredTo("a1"); c.Fence, c.Node = 5, "n2"; return c }(),
		},
		{name: "reserve logged-out agent", agent: offline(agentIn(acd.LoggedOut, "")), call: waiting("c1", "sales", 0, 0), op: reserve, wantErr: acd.ErrConflict},
		{name: "reserve reserved agent", agent: agentIn(acd.Reserved, "c2"), call: waiting("c1", "sales", 0, 0), op: reserve, wantErr: acd.ErrConflict},
		{name: "reserve agent on call", agent: agentIn(acd.OnCall, "c2"), call: waiting("c1", "sales", 0, 0), op: reserve, wantErr: acd.ErrConflict},
		{name: "reserve agent in wrap-up", agent: agentIn(acd.WrapUp, "c2"), call: waiting("c1", "sales", 0, 0), op: reserve, wantErr: acd.ErrConflict},
		{name: "reserve call offered to another", agent: avail, call: offeredTo("a2"), op: reserve, wantErr: acd.ErrConflict},

		// Unreserve (never fails; what does not match is left alone)
		{
			name:      "unreserve keeps the idle place",
			agent:     agentIn(acd.Reserved, "c1"),
			call:      offeredTo("a1"),
			op:        unreserve(false),
			wantAgent: moved(avail, acd.Available),
			wantCall:  waiting("c1", "sales", 0, 0),
		},
		{
			name:      "unreserve tried records the agent last",
			agent:     agentIn(acd.Reserved, "c1"),
			call:      offeredTo("a1", "a2"),
			op:        unreserve(true),
			wantAgent: missed(moved(avail, acd.Available)),
			wantCall:  waiting("c1", "sales", 0, 0, "a2", "a1"),
		},
		{
			name:      "unreserve tried again moves the agent to the end",
			agent:     agentIn(acd.Reserved, "c1"),
			call:      offeredTo("a1", "a1", "a2"),
			op:        unreserve(true),
			wantAgent: missed(moved(avail, acd.Available)),
			wantCall:  waiting("c1", "sales", 0, 0, "a2", "a1"),
		},
		{
			name:      "unreserve agent who went offline logs them out",
			agent:     offline(agentIn(acd.Reserved, "c1")),
			call:      offeredTo("a1"),
			op:        unreserve(true),
			wantAgent: missed(moved(offline(avail), acd.LoggedOut)),
			wantCall:  waiting("c1", "sales", 0, 0, "a1"),
		},
		{
			name:      "unreserve agent of another call changes nothing",
			agent:     agentIn(acd.Reserved, "c2"),
			call:      offeredTo("a2"),
			op:        unreserve(true),
			wantAgent: agentIn(acd.Reserved, "c2"),
			wantCall:  offeredTo("a2"),
		},
		{
			name:      "unreserve agent on call changes nothing",
			agent:     agentIn(acd.OnCall, "c1"),
			call:      waiting("c1", "sales", 0, 0),
			op:        unreserve(false),
			wantAgent: agentIn(acd.OnCall, "c1"),
			wantCall:  waiting("c1", "sales", 0, 0),
		},
		{
			name: "unreserve without agent clears the call",
			call: offeredTo("a1"),
			op: func(_ *acd.Agent, c *acd.Call) error {
				acd.Unreserve(nil, c, acd.NoAnswer, acd.QueueConfig{}, now)
				return nil
			},
			wantCall:  waiting("c1", "sales", 0, 0),
			agent:     acd.Agent{},
			wantAgent: acd.Agent{},
		},
		{
			name:  "unreserve without call frees the agent",
			agent: agentIn(acd.Reserved, "c1"),
			call:  offeredTo("a1"),
			op: func(a *acd.Agent, _ *acd.Call) error {
				acd.Unreserve(a, nil, acd.NoAnswer, acd.QueueConfig{}, now)
				return nil
			},
			wantAgent: missed(moved(avail, acd.Available)),
			wantCall:  offeredTo("a1"),
		},

		// Connect
		{
			name:      "connect reserved agent",
			agent:     agentIn(acd.Reserved, "c1"),
			op:        connect("c1"),
			wantAgent: counted(moved(agentIn(acd.OnCall, "c1"), acd.OnCall), 1, 0),
		},
		{name: "connect other call", agent: agentIn(acd.Reserved, "c2"), op: connect("c1"), wantErr: acd.ErrConflict},
		{name: "connect available agent", agent: avail, op: connect("c1"), wantErr: acd.ErrConflict},
		{name: "connect twice", agent: agentIn(acd.OnCall, "c1"), op: connect("c1"), wantErr: acd.ErrConflict},
		{name: "connect in wrap-up", agent: agentIn(acd.WrapUp, "c1"), op: connect("c1"), wantErr: acd.ErrConflict},

		// StartWrapUp
		{
			name:  "wrap up after the call",
			agent: agentIn(acd.OnCall, "c1"),
			op:    startWrapUp("c1"),
			// Talk time counts from entering on-call (agentIn's Since) to now.
			wantAgent: counted(moved(agentIn(acd.WrapUp, "c1"), acd.WrapUp), 0, now.Sub(agentIn(acd.OnCall, "c1").Since)),
		},
		{name: "wrap up other call", agent: agentIn(acd.OnCall, "c2"), op: startWrapUp("c1"), wantErr: acd.ErrConflict},
		{name: "wrap up while ringing", agent: agentIn(acd.Reserved, "c1"), op: startWrapUp("c1"), wantErr: acd.ErrConflict},
		{name: "wrap up twice", agent: agentIn(acd.WrapUp, "c1"), op: startWrapUp("c1"), wantErr: acd.ErrConflict},

		// EndWrapUp
		{
			name:  "end wrap-up: available, idle from now",
			agent: agentIn(acd.WrapUp, "c1"),
			op:    endWrapUp("c1"),
			wantAgent: func() acd.Agent {
				a := moved(avail, acd.Available)
				a.IdleSince = now
				return a
			}(),
		},
		{
			name:  "end wrap-up of an agent who went offline: logged out",
			agent: offline(agentIn(acd.WrapUp, "c1")),
			op:    endWrapUp("c1"),
			wantAgent: func() acd.Agent {
				a := moved(offline(avail), acd.LoggedOut)
				a.IdleSince = now
				return a
			}(),
		},
		{name: "stale wrap-up timer of another call", agent: agentIn(acd.WrapUp, "c2"), op: endWrapUp("c1"), wantErr: acd.ErrConflict},
		{name: "end wrap-up on call", agent: agentIn(acd.OnCall, "c1"), op: endWrapUp("c1"), wantErr: acd.ErrConflict},
		{name: "end wrap-up when available", agent: avail, op: endWrapUp(""), wantErr: acd.ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, c := tc.agent.Clone(), tc.call.Clone()
			err := tc.op(&a, &c)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Equal(t, tc.agent, a, "agent changed by a refused transition")
				assert.Equal(t, tc.call, c, "call changed by a refused transition")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantAgent, a)
			assert.Equal(t, tc.wantCall, c)
		})
	}
}

func reserve(a *acd.Agent, c *acd.Call) error { return acd.Reserve(a, c, now) }

// unreserve ends an offer: tried = it rang out (a miss), else withdrawn.
func unreserve(tried bool) func(*acd.Agent, *acd.Call) error {
	o := acd.Withdrawn
	if tried {
		o = acd.NoAnswer
	}
	return func(a *acd.Agent, c *acd.Call) error { acd.Unreserve(a, c, o, acd.QueueConfig{}, now); return nil }
}

func connect(id acd.CallID) func(*acd.Agent, *acd.Call) error {
	return func(a *acd.Agent, _ *acd.Call) error { return acd.Connect(a, id, now) }
}

func startWrapUp(id acd.CallID) func(*acd.Agent, *acd.Call) error {
	return func(a *acd.Agent, _ *acd.Call) error { return acd.StartWrapUp(a, id, now) }
}

func endWrapUp(id acd.CallID) func(*acd.Agent, *acd.Call) error {
	return func(a *acd.Agent, _ *acd.Call) error { return acd.EndWrapUp(a, id, now) }
}

func TestSetPresence(t *testing.T) {
	cases := []struct {
		name        string
		agent       acd.Agent
		online      bool
		wantChanged bool
		want        acd.Agent
	}{
		{
			name:        "logged out comes online: available, idle from now",
			agent:       offline(agentIn(acd.LoggedOut, "")),
			online:      true,
			wantChanged: true,
			want:        func() acd.Agent { a := moved(free(), acd.Available); a.IdleSince = now; return a }(),
		},
		{
			name:        "available goes offline: logged out",
			agent:       free(),
			online:      false,
			wantChanged: true,
			want:        moved(offline(free()), acd.LoggedOut),
		},
		{name: "available stays online", agent: free(), online: true, want: free()},
		{name: "logged out stays offline", agent: offline(agentIn(acd.LoggedOut, "")), online: false, want: offline(agentIn(acd.LoggedOut, ""))},
		{name: "offline while ringing keeps the state", agent: agentIn(acd.Reserved, "c1"), online: false, want: offline(agentIn(acd.Reserved, "c1"))},
		{name: "offline on call keeps the state", agent: agentIn(acd.OnCall, "c1"), online: false, want: offline(agentIn(acd.OnCall, "c1"))},
		{name: "offline in wrap-up keeps the state", agent: agentIn(acd.WrapUp, "c1"), online: false, want: offline(agentIn(acd.WrapUp, "c1"))},
		{name: "back online in wrap-up", agent: offline(agentIn(acd.WrapUp, "c1")), online: true, want: agentIn(acd.WrapUp, "c1")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.agent.Clone()
			p := acd.Unregistered
			if tc.online {
				p = acd.Registered
			}
			assert.Equal(t, tc.wantChanged, acd.SetPresence(&a, p, "", now))
			assert.Equal(t, tc.want, a)
		})
	}
}

func free() acd.Agent { return idle("a1", 0, "sales") }

// TestLifecycleOfflineDuringCall walks one agent through a call during which
// their last device unregisters: they finish the call and wrap-up, then are
// logged out rather than offered the next call.
func TestLifecycleOfflineDuringCall(t *testing.T) {
	a, c := free(), waiting("c1", "sales", 0, 0)
	step := func(name string, err error, want acd.State) {
		t.Helper()
		require.NoError(t, err, name)
		require.Equal(t, want, a.State, name)
	}
	step("reserve", acd.Reserve(&a, &c, at(10)), acd.Reserved)
	step("connect", acd.Connect(&a, c.ID, at(15)), acd.OnCall)
	assert.False(t, acd.SetPresence(&a, acd.Unregistered, "", at(20)), "offline during the call is no state change")
	step("offline", nil, acd.OnCall)
	step("start wrap-up", acd.StartWrapUp(&a, c.ID, at(30)), acd.WrapUp)
	require.ErrorIs(t, acd.EndWrapUp(&a, "c0", at(35)), acd.ErrConflict, "stale timer of an earlier call")
	step("end wrap-up", acd.EndWrapUp(&a, c.ID, at(40)), acd.LoggedOut)
	assert.Equal(t, acd.CallID(""), a.Call)
	assert.Equal(t, at(40), a.Since)

	next := waiting("c2", "sales", 20, 0)
	require.ErrorIs(t, acd.Reserve(&a, &next, at(41)), acd.ErrConflict, "logged-out agent takes no call")
	assert.True(t, acd.SetPresence(&a, acd.Registered, "", at(50)))
	step("online again", nil, acd.Available)
	assert.Equal(t, at(50), a.IdleSince)
	step("reserve next", acd.Reserve(&a, &next, at(51)), acd.Reserved)
}

func TestStateString(t *testing.T) {
	for st, want := range map[acd.State]string{
		acd.LoggedOut: "logged-out", acd.Available: "available", acd.Reserved: "reserved",
		acd.OnCall: "on-call", acd.WrapUp: "wrap-up", acd.State(200): "unknown",
	} {
		assert.Equal(t, want, st.String())
	}
}

func TestCloneIsDeep(t *testing.T) {
	a := idle("a1", 0, "sales", "support")
	ac := a.Clone()
	ac.Queues[0] = "changed"
	assert.Equal(t, "sales", a.Queues[0])

	c := waiting("c1", "sales", 0, 0, "a1")
	cc := c.Clone()
	cc.Tried[0] = "changed"
	assert.Equal(t, acd.AgentID("a1"), c.Tried[0])
}

// counted sets an agent's routing counters.
func counted(a acd.Agent, answered int, talk time.Duration) acd.Agent {
	a.Answered, a.TalkTime = answered, talk
	return a
}

// missed counts one unanswered offer.
func missed(a acd.Agent) acd.Agent {
	a.Misses++
	return a
}
