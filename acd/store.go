package acd

import (
	"context"
	"time"
)

// Store holds the ACD's shared state: agents and waiting calls. The memory
// store serves a single node; the Redis store (see package queues) lets
// several nodes route the same queues. Implementations apply the transition
// functions of this package (Reserve, Unreserve, ...) atomically.
//
// A store may run an update's fn more than once (optimistic transactions
// retry on a conflict): fn must set everything it reports on every run and
// keep nothing from an earlier one. Every write adds one to the Version of
// each record it changes, before fn runs, so fn sees (and may report) the
// version being written. Snapshots are ordered: agents by ID,
// calls by Enqueued, then ID.
type Store interface {
	// PutAgent creates or replaces an agent's configuration (ID, Queues, Skills),
	// keeping the routing state of an existing agent.
	PutAgent(ctx context.Context, a Agent) error
	// Agents returns a snapshot of all agents.
	Agents(ctx context.Context) ([]Agent, error)
	// UpdateAgent applies fn to one agent atomically; fn's error aborts.
	UpdateAgent(ctx context.Context, id AgentID, fn func(*Agent) error) (Agent, error)
	// AddCall puts a call into its queue.
	AddCall(ctx context.Context, c Call) error
	// Calls returns a snapshot of all waiting and offered calls.
	Calls(ctx context.Context) ([]Call, error)
	// UpdateCallAgent applies fn to a call and the agent it names (agent may
	// be "", then fn gets nil) atomically; fn's error aborts.
	UpdateCallAgent(ctx context.Context, c CallID, a AgentID, fn func(*Call, *Agent) error) error
	// RemoveCall takes a call out of its queue and applies fn to it and to
	// the agent it was offered to (nil if none) in the same step; fn's error
	// aborts and leaves the call in place. fn may be nil.
	RemoveCall(ctx context.Context, c CallID, fn func(*Call, *Agent) error) error

	// Epoch identifies the store's contents: it stays the same as long as
	// the store keeps its data, and changes when it lost them (a Redis
	// restarted without persistence). Errors that mean the store cannot be
	// reached wrap ErrUnavailable, from every method.
	Epoch(ctx context.Context) (string, error)

	// RenewNode records or extends a node's lease.
	RenewNode(ctx context.Context, n NodeInfo) error
	// Nodes returns every node with a lease, expired ones included, by name.
	Nodes(ctx context.Context) ([]NodeInfo, error)
	// RemoveNode deletes a node's lease if it is still n (not renewed since).
	RemoveNode(ctx context.Context, n NodeInfo) error
}

// NodeInfo is a node's lease in the store: the node is alive, and its
// reservations hold, until Expires. It renews the lease well before then;
// a node that finds another's lease expired takes over what it left.
type NodeInfo struct {
	Name    string
	SIP     string // where other nodes send INVITEs for this node's agents, "udp:HOST:PORT"
	Expires time.Time
}

// Equal reports whether two leases are the same.
func (n NodeInfo) Equal(o NodeInfo) bool {
	return n.Name == o.Name && n.SIP == o.SIP && n.Expires.Equal(o.Expires)
}

// Clock is the ACD's time source, fakeable in tests.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc calls f in its own goroutine after d.
func (SystemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Event is a state change published to the bus: an agent's new state or a
// queue event. Numbers never appear in events.
type Event struct {
	Time   time.Time `json:"time"`
	Type   string    `json:"type"` // "agent.state", "call.enqueued", "call.offered", "call.noanswer", "call.rejected", "call.connected", "call.completed", "call.abandoned", "call.overflowed", "call.timeout", "call.exitempty", "call.transferred", "call.handover", "call.callback", "call.callbackretry", "call.callbackfailed"
	Queue  string    `json:"queue,omitempty"`
	Agent  AgentID   `json:"agent,omitempty"`
	Call   CallID    `json:"call,omitempty"`
	State  string    `json:"state,omitempty"`  // agent state after the change
	Reason string    `json:"reason,omitempty"` // pause reason of a paused agent
	// HangupBy says who ended a completed call: "caller" or "agent" ("" if
	// neither, e.g. a shutdown).
	HangupBy string `json:"hangup_by,omitempty"`
	// Target is the queue a call.overflowed or call.transferred call moved
	// to, or the agent a call.handover call went to.
	Target string `json:"target,omitempty"`
}

// EventSink receives the ACD's events. Emit must not block.
type EventSink interface {
	Emit(Event)
}

// FanOut returns a sink that passes every event to each of sinks in turn
// (the ACD takes one sink: FanOut(bus, queueLog, kpis)). Each must not block.
func FanOut(sinks ...EventSink) EventSink { return fanOut(sinks) }

type fanOut []EventSink

func (f fanOut) Emit(ev Event) {
	for _, s := range f {
		s.Emit(ev)
	}
}
