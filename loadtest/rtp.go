package loadtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/callwerk/callwerk/media"
)

// Tag marks who sent an RTP payload.
type Tag byte

// Payload tags.
const (
	TagNone   Tag = 0   // not one of ours: the relay's player
	TagMember Tag = 'M' // a simulated member
	TagAgent  Tag = 'A' // a simulated agent
)

// Payload layout of our frames: magic, tag, send time (Unix ns, the
// sender's clock just before sendto), frame counter (0, 1, ... per
// stream), stream id (random per sender: the relay rewrites SSRCs, so the
// receiver tells streams apart by this).
var magic = [4]byte{'C', 'W', 'L', 'T'}

const (
	offTag     = 4
	offSent    = 5
	offCounter = 13
	offStream  = 17
	minTagged  = 21

	frameSize  = 160 // 20 ms of G.711 at 8 kHz
	framePause = 20 * time.Millisecond
)

// RTPStats are what one RTP endpoint sent and received.
type RTPStats struct {
	Sent        uint64
	Received    uint64
	ByTag       map[Tag]uint64
	Expected    map[Tag]uint64 // per tag, summed over streams: last frame counter - first + 1
	FirstTagged map[Tag]int    // index in the received stream of the first packet with each tag
	SSRCs       int            // distinct SSRCs received
	SeqJumps    int            // sequence numbers that were not last+1
	Markers     int            // packets with the marker bit
	MaxDelay    time.Duration  // of the tagged packets
	Unauthentic uint64         // SRTP packets that failed authentication (UseSRTP)
}

// stream is what a receiver saw of one tagged stream (one sender): the
// lowest and highest frame counter and how many frames arrived, so loss
// inside the window is exact whenever the receiver started listening.
type stream struct {
	lo, hi   uint32
	received uint64
}

// RTPPeer is a phone's RTP endpoint: it sends tagged 20 ms frames to the
// far end, paced by the process's one send clock, and records what it
// receives. Delays are measured from the sender's clock to the kernel's
// receive timestamp on this socket (where the OS gives one), so the
// receiving goroutine's own scheduling is not counted.
type RTPPeer struct {
	conn   *net.UDPConn
	tag    Tag
	pt     uint8
	delays *Histogram // optional: every tagged packet's delay

	sent    atomic.Uint64
	mu      sync.Mutex
	st      RTPStats
	ssrcs   map[uint32]bool
	streams map[uint32]*stream // by stream id
	last    uint16
	any     bool

	// Sending state, touched only by the pacer (after Send) and Close.
	dst     netip.AddrPort
	pkt     rtp.Packet
	payload []byte
	buf     []byte
	counter uint32

	keep     bool // keep every payload received (KeepPayloads); set before traffic
	srtpTx   *media.SRTPSender
	srtpRx   atomic.Pointer[media.SRTPReceiver]
	payloads [][]byte // guarded by mu

	sending atomic.Bool
	muted   atomic.Bool // Mute stopped the frames for good
	wg      sync.WaitGroup
	once    sync.Once
}

// NewRTPPeer binds an RTP socket on 127.0.0.1 and starts receiving. Each
// tagged packet's one-way delay is also recorded in delays, if not nil.
func NewRTPPeer(tag Tag, pt uint8, delays *Histogram) (*RTPPeer, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	p := &RTPPeer{conn: c, tag: tag, pt: pt, delays: delays,
		ssrcs: make(map[uint32]bool), streams: make(map[uint32]*stream),
		st: RTPStats{ByTag: make(map[Tag]uint64), Expected: make(map[Tag]uint64), FirstTagged: make(map[Tag]int)}}
	kernelTime := enableRxTimestamps(c) == nil
	p.wg.Add(1)
	go p.receive(kernelTime)
	return p, nil
}

// Payloads returns the payloads received so far, in order of arrival, if
// the peer keeps them (CallOptions.KeepPayloads).
func (p *RTPPeer) Payloads() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.payloads)
}

// Addr is the local RTP address to put into SDP.
func (p *RTPPeer) Addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// UseSRTP makes the peer speak SRTP: it encrypts with own and
// authenticates and decrypts with far. Call it before Send.
func (p *RTPPeer) UseSRTP(own, far media.Crypto) error {
	tx, err := media.NewSRTPSender(own)
	if err != nil {
		return err
	}
	rx, err := media.NewSRTPReceiver(far)
	if err != nil {
		return err
	}
	p.srtpTx = tx
	p.srtpRx.Store(rx)
	return nil
}

