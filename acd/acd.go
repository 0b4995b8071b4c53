package acd

import (
	"cmp"
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
	RingStep      time.Duration   // ring-progressively: the next agent's phone joins after this long
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
	// Peer is the SIP address ("udp:HOST:PORT") of the node the agent's
	// device registered with, if that is another node: ring the agent
	// through it. Empty: the device registered here.
	Peer string
	// Also are further agents offered the same call (ring-all,
	// ring-progressively): ring each After its delay, while the others
	// ring; the first to answer takes the call. Report the others with
	// OfferFailed (Withdrawn) before Connect.
	Also []Target
}

// Target is one more agent to ring for an offer.
type Target struct {
	Agent AgentID
	Peer  string        // as Offer.Peer
	After time.Duration // start ringing this long after the offer
}

// Targets returns every agent of the offer, the first one first.
func (o Offer) Targets() []Target {
	return append([]Target{{Agent: o.Agent, Peer: o.Peer}}, o.Also...)
}

// ACD routes this node's waiting calls to agents. Its dispatcher goroutine
// (Run) is the only place that makes routing decisions on this node, from
// the node's view of the shared state; every other method records an
// outcome in the store, updates the view and wakes the dispatcher.
type ACD struct {
	node   string // this node's name: agents registered here are offered its calls
	store  Store
	clock  Clock
	events EventSink
	repl   Replicator
	log    zerolog.Logger
	queues map[string]QueueConfig
	view   *view

	sipAddr  string        // this node's address for other nodes' INVITEs; "" = no cross-node routing; guarded by view.mu
	leaseTTL time.Duration // 0 = no node lease (single node, tests)
	nodeDown func(node string)
	lease    NodeInfo   // the last one written; guarded by view.mu
	renewMu  sync.Mutex // one lease write at a time

	wake      chan struct{}
	resyncNow chan struct{} // Resync asks Run to reread the store

	lastOffered map[string]AgentID // round-robin memory; dispatcher goroutine only

	mu      sync.Mutex
	waiters map[CallID]chan Offer   // calls of this node waiting for an offer (nil: being enqueued)
	timers  map[AgentID]func() bool // running wrap-up timers
	fences  map[CallID]uint64       // this node's offered and connected calls: the reservation's fence
	closed  bool
	out     outage
	handles handleTimes // recent handle times per queue, for wait estimates
}

// DispatchInterval bounds how long a routable call can wait if a wake-up is
// lost (a store error, a lost change from another node): the dispatcher
// also runs this often.
const DispatchInterval = time.Second

// ResyncInterval is how often a node rereads the whole store into its view,
// repairing changes lost on the bus.
const ResyncInterval = 5 * time.Second

// Option configures an ACD.
type Option func(*ACD)

// WithNode names this node. With a shared store, a node offers its calls
// to agents whose devices registered with it, and, with WithLease, to those
// of other live nodes.
func WithNode(name string) Option { return func(a *ACD) { a.node = name } }

// WithLease makes the node hold a lease in the store, renewed every ttl/3,
// under which other nodes reach it at sipAddr ("udp:HOST:PORT"; "": they
// do not). Nodes that both have an address offer their calls to each
// other's agents. A node with a lease also takes over what a
// node whose lease ran out left behind: its waiting calls leave their
// queues, the agents it had reserved are free again, and the agents whose
// devices were registered with it are unreachable until they register again.
func WithLease(sipAddr string, ttl time.Duration) Option {
	return func(a *ACD) { a.sipAddr, a.leaseTTL = sipAddr, ttl }
}

// SetSIPAddress sets the address WithLease announces, once the SIP
// listeners are bound. Call it before Recover and Run; "" turns cross-node
// routing off for this node.
func (a *ACD) SetSIPAddress(addr string) {
	a.view.mu.Lock()
	a.sipAddr = addr
	a.view.mu.Unlock()
}

// Withdraw takes this node out of cross-node routing at once, for the end
// of a drain: its lease announces no SIP address any more, so the other
// nodes stop offering its agents, and it offers its own calls (if any are
// left) only to its own agents.
func (a *ACD) Withdraw(ctx context.Context) {
	a.SetSIPAddress("")
	if a.leaseTTL > 0 {
		if err := a.renew(ctx); err != nil {
			a.log.Warn().Err(err).Msg("lease not updated on withdrawal")
		}
	}
}

