package acd_test

import (
	"context"
	"fmt"
	"slices"
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

// waitFor bounds every wait for something asynchronous.
const waitFor = 2 * time.Second

var (
	sales   = acd.QueueConfig{Name: "sales", RingTimeout: 15 * time.Second, Wrapup: 30 * time.Second}
	support = acd.QueueConfig{Name: "support", RingTimeout: 20 * time.Second} // no wrap-up
	probe   = acd.QueueConfig{Name: "probe", RingTimeout: time.Second}        // see harness.flush
)

// recorder is an acd.EventSink that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []acd.Event
	seen   int           // events already checked by expect
	notify chan struct{} // signalled after each Emit
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) Emit(ev acd.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// expect waits for the next len(want) events and checks them, times aside.
// It returns them with their times.
func (r *recorder) expect(t *testing.T, want ...acd.Event) []acd.Event {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		r.mu.Lock()
		if len(r.events)-r.seen >= len(want) {
			got := slices.Clone(r.events[r.seen : r.seen+len(want)])
			r.seen += len(want)
			r.mu.Unlock()
			untimed := make([]acd.Event, len(got))
			for i, ev := range got {
				ev.Time = time.Time{}
				untimed[i] = ev
			}
			require.Equal(t, want, untimed, "events")
			return got
		}
		have := slices.Clone(r.events[r.seen:])
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("waited %s for %d events, got %d: %+v", waitFor, len(want), len(have), have)
		}
	}
}

func agentEv(id acd.AgentID, s acd.State) acd.Event {
	return acd.Event{Type: "agent.state", Agent: id, State: s.String()}
}

func callEv(typ, queue string, agent acd.AgentID, call acd.CallID) acd.Event {
	return acd.Event{Type: typ, Queue: queue, Agent: agent, Call: call}
}

// harness runs an ACD over a memory store and a fake clock until the test ends.
type harness struct {
	t     *testing.T
	ctx   context.Context
	acd   *acd.ACD
	store *queues.Memory
	clock *acdtest.FakeClock
	rec   *recorder
	stop  func() // stops Run and waits for it; idempotent
	seq   int    // probe calls so far
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		ctx:   t.Context(),
		store: queues.NewMemory(),
		clock: acdtest.NewFakeClock(t0),
		rec:   newRecorder(),
	}
	h.acd = acd.New(h.store, []acd.QueueConfig{sales, support, probe}, h.clock, h.rec, zerolog.New(zerolog.NewTestWriter(t)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.acd.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err, "Run")
			case <-time.After(waitFor):
				t.Errorf("Run did not return within %s of cancel", waitFor)
			}
		})
	}
	t.Cleanup(h.stop)
	// The probe agent serves only the probe queue: flush's calls go to it.
	h.online("probe-agent", probe.Name)
	return h
}

// online adds an agent serving queues and brings them online, then moves
// the clock on by a second (firing any timer due), so that agents brought
// online earlier have been idle longer.
func (h *harness) online(id acd.AgentID, queues ...string) {
	h.t.Helper()
	require.NoError(h.t, h.store.PutAgent(h.ctx, acd.Agent{ID: id, Queues: queues}))
	require.NoError(h.t, h.acd.SetPresence(h.ctx, id, acd.Registered))
	h.rec.expect(h.t, agentEv(id, acd.Available))
	h.clock.Advance(time.Second)
}

// enqueue puts call id into queue now.
func (h *harness) enqueue(id acd.CallID, queue string) <-chan acd.Offer {
	h.t.Helper()
	ch, err := h.acd.Enqueue(h.ctx, acd.Call{ID: id, Queue: queue})
	require.NoError(h.t, err)
	h.rec.expect(h.t, callEv("call.enqueued", queue, "", id))
	return ch
}

