package acd

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Live per-queue figures (KPIs) computed from the ACD's events alone, so that
// any process that sees the events (the ACD's own sink, or a subscriber on
// the bus) computes the same figures, and an operator can recompute them
// from the queue log (docs/queue-log.md). Figures are per queue, never per
// agent: the staff council co-determines any per-agent statistics
// (DESIGN.md, privacy).

// SLFormula says which calls the service level counts.
type SLFormula string

// Service level formulas. "Within target" means a wait of at most the target.
const (
	// SLAnswered: answered within target / answered.
	SLAnswered SLFormula = "answered"
	// SLOffered: answered within target / (answered + abandoned).
	SLOffered SLFormula = "offered"
	// SLExcludingShort: answered within target / (answered + abandoned -
	// short abandons). Callers who hang up before anyone could have answered
	// count neither way.
	SLExcludingShort SLFormula = "excluding_short"
)

// KPI defaults.
const (
	DefaultSLTarget     = 20 * time.Second // answered within this counts for the service level
	DefaultShortAbandon = 5 * time.Second  // abandons after at most this are short
	DefaultSLFormula    = SLExcludingShort // abandons count against the service level, short ones not
	DefaultStaleAfter   = 4 * time.Hour    // a call "waiting" longer has lost its end event
)

// KPIConfig says how the figures are computed. Start from DefaultKPIConfig:
// a zero field is taken as written, not replaced by a default.
type KPIConfig struct {
	Target       time.Duration // service level target: answered after at most this is "within target"; > 0
	ShortAbandon time.Duration // abandons after a wait of at most this are short; >= 0, 0 = none are
	Formula      SLFormula     // service level formula
	// DayZone, if set, makes the counters restart at every midnight in this
	// zone ("today"); nil: only Reset restarts them.
	DayZone *time.Location
	// StaleAfter: a call that has waited longer is taken to have lost its
	// end event (only possible when events come over the bus) and is
	// forgotten; > 0.
	StaleAfter time.Duration
}

// DefaultKPIConfig returns the defaults, with figures for the day in loc
// (nil: no daily restart).
func DefaultKPIConfig(loc *time.Location) KPIConfig {
	return KPIConfig{
		Target:       DefaultSLTarget,
		ShortAbandon: DefaultShortAbandon,
		Formula:      DefaultSLFormula,
		DayZone:      loc,
		StaleAfter:   DefaultStaleAfter,
	}
}

// ErrBadKPIConfig is returned by Validate (wrapped with the reason).
var ErrBadKPIConfig = errors.New("invalid kpi config")

// Validate reports the first problem of c.
func (c KPIConfig) Validate() error {
	switch {
	case c.Target <= 0:
		return fmt.Errorf("%w: service level target %s must be positive", ErrBadKPIConfig, c.Target)
	case c.ShortAbandon < 0:
		return fmt.Errorf("%w: short abandon threshold %s must not be negative", ErrBadKPIConfig, c.ShortAbandon)
	case c.StaleAfter <= 0:
		return fmt.Errorf("%w: stale-after %s must be positive", ErrBadKPIConfig, c.StaleAfter)
	}
	switch c.Formula {
	case SLAnswered, SLOffered, SLExcludingShort:
		return nil
	}
	return fmt.Errorf("%w: unknown service level formula %q", ErrBadKPIConfig, c.Formula)
}

