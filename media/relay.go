package media

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Relay anchors the RTP of calls: it creates legs on port pairs of its
// pool, bridges them, and runs the one pacing clock that drives every
// player. Create one per process (per media address) with NewRelay, start
// Run, and create legs with NewLeg.
type Relay struct {
	pool     *PortPool
	log      zerolog.Logger
	dropLog  zerolog.Logger // sampled: for what can repeat per packet
	latchAny bool

	ids     atomic.Uint64             // input ids for leg streams (player and bridge generations)
	players atomic.Pointer[[]*player] // copy-on-write under mu; read by the clock without locks
	running atomic.Bool

	// mu guards control state: legs, closed, each Leg's player and the
	// bridge pointers (Leg.peer is written only under mu; the readers load
	// it atomically). Lock order: Relay.mu before outStream.mu.
	mu     sync.Mutex
	legs   map[*Leg]struct{}
	closed bool
	gone   LegStats // the counters of the legs closed so far, under mu
}

// RelayStats are the relay's counters: the open legs, and the packets of
// all legs since start (open and closed).
type RelayStats struct {
	Legs int
	LegStats
}

// Stats sums the counters of every leg since the relay started.
func (r *Relay) Stats() RelayStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RelayStats{Legs: len(r.legs), LegStats: r.gone}
	for l := range r.legs {
		st.add(l.Stats())
	}
	return st
}

func (s *LegStats) add(o LegStats) {
	s.RxPackets += o.RxPackets
	s.TxPackets += o.TxPackets
	s.Dropped += o.Dropped
	s.PlayedFrames += o.PlayedFrames
	s.RTCPPackets += o.RTCPPackets
	s.RTCPSent += o.RTCPSent
	s.Unauthentic += o.Unauthentic
	s.UnauthenticRTCP += o.UnauthenticRTCP
}

// Option configures a Relay.
type Option func(*Relay) error

// WithLatchAnySource lets a leg latch onto the first valid RTP packet from
// any address, as classic symmetric RTP does. By default a packet may latch
// only if it comes from the IP address signalled in the peer's SDP, or if
// that address is private (the phone is behind NAT). Latching onto any
// source reopens, for every leg, the window for RTP bleed and injection
// (CVE-2025-53399 class): before the real phone's first packet, anyone who
// guesses the port can take the leg.
func WithLatchAnySource() Option {
	return func(r *Relay) error {
		r.latchAny = true
		return nil
	}
}

// WithDropLogRate sets how many "unexpected packet" log lines the relay
// writes per period, across all legs (default 5 per second).
func WithDropLogRate(burst uint32, period time.Duration) Option {
	return func(r *Relay) error {
		if burst == 0 || period <= 0 {
			return fmt.Errorf("drop log rate %d per %v: want a positive burst and period", burst, period)
		}
		r.dropLog = r.log.Sample(&zerolog.BurstSampler{Burst: burst, Period: period})
		return nil
	}
}

// NewRelay creates a relay on pool. log should already be scoped by the
// caller (component=media); legs add their rtp_port.
func NewRelay(pool *PortPool, log zerolog.Logger, opts ...Option) (*Relay, error) {
	if pool == nil {
		return nil, errors.New("new relay: nil port pool")
	}
	r := &Relay{
		pool: pool,
		log:  log,
		legs: make(map[*Leg]struct{}),
	}
	r.dropLog = r.log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Second})
	for _, opt := range opts {
		if err := opt(r); err != nil {
			return nil, fmt.Errorf("new relay: %w", err)
		}
	}
	return r, nil
}

// Run runs the relay's pacing clock: every 20 ms it sends the next frame of
// every playing leg, from this one goroutine (no timer or goroutine per
// call). It returns nil when ctx is done, after closing all legs; the relay
// then refuses new legs. Run may be called once.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("relay run: already running")
	}
	t := time.NewTicker(frameDuration)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.shutdown()
			return nil
		case now := <-t.C:
			r.tick(now)
		}
	}
}

// tick sends one frame for every active player. It does not allocate.
func (r *Relay) tick(now time.Time) {
	ps := r.players.Load()
	if ps == nil {
		return
	}
	for _, p := range *ps {
		if !p.stopped.Load() {
			p.tick(now)
		}
	}
}

func (r *Relay) shutdown() {
	r.mu.Lock()
	r.closed = true
	legs := make([]*Leg, 0, len(r.legs))
	for l := range r.legs {
		legs = append(legs, l)
	}
	r.mu.Unlock()
	for _, l := range legs {
		if err := l.Close(); err != nil {
			r.log.Warn().Err(err).Stringer("local", l.local).Msg("close leg at shutdown")
		}
	}
}

// addPlayerLocked adds p to the clock's list. r.mu must be held.
func (r *Relay) addPlayerLocked(p *player) {
	var old []*player
	if ps := r.players.Load(); ps != nil {
		old = *ps
	}
	ps := make([]*player, len(old), len(old)+1)
	copy(ps, old)
	ps = append(ps, p)
	r.players.Store(&ps)
}

// removePlayerLocked removes p from the clock's list. r.mu must be held.
func (r *Relay) removePlayerLocked(p *player) {
	old := r.players.Load()
	if old == nil {
		return
	}
	ps := make([]*player, 0, len(*old))
	for _, q := range *old {
		if q != p {
			ps = append(ps, q)
		}
	}
	r.players.Store(&ps)
}

// stopPlayerLocked stops l's player, if any, and hands l's outgoing stream
// back to its bridged peer, if any. r.mu must be held.
func (r *Relay) stopPlayerLocked(l *Leg) {
	p := l.player
	if p == nil {
		return
	}
	p.finish()
	l.player = nil
	r.removePlayerLocked(p)
	next := uint64(0)
	if end := l.peer.Load(); end != nil {
		next = end.id
	}
	l.out.swapActive(p.id, next)
}

// Bridge connects two legs: from now on RTP read on a is sent out of b's
// socket to b's far end, and vice versa. It stops the players of both legs.
// Both legs must use the same codec (the relay does not transcode), be open,
// and not be bridged already. Closing either leg ends the bridge; the other
// leg keeps running (and can be bridged again or play).
func Bridge(a, b *Leg) error {
	switch {
	case a == nil || b == nil:
		return errors.New("bridge: nil leg")
	case a == b:
		return errors.New("bridge: a leg cannot be bridged to itself")
	case a.relay != b.relay:
		return errors.New("bridge: legs belong to different relays")
	case a.codec.PT != b.codec.PT:
		return fmt.Errorf("bridge %v and %v: %w (%s, %s)", a.local, b.local, ErrCodecMismatch, a.codec.Name, b.codec.Name)
	}
	r := a.relay
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case a.closed.Load() || b.closed.Load():
		return fmt.Errorf("bridge %v and %v: %w", a.local, b.local, ErrLegClosed)
	case a.peer.Load() != nil || b.peer.Load() != nil:
		return fmt.Errorf("bridge %v and %v: %w", a.local, b.local, ErrAlreadyBridged)
	}
	r.stopPlayerLocked(a)
	r.stopPlayerLocked(b)
	id := r.ids.Add(1)
	a.peer.Store(&bridgeEnd{leg: b, id: id})
	b.peer.Store(&bridgeEnd{leg: a, id: id})
	a.out.setActive(id) // b's packets may now write a's stream
	b.out.setActive(id)
	return nil
}
