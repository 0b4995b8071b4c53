package queues

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/callwerk/callwerk/acd"
)

var _ acd.Store = (*Memory)(nil)

// Memory is the single-node store: all state in this process, guarded by
// one mutex. Snapshots are deep copies, so callers cannot alias its state.
type Memory struct {
	mu     sync.Mutex
	agents map[acd.AgentID]*acd.Agent
	calls  map[acd.CallID]*acd.Call
	nodes  map[string]acd.NodeInfo
	epoch  string
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{
		agents: make(map[acd.AgentID]*acd.Agent),
		calls:  make(map[acd.CallID]*acd.Call),
		nodes:  make(map[string]acd.NodeInfo),
		epoch:  fmt.Sprintf("%016x", rand.Uint64()),
	}
}

// Epoch never changes: the memory store loses its data only with its node.
func (m *Memory) Epoch(context.Context) (string, error) { return m.epoch, nil }

// PutAgent creates an agent or updates its queues, keeping its state.
func (m *Memory) PutAgent(_ context.Context, a acd.Agent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.agents[a.ID]; ok {
		old.Configure(a)
		old.Version++
		return nil
	}
	c := a.Clone()
	c.Version = 1
	m.agents[a.ID] = &c
	return nil
}

// Agents returns a copy of all agents, ordered by ID.
func (m *Memory) Agents(context.Context) ([]acd.Agent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]acd.Agent, 0, len(m.agents))
	for _, a := range m.agents {
		out = append(out, a.Clone())
	}
	slices.SortFunc(out, func(x, y acd.Agent) int { return strings.Compare(string(x.ID), string(y.ID)) })
	return out, nil
}

// UpdateAgent applies fn to a copy and stores it if fn succeeds.
func (m *Memory) UpdateAgent(_ context.Context, id acd.AgentID, fn func(*acd.Agent) error) (acd.Agent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.agents[id]
	if !ok {
		return acd.Agent{}, fmt.Errorf("agent %s: %w", id, acd.ErrNotFound)
	}
	c := a.Clone()
	c.Version++
	if err := fn(&c); err != nil {
		return acd.Agent{}, err
	}
	*a = c
	return c.Clone(), nil
}

// AddCall stores a new call.
func (m *Memory) AddCall(_ context.Context, c acd.Call) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.calls[c.ID]; ok {
		return fmt.Errorf("call %s: %w", c.ID, acd.ErrConflict)
	}
	cc := c.Clone()
	cc.Version = 1
	m.calls[c.ID] = &cc
	return nil
}

// Calls returns a copy of all calls in queue order (by enqueue time).
func (m *Memory) Calls(context.Context) ([]acd.Call, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]acd.Call, 0, len(m.calls))
	for _, c := range m.calls {
		out = append(out, c.Clone())
	}
	slices.SortFunc(out, func(x, y acd.Call) int {
		if c := x.Enqueued.Compare(y.Enqueued); c != 0 {
			return c
		}
		return strings.Compare(string(x.ID), string(y.ID))
	})
	return out, nil
}

// UpdateCallAgent applies fn to copies of the call and agent and stores both
// if fn succeeds.
func (m *Memory) UpdateCallAgent(_ context.Context, cid acd.CallID, aid acd.AgentID, fn func(*acd.Call, *acd.Agent) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.calls[cid]
	if !ok {
		return fmt.Errorf("call %s: %w", cid, acd.ErrNotFound)
	}
	cc := c.Clone()
	cc.Version++
	var a *acd.Agent
	var ac acd.Agent
	if aid != "" {
		if a, ok = m.agents[aid]; !ok {
			return fmt.Errorf("agent %s: %w", aid, acd.ErrNotFound)
		}
		ac = a.Clone()
		ac.Version++
	}
	pa := &ac
	if a == nil {
		pa = nil
	}
	if err := fn(&cc, pa); err != nil {
		return err
	}
	*c = cc
	if a != nil {
		*a = ac
	}
	return nil
}

// RemoveCall deletes a call after fn accepted it and the agent it is offered to.
func (m *Memory) RemoveCall(_ context.Context, cid acd.CallID, fn func(*acd.Call, *acd.Agent) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.calls[cid]
	if !ok {
		return fmt.Errorf("call %s: %w", cid, acd.ErrNotFound)
	}
	cc := c.Clone()
	var a *acd.Agent
	if c.Agent != "" {
		a = m.agents[c.Agent]
	}
	var pa *acd.Agent
	var ac acd.Agent
	if a != nil {
		ac = a.Clone()
		ac.Version++
		pa = &ac
	}
	if fn != nil {
		if err := fn(&cc, pa); err != nil {
			return err
		}
	}
	delete(m.calls, cid)
	if a != nil {
		*a = ac
	}
	return nil
}

// RenewNode records or extends a node's lease.
func (m *Memory) RenewNode(_ context.Context, n acd.NodeInfo) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[n.Name] = n
	return nil
}

// Nodes returns every node with a lease, ordered by name.
func (m *Memory) Nodes(context.Context) ([]acd.NodeInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]acd.NodeInfo, 0, len(m.nodes))
	for _, n := range m.nodes {
		out = append(out, n)
	}
	slices.SortFunc(out, func(x, y acd.NodeInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// RemoveNode deletes a node's lease if it is still n.
func (m *Memory) RemoveNode(_ context.Context, n acd.NodeInfo) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.nodes[n.Name]; ok && cur.Equal(n) {
		delete(m.nodes, n.Name)
	}
	return nil
}
