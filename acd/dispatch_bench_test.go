package acd_test

// Benchmarks of one routing decision at contact-center scale: 2,000 agents
// over 10 queues and 10,000 waiting calls. The floor to meet: p99 from an
// agent becoming available to the INVITE going out under 2 ms. The sip layer
// sends the INVITE as soon as the offer arrives on the call's channel, so
// BenchmarkDispatchLatency measures from the call that frees the agent
// (ACD.SetPause(ctx, id, "")) to the offer's arrival.
//
//	go test -run '^$' -bench 'DispatchLatency|RouteOneFree' -benchtime 200x ./acd/

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/redistest"
	"github.com/callwerk/callwerk/queues"
)

const (
	benchAgents  = 2000
	benchCalls   = 10000
	benchQueues  = 10
	benchNode    = "bench"
	benchBusy    = "busy" // the pause reason that keeps every agent from being offered calls
	benchWarmup  = 3      // untimed decisions before the timed ones: drain setup's wake-ups
	benchWait    = 10 * time.Second
	benchWorkers = 32 // concurrent store writes during setup
)

// benchBacklog is the fixture both benchmarks route: agent configurations
// (ID, Queues, Skills) and waiting calls. Every agent qualifies for some
// waiting call, so each decision assigns exactly one.
type benchBacklog struct {
	queues []acd.QueueConfig
	agents []acd.Agent
	calls  []acd.Call
}

// newBenchBacklog builds the fixture, the same for every seed-equal run.
// Calls waited up to ten minutes at now; skill-based queues widen after a
// minute, so the skill check sees both required and widened levels.
func newBenchBacklog(now time.Time) benchBacklog {
	rng := mrand.New(mrand.NewPCG(2000, 10000))
	qs := make([]acd.QueueConfig, benchQueues)
	for i := range qs {
		q := acd.QueueConfig{Name: fmt.Sprintf("q%02d", i), RingTimeout: 15 * time.Second, Weight: i % 3}
		switch {
		case i >= 8:
			q.Skills = map[string]int{"billing": 3}
		case i >= 5:
			q.Skills = map[string]int{"de": 2}
			q.Widen = []acd.SkillStep{{After: time.Minute, Skills: nil}}
		}
		switch i {
		case 3:
			q.Strategy = acd.RoundRobin
		case 4:
			q.Strategy = acd.FewestCalls
		}
		qs[i] = q
	}
	agents := make([]acd.Agent, benchAgents)
	for i := range agents {
		perm := rng.Perm(benchQueues)[:1+rng.IntN(3)] // 1-3 distinct queues
		a := acd.Agent{
			ID:     acd.AgentID(fmt.Sprintf("agent%04d", i)),
			Skills: map[string]int{"de": 1 + rng.IntN(5), "billing": 1 + rng.IntN(5)},
		}
		for _, qi := range perm {
			a.Queues = append(a.Queues, qs[qi].Name)
			for s, lvl := range qs[qi].Skills { // qualify for the queue's unwidened calls too
				a.Skills[s] = max(a.Skills[s], lvl)
			}
		}
		agents[i] = a
	}
	calls := make([]acd.Call, benchCalls)
	for i := range calls {
		c := acd.Call{
			ID:       acd.CallID(fmt.Sprintf("call%05d", i)),
			Queue:    qs[rng.IntN(benchQueues)].Name,
			Enqueued: now.Add(-time.Duration(rng.Int64N(int64(10 * time.Minute)))),
		}
		if rng.IntN(20) == 0 {
			c.Priority = 1
		}
		calls[i] = c
	}
	return benchBacklog{queues: qs, agents: agents, calls: calls}
}

// BenchmarkRouteOneFree is the routing decision alone: acd.Route over a
// snapshot of 2,000 agents, one of them available, and 10,000 waiting calls.
// Each iteration frees the next agent in turn.
func BenchmarkRouteOneFree(b *testing.B) {
	now := time.Now()
	bl := newBenchBacklog(now)
	agents := make([]acd.Agent, len(bl.agents))
	for i, a := range bl.agents {
		a.State, a.Pause, a.Online, a.Node = acd.Paused, benchBusy, true, benchNode
		a.Since, a.IdleSince = now.Add(-time.Hour), now.Add(-time.Hour+time.Duration(i)*time.Second)
		agents[i] = a
	}
	qs := make(map[string]acd.QueueConfig, len(bl.queues))
	for _, q := range bl.queues {
		qs[q.Name] = q
	}
	slices.SortFunc(bl.calls, func(x, y acd.Call) int { return x.Enqueued.Compare(y.Enqueued) }) // as stores return them
	r := acd.Routing{Queues: qs, Now: now, LastOffered: map[string]acd.AgentID{}, Intn: mrand.IntN}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ai := i % len(agents)
		agents[ai].State = acd.Available
		out := acd.Route(agents, bl.calls, r)
		agents[ai].State = acd.Paused
		if len(out) != 1 || out[0].Agent != agents[ai].ID {
			b.Fatalf("agent %s: got %+v, want one assignment to it", agents[ai].ID, out)
		}
		i++
	}
}

