package acd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// QueueConfig is what the ACD needs to know of a queue.
type QueueConfig struct {
	Name          string
	RingTimeout   time.Duration // an offered agent's phone rings this long
	Wrapup        time.Duration // an agent's after-call time before the next offer
	Strategy      Strategy      // "" = LongestIdle
	Weight        int           // breaks ties between equally old calls of different queues: higher first
	Skills        map[string]int
	Widen         []SkillStep     // in increasing After order
	Order         map[AgentID]int // agent order for the linear strategy
	MaxMisses     int             // unanswered offers in a row that pause an agent; 0 = never
	RejectBackoff time.Duration   // an agent who declines an offer gets none for this long

	MaxWait        time.Duration // a call waiting this long overflows or leaves; 0 = no limit
	Overflow       string        // queue a call moves to after MaxWait, keeping its age; "" = the call leaves
	MaxLength      int           // calls that may wait at once; 0 = no limit
	JoinEmpty      bool          // calls may join while no agent of the queue is logged in
	LeaveWhenEmpty bool          // waiting calls leave when the last agent of the queue logs out
}

// Reasons a waiting call is told to leave its queue (Offer.Leave).
const (
	LeaveTimeout = "timeout" // waited MaxWait and the queue has no overflow
	LeaveEmpty   = "empty"   // no agent of the queue is logged in any more
)

// Offer tells a waiting call which agent to ring, and for how long; or,
// with Leave set, that the call has left its queue and must end.
type Offer struct {
	Agent       AgentID
	Queue       string // the call's queue now (it may have overflowed)
	RingTimeout time.Duration
	Leave       string // LeaveTimeout or LeaveEmpty; the call is already out of the store
}

// ACD routes this node's waiting calls to agents. Its dispatcher goroutine
// (Run) is the only place that makes routing decisions on this node; every
// other method records an outcome in the store and wakes the dispatcher.
type ACD struct {
	node   string // this node's name: agents registered here are offered its calls
	store  Store
	clock  Clock
	events EventSink
	log    zerolog.Logger
	queues map[string]QueueConfig

	wake chan struct{}

	lastOffered map[string]AgentID // round-robin memory; dispatcher goroutine only

	mu      sync.Mutex
	waiters map[CallID]chan Offer   // calls of this node waiting for an offer (nil: being enqueued)
	timers  map[AgentID]func() bool // running wrap-up timers
	closed  bool
}

// DispatchInterval bounds how long a routable call can wait if a wake-up is
// lost (a store error, another node's change): the dispatcher also runs this often.
const DispatchInterval = time.Second

// Option configures an ACD.
type Option func(*ACD)

// WithNode names this node. With a shared store, a node offers its calls
// only to agents whose devices registered with it: it reaches no others.
func WithNode(name string) Option { return func(a *ACD) { a.node = name } }

// New returns an ACD over store. events may be nil.
func New(store Store, queues []QueueConfig, clock Clock, events EventSink, log zerolog.Logger, opts ...Option) *ACD {
	qs := make(map[string]QueueConfig, len(queues))
	for _, q := range queues {
		qs[q.Name] = q
	}
	if events == nil {
		events = discard{}
	}
	a := &ACD{
		store: store, clock: clock, events: events, log: log, queues: qs,
		wake:        make(chan struct{}, 1),
		lastOffered: make(map[string]AgentID),
		waiters:     make(map[CallID]chan Offer),
		timers:      make(map[AgentID]func() bool),
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

type discard struct{}

func (discard) Emit(Event) {}

// Queue returns a queue's configuration.
func (a *ACD) Queue(name string) (QueueConfig, bool) {
	q, ok := a.queues[name]
	return q, ok
}

// Run makes routing decisions until ctx ends, then stops wrap-up timers.
func (a *ACD) Run(ctx context.Context) error {
	t := time.NewTicker(DispatchInterval)
	defer t.Stop()
	defer a.shutdown()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.wake:
		case <-t.C:
		}
		if err := a.dispatch(ctx); err != nil && ctx.Err() == nil {
			a.log.Error().Err(err).Msg("routing pass failed")
		}
	}
}

func (a *ACD) shutdown() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	for id, stop := range a.timers {
		stop()
		delete(a.timers, id)
	}
}

