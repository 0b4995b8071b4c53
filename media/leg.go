package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// maxPacket is the read buffer per socket: an Ethernet MTU. G.711 at 20 ms
// is 172 bytes; a longer datagram would be truncated.
const maxPacket = 1500

// Leg is one call party's media on the relay: an RTP socket (even port) and
// an RTCP socket (the next port), each read by its own goroutine from the
// moment the leg exists. Packets that arrive while the leg is not bridged
// are read and discarded (counted as Dropped), so nothing piles up in the
// kernel and an old call's media is not replayed into a new one.
//
// What the leg sends to its far end (player frames, or the bridged peer's
// packets) is one RTP stream with one SSRC; see outStream.
type Leg struct {
	relay *Relay
	codec Codec
	port  int
	local netip.AddrPort
	rtp   *net.UDPConn
	rtcp  *net.UDPConn
	log   zerolog.Logger
	drop  zerolog.Logger // relay-wide sampled logger with this leg's fields

	remote   atomic.Pointer[remote]    // where to send; never nil
	peer     atomic.Pointer[bridgeEnd] // bridged peer; written under relay.mu, read per packet
	telPT    atomic.Int32              // our telephone-event PT on this leg, -1 = unknown
	out      outStream                 // the stream sent to this leg's far end
	keys     atomic.Pointer[chan byte] // where DTMF key presses from the far end go; nil: nowhere
	srtp     atomic.Pointer[legSRTP]   // nil: plain RTP; see StartSRTP
	srtpMu   sync.Mutex                // serialises StartSRTP and StartWebRTC; orders AcceptWebRTC before Close
	rtc      atomic.Pointer[legRTC]    // nil: not a WebRTC leg; see StartWebRTC
	rtcEnded bool                      // EndWebRTC ran: no StartWebRTC any more; under srtpMu
	// secureOnly: the leg may carry SRTP only; until it has keys it sends
	// and forwards nothing (a WebRTC leg before its DTLS handshake).
	secureOnly atomic.Bool
	dtmf       dtmfDetector // reader goroutine only

	player *player // guarded by relay.mu
	opened time.Time

	closed  atomic.Bool
	readers sync.WaitGroup

	rx, tx, dropped, played, rtcpRx, rtcpTx atomic.Uint64
	unauth, unauthRTCP                      atomic.Uint64 // SRTP, SRTCP packets that failed authentication or the replay check
	rtcpFrom                                atomic.Uint64 // where the far end's RTCP comes from (addrKey), 0 = not seen
	lastRx                                  atomic.Int64  // Unix ns of the last RTP packet accepted from the far end
}

// remote is a leg's idea of its far end. It is replaced as a whole (copy on
// write) so the readers see the signalled and latched addresses together.
type remote struct {
	signalled netip.AddrPort // from the peer's SDP; invalid: none (or c=0.0.0.0 hold)
	latched   netip.AddrPort // learned from the first accepted packet; invalid: not latched yet
}

// bridgeEnd is one direction of a bridge: the leg to forward to and the
// bridge's input id in that leg's stream.
type bridgeEnd struct {
	leg *Leg
	id  uint64
}

// LegStats are a leg's packet counters.
type LegStats struct {
	RxPackets    uint64 // datagrams read on the RTP socket, dropped ones included
	TxPackets    uint64 // RTP packets sent to the far end (player frames and bridged packets)
	Dropped      uint64 // read but not forwarded: not RTP, wrong source, or not bridged (or on hold)
	PlayedFrames uint64 // player frames sent
	RTCPPackets  uint64 // datagrams read on the RTCP socket
	RTCPSent     uint64 // RTCP packets sent to the far end (forwarded from the bridged peer)
	Unauthentic  uint64 // SRTP packets refused: failed authentication, or replayed
	// UnauthenticRTCP are SRTCP packets refused likewise.
	UnauthenticRTCP uint64
}

