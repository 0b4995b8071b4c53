package acd

import (
	"context"
	"errors"
	"time"
)

// When the store cannot be reached (a Redis restart, a network split, a
// failover) the node goes on with what does not need it: members already
// talking keep talking (media never waits on the store), waiting members
// keep their music, and the SIP edge refuses new calls (Admit returns
// ErrUnavailable: 503). What the node's calls do meanwhile (an agent
// answers, a member hangs up, a phone registers) is kept in order and
// written when the store is back, so no agent is left busy with a call
// that ended during the outage.
//
// The node probes the store every ProbeInterval while it is down. When it
// answers, the node first checks the store's epoch: a store that lost its
// data (restarted without persistence) gets back what this node knows of
// its own agents and waiting calls, from the view. Then the kept updates
// are written, the lease renewed and the view reread, and new calls are
// taken again. Leases that ran out during the outage are not judged until
// every node had a lease period to renew its own, so no node takes over
// after another that was only cut off like itself.

// ProbeInterval is how often a node whose store is down tries it again.
const ProbeInterval = 500 * time.Millisecond

// outage is the node's view of its store's health; guarded by ACD.mu.
type outage struct {
	down       bool
	since      time.Time
	pending    []pendingOp
	epoch      string    // the store's epoch when last seen; "" before the first reading
	judgeAfter time.Time // other nodes' leases are not judged before then
}

type pendingOp struct {
	what string
	run  func(context.Context) error
}

// unavailable reports whether err means the store could not be reached,
// and if so marks the store down.
func (a *ACD) unavailable(err error) bool {
	if !errors.Is(err, ErrUnavailable) {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.out.down {
		a.out.down, a.out.since = true, a.clock.Now()
		a.log.Error().Err(err).Msg("store unreachable: new calls refused until it is back")
	}
	return true
}

// storeDown reports whether the store is known to be down.
func (a *ACD) storeDown() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.out.down
}

// orLater runs op; if the store cannot be reached it keeps op, to run when
// the store is back, and reports success: the caller's call goes on.
// While the store is down, or kept updates wait to be written, op joins
// them without being tried: updates reach the store in the order they
// happened.
func (a *ACD) orLater(ctx context.Context, what string, op func(context.Context) error) error {
	a.mu.Lock()
	if a.out.down {
		a.out.pending = append(a.out.pending, pendingOp{what, op})
		a.mu.Unlock()
		return nil
	}
	a.mu.Unlock()
	err := op(ctx)
	if !a.unavailable(err) {
		return err
	}
	a.mu.Lock()
	a.out.pending = append(a.out.pending, pendingOp{what, op})
	a.mu.Unlock()
	return nil
}

// probe tries the store again while it is down and restores full service
// once it answers. It runs on the dispatcher's goroutine.
func (a *ACD) probe(ctx context.Context) {
	if !a.storeDown() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := a.checkEpoch(pctx); err != nil {
		return
	}
	written := 0
	for { // updates kept meanwhile join the end; down stays set until none is left
		a.mu.Lock()
		pending := a.out.pending
		a.out.pending = nil
		a.mu.Unlock()
		if len(pending) == 0 {
			break
		}
		for i, op := range pending {
			err := op.run(ctx)
			if errors.Is(err, ErrUnavailable) {
				a.mu.Lock()
				a.out.pending = append(pending[i:], a.out.pending...)
				a.mu.Unlock()
				return
			}
			if err != nil {
				a.log.Warn().Err(err).Str("update", op.what).Msg("update kept during the store outage no longer applies")
			}
			written++
		}
	}
	if a.leaseTTL > 0 {
		if err := a.renew(ctx); err != nil {
			return
		}
	}
	if err := a.resync(ctx); err != nil {
		return
	}
	now := a.clock.Now()
	a.mu.Lock()
	if len(a.out.pending) > 0 { // kept while the view was reread: the next probe writes them
		a.mu.Unlock()
		return
	}
	since := a.out.since
	a.out.down = false
	a.out.judgeAfter = now.Add(a.leaseTTL)
	a.mu.Unlock()
	a.log.Info().Dur("outage", now.Sub(since)).Int("updates_written", written).Msg("store reachable again: full service")
	a.poke()
}

// checkEpoch reads the store's epoch; if the store lost its data since the
// last reading, it puts back what this node knows first.
func (a *ACD) checkEpoch(ctx context.Context) error {
	e, err := a.store.Epoch(ctx)
	if err != nil {
		a.unavailable(err)
		return err
	}
	a.mu.Lock()
	old := a.out.epoch
	a.out.epoch = e
	a.mu.Unlock()
	if old == "" || old == e {
		return nil
	}
	a.log.Warn().Msg("the store lost its data: restoring this node's agents and calls")
	if err := a.reseed(ctx); err != nil {
		a.mu.Lock()
		a.out.epoch = old // try again
		a.mu.Unlock()
		a.unavailable(err)
		return err
	}
	return nil
}

// reseed writes back, from the view, the agents this node owns (their
// phones registered here, or a call of this node reserved them) or nobody
// owns, and this node's waiting calls. Versions go on from the view's, so
// every view takes the restored records as newer. Other nodes restore
// theirs.
func (a *ACD) reseed(ctx context.Context) error {
	a.mu.Lock()
	waiting := make(map[CallID]bool, len(a.waiters))
	for id := range a.waiters {
		waiting[id] = true
	}
	a.mu.Unlock()
	a.view.mu.Lock()
	var agents []Agent
	for _, ag := range a.view.agents {
		if ag.Node == "" || ag.Node == a.node || ag.CallNode == a.node {
			agents = append(agents, ag.Clone())
		}
	}
	var calls []Call
	for _, c := range a.view.calls {
		if waiting[c.ID] && c.Node == a.node {
			calls = append(calls, c.Clone())
		}
	}
	a.view.mu.Unlock()

	for _, old := range agents {
		if err := a.store.PutAgent(ctx, Agent{ID: old.ID, Queues: old.Queues, Skills: old.Skills}); err != nil {
			return err
		}
		_, err := a.updateAgent(ctx, old.ID, func(g *Agent) error {
			if g.Version > old.Version {
				return errUnchanged // restored already, by another node
			}
			*g = old.Clone()
			g.Version = old.Version + 1
			return nil
		})
		if err != nil && !errors.Is(err, errUnchanged) {
			return err
		}
	}
	for _, old := range calls {
		if err := a.store.AddCall(ctx, old); err != nil && !errors.Is(err, ErrConflict) {
			return err
		}
		if _, _, err := a.updateCallAgent(ctx, old.ID, "", func(c *Call, _ *Agent) error {
			*c = old.Clone()
			c.Version = old.Version + 1
			return nil
		}); err != nil {
			return err
		}
	}
	a.log.Info().Int("agents", len(agents)).Int("calls", len(calls)).Msg("store restored from this node's view")
	return nil
}

// judging reports whether this node may judge other nodes' leases now.
func (a *ACD) judging(now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.out.down && !now.Before(a.out.judgeAfter)
}
