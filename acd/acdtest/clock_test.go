package acdtest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd/acdtest"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// fired records which timers ran and what time the clock showed then.
type fired struct {
	mu   sync.Mutex
	name []string
	at   []time.Duration
}

func (f *fired) cb(c *acdtest.FakeClock, name string) func() {
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.name = append(f.name, name)
		f.at = append(f.at, c.Now().Sub(t0))
	}
}

func TestFakeClockAdvance(t *testing.T) {
	type timer struct {
		name string
		d    time.Duration
		stop bool
	}
	cases := []struct {
		name     string
		timers   []timer
		advance  []time.Duration
		wantName []string
		wantAt   []time.Duration
		wantNow  time.Duration
	}{
		{
			name:    "nothing due",
			timers:  []timer{{name: "a", d: time.Minute}},
			advance: []time.Duration{59 * time.Second},
			wantNow: 59 * time.Second,
		},
		{
			name:     "due exactly at the end fires",
			timers:   []timer{{name: "a", d: time.Minute}},
			advance:  []time.Duration{time.Minute},
			wantName: []string{"a"},
			wantAt:   []time.Duration{time.Minute},
			wantNow:  time.Minute,
		},
		{
			name:     "time order, not set order, each at its due time",
			timers:   []timer{{name: "c", d: 3 * time.Second}, {name: "a", d: time.Second}, {name: "b", d: 2 * time.Second}},
			advance:  []time.Duration{10 * time.Second},
			wantName: []string{"a", "b", "c"},
			wantAt:   []time.Duration{time.Second, 2 * time.Second, 3 * time.Second},
			wantNow:  10 * time.Second,
		},
		{
			name:     "same due time in set order",
			timers:   []timer{{name: "x", d: time.Second}, {name: "y", d: time.Second}, {name: "z", d: time.Second}},
			advance:  []time.Duration{time.Second},
			wantName: []string{"x", "y", "z"},
			wantAt:   []time.Duration{time.Second, time.Second, time.Second},
			wantNow:  time.Second,
		},
		{
			name:     "stopped timer never fires",
			timers:   []timer{{name: "a", d: time.Second, stop: true}, {name: "b", d: 2 * time.Second}},
			advance:  []time.Duration{time.Minute},
			wantName: []string{"b"},
			wantAt:   []time.Duration{2 * time.Second},
			wantNow:  time.Minute,
		},
		{
			name:     "zero duration waits for the next advance",
			timers:   []timer{{name: "now", d: 0}},
			advance:  []time.Duration{0},
			wantName: []string{"now"},
			wantAt:   []time.Duration{0},
			wantNow:  0,
		},
		{
			name:     "several advances",
			timers:   []timer{{name: "a", d: 1500 * time.Millisecond}, {name: "b", d: 2500 * time.Millisecond}},
			advance:  []time.Duration{time.Second, time.Second, time.Second},
			wantName: []string{"a", "b"},
			wantAt:   []time.Duration{1500 * time.Millisecond, 2500 * time.Millisecond},
			wantNow:  3 * time.Second,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := acdtest.NewFakeClock(t0)
			var f fired
			for _, tm := range tc.timers {
				stop := c.AfterFunc(tm.d, f.cb(c, tm.name))
				if tm.stop {
					assert.True(t, stop(), "stop before firing")
					assert.False(t, stop(), "second stop")
				}
			}
			for _, d := range tc.advance {
				c.Advance(d)
			}
			assert.Equal(t, tc.wantName, f.name)
			assert.Equal(t, tc.wantAt, f.at)
			assert.Equal(t, tc.wantNow, c.Now().Sub(t0))
		})
	}
}

func TestFakeClockStopAfterFire(t *testing.T) {
	c := acdtest.NewFakeClock(t0)
	n := 0
	stop := c.AfterFunc(time.Second, func() { n++ })
	require.Equal(t, 1, c.Pending())
	c.Advance(time.Second)
	assert.Equal(t, 1, n)
	assert.Equal(t, 0, c.Pending())
	assert.False(t, stop(), "stop after the timer fired")
	c.Advance(time.Hour)
	assert.Equal(t, 1, n, "fires once")
}

func TestFakeClockCallbacksMayUseTheClock(t *testing.T) {
	c := acdtest.NewFakeClock(t0)
	var f fired
	// A callback that sets another timer, stops a third, and reads Now: none
	// of it may deadlock, and the new timer fires in the same Advance if due.
	var stopLate func() bool
	c.AfterFunc(time.Second, func() {
		f.cb(c, "first")()
		c.AfterFunc(time.Second, f.cb(c, "chained"))
		assert.True(t, stopLate())
	})
	stopLate = c.AfterFunc(5*time.Second, f.cb(c, "late"))
	c.Advance(10 * time.Second)
	assert.Equal(t, []string{"first", "chained"}, f.name)
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, f.at)
}

func TestFakeClockConcurrent(t *testing.T) {
	c := acdtest.NewFakeClock(t0)
	const n = 50
	var mu sync.Mutex
	count := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.AfterFunc(time.Duration(i)*time.Millisecond, func() {
				mu.Lock()
				count++
				mu.Unlock()
			})
			_ = c.Now()
		}()
	}
	wg.Wait()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Advance(time.Second)
		}()
	}
	wg.Wait()
	assert.Equal(t, n, count)
	assert.Equal(t, 0, c.Pending())
	assert.Equal(t, 4*time.Second, c.Now().Sub(t0))
}