// expectOffer waits for an offer on ch and checks it and its events.
func (h *harness) expectOffer(ch <-chan acd.Offer, call acd.CallID, q acd.QueueConfig, agent acd.AgentID) {
	h.t.Helper()
	select {
	case got := <-ch:
		require.Equal(h.t, acd.Offer{Agent: agent, Queue: q.Name, RingTimeout: q.RingTimeout}, got, "offer for %s", call)
	case <-time.After(waitFor):
		h.t.Fatalf("no offer for %s within %s (want %s)", call, waitFor, agent)
	}
	// The dispatcher emits these before handing over the offer.
	h.rec.expect(h.t, agentEv(agent, acd.Reserved), callEv("call.offered", q.Name, agent, call))
}

// flush returns after a routing pass that saw every change made before it
// and has offered whatever it could: it enqueues a probe call of the lowest
// priority (routed last in a pass) and waits for its offer, then abandons it.
// Any other event before the probe's fails the test.
func (h *harness) flush() {
	h.t.Helper()
	h.seq++
	id := acd.CallID(fmt.Sprintf("probe-%d", h.seq))
	ch, err := h.acd.Enqueue(h.ctx, acd.Call{ID: id, Queue: probe.Name, Priority: -1 << 20})
	require.NoError(h.t, err)
	h.rec.expect(h.t, callEv("call.enqueued", probe.Name, "", id))
	h.expectOffer(ch, id, probe, "probe-agent")
	require.NoError(h.t, h.acd.Abandon(h.ctx, id))
	h.rec.expect(h.t, callEv("call.abandoned", probe.Name, "", id), agentEv("probe-agent", acd.Available))
}

func noOffer(t *testing.T, ch <-chan acd.Offer) {
	t.Helper()
	select {
	case o := <-ch:
		t.Errorf("unexpected offer %+v", o)
	default:
	}
}

func (h *harness) agent(id acd.AgentID) acd.Agent {
	h.t.Helper()
	agents, err := h.store.Agents(h.ctx)
	require.NoError(h.t, err)
	for _, a := range agents {
		if a.ID == id {
			return a
		}
	}
	h.t.Fatalf("agent %s not in store", id)
	return acd.Agent{}
}

// calls returns the IDs of the calls in the store, probes aside.
func (h *harness) calls() map[acd.CallID]acd.Call {
	h.t.Helper()
	calls, err := h.store.Calls(h.ctx)
	require.NoError(h.t, err)
	out := map[acd.CallID]acd.Call{}
	for _, c := range calls {
		if c.Queue != probe.Name {
			out[c.ID] = c
		}
	}
	return out
}

func TestACDOffersLongestIdleAgent(t *testing.T) {
	h := newHarness(t)
	h.online("s0", support.Name) // idle longest, but not in sales
	h.online("a1", sales.Name)
	h.online("a2", sales.Name, support.Name)
	h.online("a3", sales.Name)

	ch := h.enqueue("c1", sales.Name)
	h.expectOffer(ch, "c1", sales, "a1")

	a1 := h.agent("a1")
	assert.Equal(t, acd.Reserved, a1.State)
	assert.Equal(t, acd.CallID("c1"), a1.Call)
	assert.Equal(t, acd.AgentID("a1"), h.calls()["c1"].Agent)

	// The next call of support goes to s0, with support's ring time.
	ch2 := h.enqueue("c2", support.Name)
	h.expectOffer(ch2, "c2", support, "s0")
}

func TestACDNoAnswerOffersNextAgent(t *testing.T) {
	h := newHarness(t)
	h.online("a1", sales.Name)
	h.online("a2", sales.Name)

	ch := h.enqueue("c1", sales.Name)
	h.expectOffer(ch, "c1", sales, "a1")

	require.NoError(t, h.acd.OfferFailed(h.ctx, "c1", "a1", acd.NoAnswer))
	h.rec.expect(t, callEv("call.noanswer", sales.Name, "a1", "c1"), agentEv("a1", acd.Available))
	h.expectOffer(ch, "c1", sales, "a2")
	assert.Equal(t, t0.Add(time.Second), h.agent("a1").IdleSince, "a1 keeps their place in the idle order")

	// Both tried: a new round starts with the one tried least recently.
	require.NoError(t, h.acd.OfferFailed(h.ctx, "c1", "a2", acd.NoAnswer))
	h.rec.expect(t, callEv("call.noanswer", sales.Name, "a2", "c1"), agentEv("a2", acd.Available))
	h.expectOffer(ch, "c1", sales, "a1")
	c1 := h.calls()["c1"]
	assert.Equal(t, []acd.AgentID{"a1", "a2"}, c1.Tried)
	assert.Equal(t, acd.AgentID("a1"), c1.Agent)
}

