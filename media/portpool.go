package media

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultQuarantine is a reasonable quarantine for released port pairs: long
// enough for a phone that missed the BYE to give up sending, short enough
// not to drain a pool sized for the busy hour.
const DefaultQuarantine = 30 * time.Second

// PortPool hands out RTP/RTCP port pairs on one local address: RTP on an
// even port, RTCP on the next (odd) port, both within [min, max]. A released
// pair is quarantined, not handed out again, for the quarantine time, so
// stale media from a previous call cannot reach a new one. Pairs are reused
// oldest-released first. A PortPool is safe for concurrent use.
type PortPool struct {
	addr       netip.Addr
	quarantine time.Duration
	pairs      int
	now        func() time.Time // time.Now; replaced in tests

	mu          sync.Mutex
	free        []int      // even ports ready to use, oldest released first
	quarantined []released // in release order, so also in expiry order
}

type released struct {
	port  int
	until time.Time
}

// NewPortPool creates a pool of the port pairs in [min, max] on addr, which
// must be the address the relay advertises in its SDP (the relay binds its
// sockets to it, so replies come from the address the phone sends to).
func NewPortPool(addr netip.Addr, min, max int, quarantine time.Duration) (*PortPool, error) {
	switch {
	case !addr.IsValid() || addr.IsUnspecified():
		return nil, fmt.Errorf("port pool: address %v: want the relay's advertised IP, not unspecified", addr)
	case addr.Zone() != "":
		return nil, fmt.Errorf("port pool: address %v: zones are not supported", addr)
	case min < 1 || max > 65535:
		return nil, fmt.Errorf("port pool: range %d-%d outside 1-65535", min, max)
	case min > max:
		return nil, fmt.Errorf("port pool: min port %d above max port %d", min, max)
	case quarantine < 0:
		return nil, fmt.Errorf("port pool: negative quarantine %v", quarantine)
	}
	first := min + min%2 // first even port
	p := &PortPool{addr: addr.Unmap(), quarantine: quarantine, now: time.Now}
	for port := first; port+1 <= max; port += 2 {
		p.free = append(p.free, port)
	}
	if len(p.free) == 0 {
		return nil, fmt.Errorf("port pool: range %d-%d holds no even/odd port pair", min, max)
	}
	p.pairs = len(p.free)
	return p, nil
}

// Addr is the address the pool's sockets are bound to.
func (p *PortPool) Addr() netip.Addr { return p.addr }

// Available is the number of pairs that can be handed out now: free and out
// of quarantine. Pairs another process holds are counted until a bind fails.
func (p *PortPool) Available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked(p.now())
	return len(p.free)
}

// expireLocked moves pairs whose quarantine is over to the free list.
// p.mu must be held.
func (p *PortPool) expireLocked(now time.Time) {
	n := 0
	for n < len(p.quarantined) && !now.Before(p.quarantined[n].until) {
		p.free = append(p.free, p.quarantined[n].port)
		n++
	}
	if n > 0 {
		p.quarantined = append(p.quarantined[:0], p.quarantined[n:]...)
	}
}

func (p *PortPool) acquire() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked(p.now())
	if len(p.free) == 0 {
		return 0, false
	}
	port := p.free[0]
	p.free = p.free[1:]
	return port, true
}

// putBack returns a pair that was never used (the bind failed) to the end of
// the free list, without quarantine.
func (p *PortPool) putBack(port int) {
	p.mu.Lock()
	p.free = append(p.free, port)
	p.mu.Unlock()
}

// release quarantines a pair that carried media.
func (p *PortPool) release(port int) {
	p.mu.Lock()
	p.quarantined = append(p.quarantined, released{port: port, until: p.now().Add(p.quarantine)})
	p.mu.Unlock()
}

// bind allocates a pair and binds its RTP and RTCP sockets. A pair the
// operating system refuses (another process holds a port) goes back to the
// end of the free list and the next pair is tried, each pair at most once.
func (p *PortPool) bind() (*net.UDPConn, *net.UDPConn, int, error) {
	network := "udp4"
	if p.addr.Is6() {
		network = "udp6"
	}
	var lastErr error
	for range p.pairs {
		port, ok := p.acquire()
		if !ok {
			break
		}
		rtp, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.addr, uint16(port))))
		if err != nil {
			lastErr = err
			p.putBack(port)
			continue
		}
		rtcp, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.addr, uint16(port+1))))
		if err != nil {
			lastErr = err
			_ = rtp.Close()
			p.putBack(port)
			continue
		}
		return rtp, rtcp, port, nil
	}
	if lastErr != nil {
		return nil, nil, 0, fmt.Errorf("%w on %v (last bind error: %w)", ErrNoPorts, p.addr, lastErr)
	}
	return nil, nil, 0, fmt.Errorf("%w on %v", ErrNoPorts, p.addr)
}
