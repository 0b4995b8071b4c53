package acd

import (
	"cmp"
	"slices"
	"time"
)

// Strategy orders the eligible agents of a queue for a call.
type Strategy string

// Strategies (queues[].strategy). In every strategy, agents already offered
// this call come last, least recently offered first.
const (
	LongestIdle   Strategy = "longest-idle"    // idle longest across all queues first (default)
	RoundRobin    Strategy = "round-robin"     // the next agent after the one last offered a call of this queue, by ID
	FewestCalls   Strategy = "fewest-calls"    // fewest calls answered since the node started, then longest idle
	LeastTalkTime Strategy = "least-talk-time" // least talk time since the node started, then longest idle
	Linear        Strategy = "linear"          // the queue's agent order (config order), first free one
	Random        Strategy = "random"          // uniformly at random
	// RingAll rings every eligible free agent at once; the first to answer
	// takes the call, the others' phones stop ringing.
	RingAll Strategy = "ring-all"
	// RingProgressively rings the longest idle eligible agent, then adds
	// the next one every QueueConfig.RingStep while the earlier ones keep
	// ringing, until one answers or the ring timeout ends.
	RingProgressively Strategy = "ring-progressively"
)

// Strategies lists the supported strategies.
var Strategies = []Strategy{LongestIdle, RoundRobin, FewestCalls, LeastTalkTime, Linear, Random, RingAll, RingProgressively}

// Rings reports whether the strategy offers a call to several agents at once.
func (s Strategy) Rings() bool { return s == RingAll || s == RingProgressively }

// SkillStep widens a queue's skill requirement once a call has waited After.
type SkillStep struct {
	After  time.Duration
	Skills map[string]int // skill -> minimum level from then on; a skill not named is no longer required
}

// Routing is what Route needs besides agents and calls.
type Routing struct {
	Queues map[string]QueueConfig // unknown queues route longest-idle without skills
	Now    time.Time              // for skill widening by wait time
	// LastOffered is round-robin's memory: the agent last offered a call of
	// each queue.
	LastOffered map[string]AgentID
	// Intn returns a random number in [0,n) for the random strategy; nil
	// picks the first candidate (deterministic tests).
	Intn func(n int) int
	// Live reports whether a call's node is alive; nil: all are. Calls of
	// a dead node wait for another node to take them out.
	Live func(node string) bool
}

// Route decides which waiting calls are offered to which agents now.
//
// Calls are served highest priority first, then longest waiting (across all
// queues, so an agent serving several queues takes the call that waited
// longest), then by queue weight. Each call goes to the agent its queue's
// strategy prefers among the eligible ones: available, serving the queue,
// with the queue's skills at the levels required after the call's wait so
// far. Calls already being offered, or held back until their NotBefore, are
// skipped. Route does not modify its arguments.
func Route(agents []Agent, calls []Call, r Routing) []Assignment {
	free := make([]*Agent, 0, len(agents))
	for i := range agents {
		if agents[i].State == Available {
			free = append(free, &agents[i])
		}
	}
	order := make([]*Call, 0, len(calls))
	for i := range calls {
		if calls[i].Agent == "" {
			order = append(order, &calls[i])
		}
	}
	// Stable: stores return calls by age, so this is nearly sorted already.
	slices.SortStableFunc(order, func(a, b *Call) int { return compareCalls(a, b, r.Queues) })
	return route(free, order, r)
}

// compareCalls is the routing order of calls: higher priority, then older,
// then the heavier queue, then by ID (a total order).
func compareCalls(a, b *Call, qs map[string]QueueConfig) int {
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	if c := a.Enqueued.Compare(b.Enqueued); c != 0 {
		return c
	}
	if c := cmp.Compare(qs[b.Queue].Weight, qs[a.Queue].Weight); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// route is Route over the available agents (free) and the calls in routing
// order; calls being offered, of a node r.Live says is dead, or held back
// until later (NotBefore), are skipped.
func route(free []*Agent, order []*Call, r Routing) []Assignment {
	var out []Assignment
	if len(free) == 0 {
		return out
	}
	taken := make([]bool, len(free))
	var cands, scratch []int
	for _, c := range order {
		if len(out) == len(free) {
			break // every free agent has a call
		}
		if c.Agent != "" || r.Live != nil && !r.Live(c.Node) || c.NotBefore.After(r.Now) {
			continue
		}
		q := r.Queues[c.Queue]
		need := q.SkillsAt(r.Now.Sub(c.Enqueued))
		cands = cands[:0]
		for ai, a := range free {
			if !taken[ai] && eligible(a, c, need, r.Now) {
				cands = append(cands, ai)
			}
		}
		if len(cands) == 0 {
			continue
		}
		var best int
		best, scratch = pick(free, cands, scratch[:0], c, q, r)
		taken[best] = true
		out = append(out, Assignment{Call: c.ID, Agent: free[best].ID})
	}
	return out
}

// eligible reports whether free agent a may be offered call c, whose queue
// requires skills need now.
func eligible(a *Agent, c *Call, need map[string]int, now time.Time) bool {
	return !now.Before(a.RestUntil) && a.Serves(c.Queue) && hasSkills(a, need)
}

// SkillsAt returns the skill levels the queue requires of an agent for a
// call that has waited w.
func (q QueueConfig) SkillsAt(w time.Duration) map[string]int {
	need := q.Skills
	for _, s := range q.Widen {
		if w >= s.After {
			need = s.Skills
		}
	}
	return need
}

func hasSkills(a *Agent, need map[string]int) bool {
	for s, lvl := range need {
		if a.Skills[s] < lvl {
			return false
		}
	}
	return true
}

// pick chooses among candidate agent indexes for call c of queue q. untried
// is scratch space, returned for reuse.
func pick(agents []*Agent, cands, untried []int, c *Call, q QueueConfig, r Routing) (int, []int) {
	// Agents not yet offered this call first; among the others, the least
	// recently offered.
	bestTry, bestTried := -1, -1
	for _, ai := range cands {
		t := slices.Index(c.Tried, agents[ai].ID)
		if t < 0 {
			untried = append(untried, ai)
		} else if bestTried < 0 || t < bestTry {
			bestTry, bestTried = t, ai
		}
	}
	if len(untried) == 0 {
		return bestTried, untried
	}
	if q.Strategy == Random {
		if r.Intn == nil {
			return untried[0], untried
		}
		return untried[r.Intn(len(untried))], untried
	}
	best := untried[0]
	for _, ai := range untried[1:] {
		if prefer(agents[ai], agents[best], q, r.LastOffered[q.Name]) {
			best = ai
		}
	}
	return best, untried
}

// prefer reports whether queue q's strategy offers a call to a before b.
func prefer(a, b *Agent, q QueueConfig, last AgentID) bool {
	switch q.Strategy {
	case RoundRobin:
		// Cyclic order by ID starting after the last agent offered.
		ak, bk := a.ID > last, b.ID > last
		if ak != bk {
			return ak
		}
		return a.ID < b.ID
	case Linear:
		ai, aok := q.Order[a.ID]
		bi, bok := q.Order[b.ID]
		if aok != bok {
			return aok
		}
		if ai != bi {
			return ai < bi
		}
		return a.ID < b.ID
	case FewestCalls:
		if a.Answered != b.Answered {
			return a.Answered < b.Answered
		}
	case LeastTalkTime:
		if a.TalkTime != b.TalkTime {
			return a.TalkTime < b.TalkTime
		}
	}
	if !a.IdleSince.Equal(b.IdleSince) {
		return a.IdleSince.Before(b.IdleSince)
	}
	return a.ID < b.ID // deterministic tie-break
}