func TestACDNoAnswerFromAgentWhoWentOffline(t *testing.T) {
	h := newHarness(t)
	h.online("a1", sales.Name)
	h.online("a2", sales.Name)
	ch := h.enqueue("c1", sales.Name)
	h.expectOffer(ch, "c1", sales, "a1")

	require.NoError(t, h.acd.SetPresence(h.ctx, "a1", acd.Unregistered)) // ringing: no state change, no event
	require.NoError(t, h.acd.OfferFailed(h.ctx, "c1", "a1", acd.NoAnswer))
	h.rec.expect(t, callEv("call.noanswer", sales.Name, "a1", "c1"), agentEv("a1", acd.LoggedOut))
	h.expectOffer(ch, "c1", sales, "a2")
}

func TestACDConnectCompleteWrapUp(t *testing.T) {
	h := newHarness(t)
	h.online("a1", sales.Name)

	ch1 := h.enqueue("c1", sales.Name)
	h.expectOffer(ch1, "c1", sales, "a1")
	h.clock.Advance(time.Second)
	ch2 := h.enqueue("c2", sales.Name)
	h.flush()
	noOffer(t, ch2)

	require.NoError(t, h.acd.Connect(h.ctx, "c1", "a1"))
	h.rec.expect(t, callEv("call.connected", sales.Name, "a1", "c1"), agentEv("a1", acd.OnCall))
	a1 := h.agent("a1")
	assert.Equal(t, acd.OnCall, a1.State)
	assert.Equal(t, acd.CallID("c1"), a1.Call)
	assert.NotContains(t, h.calls(), acd.CallID("c1"), "connected call left the queue")
	assert.Contains(t, h.calls(), acd.CallID("c2"))

	require.NoError(t, h.acd.Complete(h.ctx, "c1", sales.Name, "a1", acd.HangupCaller))
	h.rec.expect(t, byCaller(callEv("call.completed", sales.Name, "a1", "c1")), agentEv("a1", acd.WrapUp))
	completed := h.clock.Now()
	assert.Equal(t, 1, h.clock.Pending(), "wrap-up timer")

	h.clock.Advance(sales.Wrapup - time.Millisecond)
	h.flush()
	noOffer(t, ch2)
	assert.Equal(t, acd.WrapUp, h.agent("a1").State)

	h.clock.Advance(time.Millisecond)
	evs := h.rec.expect(t, agentEv("a1", acd.Available))
	assert.Equal(t, completed.Add(sales.Wrapup), evs[0].Time, "wrap-up ends on the fake clock")
	h.expectOffer(ch2, "c2", sales, "a1")
	assert.Equal(t, 0, h.clock.Pending())
}

func TestACDCompleteWithoutWrapUp(t *testing.T) {
	h := newHarness(t)
	h.online("a1", support.Name)
	ch := h.enqueue("c1", support.Name)
	h.expectOffer(ch, "c1", support, "a1")
	require.NoError(t, h.acd.Connect(h.ctx, "c1", "a1"))
	h.rec.expect(t, callEv("call.connected", support.Name, "a1", "c1"), agentEv("a1", acd.OnCall))

	require.NoError(t, h.acd.Complete(h.ctx, "c1", support.Name, "a1", acd.HangupCaller))
	h.rec.expect(t,
		byCaller(callEv("call.completed", support.Name, "a1", "c1")),
		agentEv("a1", acd.WrapUp),
		agentEv("a1", acd.Available),
	)
	assert.Equal(t, 0, h.clock.Pending())
	assert.Equal(t, acd.Available, h.agent("a1").State)
}