// BenchmarkDispatchLatency measures one routing decision on a running ACD:
// from SetPause(ctx, id, "") of a paused agent to the offer's arrival on the
// waiting call's channel.
//
// Every waiting call's channel has its own goroutine blocked on it, as the
// sip layer has one per call; it stamps time.Now() on receipt and only then
// forwards the offer to the benchmark, so the stamp includes the waiter's
// wake-up (as the INVITE would) and excludes the hand-off. A reflect.Select
// over 10,000 channels would instead cost an O(n) lock-and-scan per wait.
//
// Between iterations, with the timer stopped, the offer is withdrawn through
// the ACD as a member hanging up would, except that the call stays: the
// agent is paused for after the offer (SetPause) and the offer ends
// (OfferFailed, Withdrawn), which puts the call back in line and the agent
// back to paused. The routing pass that this wakes finds no free agent.
// The ACD routes from its node-local view, so a decision reads nothing
// from the store: its cost is the reservation (redis-rt/op).
func BenchmarkDispatchLatency(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		benchDispatch(b, queues.NewMemory(), nil)
	})
	b.Run("redis", func(b *testing.B) {
		rt := &redistest.RoundTrips{}
		c := redistest.Client(b, benchWorkers+8, rt) // setup's workers plus the dispatcher
		benchDispatch(b, queues.NewRedis(c, redistest.Prefix(b, c)), rt)
	})
}

// benchOffer is an offer as the waiting call's goroutine received it.
type benchOffer struct {
	call  acd.CallID
	agent acd.AgentID
	at    time.Time
}

func benchDispatch(b *testing.B, store acd.Store, rt *redistest.RoundTrips) {
	ctx, cancel := context.WithCancel(context.Background())
	bl := newBenchBacklog(time.Now())
	a := acd.New(store, bl.queues, acd.SystemClock{}, nil, zerolog.Nop(), acd.WithNode(benchNode))
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	done := make(chan struct{}) // ends the waiting calls' goroutines
	b.Cleanup(func() {
		close(done)
		cancel()
		if err := <-ran; err != nil {
			b.Errorf("run: %v", err)
		}
	})

	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(benchWorkers)
	for _, ag := range bl.agents {
		g.Go(func() error {
			if err := store.PutAgent(gctx, ag); err != nil {
				return err
			}
			if err := a.SetPresence(gctx, ag.ID, acd.Registered); err != nil {
				return err
			}
			return a.SetPause(gctx, ag.ID, benchBusy)
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("set up agents: %v", err)
	}
	agentsTook := time.Since(start)

	start = time.Now()
	offers := make(chan benchOffer, 16)
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(benchWorkers)
	for _, c := range bl.calls {
		g.Go(func() error {
			ch, err := a.Enqueue(gctx, c)
			if err != nil {
				return err
			}
			go func() {
				for {
					select {
					case o := <-ch:
						at := time.Now()
						offers <- benchOffer{call: c.ID, agent: o.Agent, at: at}
					case <-done:
						return
					}
				}
			}()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("enqueue calls: %v", err)
	}
	b.Logf("setup: %d agents in %v, %d calls in %v", len(bl.agents), agentsTook.Round(time.Millisecond),
		len(bl.calls), time.Since(start).Round(time.Millisecond))

	timeout := time.NewTimer(benchWait)
	defer timeout.Stop()
	// decide frees agent id and waits for its offer; the caller withdraws it.
	decide := func(id acd.AgentID) (benchOffer, time.Duration) {
		timeout.Reset(benchWait)
		t0 := time.Now()
		if err := a.SetPause(ctx, id, ""); err != nil {
			b.Fatalf("unpause %s: %v", id, err)
		}
		select {
		case o := <-offers:
			return o, o.at.Sub(t0)
		case <-timeout.C:
			b.Fatalf("no offer within %v of unpausing %s", benchWait, id)
			return benchOffer{}, 0
		}
	}
	withdraw := func(o benchOffer, id acd.AgentID) {
		if o.agent != id {
			b.Fatalf("offer of %s went to %s, want %s", o.call, o.agent, id)
		}
		if err := a.SetPause(ctx, id, benchBusy); err != nil {
			b.Fatalf("pause %s after its offer: %v", id, err)
		}
		if err := a.OfferFailed(ctx, o.call, id, acd.Withdrawn); err != nil {
			b.Fatalf("withdraw offer of %s: %v", o.call, err)
		}
	}
	for i := range benchWarmup {
		id := bl.agents[len(bl.agents)-1-i].ID
		o, _ := decide(id)
		withdraw(o, id)
	}

	var lats []time.Duration
	var trips int64
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := bl.agents[i%len(bl.agents)].ID
		var rt0 int64
		if rt != nil {
			rt0 = rt.N.Load()
		}
		o, lat := decide(id)
		b.StopTimer()
		if rt != nil {
			trips += rt.N.Load() - rt0
		}
		lats = append(lats, lat)
		withdraw(o, id)
		i++
		b.StartTimer()
	}

	slices.Sort(lats)
	pct := func(p int) float64 { return float64(lats[(len(lats)*p+99)/100-1].Nanoseconds()) }
	b.ReportMetric(pct(50), "p50-ns")
	b.ReportMetric(pct(99), "p99-ns")
	b.ReportMetric(pct(100), "max-ns")
	if rt != nil {
		b.ReportMetric(float64(trips)/float64(b.N), "redis-rt/op")
	}
}