// protect encrypts pkt if the peer speaks SRTP.
func (p *RTPPeer) protect(pkt []byte) ([]byte, error) {
	if p.srtpTx == nil {
		return pkt, nil
	}
	return p.srtpTx.Protect(pkt)
}

// Send starts sending frames to dst every 20 ms until Close. Call it once.
func (p *RTPPeer) Send(dst netip.AddrPort) {
	if !p.sending.CompareAndSwap(false, true) {
		return
	}
	p.dst = dst
	p.pkt = rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: p.pt, SSRC: rand.Uint32(),
		SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}}
	p.payload = make([]byte, frameSize)
	for i := range p.payload {
		p.payload[i] = 0xFF
	}
	copy(p.payload, magic[:])
	p.payload[offTag] = byte(p.tag)
	binary.BigEndian.PutUint32(p.payload[offStream:], rand.Uint32())
	p.buf = make([]byte, 1500)
	pacer.add(p)
}

// Mute stops sending frames for good (a phone whose network went away);
// the peer still receives.
func (p *RTPPeer) Mute() {
	if p.sending.Load() && !p.muted.Swap(true) {
		pacer.remove(p)
	}
}

// sendFrame sends the next frame; the pacer calls it every 20 ms.
func (p *RTPPeer) sendFrame() {
	binary.BigEndian.PutUint32(p.payload[offCounter:], p.counter)
	binary.BigEndian.PutUint64(p.payload[offSent:], uint64(time.Now().UnixNano()))
	p.pkt.Payload = p.payload
	if m, err := p.pkt.MarshalTo(p.buf); err == nil {
		if out, err := p.protect(p.buf[:m]); err == nil {
			if _, err := p.conn.WriteToUDPAddrPort(out, p.dst); err == nil {
				p.sent.Add(1)
			}
		}
	}
	p.counter++
	p.pkt.SequenceNumber++
	p.pkt.Timestamp += frameSize
}

func (p *RTPPeer) receive(kernelTime bool) {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	oob := make([]byte, oobSize)
	var pkt rtp.Packet
	for {
		n, oobn, _, _, err := p.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		at, ok := int64(0), false
		if kernelTime {
			at, ok = rxTimestamp(oob[:oobn])
		}
		if !ok {
			at = time.Now().UnixNano()
		}
		b := buf[:n]
		if rx := p.srtpRx.Load(); rx != nil {
			if b, err = rx.Unprotect(b); err != nil {
				p.mu.Lock()
				p.st.Unauthentic++
				p.mu.Unlock()
				continue
			}
		}
		if pkt.Unmarshal(b) != nil {
			continue
		}
		p.record(&pkt, at)
	}
}