func TestACDOfflineDuringCallLogsOutAfterWrapUp(t *testing.T) {
	h := newHarness(t)
	h.online("a1", sales.Name)
	ch := h.enqueue("c1", sales.Name)
	h.expectOffer(ch, "c1", sales, "a1")
	require.NoError(t, h.acd.Connect(h.ctx, "c1", "a1"))
	h.rec.expect(t, callEv("call.connected", sales.Name, "a1", "c1"), agentEv("a1", acd.OnCall))

	require.NoError(t, h.acd.SetPresence(h.ctx, "a1", acd.Unregistered)) // no state change on a call
	require.NoError(t, h.acd.Complete(h.ctx, "c1", sales.Name, "a1", acd.HangupCaller))
	h.rec.expect(t, byCaller(callEv("call.completed", sales.Name, "a1", "c1")), agentEv("a1", acd.WrapUp))
	h.clock.Advance(sales.Wrapup)
	h.rec.expect(t, agentEv("a1", acd.LoggedOut))

	ch2 := h.enqueue("c2", sales.Name)
	h.flush()
	noOffer(t, ch2)
}

func TestACDAbandon(t *testing.T) {
	t.Run("while reserved frees the agent", func(t *testing.T) {
		h := newHarness(t)
		h.online("a1", sales.Name)
		ch := h.enqueue("c1", sales.Name)
		h.expectOffer(ch, "c1", sales, "a1")

		require.NoError(t, h.acd.Abandon(h.ctx, "c1"))
		h.rec.expect(t, callEv("call.abandoned", sales.Name, "", "c1"), agentEv("a1", acd.Available))
		assert.Empty(t, h.calls())
		a1 := h.agent("a1")
		assert.Equal(t, acd.Available, a1.State)
		assert.Empty(t, a1.Call)

		ch2 := h.enqueue("c2", sales.Name)
		h.expectOffer(ch2, "c2", sales, "a1")
	})
	t.Run("while waiting", func(t *testing.T) {
		h := newHarness(t)
		ch := h.enqueue("c1", sales.Name)
		require.NoError(t, h.acd.Abandon(h.ctx, "c1"))
		h.rec.expect(t, callEv("call.abandoned", sales.Name, "", "c1"))
		assert.Empty(t, h.calls())

		h.online("a1", sales.Name)
		h.flush()
		noOffer(t, ch)
	})
}

func TestACDErrors(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(h *harness)
		op      func(h *harness) error
		wantErr error
	}{
		{
			name: "enqueue to unknown queue",
			op: func(h *harness) error {
				_, err := h.acd.Enqueue(h.ctx, acd.Call{ID: "c1", Queue: "nope"})
				return err
			},
			wantErr: acd.ErrUnknownQueue,
		},
		{
			name:    "no answer for unknown call",
			setup:   func(h *harness) { h.online("a1", sales.Name) },
			op:      func(h *harness) error { return h.acd.OfferFailed(h.ctx, "c1", "a1", acd.NoAnswer) },
			wantErr: acd.ErrNotFound,
		},
		{
			name:    "connect unknown call",
			setup:   func(h *harness) { h.online("a1", sales.Name) },
			op:      func(h *harness) error { return h.acd.Connect(h.ctx, "c1", "a1") },
			wantErr: acd.ErrNotFound,
		},
		{
			name: "connect by an agent not offered the call",
			setup: func(h *harness) {
				h.online("a1", sales.Name)
				h.online("a2", sales.Name)
				h.expectOffer(h.enqueue("c1", sales.Name), "c1", sales, "a1")
			},
			op:      func(h *harness) error { return h.acd.Connect(h.ctx, "c1", "a2") },
			wantErr: acd.ErrConflict,
		},
		{
			name: "connect a waiting call",
			setup: func(h *harness) {
				h.enqueue("c1", sales.Name)
				require.NoError(h.t, h.store.PutAgent(h.ctx, acd.Agent{ID: "a1", Queues: []string{sales.Name}}))
			},
			op:      func(h *harness) error { return h.acd.Connect(h.ctx, "c1", "a1") },
			wantErr: acd.ErrConflict,
		},
		{
			name: "complete while ringing",
			setup: func(h *harness) {
				h.online("a1", sales.Name)
				h.expectOffer(h.enqueue("c1", sales.Name), "c1", sales, "a1")
			},
			op:      func(h *harness) error { return h.acd.Complete(h.ctx, "c1", sales.Name, "a1", acd.HangupCaller) },
			wantErr: acd.ErrConflict,
		},
		{
			name:    "set unknown agent online",
			op:      func(h *harness) error { return h.acd.SetPresence(h.ctx, "ghost", acd.Registered) },
			wantErr: acd.ErrNotFound,
		},
		{
			name:    "abandon unknown call",
			op:      func(h *harness) error { return h.acd.Abandon(h.ctx, "c1") },
			wantErr: acd.ErrNotFound,
		},
		{
			name: "enqueue after Run returned",
			setup: func(h *harness) {
				h.stop()
			},
			op: func(h *harness) error {
				_, err := h.acd.Enqueue(h.ctx, acd.Call{ID: "c1", Queue: sales.Name})
				return err
			},
			wantErr: acd.ErrClosed,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h)
			}
			err := tc.op(h)
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestACDOfflineAgentGetsNothing(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, h.store.PutAgent(h.ctx, acd.Agent{ID: "a1", Queues: []string{sales.Name}})) // never online
	ch := h.enqueue("c1", sales.Name)
	h.flush()
	noOffer(t, ch)
	assert.Equal(t, acd.LoggedOut, h.agent("a1").State)
}

