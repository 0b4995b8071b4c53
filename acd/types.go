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
	LoggedOut State = iota // no registered device
	Available              // idle, may be offered a call
	Reserved               // offered a call; their phone rings
	OnCall                 // talking to a member
	WrapUp                 // after a call, until the queue's wrap-up time ends
)

var stateNames = [...]string{"logged-out", "available", "reserved", "on-call", "wrap-up"}

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
	Skills    map[string]int // skill -> level 1..5

	// Routing counters for the fewest-calls and least-talk-time strategies.
	// They are routing state, not statistics: nothing shows them per agent
	// (see docs/privacy in the dashboard work).
	Answered int
	TalkTime time.Duration
}

// Serves reports whether the agent takes calls of queue q.
func (a *Agent) Serves(q string) bool { return slices.Contains(a.Queues, q) }

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
	Agent    AgentID   // set while the call is offered to an agent
	Tried    []AgentID // agents already offered this call, least recently first
}

// Clone returns a deep copy.
func (c Call) Clone() Call {
	c.Tried = slices.Clone(c.Tried)
	return c
}

// Assignment pairs a waiting call with the agent it is offered to.
type Assignment struct {
	Call  CallID
	Agent AgentID
}