func (a *ACD) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// dispatch offers this node's waiting calls to free agents.
func (a *ACD) dispatch(ctx context.Context) error {
	a.mu.Lock()
	n := len(a.waiters)
	a.mu.Unlock()
	if n == 0 {
		return nil
	}
	all, err := a.store.Agents(ctx)
	if err != nil {
		return fmt.Errorf("load agents: %w", err)
	}
	agents := all[:0]
	for _, ag := range all {
		if ag.Node == a.node {
			agents = append(agents, ag)
		}
	}
	calls, err := a.store.Calls(ctx)
	if err != nil {
		return fmt.Errorf("load calls: %w", err)
	}
	local := calls[:0]
	a.mu.Lock()
	for _, c := range calls {
		if a.waiters[c.ID] != nil {
			local = append(local, c)
		}
	}
	a.mu.Unlock()

	routing := Routing{Queues: a.queues, Now: a.clock.Now(), LastOffered: a.lastOffered, Intn: rand.IntN}
	local = a.enforceLimits(ctx, all, local)
	for _, as := range Route(agents, local, routing) {
		now := a.clock.Now()
		var queue string
		var reserved Agent
		err := a.store.UpdateCallAgent(ctx, as.Call, as.Agent, func(c *Call, ag *Agent) error {
			if ag == nil {
				return ErrNotFound
			}
			queue = c.Queue
			err := Reserve(ag, c, now)
			reserved = *ag
			return err
		})
		if err != nil {
			if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("reserve %s for %s: %w", as.Agent, as.Call, err)
			}
			continue
		}
		a.lastOffered[queue] = as.Agent
		a.mu.Lock()
		ch := a.waiters[as.Call]
		a.mu.Unlock()
		if ch == nil { // the call left between the snapshot and the reservation
			a.release(ctx, as.Call, as.Agent)
			continue
		}
		// Events first: the call may react (and emit its own) as soon as it
		// has the offer. The channel is buffered (one offer at a time per call).
		a.emitAgent(&reserved, now)
		a.events.Emit(Event{Time: now, Type: "call.offered", Queue: queue, Agent: as.Agent, Call: as.Call})
		ch <- Offer{Agent: as.Agent, Queue: queue, RingTimeout: a.queues[queue].RingTimeout}
	}
	return nil
}

// loggedIn reports whether an agent counts as logged in to queue q for the
// join-empty and leave-when-empty policies: paused agents do, unreachable
// ones do not.
func loggedIn(ag *Agent, q string) bool {
	return ag.Serves(q) && ag.State != LoggedOut && ag.State != Unreachable
}

// enforceLimits applies max_wait (overflow or leave) and leave-when-empty to
// this node's waiting calls and returns those still waiting in place. Calls
// being offered are left alone until the offer ends.
func (a *ACD) enforceLimits(ctx context.Context, agents []Agent, calls []Call) []Call {
	staffed := map[string]bool{}
	for i := range agents {
		for _, q := range agents[i].Queues {
			if loggedIn(&agents[i], q) {
				staffed[q] = true
			}
		}
	}
	now := a.clock.Now()
	kept := calls[:0]
	for _, c := range calls {
		q := a.queues[c.Queue]
		switch {
		case c.Agent != "":
		case q.MaxWait > 0 && now.Sub(c.Enqueued) >= q.MaxWait && q.Overflow != "":
			if a.overflow(ctx, c, q.Overflow, now) {
				continue
			}
		case q.MaxWait > 0 && now.Sub(c.Enqueued) >= q.MaxWait:
			if a.leave(ctx, c, LeaveTimeout, now) {
				continue
			}
		case q.LeaveWhenEmpty && !staffed[c.Queue]:
			if a.leave(ctx, c, LeaveEmpty, now) {
				continue
			}
		}
		kept = append(kept, c)
	}
	return kept
}

// overflow moves a waiting call to queue to, keeping its age.
func (a *ACD) overflow(ctx context.Context, c Call, to string, now time.Time) bool {
	err := a.store.UpdateCallAgent(ctx, c.ID, "", func(cc *Call, _ *Agent) error {
		if cc.Agent != "" || cc.Queue != c.Queue {
			return ErrConflict
		}
		cc.Queue, cc.Tried = to, nil
		return nil
	})
	if err != nil {
		return false
	}
	a.events.Emit(Event{Time: now, Type: "call.overflowed", Queue: c.Queue, Call: c.ID, Target: to})
	return true
}

