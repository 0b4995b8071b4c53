package acd_test

import (
	"context"
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

// cluster is several ACDs on one store, each Applying the others' changes
// as the NATS replicator would, on one fake clock.
type cluster struct {
	t     *testing.T
	store *queues.Memory
	clock *acdtest.FakeClock
	mu    sync.Mutex
	nodes map[string]*acd.ACD
	down  chan string // nodes reported down, by any node
}

// Publish hands a change to every other node, synchronously.
func (c *cluster) Publish(ch acd.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, n := range c.nodes {
		if name != ch.Node {
			n.Apply(ch)
		}
	}
}

const clusterTTL = 300 * time.Millisecond // ticks every 100 ms of real time

func newCluster(t *testing.T) *cluster {
	return &cluster{
		t: t, store: queues.NewMemory(), clock: acdtest.NewFakeClock(t0),
		nodes: map[string]*acd.ACD{}, down: make(chan string, 10),
	}
}

// start runs node name, reachable at udp:127.0.0.1:50<digits of name>.
// Its stop ends it as a shutdown does (it gives its lease up); kill ends
// it as SIGKILL does: its lease stays until it runs out.
func (c *cluster) start(name string) (stop, kill func()) {
	sip := "udp:127.0.0.1:50" + name[1:]
	opts := []acd.Option{acd.WithNode(name), acd.WithReplicator(c),
		acd.WithNodeDown(func(n string) { c.down <- n }), acd.WithLease(sip, clusterTTL)}
	a := acd.New(c.store, []acd.QueueConfig{sales}, c.clock, nil, zerolog.New(zerolog.NewTestWriter(c.t)), opts...)
	require.NoError(c.t, a.Recover(c.t.Context()))
	c.mu.Lock()
	c.nodes[name] = a
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			c.mu.Lock()
			delete(c.nodes, name)
			c.mu.Unlock()
		})
	}
	c.t.Cleanup(stop)
	kill = func() {
		stop()
		require.NoError(c.t, c.store.RenewNode(context.Background(), acd.NodeInfo{Name: name, SIP: sip, Expires: c.clock.Now().Add(clusterTTL)}))
	}
	return stop, kill
}

func (c *cluster) node(name string) *acd.ACD {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[name]
}

// online registers agent id with node.
func (c *cluster) online(node string, id acd.AgentID) {
	c.t.Helper()
	require.NoError(c.t, c.store.PutAgent(c.t.Context(), acd.Agent{ID: id, Queues: []string{sales.Name}}))
	require.NoError(c.t, c.node(node).SetPresence(c.t.Context(), id, acd.Registered))
}

func (c *cluster) agent(id acd.AgentID) acd.Agent {
	c.t.Helper()
	as, err := c.store.Agents(c.t.Context())
	require.NoError(c.t, err)
	for _, a := range as {
		if a.ID == id {
			return a
		}
	}
	c.t.Fatalf("no agent %s", id)
	return acd.Agent{}
}

func offerWithin(t *testing.T, ch <-chan acd.Offer, d time.Duration) acd.Offer {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(d):
		t.Fatal("no offer")
		return acd.Offer{}
	}
}

func TestCallOfOneNodeRingsAgentOfAnother(t *testing.T) {
	c := newCluster(t)
	c.start("n1")
	c.start("n2")
	c.online("n2", "a2")
	ch, err := c.node("n1").Enqueue(t.Context(), acd.Call{ID: "c1", Queue: sales.Name})
	require.NoError(t, err)
	o := offerWithin(t, ch, waitFor)
	assert.Equal(t, acd.Offer{Agent: "a2", Queue: sales.Name, RingTimeout: sales.RingTimeout, Peer: "udp:127.0.0.1:502"}, o)
	a := c.agent("a2")
	assert.Equal(t, acd.Reserved, a.State)
	assert.Equal(t, "n1", a.CallNode, "the call's node holds the reservation")
}