// NewLeg binds an RTP/RTCP port pair from the pool on the pool's address
// and starts reading both sockets at once. codec is the leg's negotiated
// codec: its player sends it, and Bridge requires both legs to share it.
func (r *Relay) NewLeg(codec Codec) (*Leg, error) {
	if codec.PT != PCMU.PT && codec.PT != PCMA.PT {
		return nil, fmt.Errorf("new leg: unsupported codec %d %q (want PCMU or PCMA)", codec.PT, codec.Name)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("new leg: %w", ErrRelayClosed)
	}
	rtpConn, rtcpConn, port, err := r.pool.bind()
	if err != nil {
		return nil, fmt.Errorf("new leg: %w", err)
	}
	l := &Leg{
		relay:  r,
		codec:  codec,
		port:   port,
		local:  netip.AddrPortFrom(r.pool.addr, uint16(port)),
		rtp:    rtpConn,
		rtcp:   rtcpConn,
		opened: time.Now(),
	}
	l.log = r.log.With().Int("rtp_port", port).Logger()
	l.drop = r.dropLog.With().Int("rtp_port", port).Logger()
	l.remote.Store(&remote{})
	l.telPT.Store(-1)
	l.out.init()

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = rtpConn.Close()
		_ = rtcpConn.Close()
		r.pool.putBack(port) // never carried media
		return nil, fmt.Errorf("new leg: %w", ErrRelayClosed)
	}
	r.legs[l] = struct{}{}
	l.readers.Add(2)
	go l.readRTP()
	go l.readRTCP()
	r.mu.Unlock()

	l.log.Debug().Str("codec", codec.Name).Msg("leg open")
	return l, nil
}

// LocalAddr is the leg's RTP address, for our SDP.
func (l *Leg) LocalAddr() netip.AddrPort { return l.local }

// Codec is the leg's codec.
func (l *Leg) Codec() Codec { return l.codec }