// leave takes a waiting call out of its queue and tells it why.
func (a *ACD) leave(ctx context.Context, c Call, why string, now time.Time) bool {
	err := a.store.RemoveCall(ctx, c.ID, func(cc *Call, _ *Agent) error {
		if cc.Agent != "" {
			return ErrConflict
		}
		return nil
	})
	if err != nil {
		return false
	}
	a.mu.Lock()
	ch := a.waiters[c.ID]
	delete(a.waiters, c.ID)
	a.mu.Unlock()
	typ := "call.timeout"
	if why == LeaveEmpty {
		typ = "call.exitempty"
	}
	a.events.Emit(Event{Time: now, Type: typ, Queue: c.Queue, Call: c.ID})
	if ch != nil {
		ch <- Offer{Queue: c.Queue, Leave: why}
	}
	return true
}

// Admit says whether a new call may join queue now: ErrQueueFull past
// MaxLength, ErrQueueEmpty if no agent of the queue is logged in and the
// queue does not let calls join empty. Enqueue does not check again: the
// SIP edge asks before it answers.
func (a *ACD) Admit(ctx context.Context, queue string) error {
	q, ok := a.queues[queue]
	if !ok {
		return fmt.Errorf("queue %q: %w", queue, ErrUnknownQueue)
	}
	if q.MaxLength > 0 {
		calls, err := a.store.Calls(ctx)
		if err != nil {
			return fmt.Errorf("admit to %s: %w", queue, err)
		}
		n := 0
		for _, c := range calls {
			if c.Queue == queue {
				n++
			}
		}
		if n >= q.MaxLength {
			return fmt.Errorf("queue %s has %d calls: %w", queue, n, ErrQueueFull)
		}
	}
	if !q.JoinEmpty {
		agents, err := a.store.Agents(ctx)
		if err != nil {
			return fmt.Errorf("admit to %s: %w", queue, err)
		}
		if !slices.ContainsFunc(agents, func(ag Agent) bool { return loggedIn(&ag, queue) }) {
			return fmt.Errorf("queue %s: %w", queue, ErrQueueEmpty)
		}
	}
	return nil
}

func (a *ACD) release(ctx context.Context, call CallID, agent AgentID) {
	_ = a.store.UpdateCallAgent(ctx, call, agent, func(c *Call, ag *Agent) error {
		Unreserve(ag, c, Withdrawn, a.queues[c.Queue], a.clock.Now())
		return nil
	})
}

// Enqueue puts a call of this node into its queue. Offers for it arrive on
// the returned channel, one at a time: after each, the caller reports
// NoAnswer, Connect or Abandon.
func (a *ACD) Enqueue(ctx context.Context, c Call) (<-chan Offer, error) {
	if _, ok := a.queues[c.Queue]; !ok {
		return nil, fmt.Errorf("queue %q: %w", c.Queue, ErrUnknownQueue)
	}
	if c.Enqueued.IsZero() {
		c.Enqueued = a.clock.Now()
	}
	c.Node = a.node
	ch := make(chan Offer, 1)
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	if _, dup := a.waiters[c.ID]; dup {
		a.mu.Unlock()
		return nil, fmt.Errorf("enqueue %s: %w", c.ID, ErrConflict)
	}
	// A nil placeholder claims the ID; the dispatcher routes the call only
	// once its channel is in place, after call.enqueued is published.
	a.waiters[c.ID] = nil
	a.mu.Unlock()
	if err := a.store.AddCall(ctx, c); err != nil {
		a.dropWaiter(c.ID)
		return nil, fmt.Errorf("enqueue %s: %w", c.ID, err)
	}
	a.events.Emit(Event{Time: c.Enqueued, Type: "call.enqueued", Queue: c.Queue, Call: c.ID})
	a.mu.Lock()
	if _, ok := a.waiters[c.ID]; ok { // not abandoned meanwhile
		a.waiters[c.ID] = ch
	}
	a.mu.Unlock()
	a.poke()
	return ch, nil
}

