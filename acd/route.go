package acd

import (
	"cmp"
	"slices"
	"time"
)

// Route decides which waiting calls are offered to which agents now.
//
// Calls are served highest priority first, then oldest first. Each call goes
// to the eligible agent (available, serving the call's queue) who has been
// idle longest. Agents this call was already offered to come last, least
// recently offered first, so a call whose agents all missed it starts a new
// round instead of waiting for ever. Calls already being offered are skipped.
// Route does not modify its arguments.
func Route(agents []Agent, calls []Call) []Assignment {
	order := make([]int, 0, len(calls))
	for i := range calls {
		if calls[i].Agent == "" {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(x, y int) int {
		a, b := &calls[x], &calls[y]
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return a.Enqueued.Compare(b.Enqueued)
	})

	taken := make([]bool, len(agents))
	free := 0
	for i := range agents {
		if agents[i].State == Available {
			free++
		}
	}
	var out []Assignment
	for _, ci := range order {
		if len(out) == free {
			break // every free agent has a call
		}
		c := &calls[ci]
		best := -1
		bestTry := -1 // index in c.Tried of best, -1 if untried
		for ai := range agents {
			a := &agents[ai]
			if taken[ai] || a.State != Available || !a.Serves(c.Queue) {
				continue
			}
			try := slices.Index(c.Tried, a.ID)
			if best < 0 || better(a, try, &agents[best], bestTry) {
				best, bestTry = ai, try
			}
		}
		if best >= 0 {
			taken[best] = true
			out = append(out, Assignment{Call: c.ID, Agent: agents[best].ID})
		}
	}
	return out
}

// better reports whether agent a (tried at index ta, -1 = untried) should be
// offered the call before agent b (tried at tb).
func better(a *Agent, ta int, b *Agent, tb int) bool {
	switch {
	case ta < 0 && tb >= 0:
		return true
	case ta >= 0 && tb < 0:
		return false
	case ta >= 0 && tb >= 0:
		return ta < tb
	}
	if !a.IdleSince.Equal(b.IdleSince) {
		return a.IdleSince.Before(b.IdleSince)
	}
	return a.ID < b.ID // deterministic tie-break
}

// The transitions below are the one place that says which state changes are
// legal. Stores apply them under their own atomicity (a mutex, a Redis
// transaction), so every store enforces identical rules.

// Reserve offers call c to agent a: the agent must be available and the call
// not offered to anyone.
func Reserve(a *Agent, c *Call, now time.Time) error {
	if a.State != Available || c.Agent != "" {
		return ErrConflict
	}
	a.State, a.Since, a.Call = Reserved, now, c.ID
	c.Agent = a.ID
	return nil
}

// Unreserve undoes a reservation that did not lead to a conversation (no
// answer, declined, or the member hung up while the agent's phone rang). The
// agent keeps their place in the idle order. If tried, the agent is recorded
// as tried for this call.
func Unreserve(a *Agent, c *Call, tried bool, now time.Time) {
	if a != nil && a.State == Reserved && (c == nil || a.Call == c.ID) {
		a.State, a.Since, a.Call = Available, now, ""
		if !a.Online {
			a.State = LoggedOut
		}
	}
	if c != nil && (a == nil || c.Agent == a.ID) {
		c.Agent = ""
		if tried && a != nil {
			c.Tried = append(slices.DeleteFunc(c.Tried, func(id AgentID) bool { return id == a.ID }), a.ID)
		}
	}
}

// Connect marks the agent as talking on call id.
func Connect(a *Agent, id CallID, now time.Time) error {
	if a.State != Reserved || a.Call != id {
		return ErrConflict
	}
	a.State, a.Since = OnCall, now
	return nil
}

// StartWrapUp ends the agent's call id and starts wrap-up.
func StartWrapUp(a *Agent, id CallID, now time.Time) error {
	if a.State != OnCall || a.Call != id {
		return ErrConflict
	}
	a.State, a.Since = WrapUp, now
	return nil
}

// EndWrapUp makes an agent in wrap-up after call id available again, or
// logged out if their devices went away meanwhile. The call id guards against
// a late timer ending a later wrap-up.
func EndWrapUp(a *Agent, id CallID, now time.Time) error {
	if a.State != WrapUp || a.Call != id {
		return ErrConflict
	}
	a.State, a.Since, a.IdleSince, a.Call = Available, now, now, ""
	if !a.Online {
		a.State = LoggedOut
	}
	return nil
}

// SetOnline applies a change of registration: an agent with a reachable
// device who was logged out becomes available; one who lost all devices is
// logged out unless a call is in progress (that call ends on its own).
func SetOnline(a *Agent, online bool, now time.Time) (changed bool) {
	a.Online = online
	switch {
	case online && a.State == LoggedOut:
		a.State, a.Since, a.IdleSince = Available, now, now
		return true
	case !online && a.State == Available:
		a.State, a.Since = LoggedOut, now
		return true
	}
	return false
}