// SetRemote sets the far end's RTP address from its SDP. Call it for every
// accepted offer or answer, re-INVITEs included: a changed address replaces
// the old one and forgets the latched source, so the next packet from the
// new address latches again. An unspecified address (c=0.0.0.0, RFC 2543
// hold) or port 0 (stream rejected) stops sending until the next SetRemote.
//
// On a WebRTC leg SetRemote does nothing: ICE says where the far end is.
func (l *Leg) SetRemote(ap netip.AddrPort) {
	if l.rtc.Load() != nil {
		return
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if !ap.Addr().IsValid() || ap.Addr().IsUnspecified() || ap.Port() == 0 {
		ap = netip.AddrPort{}
	}
	for {
		old := l.remote.Load()
		if old.signalled == ap {
			return // same address (e.g. a session refresh): keep the latch
		}
		if l.remote.CompareAndSwap(old, &remote{signalled: ap}) {
			return
		}
	}
}

// SetTelephoneEvent sets the payload type of telephone-event (RFC 4733) in
// this leg's SDP exchange, -1 if none was negotiated. When both bridged legs
// have one, DTMF packets are forwarded with the payload type of the leg they
// are sent on; otherwise every payload type is forwarded as is.
func (l *Leg) SetTelephoneEvent(pt int) {
	if pt < 0 || pt > 127 {
		pt = -1
	}
	l.telPT.Store(int32(pt))
}

// Silent reports how long the far end has sent no RTP the leg accepted, as
// of now; since the leg opened if it never sent any.
func (l *Leg) Silent(now time.Time) time.Duration {
	last := l.lastRx.Load()
	if last == 0 {
		return now.Sub(l.opened)
	}
	return now.Sub(time.Unix(0, last))
}

// OnDTMF sends the keys the far end presses (RFC 4733 telephone-event, with
// the payload type SetTelephoneEvent gave) to ch, one per key press, as the
// press begins; nil stops it. A key that finds ch full is dropped: the
// reader never waits. Keys are still forwarded to a bridged peer.
func (l *Leg) OnDTMF(ch chan byte) {
	if ch == nil {
		l.keys.Store(nil)
		return
	}
	l.keys.Store(&ch)
}

// keyPressed passes on the key of a telephone-event packet, if it starts
// one. It does not allocate.
func (l *Leg) keyPressed(pkt []byte) {
	ch := l.keys.Load()
	if ch == nil {
		return
	}
	if k := l.dtmf.key(pkt); k != 0 {
		select {
		case *ch <- k:
		default:
		}
	}
}

// Play starts sending src to the leg's far end, looped, one 20 ms frame per
// tick of the relay's clock, in the leg's codec. It replaces any source
// already playing. While the leg plays, packets from a bridged peer are not
// sent to it (hold music over a bridge); StopPlay gives the stream back to
// the peer. Play on a closed leg, or with a nil src, only stops playing.
func (l *Leg) Play(src *Source) {
	l.play(src, false, nil)
}

// PlayOnce is Play without the loop: it sends src once and returns a
// channel closed when src has been sent, or the leg plays something else,
// stops playing or closes. The leg then sends nothing (or its bridged
// peer's packets, after StopPlay) until told otherwise.
func (l *Leg) PlayOnce(src *Source) <-chan struct{} {
	return l.play(src, true, nil)
}

// PlayOnceThen sends src once, then loops then (hold music after a
// prompt) without a gap; the channel is closed when src has been sent or
// the leg plays something else.
func (l *Leg) PlayOnceThen(src, then *Source) <-chan struct{} {
	return l.play(src, true, then)
}

func (l *Leg) play(src *Source, once bool, then *Source) <-chan struct{} {
	if src == nil {
		l.StopPlay()
		return closedChan
	}
	r := l.relay
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopPlayerLocked(l)
	if l.closed.Load() {
		return closedChan
	}
	p := newPlayer(l, src, r.ids.Add(1))
	p.once, p.then = once, then
	l.player = p
	l.out.setActive(p.id)
	r.addPlayerLocked(p)
	return p.done
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// StopPlay stops the leg's player, if any.
func (l *Leg) StopPlay() {
	r := l.relay
	r.mu.Lock()
	r.stopPlayerLocked(l)
	r.mu.Unlock()
}

// Close stops the player, ends the bridge (the peer keeps running, its
// packets now dropped as not bridged), closes both sockets, waits for the
// leg's reader goroutines, and returns the port pair to the pool, which
// quarantines it. Close is idempotent; later calls return nil.
func (l *Leg) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	r := l.relay
	r.mu.Lock()
	r.stopPlayerLocked(l)
	if end := l.peer.Swap(nil); end != nil {
		other := end.leg
		other.peer.Store(nil)
		other.out.swapActive(end.id, 0) // unless the peer is playing: then its player keeps the stream
		l.out.setActive(0)
	}
	r.mu.Unlock()

	l.closeWebRTC() // after closed is set: AcceptWebRTC starts no handshake from now on
	err := errors.Join(l.rtp.Close(), l.rtcp.Close())
	l.readers.Wait()
	r.pool.release(l.port)
	st := l.Stats()
	r.mu.Lock()
	delete(r.legs, l) // with its final counters into gone, so Relay.Stats never goes back
	r.gone.add(st)
	r.mu.Unlock()
	l.log.Debug().
		Uint64("rx", st.RxPackets).Uint64("tx", st.TxPackets).Uint64("dropped", st.Dropped).
		Uint64("played", st.PlayedFrames).Uint64("rtcp", st.RTCPPackets).
		Msg("leg closed")
	if err != nil {
		return fmt.Errorf("close leg %v: %w", l.local, err)
	}
	return nil
}

// Stats returns the leg's counters.
func (l *Leg) Stats() LegStats {
	return LegStats{
		RxPackets:       l.rx.Load(),
		TxPackets:       l.tx.Load(),
		Dropped:         l.dropped.Load(),
		PlayedFrames:    l.played.Load(),
		RTCPPackets:     l.rtcpRx.Load(),
		RTCPSent:        l.rtcpTx.Load(),
		Unauthentic:     l.unauth.Load(),
		UnauthenticRTCP: l.unauthRTCP.Load(),
	}
}

// readRTP is the leg's RTP reader goroutine; Close ends it by closing the
// socket and waits for it. It reads in batches (recvmmsg on Linux): what
// is queued, up to readBatch datagrams, in one system call.
func (l *Leg) readRTP() {
	defer l.readers.Done()
	b, err := newBatchReader(l.rtp)
	if err != nil {
		l.log.Error().Err(err).Msg("rtp reader")
		return
	}
	for {
		n, err := b.next()
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // transient (e.g. a refused datagram): keep reading
		}
		now := time.Now()
		for i := range n {
			pkt, src := b.packet(i)
			l.receiveRTP(pkt, src, now)
		}
	}
}

