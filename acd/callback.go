package acd

import (
	"context"
	"fmt"
	"time"
)

// Callbacks (virtual hold). A member who asks to be called back hangs up,
// and the call keeps its place in the queue, marked Callback. When an agent
// takes it (the offer as for any call), the node that holds the call rings
// the agent first and then calls the member; only when the member answers
// is the call connected. A member who does not answer is tried again later
// (RetryCallback), and after the last attempt the callback is given up
// (GiveUpCallback). Events: call.callback when the member asks,
// call.callbackretry after a failed attempt, call.callbackfailed when given
// up; an answered callback ends as any call does (call.connected, then
// call.completed).

// Callback marks waiting call as a callback: its member has hung up and is
// to be called back when the call's turn comes.
func (a *ACD) Callback(ctx context.Context, call CallID) error {
	now := a.clock.Now()
	return a.orLater(ctx, "call.callback", func(ctx context.Context) error {
		c, _, err := a.updateCallAgent(ctx, call, "", func(c *Call, _ *Agent) error {
			c.Callback = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("callback %s: %w", call, err)
		}
		a.events.Emit(Event{Time: now, Type: "call.callback", Queue: c.Queue, Call: call})
		return nil
	})
}

// RetryCallback records a callback attempt whose member did not answer:
// agent, who took the offer, is free again without fault, and the call
// keeps its place but is offered to nobody before at.
func (a *ACD) RetryCallback(ctx context.Context, call CallID, agent AgentID, at time.Time) error {
	now, fence := a.clock.Now(), a.fence(call)
	return a.orLater(ctx, "call.callbackretry", func(ctx context.Context) error {
		c, ag, err := a.updateCallAgent(ctx, call, agent, func(c *Call, g *Agent) error {
			if offerHeld(c, g) && c.Fence == fence {
				Unreserve(g, c, Withdrawn, a.queues[c.Queue], now)
			}
			c.NotBefore = at
			return nil
		})
		if err != nil {
			return fmt.Errorf("callback %s: retry: %w", call, err)
		}
		if c.Agent == "" {
			a.mu.Lock()
			delete(a.fences, call)
			a.mu.Unlock()
		}
		a.events.Emit(Event{Time: now, Type: "call.callbackretry", Queue: c.Queue, Call: call})
		a.emitAgent(&ag, now)
		a.poke()
		return nil
	})
}

// GiveUpCallback takes a callback out of its queue after its last attempt
// (event call.callbackfailed); the agent of a current offer is free again.
func (a *ACD) GiveUpCallback(ctx context.Context, call CallID) error {
	return a.leaveUnanswered(ctx, call, "call.callbackfailed")
}
