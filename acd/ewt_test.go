package acd_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
)

func TestEstimateWait(t *testing.T) {
	cases := []struct {
		pos, free, serving int
		handle             time.Duration
		want               time.Duration
		ok                 bool
	}{
		{1, 0, 4, 4 * time.Minute, time.Minute, true},
		{3, 0, 4, 4 * time.Minute, 3 * time.Minute, true},
		{3, 1, 4, 4 * time.Minute, 2 * time.Minute, true},
		{2, 2, 4, 4 * time.Minute, 0, true},
		{3, 0, 0, 4 * time.Minute, 0, false},
		{3, 0, 4, 0, 0, false},
	}
	for _, c := range cases {
		got, ok := acd.EstimateWait(c.pos, c.free, c.serving, c.handle)
		assert.Equal(t, c.ok, ok, "%+v", c)
		assert.Equal(t, c.want, got, "%+v", c)
	}
}

// simResult is one estimator's error over the calls that waited.
type simResult struct{ ours, asterisk, n float64 }

// simulate runs a FIFO queue with Poisson arrivals and log-normal handle
// times, its staffing falling from agents to agents-cut halfway through,
// and compares, for every call that has to wait, the wait it is told on
// arrival with the wait it gets: our estimate (position, staffing, mean of
// the last 20 handle times) and Asterisk's (an exponentially weighted
// average of past waits, recalc_holdtime in app_queue.c: (3*old + new)/4).
func simulate(seed uint64, agents, cut int, arrivalsPerMin float64, handle time.Duration, calls int) simResult {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	exp := func(mean float64) float64 { return rng.ExpFloat64() * mean }
	// Handle times are log-normal with a coefficient of variation of 0.6,
	// as call-centre handle times typically are.
	const cv = 0.6
	sigma := math.Sqrt(math.Log(1 + cv*cv))
	mu := math.Log(handle.Seconds()) - sigma*sigma/2
	handleTime := func() float64 { return math.Exp(mu + sigma*rng.NormFloat64()) }
	meanGap := 60.0 / arrivalsPerMin
	busyUntil := make([]float64, agents) // 0: free
	serving := agents
	var queue []float64 // arrival times of waiting calls
	type told struct{ ours, asterisk float64 }
	var promised []told
	var recent []float64 // last 20 handle times
	ewma := 0.0          // Asterisk's holdtime
	var res simResult
	start := func(now float64, a int) {
		d := handleTime()
		busyUntil[a] = now + d
		recent = append(recent, d)
		if len(recent) > 20 {
			recent = recent[1:]
		}
	}
	answered := func(wait float64) { ewma = (3*ewma + wait) / 4 }
	now, next := 0.0, exp(meanGap)
	for arrived := 0; arrived < calls || len(queue) > 0; {
		// The earliest agent to finish, among those still serving.
		a, at := -1, math.Inf(1)
		for i := 0; i < serving; i++ {
			if busyUntil[i] > 0 && busyUntil[i] < at {
				a, at = i, busyUntil[i]
			}
		}
		if arrived < calls && next <= at {
			now = next
			next += exp(meanGap)
			arrived++
			if arrived == calls/2 {
				serving = agents - cut // agents pause, after their current call
			}
			free := -1
			for i := 0; i < serving; i++ {
				if busyUntil[i] == 0 {
					free = i
					break
				}
			}
			if free >= 0 && len(queue) == 0 {
				start(now, free)
				answered(0)
				continue
			}
			mean := 0.0
			for _, d := range recent {
				mean += d
			}
			mean /= float64(max(1, len(recent)))
			ours, _ := acd.EstimateWait(len(queue)+1, 0, serving, time.Duration(mean*float64(time.Second)))
			queue = append(queue, now)
			promised = append(promised, told{ours.Seconds(), ewma})
			continue
		}
		if a < 0 {
			break
		}
		now = at
		busyUntil[a] = 0
		if len(queue) == 0 {
			continue
		}
		wait := now - queue[0]
		p := promised[0]
		queue, promised = queue[1:], promised[1:]
		start(now, a)
		answered(wait)
		res.ours += math.Abs(p.ours - wait)
		res.asterisk += math.Abs(p.asterisk - wait)
		res.n++
	}
	return res
}

// On a simulated hotline (10 agents, then 8 when two pause; handle time
// 4 min on average; 1.9 calls a minute, so the agents are 76 % busy, then
// 95 %), our estimate is off by far less than Asterisk's, averaged over the
// calls that waited in 20 runs of 2,000 calls (measured: 52 s against 82 s).
func TestEstimateAgainstAsterisk(t *testing.T) {
	var total simResult
	for seed := range uint64(20) {
		r := simulate(seed+1, 10, 2, 1.9, 4*time.Minute, 2000)
		total.ours += r.ours
		total.asterisk += r.asterisk
		total.n += r.n
	}
	ours, ast := total.ours/total.n, total.asterisk/total.n
	t.Logf("mean absolute error over %.0f waiting calls: ours %.0f s, Asterisk's EWMA %.0f s", total.n, ours, ast)
	assert.Greater(t, total.n, 1000.0, "enough calls waited")
	assert.Less(t, ours, ast*0.8, "ours is off by less")
}

// Waiting gives a call's position among its queue's waiting calls, the
// staffing, and the estimate from the queue's recent handle times.
func TestWaiting(t *testing.T) {
	h := newHarness(t)
	h.online("a1", "sales")
	offer := func(id acd.CallID) {
		t.Helper()
		ch, err := h.acd.Enqueue(h.ctx, acd.Call{ID: id, Queue: "sales"})
		require.NoError(t, err)
		select {
		case o := <-ch:
			require.Equal(t, acd.AgentID("a1"), o.Agent)
		case <-time.After(waitFor):
			t.Fatalf("no offer for %s", id)
		}
		require.NoError(t, h.acd.Connect(h.ctx, id, "a1"))
	}
	for i := range 3 { // three calls of 60 s talk, 30 s wrap-up
		id := acd.CallID(fmt.Sprint("done-", i))
		offer(id)
		h.clock.Advance(time.Minute)
		require.NoError(t, h.acd.Complete(h.ctx, id, "sales", "a1", acd.HangupCaller))
		h.clock.Advance(sales.Wrapup)
		require.Eventually(t, func() bool { return h.agent("a1").State == acd.Available }, waitFor, time.Millisecond)
	}
	offer("talking")
	for _, id := range []acd.CallID{"c2", "c3", "c4"} {
		_, err := h.acd.Enqueue(h.ctx, acd.Call{ID: id, Queue: "sales"})
		require.NoError(t, err)
	}
	w, ok := h.acd.Waiting("c3")
	require.True(t, ok)
	assert.Equal(t, acd.WaitInfo{Position: 2, Serving: 1, Free: 0, Wait: 3 * time.Minute, HasWait: true}, w,
		"second in line, one agent, 90 s per call")
	_, ok = h.acd.Waiting("talking")
	assert.False(t, ok, "a connected call does not wait")
	require.NoError(t, h.acd.Abandon(h.ctx, "c2"))
	w, _ = h.acd.Waiting("c3")
	assert.Equal(t, 1, w.Position, "c3 moves up when c2 leaves")
}
