package sip

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Default flood limits (Kamailio pike's): more than FloodRequests messages
// from one address within FloodWindow ban it for FloodBan; banned sources
// get no answer at all. Trunk addresses are exempt.
const (
	FloodRequests   = 30
	FloodWindow     = 2 * time.Second
	FloodBan        = 300 * time.Second
	floodMaxSources = 100000 // addresses tracked at most
)

// FloodLimits configure a FloodLimiter; zero fields take the defaults above.
type FloodLimits struct {
	Requests int           // messages per window from one address
	Window   time.Duration // the window
	Ban      time.Duration // how long a source that sent more is ignored
	Exempt   []netip.Prefix
}

func (l FloodLimits) withDefaults() FloodLimits {
	if l.Requests <= 0 {
		l.Requests = FloodRequests
	}
	if l.Window <= 0 {
		l.Window = FloodWindow
	}
	if l.Ban <= 0 {
		l.Ban = FloodBan
	}
	return l
}

// FloodLimiter counts messages per source address in fixed windows.
type FloodLimiter struct {
	now    func() time.Time
	limits FloodLimits
	exempt func(netip.Addr) bool

	mu      sync.Mutex
	sources map[netip.Addr]*floodState
}

type floodState struct {
	windowStart time.Time
	count       int
	bannedUntil time.Time
}

// NewFloodLimiter returns a limiter with limits l; addresses in
// l.Exempt, and those for which exempt (if not nil) is true, are never
// limited.
func NewFloodLimiter(l FloodLimits, exempt func(netip.Addr) bool) *FloodLimiter {
	return &FloodLimiter{now: time.Now, limits: l.withDefaults(), exempt: exempt, sources: make(map[netip.Addr]*floodState)}
}

// Limits are the limiter's limits, defaults filled in.
func (f *FloodLimiter) Limits() FloodLimits { return f.limits }

func (f *FloodLimiter) exempted(a netip.Addr) bool {
	for _, p := range f.limits.Exempt {
		if p.Contains(a) {
			return true
		}
	}
	return f.exempt != nil && f.exempt(a)
}

// Allow counts one message from a and reports whether it may be handled,
// and whether this message got a banned.
func (f *FloodLimiter) Allow(a netip.Addr) (ok, banned bool) {
	if f.exempted(a) {
		return true, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	s := f.sources[a]
	if s == nil {
		if len(f.sources) >= floodMaxSources {
			for k, v := range f.sources {
				if now.Sub(v.windowStart) > f.limits.Window && !now.Before(v.bannedUntil) {
					delete(f.sources, k)
				}
			}
		}
		s = &floodState{windowStart: now}
		f.sources[a] = s
	}
	if now.Before(s.bannedUntil) {
		return false, false
	}
	if now.Sub(s.windowStart) >= f.limits.Window {
		s.windowStart, s.count = now, 0
	}
	s.count++
	if s.count > f.limits.Requests {
		s.bannedUntil = now.Add(f.limits.Ban)
		return false, true
	}
	return true, false
}

// Banned reports whether a is banned now, without counting a message.
func (f *FloodLimiter) Banned(a netip.Addr) bool {
	if f.exempted(a) {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sources[a]
	return s != nil && f.now().Before(s.bannedUntil)
}

// scannerAgents are User-Agent values of SIP scanners; they get no answer.
var scannerAgents = [][]byte{
	[]byte("friendly-scanner"), []byte("sipvicious"), []byte("sipcli"), []byte("VaxSIPUserAgent"), []byte("pplsip"),
}

// fromScanner reports whether a message's User-Agent names a known scanner.
func fromScanner(data []byte) bool {
	head := data
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		head = data[:i]
	}
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		if len(line) > 11 && bytes.EqualFold(line[:11], []byte("User-Agent:")) {
			for _, s := range scannerAgents {
				if bytes.Contains(line, s) {
					return true
				}
			}
			return false
		}
	}
	return false
}

// netAddr returns the IP of a net.Addr from a UDP or TCP socket.
func netAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