// PeerGone tells the ACD that the node at SIP address addr refused a node
// leg because it is shutting down, or did not answer at all: its agents
// are offered nothing until its lease is read again (at most a third of
// the lease later) and announces the address again.
func (a *ACD) PeerGone(addr string) {
	a.view.mu.Lock()
	defer a.view.mu.Unlock()
	for name, n := range a.view.nodes {
		if n.SIP == addr && name != a.node {
			n.SIP = ""
			a.view.nodes[name] = n
		}
	}
}

// WithReplicator passes this node's writes to the other nodes' views.
func WithReplicator(r Replicator) Option { return func(a *ACD) { a.repl = r } }

// WithNodeDown calls f when a node that was alive loses its lease, so that
// the SIP edge can end the call legs it carries for that node.
func WithNodeDown(f func(node string)) Option { return func(a *ACD) { a.nodeDown = f } }

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
		repl:        discard{},
		view:        newView(qs),
		wake:        make(chan struct{}, 1),
		resyncNow:   make(chan struct{}, 1),
		lastOffered: make(map[string]AgentID),
		waiters:     make(map[CallID]chan Offer),
		timers:      make(map[AgentID]func() bool),
		fences:      make(map[CallID]uint64),
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

type discard struct{}

func (discard) Emit(Event)     {}
func (discard) Publish(Change) {}

// Queue returns a queue's configuration.
func (a *ACD) Queue(name string) (QueueConfig, bool) {
	q, ok := a.queues[name]
	return q, ok
}

