package sip

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// OPTIONS keep-alive towards registered phones (RFC 3261 §11 as a ping).
// Every Config.Keepalive the node sends each binding an OPTIONS over the
// binding's own transport and source: that keeps the NAT binding or the
// connection of a phone in a home office open, and finds phones that are
// gone long before their registration expires (a laptop that went to
// sleep, a router that rebooted). Any response counts, 405 or 404 too. A
// binding that answers none of missedKeepalives OPTIONS in a row is
// dropped; an agent left without one is Lost, as when a registration
// expires.

// missedKeepalives is how many unanswered OPTIONS drop a binding.
const missedKeepalives = 2

// keepaliveTimeout is how long one OPTIONS waits for a response, at most
// (and at most the interval).
const keepaliveTimeout = 5 * time.Second

// keepaliveKey names a binding across rounds.
type keepaliveKey struct{ agent, contact, source, transport string }

// runKeepalive pings every binding each interval until ctx ends.
func (s *Server) runKeepalive(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	missed := map[keepaliveKey]int{}
	wait := min(interval, keepaliveTimeout)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.keepaliveRound(ctx, wait, missed)
		}
	}
}

// keepaliveRound pings all bindings at once and drops those that missed
// too many rounds. missed is the caller's, across rounds.
func (s *Server) keepaliveRound(ctx context.Context, wait time.Duration, missed map[keepaliveKey]int) {
	all := s.loc.All()
	answered := make([]bool, len(all))
	var wg sync.WaitGroup
	for i, ab := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answered[i] = s.ping(ctx, wait, ab.Binding)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	seen := make(map[keepaliveKey]bool, len(all))
	for i, ab := range all {
		k := keepaliveKey{ab.Agent, ab.Contact.String(), ab.Source, strings.ToUpper(ab.Transport)}
		seen[k] = true
		if answered[i] {
			delete(missed, k)
			continue
		}
		missed[k]++
		if missed[k] < missedKeepalives {
			continue
		}
		delete(missed, k)
		s.log.Info().Str("agent", ab.Agent).Str("transport", ab.Transport).Str("source", ab.Source).
			Msg("device dropped: keep-alive OPTIONS unanswered")
		s.loc.dropWhere(func(b Binding) bool {
			return b.Contact.String() == k.contact && b.Source == k.source && strings.EqualFold(b.Transport, k.transport)
		})
	}
	for k := range missed {
		if !seen[k] {
			delete(missed, k) // unregistered meanwhile
		}
	}
}

// ping sends one OPTIONS to b and reports whether any response came.
func (s *Server) ping(ctx context.Context, wait time.Duration, b Binding) bool {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	req := sip.NewRequest(sip.OPTIONS, *b.Contact.Clone())
	req.SetTransport(b.Transport)
	req.SetDestination(b.Source)
	res, err := s.client.Do(ctx, req)
	return err == nil && res != nil
}