func (a *ACD) dropWaiter(id CallID) {
	a.mu.Lock()
	delete(a.waiters, id)
	a.mu.Unlock()
}

// OfferFailed records that the offered agent did not take the call: it rang
// out (NoAnswer) or the agent declined it (Rejected). The call keeps its place
// and is offered to the next agent.
func (a *ACD) OfferFailed(ctx context.Context, call CallID, agent AgentID, o Outcome) error {
	now := a.clock.Now()
	var queue string
	var ag Agent
	err := a.store.UpdateCallAgent(ctx, call, agent, func(c *Call, g *Agent) error {
		if g == nil {
			return ErrNotFound
		}
		if c.Agent != agent || g.Call != call {
			return ErrConflict
		}
		queue = c.Queue
		Unreserve(g, c, o, a.queues[c.Queue], now)
		ag = *g
		return nil
	})
	if err != nil {
		return fmt.Errorf("offer of %s to %s failed: %w", call, agent, err)
	}
	typ := "call.noanswer"
	if o == Rejected {
		typ = "call.rejected"
	}
	a.events.Emit(Event{Time: now, Type: typ, Queue: queue, Agent: agent, Call: call})
	a.emitAgent(&ag, now)
	a.poke()
	return nil
}

// Connect records that the agent answered: the call leaves the queue and the
// agent is on the call.
func (a *ACD) Connect(ctx context.Context, call CallID, agent AgentID) error {
	now := a.clock.Now()
	var queue string
	var ag Agent
	err := a.store.RemoveCall(ctx, call, func(c *Call, g *Agent) error {
		if g == nil || g.ID != agent {
			return ErrConflict
		}
		queue = c.Queue
		err := Connect(g, call, now)
		ag = *g
		return err
	})
	if err != nil {
		return fmt.Errorf("connect %s to %s: %w", call, agent, err)
	}
	a.dropWaiter(call)
	a.events.Emit(Event{Time: now, Type: "call.connected", Queue: queue, Agent: agent, Call: call})
	a.emitAgent(&ag, now)
	return nil
}

// Abandon takes a call out of its queue because the member hung up (or the
// call failed) before an agent took it. An agent whose phone was ringing for
// it is free again.
func (a *ACD) Abandon(ctx context.Context, call CallID) error {
	now := a.clock.Now()
	var queue string
	var freed *Agent
	err := a.store.RemoveCall(ctx, call, func(c *Call, ag *Agent) error {
		queue, freed = c.Queue, nil
		if ag != nil {
			Unreserve(ag, c, Withdrawn, a.queues[c.Queue], now)
			g := *ag
			freed = &g
		}
		return nil
	})
	a.dropWaiter(call)
	if err != nil {
		return fmt.Errorf("abandon %s: %w", call, err)
	}
	a.events.Emit(Event{Time: now, Type: "call.abandoned", Queue: queue, Call: call})
	if freed != nil {
		a.emitAgent(freed, now)
		a.poke()
	}
	return nil
}

// Hang-up sides for Complete.
const (
	HangupCaller = "caller"
	HangupAgent  = "agent"
)

// Complete records the end of a connected call, hung up by "caller",
// "agent" or neither (""): the agent wraps up for the queue's wrap-up time,
// then is offered calls again.
func (a *ACD) Complete(ctx context.Context, call CallID, queue string, agent AgentID, by string) error {
	now := a.clock.Now()
	ag, err := a.store.UpdateAgent(ctx, agent, func(ag *Agent) error {
		return StartWrapUp(ag, call, now)
	})
	if err != nil {
		return fmt.Errorf("complete %s of %s: %w", call, agent, err)
	}
	a.events.Emit(Event{Time: now, Type: "call.completed", Queue: queue, Agent: agent, Call: call, HangupBy: by})
	a.emitAgent(&ag, now)
	wrap := a.queues[queue].Wrapup
	if wrap <= 0 {
		a.endWrapUp(agent, call)
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	if stop := a.timers[agent]; stop != nil {
		stop()
	}
	a.timers[agent] = a.clock.AfterFunc(wrap, func() { a.endWrapUp(agent, call) })
	return nil
}

// WrapUpTimeout bounds the store update that ends a wrap-up.
const WrapUpTimeout = 5 * time.Second

func (a *ACD) endWrapUp(agent AgentID, call CallID) {
	a.mu.Lock()
	delete(a.timers, agent)
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), WrapUpTimeout)
	defer cancel()
	ag, err := a.store.UpdateAgent(ctx, agent, func(ag *Agent) error {
		return EndWrapUp(ag, call, a.clock.Now())
	})
	if err != nil {
		if !errors.Is(err, ErrConflict) {
			a.log.Error().Err(err).Str("agent", string(agent)).Msg("end wrap-up")
		}
		return
	}
	a.emitAgent(&ag, a.clock.Now())
	a.poke()
}