// Run makes routing decisions until ctx ends, then stops wrap-up timers.
// With a lease it also renews the lease, takes over after dead nodes and
// resyncs the view; on return it gives the lease up, so that other nodes
// take over at once.
func (a *ACD) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if a.leaseTTL > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.keepAlive(ctx)
		}()
	}
	defer wg.Wait()
	t := time.NewTicker(DispatchInterval)
	defer t.Stop()
	probe := time.NewTicker(ProbeInterval)
	defer probe.Stop()
	defer a.shutdown()
	for {
		limits := false
		select {
		case <-ctx.Done():
			return nil
		case <-probe.C:
			a.probe(ctx)
			continue
		case <-a.resyncNow:
			if err := a.resync(ctx); err != nil && ctx.Err() == nil && !a.unavailable(err) {
				a.log.Error().Err(err).Msg("view not resynced")
			}
			continue
		case <-a.wake:
		case <-t.C:
			limits = true
		}
		if a.storeDown() {
			continue // waiting members keep their music; routing resumes when the store is back
		}
		if err := a.dispatch(ctx, limits); err != nil && ctx.Err() == nil && !a.unavailable(err) {
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

// Resync makes the node reread the store into its view soon (Run does it),
// as after a bus outage, during which other nodes' changes were lost. It
// does not block.
func (a *ACD) Resync() {
	select {
	case a.resyncNow <- struct{}{}:
	default:
	}
}

func (a *ACD) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// wroteAgent records this node's write of an agent in the view and passes
// it on to the other nodes.
func (a *ACD) wroteAgent(ag Agent) {
	a.view.mu.Lock()
	a.view.putAgent(ag)
	a.view.mu.Unlock()
	a.repl.Publish(Change{Node: a.node, Agent: &ag})
}

// wroteCall is wroteAgent for a call.
func (a *ACD) wroteCall(c Call) {
	a.view.mu.Lock()
	a.view.putCall(c)
	a.view.mu.Unlock()
	a.repl.Publish(Change{Node: a.node, Call: &c})
}

// removedCall is wroteAgent for a call that left the store.
func (a *ACD) removedCall(id CallID) {
	a.view.mu.Lock()
	a.view.removeCall(id, a.clock.Now())
	a.view.mu.Unlock()
	a.repl.Publish(Change{Node: a.node, Removed: id})
}

// The store writes of this node go through these three, which put what was
// written into the view and pass it to the other nodes: a write that
// bypassed them would leave the view stale until the next resync.

// updateAgent is Store.UpdateAgent.
func (a *ACD) updateAgent(ctx context.Context, id AgentID, fn func(*Agent) error) (Agent, error) {
	ag, err := a.store.UpdateAgent(ctx, id, fn)
	if err == nil {
		a.wroteAgent(ag)
	}
	return ag, err
}

// updateCallAgent is Store.UpdateCallAgent; it returns the call and the
// agent as written (no agent if aid is "").
func (a *ACD) updateCallAgent(ctx context.Context, cid CallID, aid AgentID, fn func(*Call, *Agent) error) (Call, Agent, error) {
	var call Call
	var ag Agent
	err := a.store.UpdateCallAgent(ctx, cid, aid, func(c *Call, g *Agent) error {
		if err := fn(c, g); err != nil {
			return err
		}
		call = *c
		if g != nil {
			ag = *g
		}
		return nil
	})
	if err != nil {
		return Call{}, Agent{}, err
	}
	a.wroteCall(call)
	if aid != "" {
		a.wroteAgent(ag)
	}
	return call, ag, nil
}

// removeCall is Store.RemoveCall; it returns the call as it left and the
// agent it was offered to as written, if there was one.
func (a *ACD) removeCall(ctx context.Context, cid CallID, fn func(*Call, *Agent) error) (Call, *Agent, error) {
	var call Call
	var ag *Agent
	err := a.store.RemoveCall(ctx, cid, func(c *Call, g *Agent) error {
		if err := fn(c, g); err != nil {
			return err
		}
		call, ag = *c, nil
		if g != nil {
			cp := *g
			ag = &cp
		}
		return nil
	})
	if err != nil {
		return Call{}, nil, err
	}
	a.removedCall(cid)
	if ag != nil {
		a.wroteAgent(*ag)
	}
	return call, ag, nil
}

// Apply takes another node's write into this node's view and wakes the
// dispatcher if it freed an agent or put a call in line.
func (a *ACD) Apply(ch Change) {
	if ch.Node == a.node {
		return
	}
	wake := false
	a.view.mu.Lock()
	if ch.Agent != nil {
		wake = a.view.putAgent(*ch.Agent)
	}
	if ch.Call != nil {
		wake = a.view.putCall(*ch.Call) || wake
	}
	if ch.Removed != "" {
		a.view.removeCall(ch.Removed, a.clock.Now())
	}
	a.view.mu.Unlock()
	if wake {
		a.poke()
	}
}

// resync rereads the store into the view.
func (a *ACD) resync(ctx context.Context) error {
	if err := a.checkEpoch(ctx); err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	a.view.mu.Lock()
	seq := a.view.seq
	a.view.mu.Unlock()
	agents, err := a.store.Agents(ctx)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	calls, err := a.store.Calls(ctx)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	a.view.mu.Lock()
	a.view.replace(agents, calls, seq, a.clock.Now())
	a.view.mu.Unlock()
	a.poke()
	return nil
}

// reachable reports whether this node can ring agent ag now, and through
// which peer ("" = directly). The view's lock is held.
func (a *ACD) reachable(ag *Agent, now time.Time) (peer string, ok bool) {
	if ag.Node == a.node {
		return "", true
	}
	if a.sipAddr == "" || !a.view.live(a.node, ag.Node, now) {
		return "", false // this node does not route across nodes, or the agent's is dead
	}
	n := a.view.nodes[ag.Node]
	return n.SIP, n.SIP != ""
}

// dispatch offers this node's waiting calls to free agents. It routes every
// live node's waiting calls, so that an agent goes to the call that should
// have it across all nodes, and reserves the agents its own calls got.
// With limits it first applies the queues' limits, which depend on time
// and staffing, not on the change that woke the dispatcher: the periodic
// pass does that, so a wake-up costs no scan of all waiting calls.
func (a *ACD) dispatch(ctx context.Context, limits bool) error {
	a.mu.Lock()
	n := len(a.waiters)
	a.mu.Unlock()
	if n == 0 {
		return nil
	}
	now := a.clock.Now()
	if limits {
		a.enforceLimits(ctx, now)
	}

	v := a.view
	v.mu.Lock()
	free := make([]*Agent, 0, len(v.free))
	for _, ag := range v.free {
		if _, ok := a.reachable(ag, now); ok {
			free = append(free, ag)
		}
	}
	slices.SortFunc(free, func(x, y *Agent) int { return cmp.Compare(x.ID, y.ID) })
	routing := Routing{
		Queues: a.queues, Now: now, LastOffered: a.lastOffered, Intn: rand.IntN,
		Live: func(node string) bool { return node == a.node || !v.dead(node, now) },
	}
	assigned := route(free, v.order, routing)
	var late []limitAction // own calls routed past their max_wait
	for i, as := range assigned {
		if c := v.calls[as.Call]; c != nil && c.Node == a.node {
			if act, ok := a.overdue(c, now); ok {
				late = append(late, act)
				assigned[i].Call = ""
			}
		}
	}
	groups := a.groups(assigned, free, now)
	v.mu.Unlock()
	for _, act := range late {
		a.applyLimit(ctx, act, now)
	}
	if len(late) > 0 {
		a.poke() // the agents they would have had are free for others
	}

	for _, as := range assigned {
		a.mu.Lock()
		ch, mine := a.waiters[as.Call]
		a.mu.Unlock()
		if as.Call == "" || !mine || ch == nil {
			continue // overdue, or another node's call: that node reserves the agent
		}
		now := a.clock.Now()
		call, reserved, err := a.updateCallAgent(ctx, as.Call, as.Agent, func(c *Call, ag *Agent) error {
			return Reserve(ag, c, now)
		})
		if err != nil {
			if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("reserve %s for %s: %w", as.Agent, as.Call, err)
			}
			continue
		}
		a.mu.Lock()
		a.fences[call.ID] = call.Fence
		a.mu.Unlock()
		a.lastOffered[call.Queue] = as.Agent
		v.mu.Lock()
		peer, ok := a.reachable(&reserved, now)
		v.mu.Unlock()
		a.mu.Lock()
		ch = a.waiters[as.Call]
		a.mu.Unlock()
		if ch == nil || !ok { // the call left, or the agent's node died, since the decision
			a.release(ctx, as.Call, as.Agent)
			continue
		}
		// Events first: the call may react (and emit its own) as soon as it
		// has the offer. The channel is buffered (one offer at a time per call).
		a.emitAgent(&reserved, now)
		a.events.Emit(Event{Time: now, Type: "call.offered", Queue: call.Queue, Agent: as.Agent, Call: as.Call})
		also := a.reserveMore(ctx, call, groups[as.Call], now)
		ch <- Offer{Agent: as.Agent, Queue: call.Queue, RingTimeout: a.queues[call.Queue].RingTimeout, Peer: peer, Also: also}
	}
	return nil
}

// groups picks, for this node's assigned calls of ring-all and
// ring-progressively queues, the further free agents to ring: every other
// eligible one no call of this pass took, longest idle first. The view's
// lock is held.
func (a *ACD) groups(assigned []Assignment, free []*Agent, now time.Time) map[CallID][]AgentID {
	var out map[CallID][]AgentID
	var taken map[AgentID]bool
	for _, as := range assigned {
		c := a.view.calls[as.Call]
		if as.Call == "" || c == nil || c.Node != a.node || !a.queues[c.Queue].Strategy.Rings() {
			continue
		}
		if taken == nil {
			taken = make(map[AgentID]bool, len(assigned))
			for _, as := range assigned {
				taken[as.Agent] = true
			}
			out = map[CallID][]AgentID{}
		}
		q := a.queues[c.Queue]
		need := q.SkillsAt(now.Sub(c.Enqueued))
		var more []*Agent
		for _, ag := range free {
			if !taken[ag.ID] && eligible(ag, c, need, now) {
				more = append(more, ag)
				taken[ag.ID] = true
			}
		}
		slices.SortFunc(more, func(x, y *Agent) int {
			if prefer(x, y, q, "") {
				return -1
			}
			return 1
		})
		for _, ag := range more {
			out[as.Call] = append(out[as.Call], ag.ID)
		}
	}
	return out
}

// reserveMore reserves the further agents of call's offer and returns them
// as targets; one that is no longer free is skipped.
func (a *ACD) reserveMore(ctx context.Context, call Call, agents []AgentID, now time.Time) []Target {
	var out []Target
	step := a.queues[call.Queue].RingStep
	for _, id := range agents {
		_, ag, err := a.updateCallAgent(ctx, call.ID, id, func(c *Call, g *Agent) error {
			return ReserveMore(g, c, now)
		})
		if err != nil {
			continue
		}
		a.view.mu.Lock()
		peer, ok := a.reachable(&ag, now)
		a.view.mu.Unlock()
		if !ok {
			a.release(ctx, call.ID, id)
			continue
		}
		a.emitAgent(&ag, now)
		a.events.Emit(Event{Time: now, Type: "call.offered", Queue: call.Queue, Agent: id, Call: call.ID})
		t := Target{Agent: id, Peer: peer}
		if a.queues[call.Queue].Strategy == RingProgressively {
			t.After = time.Duration(len(out)+1) * step
		}
		out = append(out, t)
	}
	return out
}

// loggedIn reports whether an agent counts as logged in to queue q for the
// join-empty and leave-when-empty policies: paused agents do, unreachable
// ones do not.
func loggedIn(ag *Agent, q string) bool {
	return ag.Serves(q) && ag.State != LoggedOut && ag.State != Unreachable
}

// limitAction is what a queue's limits make of a waiting call: overflow to
// a queue, or leave (LeaveTimeout, LeaveEmpty); both empty: stay.
type limitAction struct {
	c     Call
	to    string
	leave string
}

// overdue returns what max_wait makes of waiting call c at now.
func (a *ACD) overdue(c *Call, now time.Time) (limitAction, bool) {
	q := a.queues[c.Queue]
	switch {
	case q.MaxWait <= 0 || now.Sub(c.Enqueued) < q.MaxWait:
		return limitAction{}, false
	case q.Overflow != "":
		return limitAction{c: *c, to: q.Overflow}, true
	default:
		return limitAction{c: *c, leave: LeaveTimeout}, true
	}
}

// enforceLimits applies max_wait (overflow or leave) and leave-when-empty to
// this node's waiting calls. Calls being offered are left alone until the
// offer ends.
func (a *ACD) enforceLimits(ctx context.Context, now time.Time) {
	var todo []limitAction
	v := a.view
	v.mu.Lock()
	var staffed map[string]bool
	for _, c := range v.order {
		if c.Node != a.node || c.Agent != "" {
			continue
		}
		if act, ok := a.overdue(c, now); ok {
			todo = append(todo, act)
			continue
		}
		if !a.queues[c.Queue].LeaveWhenEmpty {
			continue
		}
		if staffed == nil {
			staffed = map[string]bool{}
			for _, ag := range v.agents {
				for _, q := range ag.Queues {
					if loggedIn(ag, q) {
						staffed[q] = true
					}
				}
			}
		}
		if !staffed[c.Queue] {
			todo = append(todo, limitAction{c: *c, leave: LeaveEmpty})
		}
	}
	v.mu.Unlock()
	for _, act := range todo {
		a.applyLimit(ctx, act, now)
	}
}

func (a *ACD) applyLimit(ctx context.Context, act limitAction, now time.Time) {
	if act.to != "" {
		a.overflow(ctx, act.c, act.to, now)
	} else {
		a.leave(ctx, act.c, act.leave, now)
	}
}

// overflow moves a waiting call to queue to, keeping its age.
func (a *ACD) overflow(ctx context.Context, c Call, to string, now time.Time) {
	_, _, err := a.updateCallAgent(ctx, c.ID, "", func(cc *Call, _ *Agent) error {
		if cc.Agent != "" || cc.Queue != c.Queue {
			return ErrConflict
		}
		cc.Queue, cc.Tried = to, nil
		return nil
	})
	if err != nil {
		return
	}
	a.events.Emit(Event{Time: now, Type: "call.overflowed", Queue: c.Queue, Call: c.ID, Target: to})
}

// leave takes a waiting call out of its queue and tells it why.
func (a *ACD) leave(ctx context.Context, c Call, why string, now time.Time) {
	_, _, err := a.removeCall(ctx, c.ID, func(cc *Call, _ *Agent) error {
		if cc.Agent != "" {
			return ErrConflict
		}
		return nil
	})
	if err != nil {
		return
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
}

// Admit says whether a new call may join queue now: ErrQueueFull past
// MaxLength, ErrQueueEmpty if no agent of the queue is logged in and the
// queue does not let calls join empty. Enqueue does not check again: the
// SIP edge asks before it answers. It reads this node's view.
func (a *ACD) Admit(_ context.Context, queue string) error {
	q, ok := a.queues[queue]
	if !ok {
		return fmt.Errorf("queue %q: %w", queue, ErrUnknownQueue)
	}
	if a.storeDown() {
		return fmt.Errorf("queue %s: %w", queue, ErrUnavailable)
	}
	a.view.mu.Lock()
	defer a.view.mu.Unlock()
	if q.MaxLength > 0 {
		n := 0
		for _, c := range a.view.calls {
			if c.Queue == queue {
				n++
			}
		}
		if n >= q.MaxLength {
			return fmt.Errorf("queue %s has %d calls: %w", queue, n, ErrQueueFull)
		}
	}
	if !q.JoinEmpty {
		staffed := false
		for _, ag := range a.view.agents {
			if loggedIn(ag, queue) {
				staffed = true
				break
			}
		}
		if !staffed {
			return fmt.Errorf("queue %s: %w", queue, ErrQueueEmpty)
		}
	}
	return nil
}

func (a *ACD) release(ctx context.Context, call CallID, agent AgentID) {
	_, _, _ = a.updateCallAgent(ctx, call, agent, func(c *Call, ag *Agent) error {
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
		a.unavailable(err)
		a.dropWaiter(c.ID)
		return nil, fmt.Errorf("enqueue %s: %w", c.ID, err)
	}
	c.Version = 1
	a.wroteCall(c)
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

// offerHeld reports whether agent g still holds the offer of call c: a
// reclaimed offer (another node took over after this one's lease ran out)
// has left the agent, whatever happened to it since.
func offerHeld(c *Call, g *Agent) bool {
	return g != nil && (c.Agent == g.ID || slices.Contains(c.Ringing, g.ID)) && g.Call == c.ID && g.Fence == c.Fence
}

// fence returns the fencing token of this node's offer of call, 0 if none.
func (a *ACD) fence(call CallID) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fences[call]
}

// OfferFailed records that the offered agent did not take the call: it rang
// out (NoAnswer) or the agent declined it (Rejected). The call keeps its place
// and is offered to the next agent.
func (a *ACD) OfferFailed(ctx context.Context, call CallID, agent AgentID, o Outcome) error {
	now, fence := a.clock.Now(), a.fence(call)
	return a.orLater(ctx, "offer failed", func(ctx context.Context) error { return a.offerFailed(ctx, call, agent, o, fence, now) })
}

func (a *ACD) offerFailed(ctx context.Context, call CallID, agent AgentID, o Outcome, fence uint64, now time.Time) error {
	c2, ag, err := a.updateCallAgent(ctx, call, agent, func(c *Call, g *Agent) error {
		if !offerHeld(c, g) || c.Fence != fence {
			return ErrConflict
		}
		Unreserve(g, c, o, a.queues[c.Queue], now)
		return nil
	})
	if err != nil {
		return fmt.Errorf("offer of %s to %s failed: %w", call, agent, err)
	}
	if c2.Agent == "" { // the last agent of the offer
		a.mu.Lock()
		delete(a.fences, call)
		a.mu.Unlock()
	}
	switch o {
	case NoAnswer:
		a.events.Emit(Event{Time: now, Type: "call.noanswer", Queue: c2.Queue, Agent: agent, Call: call})
	case Rejected:
		a.events.Emit(Event{Time: now, Type: "call.rejected", Queue: c2.Queue, Agent: agent, Call: call})
	}
	a.emitAgent(&ag, now)
	a.poke()
	return nil
}

// Connect records that the agent answered: the call leaves the queue and the
// agent is on the call.
func (a *ACD) Connect(ctx context.Context, call CallID, agent AgentID) error {
	now, fence := a.clock.Now(), a.fence(call)
	return a.orLater(ctx, "connect", func(ctx context.Context) error { return a.connect(ctx, call, agent, fence, now) })
}

func (a *ACD) connect(ctx context.Context, call CallID, agent AgentID, fence uint64, now time.Time) error {
	c, ag, err := a.removeCall(ctx, call, func(c *Call, g *Agent) error {
		if g == nil || g.ID != agent || !offerHeld(c, g) || c.Fence != fence {
			return ErrConflict
		}
		return Connect(g, call, now)
	})
	if err != nil {
		return fmt.Errorf("connect %s to %s: %w", call, agent, err)
	}
	for _, id := range c.Ringing { // the others, normally withdrawn by the caller already
		if id != agent {
			a.releaseAgent(ctx, id, call, fence, now)
		}
	}
	a.dropWaiter(call)
	a.events.Emit(Event{Time: now, Type: "call.connected", Queue: c.Queue, Agent: agent, Call: call})
	a.emitAgent(ag, now)
	return nil
}

// Abandon takes a call out of its queue because the member hung up (or the
// call failed) before an agent took it. Agents whose phones were ringing
// for it are free again.
func (a *ACD) Abandon(ctx context.Context, call CallID) error {
	return a.leaveUnanswered(ctx, call, "call.abandoned")
}

// leaveUnanswered takes a call out of its queue with event typ: Abandon, or
// a callback given up.
func (a *ACD) leaveUnanswered(ctx context.Context, call CallID, typ string) error {
	now := a.clock.Now()
	a.mu.Lock()
	fence := a.fences[call]
	delete(a.waiters, call)
	delete(a.fences, call)
	a.mu.Unlock()
	return a.orLater(ctx, typ, func(ctx context.Context) error { return a.abandon(ctx, call, fence, typ, now) })
}

func (a *ACD) abandon(ctx context.Context, call CallID, fence uint64, typ string, now time.Time) error {
	freed := false
	c, ag, err := a.removeCall(ctx, call, func(c *Call, ag *Agent) error {
		freed = offerHeld(c, ag) && c.Fence == fence
		if freed {
			Unreserve(ag, c, Withdrawn, a.queues[c.Queue], now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("abandon %s: %w", call, err)
	}
	a.events.Emit(Event{Time: now, Type: typ, Queue: c.Queue, Call: call})
	if freed {
		a.emitAgent(ag, now)
	}
	for _, id := range c.Ringing { // what is left after the first agent
		a.releaseAgent(ctx, id, call, fence, now)
	}
	a.poke()
	return nil
}

// Closed records a call that found its entry point closed: the event
// call.closed, counted in the queue's figures.
func (a *ACD) Closed(queue string) {
	a.events.Emit(Event{Time: a.clock.Now(), Type: "call.closed", Queue: queue})
}

// releaseAgent ends agent id's offer of call (fence), which left the store.
func (a *ACD) releaseAgent(ctx context.Context, id AgentID, call CallID, fence uint64, now time.Time) {
	ag, err := a.updateAgent(ctx, id, func(g *Agent) error {
		if g.State != Reserved || g.Call != call || g.Fence != fence {
			return errUnchanged
		}
		Unreserve(g, nil, Withdrawn, QueueConfig{}, now)
		return nil
	})
	if err != nil {
		if !errors.Is(err, errUnchanged) {
			a.log.Error().Err(err).Str("agent", string(id)).Msg("release offer")
		}
		return
	}
	a.emitAgent(&ag, now)
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
	return a.complete(ctx, call, agent, Event{Type: "call.completed", Queue: queue, HangupBy: by})
}

// Transfer records that the agent transferred the connected call to queue
// target: the agent wraps up as after any call, and the member's call
// joins target (the caller enqueues it there, under a new call ID).
func (a *ACD) Transfer(ctx context.Context, call CallID, queue string, agent AgentID, target string) error {
	if _, ok := a.queues[target]; !ok {
		return fmt.Errorf("transfer to %q: %w", target, ErrUnknownQueue)
	}
	return a.complete(ctx, call, agent, Event{Type: "call.transferred", Queue: queue, Target: target})
}

// Handover moves agent from's connected call to agent to (attended
// transfer): to, who must be available, is on the call at once under a new
// fence, and from wraps up as after any call. The events are
// call.handover (from, with to as Target) and call.connected (to). If to
// cannot take the call (not available, or the store is unreachable),
// nothing changes and from keeps it.
func (a *ACD) Handover(ctx context.Context, call CallID, queue string, from, to AgentID) error {
	now := a.clock.Now()
	a.mu.Lock()
	fence := a.fences[call]
	a.mu.Unlock()
	next := fence + 1
	ag, err := a.updateAgent(ctx, to, func(g *Agent) error { return TakeOver(g, call, a.node, next, now) })
	if err != nil {
		return fmt.Errorf("hand %s over to %s: %w", call, to, err)
	}
	a.mu.Lock()
	a.fences[call] = next
	a.mu.Unlock()
	ev := Event{Time: now, Type: "call.handover", Queue: queue, Target: string(to)}
	if err := a.orLater(ctx, "handover", func(ctx context.Context) error { return a.wrapUp(ctx, call, from, fence, ev) }); err != nil {
		a.log.Warn().Err(err).Msg("handover: wrap-up of the agent who handed over")
	}
	a.events.Emit(Event{Time: now, Type: "call.connected", Queue: queue, Agent: to, Call: call})
	a.emitAgent(&ag, now)
	return nil
}

// complete ends agent's connected call and emits ev (its type, queue and
// details) for it.
func (a *ACD) complete(ctx context.Context, call CallID, agent AgentID, ev Event) error {
	ev.Time = a.clock.Now()
	a.mu.Lock()
	fence := a.fences[call]
	delete(a.fences, call)
	a.mu.Unlock()
	return a.orLater(ctx, ev.Type, func(ctx context.Context) error { return a.wrapUp(ctx, call, agent, fence, ev) })
}

// wrapUp puts agent into wrap-up after call and emits ev.
func (a *ACD) wrapUp(ctx context.Context, call CallID, agent AgentID, fence uint64, ev Event) error {
	now := ev.Time
	var talk time.Duration
	ag, err := a.updateAgent(ctx, agent, func(ag *Agent) error {
		if ag.Fence != fence {
			return ErrConflict
		}
		talk = now.Sub(ag.Since)
		return StartWrapUp(ag, call, now)
	})
	if err != nil {
		return fmt.Errorf("complete %s of %s: %w", call, agent, err)
	}
	ev.Agent, ev.Call = agent, call
	a.handles.add(ev.Queue, talk+a.queues[ev.Queue].Wrapup)
	a.events.Emit(ev)
	a.emitAgent(&ag, now)
	wrap := a.queues[ev.Queue].Wrapup
	if wrap <= 0 {
		a.endWrapUp(agent, call, fence)
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
	a.timers[agent] = a.clock.AfterFunc(wrap, func() { a.endWrapUp(agent, call, fence) })
	return nil
}

// WrapUpTimeout bounds the store update that ends a wrap-up.
const WrapUpTimeout = 5 * time.Second

func (a *ACD) endWrapUp(agent AgentID, call CallID, fence uint64) {
	a.mu.Lock()
	delete(a.timers, agent)
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), WrapUpTimeout)
	defer cancel()
	err := a.orLater(ctx, "end wrap-up", func(ctx context.Context) error {
		ag, err := a.updateAgent(ctx, agent, func(ag *Agent) error {
			if ag.Fence != fence {
				return ErrConflict
			}
			return EndWrapUp(ag, call, a.clock.Now())
		})
		if err != nil {
			return err
		}
		a.emitAgent(&ag, a.clock.Now())
		a.poke()
		return nil
	})
	if err != nil && !errors.Is(err, ErrConflict) {
		a.log.Error().Err(err).Str("agent", string(agent)).Msg("end wrap-up")
	}
}

// EndWrapUp ends an agent's wrap-up now, at the agent's request.
func (a *ACD) EndWrapUp(ctx context.Context, agent AgentID) error {
	return a.orLater(ctx, "end wrap-up", func(ctx context.Context) error { return a.endWrapUpNow(ctx, agent) })
}

func (a *ACD) endWrapUpNow(ctx context.Context, agent AgentID) error {
	ag, err := a.updateAgent(ctx, agent, func(ag *Agent) error {
		if ag.State != WrapUp {
			return ErrConflict
		}
		return EndWrapUp(ag, ag.Call, a.clock.Now())
	})
	if err != nil {
		return fmt.Errorf("end wrap-up of %s: %w", agent, err)
	}
	a.mu.Lock()
	if stop := a.timers[agent]; stop != nil {
		stop()
		delete(a.timers, agent)
	}
	a.mu.Unlock()
	a.emitAgent(&ag, a.clock.Now())
	a.poke()
	return nil
}

// SetPause pauses an agent for reason, or unpauses them with reason "". A
// pause asked for during a call applies when the call and its wrap-up end.
func (a *ACD) SetPause(ctx context.Context, agent AgentID, reason string) error {
	now := a.clock.Now()
	return a.orLater(ctx, "pause", func(ctx context.Context) error { return a.setPause(ctx, agent, reason, now) })
}

func (a *ACD) setPause(ctx context.Context, agent AgentID, reason string, now time.Time) error {
	ag, err := a.updateAgent(ctx, agent, func(ag *Agent) error {
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
	return a.orLater(ctx, "presence", func(ctx context.Context) error { return a.setPresence(ctx, agent, p, now) })
}

func (a *ACD) setPresence(ctx context.Context, agent AgentID, p Presence, now time.Time) error {
	changed := false
	ag, err := a.updateAgent(ctx, agent, func(ag *Agent) error {
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
// their queues. Then it reads the store into the node's view and, with a
// lease, takes the lease. Call it before the node takes calls.
func (a *ACD) Recover(ctx context.Context) error {
	agents, err := a.store.Agents(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	now := a.clock.Now()
	for _, ag := range agents {
		if ag.Node != a.node && ag.CallNode != a.node {
			continue
		}
		changed := false
		g, err := a.updateAgent(ctx, ag.ID, func(g *Agent) error {
			changed = false
			if g.CallNode == a.node {
				changed = Release(g, now)
			}
			if g.Node == a.node {
				changed = Recover(g, now) || changed
			}
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
		if _, _, err := a.removeCall(ctx, c.ID, func(c *Call, ag *Agent) error {
			if offerHeld(c, ag) {
				Unreserve(ag, c, Withdrawn, a.queues[c.Queue], now)
			}
			return nil
		}); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("recover %s: %w", c.ID, err)
		}
		a.events.Emit(Event{Time: now, Type: "call.abandoned", Queue: c.Queue, Call: c.ID})
	}
	if a.leaseTTL > 0 {
		if err := a.renew(ctx); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		if err := a.watchNodes(ctx); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
	}
	return a.resync(ctx)
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