// record counts one received packet that arrived at at (Unix ns).
func (p *RTPPeer) record(pkt *rtp.Packet, at int64) {
	tag := TagNone
	var delay time.Duration
	var counter, id uint32
	if pl := pkt.Payload; len(pl) >= minTagged && [4]byte(pl[:4]) == magic {
		tag = Tag(pl[offTag])
		delay = time.Duration(at - int64(binary.BigEndian.Uint64(pl[offSent:])))
		counter = binary.BigEndian.Uint32(pl[offCounter:])
		id = binary.BigEndian.Uint32(pl[offStream:])
		if p.delays != nil {
			p.delays.Record(delay)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keep {
		p.payloads = append(p.payloads, slices.Clone(pkt.Payload))
	}
	if _, ok := p.st.FirstTagged[tag]; !ok {
		p.st.FirstTagged[tag] = int(p.st.Received)
	}
	p.st.Received++
	p.st.ByTag[tag]++
	if !p.ssrcs[pkt.SSRC] {
		p.ssrcs[pkt.SSRC] = true
		p.st.SSRCs++
	}
	if tag != TagNone {
		s := p.streams[id]
		if s == nil {
			s = &stream{lo: counter, hi: counter}
			p.streams[id] = s
		}
		p.st.MaxDelay = max(p.st.MaxDelay, delay)
		before := uint64(0)
		if s.received > 0 {
			before = uint64(s.hi-s.lo) + 1
		}
		s.lo, s.hi = min(s.lo, counter), max(s.hi, counter)
		p.st.Expected[tag] += uint64(s.hi-s.lo) + 1 - before
		s.received++
	}
	if p.any && pkt.SequenceNumber != p.last+1 {
		p.st.SeqJumps++
	}
	if pkt.Marker {
		p.st.Markers++
	}
	p.last, p.any = pkt.SequenceNumber, true
}

// Stats returns a snapshot of the counters.
func (p *RTPPeer) Stats() RTPStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	st.Sent = p.sent.Load()
	st.ByTag = maps.Clone(p.st.ByTag)
	st.Expected = maps.Clone(p.st.Expected)
	st.FirstTagged = maps.Clone(p.st.FirstTagged)
	return st
}

// Close stops sending and receiving; idempotent.
func (p *RTPPeer) Close() {
	p.once.Do(func() {
		if p.sending.Load() && !p.muted.Load() {
			pacer.remove(p) // after this returns the pacer no longer touches p
		}
		_ = p.conn.Close()
		p.wg.Wait()
	})
}

// slots spread the senders over the 20 ms frame period, 1 ms apart, so
// their packets do not reach the server in one burst (real phones start
// at random moments).
const slots = 20

// sendClock is the process's one RTP send clock: one goroutine that sends
// every sender's frame at its slot, instead of a timer per call. It runs
// while there are senders and stops with the last one.
type sendClock struct {
	mu      sync.Mutex
	slot    [slots][]*RTPPeer
	n       int
	stop    chan struct{}
	stopped chan struct{}
}

var pacer sendClock

// add sends p's first frame at once, puts p into the emptiest slot and
// starts the clock if it was idle.
func (c *sendClock) add(p *RTPPeer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p.sendFrame()
	best := 0
	for i := range c.slot {
		if len(c.slot[i]) < len(c.slot[best]) {
			best = i
		}
	}
	c.slot[best] = append(c.slot[best], p)
	c.n++
	if c.n == 1 {
		c.stop, c.stopped = make(chan struct{}), make(chan struct{})
		go c.run(c.stop, c.stopped)
	}
}

// remove takes p out; the last sender stops the clock (and waits for it).
func (c *sendClock) remove(p *RTPPeer) {
	c.mu.Lock()
	for i, s := range c.slot {
		for j, q := range s {
			if q == p {
				s[j] = s[len(s)-1]
				s[len(s)-1] = nil
				c.slot[i] = s[:len(s)-1]
				c.n--
			}
		}
	}
	var stopped chan struct{}
	if c.n == 0 && c.stop != nil {
		close(c.stop)
		stopped, c.stop = c.stopped, nil
	}
	c.mu.Unlock()
	if stopped != nil {
		<-stopped
	}
}

// run sends the slots as they come due. It keys on elapsed time, not on
// ticks, so a late wake-up sends the slots it missed instead of skipping
// them: every sender keeps its 50 packets a second.
func (c *sendClock) run(stop, stopped chan struct{}) {
	defer close(stopped)
	const step = framePause / slots
	t := time.NewTicker(step)
	defer t.Stop()
	begin := time.Now()
	next := 0 // the next slot number to send, counted from begin
	for {
		due := int(time.Since(begin) / step)
		for ; next <= due; next++ {
			c.mu.Lock()
			for _, p := range c.slot[next%slots] {
				p.sendFrame()
			}
			c.mu.Unlock()
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// SendKey sends one DTMF key press as RFC 4733 telephone-events with
// payload type pt to the far end Send was given: three packets while the
// key is down, 20 ms apart, then the final packet three times, all with
// one timestamp. Call it after Send; it blocks for about 60 ms.
func (p *RTPPeer) SendKey(key byte, pt uint8) error {
	ev := strings.IndexByte(media.DTMFKeys, key)
	if ev < 0 {
		return fmt.Errorf("send key: %q is not a DTMF key", key)
	}
	if !p.sending.Load() {
		return errors.New("send key: no far end yet")
	}
	h := rtp.Header{Version: 2, PayloadType: pt, SSRC: rand.Uint32(), SequenceNumber: uint16(rand.Uint32()),
		Timestamp: rand.Uint32(), Marker: true}
	for i, d := range []uint16{160, 320, 480, 480, 480, 480} {
		end := byte(0)
		if i >= 3 {
			end = 0x80
		}
		b, err := (&rtp.Packet{Header: h, Payload: []byte{byte(ev), end | 10, byte(d >> 8), byte(d)}}).Marshal()
		if err == nil {
			b, err = p.protect(b)
		}
		if err != nil {
			return err
		}
		if _, err := p.conn.WriteToUDPAddrPort(b, p.dst); err != nil {
			return fmt.Errorf("send key: %w", err)
		}
		h.Marker = false
		h.SequenceNumber++
		if i < 3 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}
