package acd

import (
	"slices"
	"sync"
	"time"
)

// Change is one write to the store, as nodes pass it to each other's views:
// an agent's or a call's new record, or a call that left the store.
type Change struct {
	Node    string `json:"node"` // the node that wrote it
	Agent   *Agent `json:"agent,omitempty"`
	Call    *Call  `json:"call,omitempty"`
	Removed CallID `json:"removed,omitempty"`
}

// Replicator carries this node's writes to the other nodes, whose ACDs
// Apply them. Publish must not block; a lost change is repaired by the next
// resync (ResyncInterval).
type Replicator interface {
	Publish(Change)
}

// tombstoneTTL is how long a view remembers a removed call, so that a late
// change of it (an older write delivered after the removal) cannot bring it
// back.
const tombstoneTTL = time.Minute

// view is this node's copy of the shared state. Routing reads it, never the
// store, so a decision costs no round trip and no snapshot. It is kept
// current by this node's own writes, other nodes' changes (Apply) and
// periodic resyncs from the store; of each record it keeps the highest
// version seen. A decision made on a stale view is safe: the reservation
// runs Reserve on the store's current records and fails if they changed.
type view struct {
	mu     sync.Mutex
	agents map[AgentID]*Agent
	free   map[AgentID]*Agent // the available ones
	calls  map[CallID]*Call
	order  []*Call              // all calls in routing order (compareCalls)
	seen   map[CallID]uint64    // when (seq) each call was last applied
	gone   map[CallID]time.Time // tombstones: removed calls, until then
	nodes  map[string]NodeInfo
	seenAt time.Time // when nodes was read from the store
	seq    uint64
	queues map[string]QueueConfig
}

func newView(queues map[string]QueueConfig) *view {
	return &view{
		agents: make(map[AgentID]*Agent), free: make(map[AgentID]*Agent),
		calls: make(map[CallID]*Call), seen: make(map[CallID]uint64),
		gone: make(map[CallID]time.Time), nodes: make(map[string]NodeInfo),
		queues: queues,
	}
}

// putAgent keeps a if it is newer than the view's copy; it reports whether
// the agent is available now and was not before.
func (v *view) putAgent(a Agent) (freed bool) {
	old := v.agents[a.ID]
	if old != nil && old.Version > a.Version {
		return false
	}
	rec := a.Clone()
	v.agents[a.ID] = &rec
	if rec.State == Available {
		v.free[a.ID] = &rec
		return old == nil || old.State != Available
	}
	delete(v.free, a.ID)
	return false
}

// putCall keeps c if it is newer than the view's copy and was not removed;
// it reports whether the call is waiting for an offer now.
func (v *view) putCall(c Call) (waiting bool) {
	if _, dead := v.gone[c.ID]; dead {
		return false
	}
	v.seq++
	old := v.calls[c.ID]
	if old != nil && old.Version > c.Version {
		v.seen[c.ID] = v.seq
		return false
	}
	if old != nil {
		v.unorder(old)
	}
	rec := c.Clone()
	v.calls[c.ID] = &rec
	v.seen[c.ID] = v.seq
	i, _ := slices.BinarySearchFunc(v.order, &rec, v.compare)
	v.order = slices.Insert(v.order, i, &rec)
	return rec.Agent == "" && (old == nil || old.Agent != "" || old.Queue != rec.Queue)
}

// removeCall forgets a call that left the store, for good.
func (v *view) removeCall(id CallID, now time.Time) {
	v.gone[id] = now.Add(tombstoneTTL)
	if old := v.calls[id]; old != nil {
		v.unorder(old)
		delete(v.calls, id)
		delete(v.seen, id)
	}
}

func (v *view) compare(a, b *Call) int { return compareCalls(a, b, v.queues) }

func (v *view) unorder(c *Call) {
	if i, ok := slices.BinarySearchFunc(v.order, c, v.compare); ok {
		v.order = slices.Delete(v.order, i, i+1)
	}
}

// replace takes over a store snapshot read after the view was at seq: it
// keeps the newer of each record, and drops calls the store no longer has
// unless they were applied after the snapshot began (their removal, if
// any, will come as a change).
func (v *view) replace(agents []Agent, calls []Call, seq uint64, now time.Time) {
	for _, a := range agents {
		v.putAgent(a)
	}
	in := make(map[CallID]bool, len(calls))
	for _, c := range calls {
		in[c.ID] = true
		v.putCall(c)
	}
	for id, c := range v.calls {
		if !in[id] && v.seen[id] <= seq {
			v.unorder(c)
			delete(v.calls, id)
			delete(v.seen, id)
		}
	}
	for id, until := range v.gone {
		if now.After(until) {
			delete(v.gone, id)
		}
	}
}

// live reports whether node holds a lease at now; self always does.
func (v *view) live(self, node string, now time.Time) bool {
	if node == self {
		return true
	}
	n, ok := v.nodes[node]
	return ok && now.Before(n.Expires)
}

// dead reports whether node's lease ran out by now. A node the view has
// no lease of is not known to be dead: it may have started since the
// leases were read, and its calls come with its changes.
func (v *view) dead(node string, now time.Time) bool {
	n, ok := v.nodes[node]
	return ok && !now.Before(n.Expires)
}

// setNodes takes over the store's leases and returns the nodes that were
// alive and no longer are: expired, or removed by a node that took over
// after them.
func (v *view) setNodes(nodes []NodeInfo, self string, now time.Time) (down []NodeInfo) {
	next := make(map[string]NodeInfo, len(nodes))
	for _, n := range nodes {
		next[n.Name] = n
	}
	for name, old := range v.nodes {
		if name == self || !v.seenAt.Before(old.Expires) {
			continue // never ourselves; one dead at the last reading was reported then
		}
		if n, ok := next[name]; !ok || !now.Before(n.Expires) {
			down = append(down, old)
		}
	}
	v.nodes, v.seenAt = next, now
	return down
}
