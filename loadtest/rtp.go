package loadtest

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Tag marks who sent an RTP payload.
type Tag byte

// Payload tags.
const (
	TagNone   Tag = 0   // not one of ours: the relay's player
	TagMember Tag = 'M' // a simulated member
	TagAgent  Tag = 'A' // a simulated agent
)

var magic = [4]byte{'C', 'W', 'L', 'T'}

const (
	frameSize  = 160 // 20 ms of G.711 at 8 kHz
	framePause = 20 * time.Millisecond
)

// RTPStats are what one RTP endpoint sent and received.
type RTPStats struct {
	Sent        uint64
	Received    uint64
	ByTag       map[Tag]uint64
	FirstTagged map[Tag]int // index in the received stream of the first packet with each tag
	SSRCs       int         // distinct SSRCs received
	SeqJumps    int         // sequence numbers that were not last+1
	Markers     int         // packets with the marker bit
	MaxDelay    time.Duration
}

// RTPPeer is a phone's RTP endpoint: it sends tagged 20 ms frames to the
// far end and records what it receives.
type RTPPeer struct {
	conn *net.UDPConn
	tag  Tag
	pt   uint8

	sent atomic.Uint64
	mu   sync.Mutex
	st   RTPStats
	seen map[uint32]bool
	last uint16
	any  bool

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// NewRTPPeer binds an RTP socket on 127.0.0.1 and starts receiving.
func NewRTPPeer(tag Tag, pt uint8) (*RTPPeer, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	p := &RTPPeer{conn: c, tag: tag, pt: pt, stop: make(chan struct{}), seen: make(map[uint32]bool),
		st: RTPStats{ByTag: make(map[Tag]uint64), FirstTagged: make(map[Tag]int)}}
	p.wg.Add(1)
	go p.receive()
	return p, nil
}

// Addr is the local RTP address to put into SDP.
func (p *RTPPeer) Addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Send starts sending frames to dst every 20 ms until Close.
func (p *RTPPeer) Send(dst netip.AddrPort) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: p.pt, SSRC: rand.Uint32(),
			SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}}
		payload := make([]byte, frameSize)
		for i := range payload {
			payload[i] = 0xFF
		}
		copy(payload, magic[:])
		payload[4] = byte(p.tag)
		buf := make([]byte, 1500)
		t := time.NewTicker(framePause)
		defer t.Stop()
		for n := uint32(0); ; n++ {
			binary.BigEndian.PutUint64(payload[5:], uint64(time.Now().UnixNano()))
			binary.BigEndian.PutUint32(payload[13:], n)
			pkt.Payload = payload
			m, err := pkt.MarshalTo(buf)
			if err == nil {
				if _, err := p.conn.WriteToUDPAddrPort(buf[:m], dst); err == nil {
					p.sent.Add(1)
				}
			}
			pkt.SequenceNumber++
			pkt.Timestamp += frameSize
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (p *RTPPeer) receive() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		tag := TagNone
		var delay time.Duration
		if pl := pkt.Payload; len(pl) >= 17 && [4]byte(pl[:4]) == magic {
			tag = Tag(pl[4])
			delay = time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(pl[5:]))))
		}
		p.mu.Lock()
		if _, ok := p.st.FirstTagged[tag]; !ok {
			p.st.FirstTagged[tag] = int(p.st.Received)
		}
		p.st.Received++
		p.st.ByTag[tag]++
		p.st.MaxDelay = max(p.st.MaxDelay, delay)
		if !p.seen[pkt.SSRC] {
			p.seen[pkt.SSRC] = true
			p.st.SSRCs++
		}
		if p.any && pkt.SequenceNumber != p.last+1 {
			p.st.SeqJumps++
		}
		if pkt.Marker {
			p.st.Markers++
		}
		p.last, p.any = pkt.SequenceNumber, true
		p.mu.Unlock()
	}
}

// Stats returns a snapshot of the counters.
func (p *RTPPeer) Stats() RTPStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	st.Sent = p.sent.Load()
	st.ByTag = make(map[Tag]uint64, len(p.st.ByTag))
	for k, v := range p.st.ByTag {
		st.ByTag[k] = v
	}
	st.FirstTagged = make(map[Tag]int, len(p.st.FirstTagged))
	for k, v := range p.st.FirstTagged {
		st.FirstTagged[k] = v
	}
	return st
}

// Close stops sending and receiving; idempotent.
func (p *RTPPeer) Close() {
	p.once.Do(func() {
		close(p.stop)
		_ = p.conn.Close()
		p.wg.Wait()
	})
}