func TestACDSetOnlineOffThenOn(t *testing.T) {
	h := newHarness(t)
	h.online("a1", sales.Name)

	require.NoError(t, h.acd.SetPresence(h.ctx, "a1", acd.Unregistered))
	h.rec.expect(t, agentEv("a1", acd.LoggedOut))
	require.NoError(t, h.acd.SetPresence(h.ctx, "a1", acd.Unregistered)) // no change, no event

	ch := h.enqueue("c1", sales.Name)
	h.flush()
	noOffer(t, ch)

	require.NoError(t, h.acd.SetPresence(h.ctx, "a1", acd.Registered))
	h.rec.expect(t, agentEv("a1", acd.Available))
	h.expectOffer(ch, "c1", sales, "a1")
}

func TestACDStopCancelsWrapUpTimers(t *testing.T) {
	h := newHarness(t)
	h.online("a1", sales.Name)
	h.expectOffer(h.enqueue("c1", sales.Name), "c1", sales, "a1")
	require.NoError(t, h.acd.Connect(h.ctx, "c1", "a1"))
	require.NoError(t, h.acd.Complete(h.ctx, "c1", sales.Name, "a1", acd.HangupCaller))
	require.Equal(t, 1, h.clock.Pending())

	h.stop()
	assert.Equal(t, 0, h.clock.Pending(), "Run stops wrap-up timers when it returns")
}

// A second Enqueue of a call ID that waits already is refused and leaves the
// waiting call routable.
func TestACDDuplicateEnqueueKeepsOriginal(t *testing.T) {
	h := newHarness(t)
	ch := h.enqueue("c1", sales.Name)
	_, err := h.acd.Enqueue(h.ctx, acd.Call{ID: "c1", Queue: sales.Name})
	require.ErrorIs(t, err, acd.ErrConflict)
	h.online("a1", sales.Name)
	h.expectOffer(ch, "c1", sales, "a1")
}

// The offer's events are on the bus before the call can react to the offer,
// so an immediate NoAnswer's events come after them.
func TestACDOfferEventsPrecedeReaction(t *testing.T) {
	h := newHarness(t)
	h.online("a1", sales.Name)
	ch := h.enqueue("c1", sales.Name)
	h.expectOffer(ch, "c1", sales, "a1") // asserts reserved + offered first
	require.NoError(t, h.acd.OfferFailed(h.ctx, "c1", "a1", acd.NoAnswer))
	h.rec.expect(t, callEv("call.noanswer", sales.Name, "a1", "c1"), agentEv("a1", acd.Available))
	h.expectOffer(ch, "c1", sales, "a1") // a new round with the only agent
	require.ErrorIs(t, h.acd.OfferFailed(h.ctx, "c1", "other", acd.NoAnswer), acd.ErrNotFound)
}