// QueueKPI is a queue's figures at one moment. Counters cover the period
// that began at Since; Waiting, LongestWait and AgentsByState are "now".
type QueueKPI struct {
	Since time.Time `json:"since"` // start of the counting period (zero: since the tracker started)

	Waiting     int           `json:"waiting"`      // calls in the queue now, ringing ones included
	LongestWait time.Duration `json:"longest_wait"` // wait so far of the oldest of them

	Offered        int           `json:"offered"`         // calls that entered the queue in the period
	Answered       int           `json:"answered"`        // calls answered in the period
	Abandoned      int           `json:"abandoned"`       // calls that left unanswered in the period
	ShortAbandoned int           `json:"short_abandoned"` // of Abandoned, those that waited at most ShortAbandon
	AnsweredInSL   int           `json:"answered_in_sl"`  // of Answered, those that waited at most Target
	ASA            time.Duration `json:"asa"`             // average wait of Answered; 0 if none
	Overflowed     int           `json:"overflowed"`      // calls that moved on to their overflow queue (counted as offered there)
	TimedOut       int           `json:"timed_out"`       // calls that left after max_wait without an overflow queue
	ExitedEmpty    int           `json:"exited_empty"`    // calls that left when the queue's last agent logged out
	Closed         int           `json:"closed"`          // calls that came while the number was closed (not offered)

	// Callbacks: members who asked to be called back in the period; of
	// those calls, the ones answered when called back (also in Answered,
	// their wait up to that answer) and the ones given up after the last
	// attempt (in no other counter). CallbacksPending counts callbacks
	// waiting now (also in Waiting).
	Callbacks         int `json:"callbacks"`
	CallbacksAnswered int `json:"callbacks_answered"`
	CallbacksFailed   int `json:"callbacks_failed"`
	CallbacksPending  int `json:"callbacks_pending"`

	// ServiceLevel is AnsweredInSL / SLCalls, a fraction in [0,1]; 0 when
	// SLCalls is 0 (show "no calls", not 0 %).
	ServiceLevel float64 `json:"service_level"`
	SLCalls      int     `json:"sl_calls"` // the formula's denominator

	// AgentsByState counts agents serving the queue by state name ("available",
	// "on-call", ...); states no agent is in are left out. See SetAgentQueues.
	AgentsByState map[string]int `json:"agents_by_state"`
}

// KPITracker computes live per-queue figures from events. It is safe for
// concurrent use; Observe does a few map operations under a mutex and never
// waits for anything else, so the tracker can be the ACD's EventSink (Emit),
// directly or through FanOut.
//
// What it counts, per queue:
//   - a call is waiting from its call.enqueued until its call.connected or
//     call.abandoned; its wait is the time between those events' times, in
//     whole milliseconds as in the queue log;
//   - Offered counts call.enqueued events in the period, Answered and
//     Abandoned the outcomes in the period (by the outcome's time), so a call
//     that entered before midnight and was answered after it is offered
//     yesterday and answered today;
//   - an outcome of a call whose call.enqueued the tracker never saw (it
//     started mid-call) is ignored: its wait is unknown.
//
// Agents' states come from agent.state events (an agent never seen is
// logged out), their queues from SetAgentQueues or SetAgents: events do not
// say which queues an agent serves.
type KPITracker struct {
	cfg KPIConfig

	mu        sync.Mutex
	since     time.Time              // start of the counting period
	next      time.Time              // next daily restart; zero without DayZone
	queues    map[string]*queueCount // every queue ever seen; counters of the period
	waiting   map[CallID]waitingCall
	agents    map[AgentID]agentSeen
	agentQ    map[AgentID][]string
	lastPrune time.Time
}

type queueCount struct {
	offered, answered, abandoned, short, inSL     int
	overflowed, timedOut, exitedEmpty, closed     int
	callbacks, callbacksAnswered, callbacksFailed int
	waitSum                                       time.Duration // of answered calls
}

type waitingCall struct {
	queue    string
	enqueued time.Time
	callback bool
}

type agentSeen struct {
	state string
	at    time.Time
}

var _ EventSink = (*KPITracker)(nil)

// NewKPITracker returns a tracker computing figures by cfg.
func NewKPITracker(cfg KPIConfig) (*KPITracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &KPITracker{
		cfg:     cfg,
		queues:  make(map[string]*queueCount),
		waiting: make(map[CallID]waitingCall),
		agents:  make(map[AgentID]agentSeen),
		agentQ:  make(map[AgentID][]string),
	}, nil
}

// Emit is Observe, making the tracker an EventSink.
func (k *KPITracker) Emit(ev Event) { k.Observe(ev) }

