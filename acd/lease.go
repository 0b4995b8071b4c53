package acd

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A node's reservations are leases: they hold as long as the node's lease
// in the store (NodeInfo), which the node renews every third of its TTL.
// When a node dies, every other node sees its lease run out within one
// renewal period of its expiry and takes over (reclaim): the dead node's
// waiting calls leave their queues, the agents it had offered or connected
// a call to are free again, and the agents whose phones were registered with
// it become unreachable until they register again (with any node). Each
// step is a store update that checks the record still belongs to the dead
// node, so several nodes taking over at once do it once. A dead node that
// was only cut off and comes back finds its offers fenced: their updates
// fail (see offerHeld and Agent.Fence).

// errUnchanged aborts a store update that has nothing to write.
var errUnchanged = errors.New("unchanged")

// renew writes this node's lease. Renewals are serialized (the lease
// keeper and Withdraw both renew), so a.lease is what the store holds.
func (a *ACD) renew(ctx context.Context) error {
	a.renewMu.Lock()
	defer a.renewMu.Unlock()
	a.view.mu.Lock()
	n := NodeInfo{Name: a.node, SIP: a.sipAddr, Expires: a.clock.Now().Add(a.leaseTTL)}
	a.view.mu.Unlock()
	if err := a.store.RenewNode(ctx, n); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	a.view.mu.Lock()
	a.view.nodes[a.node], a.lease = n, n
	a.view.mu.Unlock()
	return nil
}

// keepAlive renews the lease, watches the other nodes' leases and resyncs
// the view until ctx ends; then it gives the lease up.
func (a *ACD) keepAlive(ctx context.Context) {
	tick := time.NewTicker(a.leaseTTL / 3)
	defer tick.Stop()
	lastSync := a.clock.Now()
	for {
		select {
		case <-ctx.Done():
			a.giveUpLease()
			return
		case <-tick.C:
		}
		if err := a.renew(ctx); err != nil {
			if !a.unavailable(err) {
				a.log.Error().Err(err).Msg("node lease not renewed")
			}
			continue // the prober restores service
		}
		if err := a.watchNodes(ctx); err != nil && ctx.Err() == nil && !a.unavailable(err) {
			a.log.Error().Err(err).Msg("node leases not read")
		}
		if a.clock.Now().Sub(lastSync) >= ResyncInterval {
			lastSync = a.clock.Now()
			if err := a.resync(ctx); err != nil && ctx.Err() == nil && !a.unavailable(err) {
				a.log.Error().Err(err).Msg("view not resynced")
			}
		}
	}
}

// giveUpLease removes this node's lease on shutdown, so that the other
// nodes take over at once rather than after the TTL. First the agents
// whose phones registered here become unreachable (their registrations
// end with this process) until they register with another node.
func (a *ACD) giveUpLease() {
	ctx, cancel := context.WithTimeout(context.Background(), WrapUpTimeout)
	defer cancel()
	a.view.mu.Lock()
	var mine []AgentID
	for _, ag := range a.view.agents {
		if ag.Node == a.node && ag.Online {
			mine = append(mine, ag.ID)
		}
	}
	a.view.mu.Unlock()
	now := a.clock.Now()
	for _, id := range mine {
		ag, err := a.updateAgent(ctx, id, func(g *Agent) error {
			if g.Node != a.node || !g.Online {
				return errUnchanged
			}
			SetPresence(g, Lost, a.node, now)
			return nil
		})
		if err == nil {
			a.emitAgent(&ag, now)
		}
	}
	a.view.mu.Lock()
	n := a.lease
	a.view.mu.Unlock()
	if n.Name != "" {
		if err := a.store.RemoveNode(ctx, n); err != nil {
			a.log.Warn().Err(err).Msg("node lease not given up")
		}
	}
}

// watchNodes reads the leases, takes over after every node whose lease ran
// out, and reports the nodes that went down to WithNodeDown's function.
func (a *ACD) watchNodes(ctx context.Context) error {
	nodes, err := a.store.Nodes(ctx)
	if err != nil {
		return err
	}
	now := a.clock.Now()
	if !a.judging(now) {
		// After a store outage every node gets a lease period to renew its
		// own: the leases read now would report live nodes down (and their
		// node legs would be hung up). The view keeps the leases of before.
		return nil
	}
	a.view.mu.Lock()
	down := a.view.setNodes(nodes, a.node, now)
	a.view.mu.Unlock()
	for _, n := range down {
		a.log.Warn().Str("node", n.Name).Time("lease_expired", n.Expires).Msg("node down")
		if a.nodeDown != nil {
			a.nodeDown(n.Name)
		}
	}
	for _, n := range nodes {
		if n.Name != a.node && !now.Before(n.Expires) {
			if err := a.reclaim(ctx, n); err != nil {
				return fmt.Errorf("take over after %s: %w", n.Name, err)
			}
		}
	}
	return nil
}

// reclaim takes over what dead node n left in the store, then removes its
// lease (unless it was renewed meanwhile: it came back).
func (a *ACD) reclaim(ctx context.Context, n NodeInfo) error {
	now := a.clock.Now()
	// From the store, not the view: the view may miss a record, and once
	// the lease is removed nobody would take it over.
	all, err := a.store.Calls(ctx)
	if err != nil {
		return err
	}
	var calls []Call
	for _, c := range all {
		if c.Node == n.Name {
			calls = append(calls, c)
		}
	}
	ags, err := a.store.Agents(ctx)
	if err != nil {
		return err
	}
	var agents []AgentID
	for _, ag := range ags {
		if ag.CallNode == n.Name || ag.Node == n.Name && ag.Online {
			agents = append(agents, ag.ID)
		}
	}

	for _, c := range calls {
		freed := false
		_, ag, err := a.removeCall(ctx, c.ID, func(cc *Call, ag *Agent) error {
			if cc.Node != n.Name {
				return ErrConflict
			}
			freed = offerHeld(cc, ag) && Release(ag, now)
			return nil
		})
		switch {
		case errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict):
			continue
		case err != nil:
			return err
		}
		a.events.Emit(Event{Time: now, Type: "call.abandoned", Queue: c.Queue, Call: c.ID})
		if freed {
			a.emitAgent(ag, now)
		}
	}
	for _, id := range agents {
		ag, err := a.updateAgent(ctx, id, func(g *Agent) error {
			changed := false
			if g.CallNode == n.Name {
				changed = Release(g, now)
			}
			if g.Node == n.Name && g.Online {
				SetPresence(g, Lost, n.Name, now)
				changed = true
			}
			if !changed {
				return errUnchanged
			}
			return nil
		})
		switch {
		case errors.Is(err, errUnchanged) || errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return err
		}
		a.emitAgent(&ag, now)
	}
	if len(calls)+len(agents) > 0 {
		a.log.Info().Str("node", n.Name).Int("calls", len(calls)).Int("agents", len(agents)).Msg("took over after dead node")
	}
	a.poke()
	return a.store.RemoveNode(ctx, n)
}
