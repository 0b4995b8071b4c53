package sip

import (
	"net/netip"
	"sync"
	"time"
)

// Brute-force protection for digest authentication: by default
// MaxAuthFailures failures from one address within AuthFailureWindow block
// that address for AuthBlockTime. Blocked requests get the same 403 as a
// wrong password, so the block does not tell an attacker more than a
// failure does.
const (
	MaxAuthFailures   = 5
	AuthFailureWindow = 10 * time.Minute
	AuthBlockTime     = 10 * time.Minute
	lockoutMaxEntries = 100000 // sources tracked at most; the oldest are forgotten first
)

// LockoutLimits configure a Lockout; zero fields take the defaults above.
type LockoutLimits struct {
	Failures int           // failures within Window that block an address
	Window   time.Duration // the counting window
	Block    time.Duration // how long a blocked address may not authenticate
}

func (l LockoutLimits) withDefaults() LockoutLimits {
	if l.Failures <= 0 {
		l.Failures = MaxAuthFailures
	}
	if l.Window <= 0 {
		l.Window = AuthFailureWindow
	}
	if l.Block <= 0 {
		l.Block = AuthBlockTime
	}
	return l
}

// Lockout counts authentication failures per source address.
type Lockout struct {
	now    func() time.Time
	limits LockoutLimits

	mu      sync.Mutex
	sources map[netip.Addr]*failures
}

type failures struct {
	first        time.Time // start of the current window
	count        int
	blockedUntil time.Time
}

// NewLockout returns an empty Lockout with limits l.
func NewLockout(l LockoutLimits) *Lockout {
	return &Lockout{now: time.Now, limits: l.withDefaults(), sources: make(map[netip.Addr]*failures)}
}

// Limits are the lockout's limits, defaults filled in.
func (l *Lockout) Limits() LockoutLimits { return l.limits }

// Blocked reports whether src may not authenticate now.
func (l *Lockout) Blocked(src netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.sources[src]
	return f != nil && l.now().Before(f.blockedUntil)
}

// Fail records a failure from src and reports whether it blocked src just now.
func (l *Lockout) Fail(src netip.Addr) (blocked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.sources[src]
	if f == nil {
		if len(l.sources) >= lockoutMaxEntries {
			l.forgetLocked(now)
		}
		f = &failures{first: now}
		l.sources[src] = f
	}
	if now.Sub(f.first) > l.limits.Window {
		f.first, f.count = now, 0
	}
	f.count++
	if f.count >= l.limits.Failures && !now.Before(f.blockedUntil) {
		f.blockedUntil, f.first, f.count = now.Add(l.limits.Block), now, 0
		return true
	}
	return false
}

// forgetLocked drops sources with no recent failure and no block; l.mu
// must be held.
func (l *Lockout) forgetLocked(now time.Time) {
	for a, f := range l.sources {
		if now.Sub(f.first) > l.limits.Window && !now.Before(f.blockedUntil) {
			delete(l.sources, a)
		}
	}
}