func TestNodesServeTheOldestCallFirst(t *testing.T) {
	c := newCluster(t)
	c.start("n1")
	c.start("n2")
	ctx := t.Context()
	old, err := c.node("n2").Enqueue(ctx, acd.Call{ID: "old", Queue: sales.Name})
	require.NoError(t, err)
	c.clock.Advance(10 * time.Millisecond) // less than a lease: every node stays alive
	young, err := c.node("n1").Enqueue(ctx, acd.Call{ID: "young", Queue: sales.Name})
	require.NoError(t, err)
	c.online("n1", "a1") // n1's agent, but n2's call waited longer
	o := offerWithin(t, old, waitFor)
	assert.Equal(t, acd.AgentID("a1"), o.Agent)
	assert.Equal(t, "udp:127.0.0.1:501", o.Peer)
	select {
	case o := <-young:
		t.Fatalf("the younger call got an offer: %+v", o)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestDeadNodesReservationsAreTakenOver(t *testing.T) {
	c := newCluster(t)
	_, kill := c.start("n1")
	c.start("n2")
	c.online("n2", "a2")
	ctx := t.Context()
	ch, err := c.node("n1").Enqueue(ctx, acd.Call{ID: "c1", Queue: sales.Name})
	require.NoError(t, err)
	require.Equal(t, acd.AgentID("a2"), offerWithin(t, ch, waitFor).Agent)
	kill() // as SIGKILL: no release, the lease stays until it expires

	// n2's own call waits: a2 is reserved for the dead node's call.
	mine, err := c.node("n2").Enqueue(ctx, acd.Call{ID: "c2", Queue: sales.Name})
	require.NoError(t, err)
	c.clock.Advance(clusterTTL) // n1's lease runs out
	o := offerWithin(t, mine, 2*clusterTTL+waitFor)
	assert.Equal(t, acd.AgentID("a2"), o.Agent, "the reserved agent is offered again")
	assert.Equal(t, "n1", <-c.down)
	cs, err := c.store.Calls(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 1, "the dead node's call left its queue")
	assert.Equal(t, acd.CallID("c2"), cs[0].ID)
	require.Eventually(t, func() bool { // the lease goes last, after the takeover
		nodes, err := c.store.Nodes(ctx)
		return err == nil && len(nodes) == 1 && nodes[0].Name == "n2"
	}, waitFor, 10*time.Millisecond, "only n2's lease is left")

}

func TestAgentsOfDeadNodeAreUnreachable(t *testing.T) {
	c := newCluster(t)
	_, kill := c.start("n1")
	c.start("n2")
	c.online("n1", "a1")
	kill()
	c.clock.Advance(clusterTTL)
	require.Eventually(t, func() bool { return c.agent("a1").State == acd.Unreachable }, waitFor, 10*time.Millisecond)
	// Registering with the live node brings the agent back.
	require.NoError(t, c.node("n2").SetPresence(t.Context(), "a1", acd.Registered))
	a := c.agent("a1")
	assert.Equal(t, acd.Available, a.State)
	assert.Equal(t, "n2", a.Node)
}

func TestStaleOfferUpdateIsFenced(t *testing.T) {
	c := newCluster(t)
	c.start("n1")
	c.online("n1", "a1")
	ctx := t.Context()
	n1 := c.node("n1")
	ch, err := n1.Enqueue(ctx, acd.Call{ID: "c1", Queue: sales.Name})
	require.NoError(t, err)
	offerWithin(t, ch, waitFor)
	// Another node took over meanwhile and the agent was offered the same
	// call again: a new reservation, a new fence.
	require.NoError(t, c.store.UpdateCallAgent(ctx, "c1", "a1", func(cl *acd.Call, a *acd.Agent) error {
		acd.Unreserve(a, cl, acd.Withdrawn, sales, t0)
		return acd.Reserve(a, cl, t0)
	}))
	a := c.agent("a1")
	require.Equal(t, uint64(2), a.Fence)
	// The first offer's outcome, reported late, must not end the second.
	require.ErrorIs(t, n1.OfferFailed(ctx, "c1", "a1", acd.NoAnswer), acd.ErrConflict)
	require.ErrorIs(t, n1.Connect(ctx, "c1", "a1"), acd.ErrConflict)
	assert.Equal(t, acd.Reserved, c.agent("a1").State)
}

func TestStoppedNodesAgentsAreUnreachableAtOnce(t *testing.T) {
	c := newCluster(t)
	stop, _ := c.start("n1")
	c.start("n2")
	c.online("n1", "a1")
	stop() // gives its lease up: no wait for the TTL
	assert.Equal(t, acd.Unreachable, c.agent("a1").State, "its phones' registrations ended with it")
	nodes, err := c.store.Nodes(t.Context())
	require.NoError(t, err)
	require.Len(t, nodes, 1)
	assert.Equal(t, "n2", nodes[0].Name)
}