// A pause asked for during a call applies after wrap-up; the agent can end
// wrap-up early; unpausing brings the next offer.
func TestACDPauseAfterCallAndEndWrapUpEarly(t *testing.T) {
	h := newHarness(t)
	h.online("a1", sales.Name)
	ch1 := h.enqueue("c1", sales.Name)
	h.expectOffer(ch1, "c1", sales, "a1")
	require.NoError(t, h.acd.Connect(h.ctx, "c1", "a1"))
	h.rec.expect(t, callEv("call.connected", sales.Name, "a1", "c1"), agentEv("a1", acd.OnCall))

	require.NoError(t, h.acd.SetPause(h.ctx, "a1", "lunch"))
	h.rec.expect(t, agentEv("a1", acd.OnCall)) // still on the call; the pause waits
	require.NoError(t, h.acd.Complete(h.ctx, "c1", sales.Name, "a1", acd.HangupCaller))
	h.rec.expect(t, byCaller(callEv("call.completed", sales.Name, "a1", "c1")), agentEv("a1", acd.WrapUp))

	require.NoError(t, h.acd.EndWrapUp(h.ctx, "a1"))
	paused := agentEv("a1", acd.Paused)
	paused.Reason = "lunch"
	h.rec.expect(t, paused)
	assert.Equal(t, 0, h.clock.Pending(), "the wrap-up timer is stopped")
	require.ErrorIs(t, h.acd.EndWrapUp(h.ctx, "a1"), acd.ErrConflict, "not in wrap-up any more")

	ch2 := h.enqueue("c2", sales.Name)
	h.flush()
	noOffer(t, ch2)
	require.NoError(t, h.acd.SetPause(h.ctx, "a1", ""))
	h.rec.expect(t, agentEv("a1", acd.Available))
	h.expectOffer(ch2, "c2", sales, "a1")
}

// byCaller marks a completed call as hung up by the member.
func byCaller(ev acd.Event) acd.Event {
	ev.HangupBy = acd.HangupCaller
	return ev
}

// Attended transfer: a1 hands its connected call to a2. A paused a2 cannot
// take it and nothing changes; an available a2 is on the call at once
// under a new fence, a1 wraps up, and the call completes with a2.
func TestACDHandover(t *testing.T) {
	h := newHarness(t)
	h.online("a1", sales.Name)
	ch := h.enqueue("c1", sales.Name)
	h.expectOffer(ch, "c1", sales, "a1")
	require.NoError(t, h.acd.Connect(h.ctx, "c1", "a1"))
	h.rec.expect(t, callEv("call.connected", sales.Name, "a1", "c1"), agentEv("a1", acd.OnCall))
	h.online("a2", sales.Name)
	require.NoError(t, h.acd.SetPause(h.ctx, "a2", "lunch"))
	paused := agentEv("a2", acd.Paused)
	paused.Reason = "lunch"
	h.rec.expect(t, paused)

	require.ErrorIs(t, h.acd.Handover(h.ctx, "c1", sales.Name, "a1", "a2"), acd.ErrConflict)
	assert.Equal(t, acd.OnCall, h.agent("a1").State, "a1 keeps the call")
	require.NoError(t, h.acd.SetPause(h.ctx, "a2", ""))
	h.rec.expect(t, agentEv("a2", acd.Available))

	require.NoError(t, h.acd.Handover(h.ctx, "c1", sales.Name, "a1", "a2"))
	handover := callEv("call.handover", sales.Name, "a1", "c1")
	handover.Target = "a2"
	h.rec.expect(t, handover, agentEv("a1", acd.WrapUp), callEv("call.connected", sales.Name, "a2", "c1"), agentEv("a2", acd.OnCall))
	a2 := h.agent("a2")
	assert.Equal(t, acd.CallID("c1"), a2.Call)
	assert.Equal(t, 1, a2.Answered)
	assert.Equal(t, acd.WrapUp, h.agent("a1").State)
	require.NoError(t, h.acd.Complete(h.ctx, "c1", sales.Name, "a2", acd.HangupCaller))
	h.rec.expect(t, byCaller(callEv("call.completed", sales.Name, "a2", "c1")), agentEv("a2", acd.WrapUp))
}