// readRTCP is the leg's RTCP reader goroutine: it forwards the far end's
// RTCP to the bridged peer (receiveRTCP) and drops the rest.
func (l *Leg) readRTCP() {
	defer l.readers.Done()
	buf := make([]byte, maxPacket)
	for {
		n, src, err := l.rtcp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.receiveRTCP(buf[:n], src)
	}
}

// receiveRTP handles one datagram read on the leg's RTP socket: validate,
// check (or latch) the source, and forward it to the bridged peer's far
// end, rewriting the header in place for the peer's outgoing stream. It
// runs on the reader goroutine, uses only pkt (the reader's buffer) and
// does not allocate, except once per leg when the source latches.
func (l *Leg) receiveRTP(pkt []byte, src netip.AddrPort, now time.Time) {
	l.rx.Add(1)
	if rtc := l.rtc.Load(); rtc != nil && len(pkt) > 1 {
		if l.receiveMux(rtc, pkt, src) {
			return
		}
		if pkt[1] >= 192 && pkt[1] <= 223 { // RTCP on the RTP port (rtcp-mux, RFC 5761 §4)
			l.receiveRTCP(pkt, src)
			return
		}
	}
	if sec := l.srtp.Load(); sec != nil {
		plain, err := sec.in.Unprotect(pkt)
		if err != nil || !validRTP(plain) {
			l.dropped.Add(1)
			l.unauth.Add(1)
			l.logUnauthentic(src)
			return
		}
		pkt = plain
		l.followSource(src)
	} else {
		if !validRTP(pkt) || l.secureOnly.Load() {
			l.dropped.Add(1)
			return
		}
		if !l.acceptSource(src) {
			l.dropped.Add(1)
			l.logUnexpected(src)
			return
		}
	}
	l.lastRx.Store(now.UnixNano())
	if in := l.telPT.Load(); in >= 0 && int32(pkt[1]&0x7F) == in {
		l.keyPressed(pkt)
	}
	end := l.peer.Load()
	if end == nil {
		l.dropped.Add(1) // not bridged (yet, or any more)
		return
	}
	to := end.leg
	pt := pkt[1] & 0x7F
	if in := l.telPT.Load(); in >= 0 && int32(pt) == in {
		if out := to.telPT.Load(); out >= 0 {
			pt = uint8(out)
		}
	}
	if !to.out.rewrite(pkt, end.id, pt, now) {
		l.dropped.Add(1) // the peer's far end hears its player (hold), not us
		return
	}
	to.send(pkt)
}

