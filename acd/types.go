package acd

import (
	"errors"
	"maps"
	"slices"
	"time"
)

// AgentID is an agent's SIP user name.
type AgentID string

// CallID identifies a member call inside Callwerk (not a SIP Call-ID).
type CallID string

// State is an agent's routing state.
type State uint8

// Agent states. Only Available agents are offered calls.
const (
	LoggedOut   State = iota // no registered device: unregistered, or never registered
	Available                // idle, may be offered a call
	Reserved                 // offered a call; their phone rings
	OnCall                   // talking to a member
	WrapUp                   // after a call, until the queue's wrap-up time ends or the agent ends it
	Paused                   // not taking calls, for a reason (Agent.Pause)
	Unreachable              // registration expired or keep-alive failed; offered nothing until the phone registers again
)

var stateNames = [...]string{"logged-out", "available", "reserved", "on-call", "wrap-up", "paused", "unreachable"}

// ParseState returns the state with the given name.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// Presence is what the registrar knows of an agent's devices.
type Presence uint8

// Presences reported by the registrar.
const (
	Registered   Presence = iota // at least one device is registered
	Unregistered                 // the last device unregistered: the agent logged out
	Lost                         // the last device's registration expired: unreachable
)

// Outcome is how an offer ended without a conversation.
type Outcome uint8

// Offer outcomes for Unreserve.
const (
	Withdrawn Outcome = iota // the member hung up or the call left: no fault of the agent
	NoAnswer                 // rang until the ring timeout: a miss
	Rejected                 // the agent declined (busy, decline): a back-off, not a miss
)

// AutoPauseReason is the pause reason of an agent paused after too many
// unanswered offers in a row.
const AutoPauseReason = "no-answer"

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Sentinel errors of the ACD and its stores.
var (
	ErrNotFound     = errors.New("not found")                  // unknown agent or call
	ErrConflict     = errors.New("state changed concurrently") // a reservation lost a race
	ErrUnknownQueue = errors.New("unknown queue")              // callers map to 404
	ErrClosed       = errors.New("acd is shut down")           // callers map to 503
	ErrQueueFull    = errors.New("queue full")                 // max_length reached: callers map to 486
	ErrQueueEmpty   = errors.New("no agent logged in")         // join_empty off: callers map to 480
	ErrUnavailable  = errors.New("store unavailable")          // the store cannot be reached: callers map to 503
)

// Agent is an agent's routing record.
type Agent struct {
	ID        AgentID
	Queues    []string       // queues the agent serves
	State     State          // routing state
	Since     time.Time      // when State was entered
	IdleSince time.Time      // when the agent last became free; longest idle is offered first
	Call      CallID         // the reserved or connected call, if any
	Online    bool           // has at least one registered device
	Lost      bool           // the last device's registration expired (not unregistered)
	Node      string         // the node the agent's device registered with last
	Skills    map[string]int // skill -> level 1..5

	// Pause is the pause reason: the current one while Paused; the one to
	// apply when the call ends while Reserved, OnCall or WrapUp; the one to
	// return to while Unreachable. Empty: not paused.
	Pause     string
	Misses    int       // offers in a row that rang out unanswered
	RestUntil time.Time // no offers before this (after declining one)

	// Routing counters for the fewest-calls and least-talk-time strategies.
	// They are routing state, not statistics: nothing shows them per agent
	// (see docs/privacy in the dashboard work).
	Answered int
	TalkTime time.Duration

	// CallNode is the node that holds the member call of the current offer
	// or conversation; if that node dies, another one frees the agent.
	CallNode string
	// Fence identifies the current reservation: the call's offer count at
	// Reserve. An update on behalf of an offer whose fence is no longer
	// the agent's (the offer was reclaimed meanwhile) is refused.
	Fence uint64
	// Version counts the record's writes; the store sets it. Nodes' views
	// keep the highest version they have seen of each record.
	Version uint64
}

// Serves reports whether the agent takes calls of queue q.
func (a *Agent) Serves(q string) bool { return slices.Contains(a.Queues, q) }

// Configure takes over the configured fields of cfg (queues and skills),
// keeping the routing state. Every store's PutAgent uses it, so they agree
// on what configuration is.
func (a *Agent) Configure(cfg Agent) {
	a.Queues = slices.Clone(cfg.Queues)
	a.Skills = maps.Clone(cfg.Skills)
}

// Clone returns a deep copy.
func (a Agent) Clone() Agent {
	a.Queues = slices.Clone(a.Queues)
	a.Skills = maps.Clone(a.Skills)
	return a
}

// Call is a member call waiting in (or being offered from) a queue.
type Call struct {
	ID       CallID
	Queue    string
	Priority int       // higher first
	Enqueued time.Time // when the call joined the queue; ties in priority go to the oldest
	Agent    AgentID   // set while the call is offered to an agent (the first one, with ring-all)
	Ringing  []AgentID // every agent the call is offered to now, Agent first (several with ring-all)
	Tried    []AgentID // agents already offered this call, least recently first
	Node     string    // the node that holds the member's call
	// Callback marks a call whose member asked to be called back and hung
	// up: it keeps its place, and when an agent takes it the node that holds
	// it calls the member.
	Callback bool
	// NotBefore holds a call back from routing until then: a callback whose
	// member did not answer waits for its next attempt.
	NotBefore time.Time
	Fence     uint64 // offers made so far; the current offer's fencing token
	Version   uint64 // the record's writes; the store sets it
}

// Clone returns a deep copy.
func (c Call) Clone() Call {
	c.Tried = slices.Clone(c.Tried)
	c.Ringing = slices.Clone(c.Ringing)
	return c
}

// Assignment pairs a waiting call with the agent it is offered to.
type Assignment struct {
	Call  CallID
	Agent AgentID
}
