package acd

import (
	"slices"
	"time"
)

// The transitions in this file are the one place that says which agent
// state changes are legal. Stores apply them under their own atomicity (a
// mutex, a Redis transaction), so every store enforces identical rules.
//
//	logged-out --register--> available (or paused, if a pause was set)
//	available <--pause/unpause--> paused
//	available --Reserve--> reserved --Connect--> on-call --StartWrapUp--> wrap-up --EndWrapUp--> free
//	available --TakeOver--> on-call (a colleague's call, handed over)
//	reserved --Unreserve--> free (no answer: a miss, auto-pause after max_misses; rejected: a back-off)
//	available/paused --registration expired--> unreachable --register--> free
//	any idle state --unregister--> logged-out
//
// "free" is settle: unreachable or logged-out if the devices went away
// meanwhile, paused if a pause was asked for during the call, else available.

// settle makes an agent whose call (or offer) is over free again.
func settle(a *Agent, now time.Time) {
	a.Call, a.CallNode, a.Fence, a.Since = "", "", 0, now
	switch {
	case !a.Online && a.Lost:
		a.State = Unreachable
	case !a.Online:
		a.State, a.Pause = LoggedOut, ""
	case a.Pause != "":
		a.State = Paused
	default:
		a.State = Available
	}
}

// Reserve offers call c to agent a: the agent must be available and not
// resting after a declined offer, and the call not offered to anyone.
func Reserve(a *Agent, c *Call, now time.Time) error {
	if a.State != Available || now.Before(a.RestUntil) || c.Agent != "" {
		return ErrConflict
	}
	c.Fence++
	a.State, a.Since, a.Call = Reserved, now, c.ID
	a.CallNode, a.Fence = c.Node, c.Fence
	c.Agent, c.Ringing = a.ID, []AgentID{a.ID}
	return nil
}

// ReserveMore adds agent a to the agents call c is offered to (ring-all,
// ring-progressively), under the same fence: the call must be offered
// already.
func ReserveMore(a *Agent, c *Call, now time.Time) error {
	if a.State != Available || now.Before(a.RestUntil) || c.Agent == "" || slices.Contains(c.Ringing, a.ID) {
		return ErrConflict
	}
	a.State, a.Since, a.Call = Reserved, now, c.ID
	a.CallNode, a.Fence = c.Node, c.Fence
	c.Ringing = append(c.Ringing, a.ID)
	return nil
}

// Unreserve ends an offer that did not lead to a conversation. The agent
// keeps their place in the idle order. NoAnswer counts a miss, and the
// queue's MaxMisses misses in a row pause the agent (AutoPauseReason);
// Rejected makes the agent rest for the queue's RejectBackoff. Both record
// the agent as tried for the call, so it goes to others first.
func Unreserve(a *Agent, c *Call, o Outcome, q QueueConfig, now time.Time) {
	if a != nil && a.State == Reserved && (c == nil || a.Call == c.ID) {
		switch o {
		case NoAnswer:
			a.Misses++
			if q.MaxMisses > 0 && a.Misses >= q.MaxMisses && a.Pause == "" {
				a.Pause, a.Misses = AutoPauseReason, 0
			}
		case Rejected:
			a.RestUntil = now.Add(q.RejectBackoff)
		}
		settle(a, now)
	}
	switch {
	case c == nil:
	case a == nil: // the agent is gone: the whole offer ends
		c.Agent, c.Ringing = "", nil
	case slices.Contains(c.Ringing, a.ID) || c.Agent == a.ID:
		c.Ringing = slices.DeleteFunc(c.Ringing, func(id AgentID) bool { return id == a.ID })
		if len(c.Ringing) == 0 {
			c.Ringing = nil // a waiting call has no offer list, not an empty one
		}
		if c.Agent == a.ID {
			c.Agent = ""
			if len(c.Ringing) > 0 {
				c.Agent = c.Ringing[0]
			}
		}
		if o != Withdrawn {
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
	a.Answered++
	a.Misses = 0
	return nil
}

// TakeOver gives agent a the connected call id under fence, handed over
// by a colleague (attended transfer): the agent must be available, as for
// an offer, and is on the call at once.
func TakeOver(a *Agent, id CallID, node string, fence uint64, now time.Time) error {
	if a.State != Available || a.Call != "" {
		return ErrConflict
	}
	a.State, a.Since, a.Call = OnCall, now, id
	a.CallNode, a.Fence = node, fence
	a.Answered++
	a.Misses = 0
	return nil
}

// StartWrapUp ends the agent's call id and starts wrap-up.
func StartWrapUp(a *Agent, id CallID, now time.Time) error {
	if a.State != OnCall || a.Call != id {
		return ErrConflict
	}
	a.TalkTime += now.Sub(a.Since)
	a.State, a.Since = WrapUp, now
	return nil
}

// EndWrapUp ends the wrap-up after call id (its timer ran out, or the agent
// ended it early). The call id guards against a late timer ending a later
// wrap-up.
func EndWrapUp(a *Agent, id CallID, now time.Time) error {
	if a.State != WrapUp || a.Call != id {
		return ErrConflict
	}
	a.IdleSince = now
	settle(a, now)
	return nil
}

// SetPause pauses the agent for reason, or unpauses them if reason is "".
// During an offer, a call or wrap-up the pause applies when it ends (the
// "next state after this call"); an unreachable agent returns paused. A
// logged-out agent cannot be paused.
func SetPause(a *Agent, reason string, now time.Time) error {
	if a.State == LoggedOut {
		return ErrConflict
	}
	a.Pause = reason
	switch {
	case reason != "" && a.State == Available:
		a.State, a.Since = Paused, now
	case reason == "" && a.State == Paused:
		a.State, a.Since, a.Misses = Available, now, 0
	}
	return nil
}

// SetPresence applies what the registrar of node reports. It returns
// whether the state changed; during a call only the presence is recorded,
// and settle applies it when the call ends.
func SetPresence(a *Agent, p Presence, node string, now time.Time) (changed bool) {
	old := a.State
	switch p {
	case Registered:
		a.Online, a.Lost, a.Node = true, false, node
		switch a.State {
		case LoggedOut:
			a.IdleSince = now
			settle(a, now)
		case Unreachable:
			settle(a, now)
		}
	case Unregistered:
		a.Online, a.Lost = false, false
		if a.State == Available || a.State == Paused || a.State == Unreachable {
			settle(a, now)
		}
	case Lost:
		a.Online, a.Lost = false, true
		if a.State == Available || a.State == Paused {
			settle(a, now)
		}
	}
	return a.State != old
}

// Release frees an agent whose offer, call or wrap-up belonged to a node
// that died: no one else will end it. It reports whether anything changed.
func Release(a *Agent, now time.Time) bool {
	switch a.State {
	case Reserved:
	case OnCall, WrapUp:
		a.IdleSince = now
	default:
		return false
	}
	settle(a, now)
	return true
}

// Recover applies a restart of the node that held the agent's devices: its
// registrations and calls are gone, so the agent is unreachable until a
// device registers again (keeping a pause). It reports whether anything
// changed.
func Recover(a *Agent, now time.Time) bool {
	if !a.Online && a.State != Reserved && a.State != OnCall && a.State != WrapUp {
		return false
	}
	a.Online, a.Lost = false, true
	settle(a, now)
	return true
}