// acceptSource reports whether a packet from src may be forwarded, latching
// the leg onto src if it has no source yet. Symmetric RTP (RFC 4961): once
// latched, only that source is accepted and our packets go back to it.
// Which packet may latch is decided by mayLatch, or by nothing with
// WithLatchAnySource.
func (l *Leg) acceptSource(src netip.AddrPort) bool {
	for {
		cur := l.remote.Load()
		if cur.latched.IsValid() {
			return cur.latched == src
		}
		if !l.relay.latchAny && !mayLatch(cur.signalled, src) {
			return false
		}
		if l.remote.CompareAndSwap(cur, &remote{signalled: cur.signalled, latched: src}) {
			if e := l.log.Debug(); e.Enabled() {
				e.Str("src", src.String()).Msg("rtp source latched")
			}
			return true
		}
		// SetRemote replaced the remote meanwhile: judge again.
	}
}

// followSource points the leg at src, the source of an authenticated SRTP
// packet. Only the far end has its key, so wherever its packets come from
// is where it is: the first one latches the leg, and a later one from
// another address (the phone's NAT binding changed, or it moved networks)
// moves it at once. A replayed packet never gets here (replay window).
func (l *Leg) followSource(src netip.AddrPort) {
	for {
		cur := l.remote.Load()
		if cur.latched == src {
			return
		}
		if l.remote.CompareAndSwap(cur, &remote{signalled: cur.signalled, latched: src}) {
			if cur.latched.IsValid() {
				l.log.Info().Str("from", cur.latched.String()).Str("to", src.String()).Msg("srtp source moved")
			} else if e := l.log.Debug(); e.Enabled() {
				e.Str("src", src.String()).Msg("srtp source latched")
			}
			return
		}
	}
}

func (l *Leg) logUnauthentic(src netip.AddrPort) {
	if e := l.drop.Warn(); e.Enabled() {
		e.Str("src", src.String()).Msg("srtp packet failed authentication or replay check: dropped")
	}
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// mayLatch is the default latching rule. A packet may teach the leg its far
// end if it comes from the IP address signalled in the SDP (any port: NATs
// and some phones send from another port). If the signalled address is one
// packets from the phone cannot carry (private, CGNAT or link-local: the
// phone is behind NAT and has no better address to give), the first packet
// from anywhere may latch, as without ICE nothing better is possible.
// Before SetRemote nothing latches.
func mayLatch(signalled, src netip.AddrPort) bool {
	if !signalled.IsValid() {
		return false
	}
	sig := signalled.Addr()
	if sig == src.Addr() {
		return true
	}
	return sig.IsPrivate() || sig.IsLinkLocalUnicast() || cgnat.Contains(sig)
}

func (l *Leg) logUnexpected(src netip.AddrPort) {
	if e := l.drop.Warn(); e.Enabled() {
		cur := l.remote.Load()
		e.Str("src", src.String()).
			Str("latched", cur.latched.String()).
			Str("signalled", cur.signalled.String()).
			Msg("rtp from unexpected source dropped")
	}
}

// dest is where the leg sends: the latched source, else the signalled
// address.
func (l *Leg) dest() (netip.AddrPort, bool) {
	cur := l.remote.Load()
	if cur.latched.IsValid() {
		return cur.latched, true
	}
	return cur.signalled, cur.signalled.IsValid()
}

// send writes one packet to the leg's far end from the leg's own socket (so
// the phone sees replies from the address in our SDP). It is called from the
// clock goroutine (player) or the bridged peer's reader; UDP writes are safe
// concurrently. Errors (the leg closing, ICMP unreachable) are not counted.
//
// On an SRTP leg pkt is encrypted in place; it needs srtpOverhead bytes of
// spare capacity (the readers' and players' buffers have them).
func (l *Leg) send(pkt []byte) {
	dst, ok := l.dest()
	if !ok {
		return
	}
	if sec := l.srtp.Load(); sec != nil {
		var err error
		if pkt, err = sec.out.Protect(pkt); err != nil {
			return
		}
	} else if l.secureOnly.Load() {
		return
	}
	if _, err := l.rtp.WriteToUDPAddrPort(pkt, dst); err == nil {
		l.tx.Add(1)
	}
}