// EndWrapUp ends an agent's wrap-up now, at the agent's request.
func (a *ACD) EndWrapUp(ctx context.Context, agent AgentID) error {
	var call CallID
	_, err := a.store.UpdateAgent(ctx, agent, func(ag *Agent) error {
		if ag.State != WrapUp {
			return ErrConflict
		}
		call = ag.Call
		return nil
	})
	if err != nil {
		return fmt.Errorf("end wrap-up of %s: %w", agent, err)
	}
	a.mu.Lock()
	if stop := a.timers[agent]; stop != nil {
		stop()
	}
	a.mu.Unlock()
	a.endWrapUp(agent, call)
	return nil
}

// SetPause pauses an agent for reason, or unpauses them with reason "". A
// pause asked for during a call applies when the call and its wrap-up end.
func (a *ACD) SetPause(ctx context.Context, agent AgentID, reason string) error {
	now := a.clock.Now()
	ag, err := a.store.UpdateAgent(ctx, agent, func(ag *Agent) error {
		return SetPause(ag, reason, now)
	})
	if err != nil {
		return fmt.Errorf("pause %s: %w", agent, err)
	}
	a.emitAgent(&ag, now)
	a.poke()
	return nil
}

// SetPresence records what the registrar knows of an agent's devices.
func (a *ACD) SetPresence(ctx context.Context, agent AgentID, p Presence) error {
	now := a.clock.Now()
	changed := false
	ag, err := a.store.UpdateAgent(ctx, agent, func(ag *Agent) error {
		changed = SetPresence(ag, p, a.node, now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("presence of %s: %w", agent, err)
	}
	if changed {
		a.emitAgent(&ag, now)
		a.poke()
	}
	return nil
}

// Recover cleans up after an earlier run of this node in a shared store:
// this node's agents become unreachable until their phones register again,
// and its calls, whose members were connected to the old process, leave
// their queues. Call it before the node takes calls.
func (a *ACD) Recover(ctx context.Context) error {
	agents, err := a.store.Agents(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	now := a.clock.Now()
	for _, ag := range agents {
		if ag.Node != a.node {
			continue
		}
		changed := false
		g, err := a.store.UpdateAgent(ctx, ag.ID, func(g *Agent) error {
			changed = g.Node == a.node && Recover(g, now)
			return nil
		})
		if err != nil {
			return fmt.Errorf("recover %s: %w", ag.ID, err)
		}
		if changed {
			a.emitAgent(&g, now)
		}
	}
	calls, err := a.store.Calls(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, c := range calls {
		if c.Node != a.node {
			continue
		}
		if err := a.store.RemoveCall(ctx, c.ID, func(c *Call, ag *Agent) error {
			if ag != nil {
				Unreserve(ag, c, Withdrawn, a.queues[c.Queue], now)
			}
			return nil
		}); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("recover %s: %w", c.ID, err)
		}
		a.events.Emit(Event{Time: now, Type: "call.abandoned", Queue: c.Queue, Call: c.ID})
	}
	return nil
}

// Agents returns a snapshot of all agents.
func (a *ACD) Agents(ctx context.Context) ([]Agent, error) { return a.store.Agents(ctx) }

func (a *ACD) emitAgent(ag *Agent, now time.Time) {
	ev := Event{Time: now, Type: "agent.state", Agent: ag.ID, State: ag.State.String()}
	if ag.State == Paused {
		ev.Reason = ag.Pause
	}
	a.events.Emit(ev)
}
