package acd

import (
	"sync"
	"time"
)

// Estimated wait time (EWT). A member at position p of a queue (p-1
// waiting calls are ahead, in routing order), with n agents serving the
// queue now (logged in and not paused: free, ringing, talking or wrapping
// up), f of them free, and a mean handle time h (talk plus wrap-up) over
// the queue's recent calls, waits about
//
//	EWT = max(0, p - f) * h / n
//
// Each of the n agents finishes a call every h on average, so calls leave
// the busy agents at n/h per unit of time, and the member needs p - f of
// them. It reacts at once to a change of staffing (an agent pausing, more
// agents logging in), unlike Asterisk's estimate, an exponentially
// weighted average of past waits (holdtime = (3*holdtime + wait)/4) less
// the time this member has waited, which knows neither the member's
// position nor the staffing. TestEstimateAgainstAsterisk compares both on a
// simulated queue. Without agents (n = 0) or handle times there is no
// estimate.
func EstimateWait(position, free, serving int, handle time.Duration) (time.Duration, bool) {
	if serving <= 0 || handle <= 0 || position <= 0 {
		return 0, false
	}
	ahead := position - free
	if ahead <= 0 {
		return 0, true
	}
	return time.Duration(ahead) * handle / time.Duration(serving), true
}

// handleSamples is how many recent calls a queue's mean handle time is
// taken over.
const handleSamples = 20

// minHandleSamples is how many calls a queue needs before its wait is
// estimated.
const minHandleSamples = 3

// handleTimes keeps the recent handle times per queue.
type handleTimes struct {
	mu sync.Mutex
	q  map[string]*ring
}

type ring struct {
	v    [handleSamples]time.Duration
	n, i int
}

func (h *handleTimes) add(queue string, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.q == nil {
		h.q = make(map[string]*ring)
	}
	r := h.q[queue]
	if r == nil {
		r = &ring{}
		h.q[queue] = r
	}
	r.v[r.i] = d
	r.i = (r.i + 1) % handleSamples
	r.n = min(r.n+1, handleSamples)
}

// mean is the queue's mean handle time, false with too few calls.
func (h *handleTimes) mean(queue string) (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.q[queue]
	if r == nil || r.n < minHandleSamples {
		return 0, false
	}
	var sum time.Duration
	for _, d := range r.v[:r.n] {
		sum += d
	}
	return sum / time.Duration(r.n), true
}

// WaitInfo is where a waiting call stands, for the announcements a member
// hears.
type WaitInfo struct {
	Position int           // 1 = next to be offered in its queue
	Serving  int           // agents serving the queue now (logged in, not paused)
	Free     int           // of them available
	Wait     time.Duration // estimated wait (EstimateWait); valid if HasWait
	HasWait  bool
}

// Waiting reports where call stands in its queue, from the node's view:
// its position among the queue's calls not yet offered, in routing order
// (priority first, then time waited), the queue's staffing and the
// estimated wait. It is false for a call not waiting (unknown, or being
// offered).
func (a *ACD) Waiting(call CallID) (WaitInfo, bool) {
	a.view.mu.Lock()
	c := a.view.calls[call]
	if c == nil || c.Agent != "" {
		a.view.mu.Unlock()
		return WaitInfo{}, false
	}
	queue := c.Queue
	var w WaitInfo
	for _, o := range a.view.order {
		if o.Queue == queue && o.Agent == "" {
			w.Position++
		}
		if o.ID == call {
			break
		}
	}
	for _, ag := range a.view.agents {
		if loggedIn(ag, queue) && ag.State != Paused {
			w.Serving++
			if ag.State == Available {
				w.Free++
			}
		}
	}
	a.view.mu.Unlock()
	if h, ok := a.handles.mean(queue); ok {
		w.Wait, w.HasWait = EstimateWait(w.Position, w.Free, w.Serving, h)
	}
	return w, true
}