// Observe accounts for one event. Events of unknown types are ignored.
func (k *KPITracker) Observe(ev Event) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.advanceLocked(ev.Time)
	k.pruneLocked(ev.Time)
	counted := !ev.Time.Before(k.since) // late events change state, not counters
	switch ev.Type {
	case "call.enqueued":
		if _, dup := k.waiting[ev.Call]; dup {
			return
		}
		k.waiting[ev.Call] = waitingCall{queue: ev.Queue, enqueued: ev.Time}
		q := k.queueLocked(ev.Queue)
		if counted {
			q.offered++
		}
	case "call.connected", "call.abandoned":
		w, ok := k.waiting[ev.Call]
		if !ok {
			return
		}
		delete(k.waiting, ev.Call)
		if !counted {
			return
		}
		q := k.queueLocked(w.queue)
		wait := msBetween(w.enqueued, ev.Time)
		if ev.Type == "call.connected" {
			q.answered++
			if w.callback {
				q.callbacksAnswered++
			}
			q.waitSum += wait
			if wait <= k.cfg.Target {
				q.inSL++
			}
			return
		}
		q.abandoned++
		if wait <= k.cfg.ShortAbandon {
			q.short++
		}
	case "call.overflowed":
		// The call keeps its place in time: its wait in the new queue counts
		// from when it first entered.
		w, ok := k.waiting[ev.Call]
		if !ok {
			return
		}
		from, to := k.queueLocked(w.queue), k.queueLocked(ev.Target)
		w.queue = ev.Target
		k.waiting[ev.Call] = w
		if counted {
			from.overflowed++
			to.offered++
		}
	case "call.callback":
		w, ok := k.waiting[ev.Call]
		if !ok || w.callback {
			return
		}
		w.callback = true
		k.waiting[ev.Call] = w
		if counted {
			k.queueLocked(w.queue).callbacks++
		}
	case "call.callbackfailed":
		w, ok := k.waiting[ev.Call]
		if !ok {
			return
		}
		delete(k.waiting, ev.Call)
		if counted {
			k.queueLocked(w.queue).callbacksFailed++
		}
	case "call.closed":
		if counted && ev.Queue != "" {
			k.queueLocked(ev.Queue).closed++
		}
	case "call.timeout", "call.exitempty":
		w, ok := k.waiting[ev.Call]
		if !ok {
			return
		}
		delete(k.waiting, ev.Call)
		if counted {
			q := k.queueLocked(w.queue)
			if ev.Type == "call.timeout" {
				q.timedOut++
			} else {
				q.exitedEmpty++
			}
		}
	case "agent.state":
		if prev, ok := k.agents[ev.Agent]; ok && ev.Time.Before(prev.at) {
			return // an older change arriving late
		}
		k.agents[ev.Agent] = agentSeen{state: ev.State, at: ev.Time}
	}
}

// SetAgentQueues replaces what the tracker knows of which agents serve
// which queues (from the configuration or the store's agents). Only agents
// named here are counted in AgentsByState.
func (k *KPITracker) SetAgentQueues(m map[AgentID][]string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.agentQ = make(map[AgentID][]string, len(m))
	for id, qs := range m {
		k.agentQ[id] = append([]string(nil), qs...)
		for _, q := range qs {
			k.queueLocked(q)
		}
	}
}

// SetAgents takes a snapshot of the store's agents: it replaces the agent
// queues (as SetAgentQueues) and takes each agent's state unless an event
// newer than the agent's Since has been observed. Call it at start, so
// agents already logged in count before their next change.
func (k *KPITracker) SetAgents(agents []Agent) {
	m := make(map[AgentID][]string, len(agents))
	for _, a := range agents {
		m[a.ID] = a.Queues
	}
	k.SetAgentQueues(m)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, a := range agents {
		if prev, ok := k.agents[a.ID]; ok && prev.at.After(a.Since) {
			continue
		}
		k.agents[a.ID] = agentSeen{state: a.State.String(), at: a.Since}
	}
}

// Reset starts a new counting period at `at`: counters restart; waiting
// calls and agent states are kept, and the outcome of a call that entered
// before counts in the new period with its whole wait. Outcomes with times
// before `at` that arrive late are not counted. With DayZone, the next daily
// restart is the midnight after `at`.
func (k *KPITracker) Reset(at time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.resetLocked(at)
	if k.cfg.DayZone != nil {
		k.next = nextMidnight(at, k.cfg.DayZone)
	}
}

