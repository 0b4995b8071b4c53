// Package acdtest holds fakes for testing code that uses package acd.
package acdtest

import (
	"slices"
	"sync"
	"time"

	"github.com/callwerk/callwerk/acd"
)

var _ acd.Clock = (*FakeClock)(nil)

// FakeClock is an acd.Clock whose time moves only when Advance is called.
// Timers fire synchronously inside Advance, on the caller's goroutine, in the
// order of their due times (then in the order they were set). It is safe for
// concurrent use; callbacks may call back into the clock.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	target time.Time // where the Advance calls so far take the clock; >= now
	seq    uint64
	timers []*fakeTimer // unordered; Advance picks the earliest due
}

type fakeTimer struct {
	when time.Time
	seq  uint64 // tie-break: set earlier, fires earlier
	f    func()
}

// NewFakeClock returns a clock standing at t0.
func NewFakeClock(t0 time.Time) *FakeClock {
	return &FakeClock{now: t0, target: t0}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run when the clock has been advanced by d. A timer
// with d <= 0 is due at once but, unlike time.AfterFunc, runs only on the next
// Advance (Advance(0) will do): running it inside AfterFunc would deadlock
// callers that hold a lock while they set a timer. The returned stop reports
// whether it kept f from running.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{when: c.now.Add(d), seq: c.seq, f: f}
	c.seq++
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, t)
		if i < 0 {
			return false
		}
		c.timers = slices.Delete(c.timers, i, i+1)
		return true
	}
}

// Advance moves the clock forward by d, running every timer that falls due
// on the way, each with the clock set to its due time. Timers set by those
// callbacks also fire if they fall due by the end. Concurrent (or nested)
// Advance calls add up; each returns once the clock has reached at least its
// own end.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.target = c.target.Add(d)
	end := c.target
	c.mu.Unlock()
	for {
		c.mu.Lock()
		t := c.popDueLocked(end)
		if t == nil {
			if end.After(c.now) {
				c.now = end
			}
			c.mu.Unlock()
			return
		}
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f() // without the lock: f may call Now, AfterFunc or stop
	}
}

// Pending returns the number of timers that have neither fired nor been stopped.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// popDueLocked removes and returns the earliest timer due at or before end,
// or nil. c.mu must be held.
func (c *FakeClock) popDueLocked(end time.Time) *fakeTimer {
	best := -1
	for i, t := range c.timers {
		if t.when.After(end) {
			continue
		}
		if best < 0 || t.when.Before(c.timers[best].when) ||
			(t.when.Equal(c.timers[best].when) && t.seq < c.timers[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	t := c.timers[best]
	c.timers = slices.Delete(c.timers, best, best+1)
	return t
}