// Snapshot returns every known queue's figures as of now (the ACD clock's
// time). With DayZone, a snapshot after midnight shows the new day.
func (k *KPITracker) Snapshot(now time.Time) map[string]QueueKPI {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.advanceLocked(now)
	k.pruneLocked(now)
	out := make(map[string]QueueKPI, len(k.queues))
	for name, c := range k.queues {
		kpi := QueueKPI{
			Since: k.since, Offered: c.offered, Answered: c.answered, Abandoned: c.abandoned,
			ShortAbandoned: c.short, AnsweredInSL: c.inSL, AgentsByState: map[string]int{},
			Overflowed: c.overflowed, TimedOut: c.timedOut, ExitedEmpty: c.exitedEmpty, Closed: c.closed,
			Callbacks: c.callbacks, CallbacksAnswered: c.callbacksAnswered, CallbacksFailed: c.callbacksFailed,
		}
		if c.answered > 0 {
			kpi.ASA = c.waitSum / time.Duration(c.answered)
		}
		switch k.cfg.Formula {
		case SLAnswered:
			kpi.SLCalls = c.answered
		case SLOffered:
			kpi.SLCalls = c.answered + c.abandoned + c.timedOut + c.exitedEmpty
		case SLExcludingShort:
			kpi.SLCalls = c.answered + c.abandoned - c.short + c.timedOut + c.exitedEmpty
		}
		if kpi.SLCalls > 0 {
			kpi.ServiceLevel = float64(c.inSL) / float64(kpi.SLCalls)
		}
		out[name] = kpi
	}
	for _, w := range k.waiting {
		kpi := out[w.queue]
		kpi.Waiting++
		if w.callback {
			kpi.CallbacksPending++
		}
		kpi.LongestWait = max(kpi.LongestWait, msBetween(w.enqueued, now))
		out[w.queue] = kpi
	}
	for id, qs := range k.agentQ {
		state := LoggedOut.String()
		if s, ok := k.agents[id]; ok {
			state = s.state
		}
		for _, q := range qs {
			if kpi, ok := out[q]; ok { // always: SetAgentQueues added q
				kpi.AgentsByState[state]++
			}
		}
	}
	return out
}

// queueLocked returns a queue's counters, creating them. k.mu must be held.
func (k *KPITracker) queueLocked(name string) *queueCount {
	q := k.queues[name]
	if q == nil {
		q = &queueCount{}
		k.queues[name] = q
	}
	return q
}

// advanceLocked starts a new day if t is past midnight. k.mu must be held.
func (k *KPITracker) advanceLocked(t time.Time) {
	if k.cfg.DayZone == nil || t.IsZero() {
		return
	}
	if k.next.IsZero() { // first time seen: the period is today, counted from now on
		k.since = midnight(t, k.cfg.DayZone)
		k.next = nextMidnight(t, k.cfg.DayZone)
		return
	}
	if !t.Before(k.next) {
		k.resetLocked(midnight(t, k.cfg.DayZone))
		k.next = nextMidnight(t, k.cfg.DayZone)
	}
}

// resetLocked zeroes the counters. k.mu must be held.
func (k *KPITracker) resetLocked(at time.Time) {
	k.since = at
	for _, q := range k.queues {
		*q = queueCount{}
	}
}

// pruneLocked forgets calls waiting longer than StaleAfter, at most once a
// minute. k.mu must be held.
func (k *KPITracker) pruneLocked(now time.Time) {
	if now.Sub(k.lastPrune) < time.Minute {
		return
	}
	k.lastPrune = now
	for id, w := range k.waiting {
		if now.Sub(w.enqueued) > k.cfg.StaleAfter {
			delete(k.waiting, id)
		}
	}
}

// msBetween is the time from a to b in whole milliseconds, as the difference
// of the queue log's millisecond timestamps; never negative (clocks of
// different nodes may disagree).
func msBetween(a, b time.Time) time.Duration {
	return max(0, time.Duration(b.UnixMilli()-a.UnixMilli())*time.Millisecond)
}

func midnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func nextMidnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}
