package acd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/acd/acdtest"
	"github.com/callwerk/callwerk/queues"
)

// kpiT0 is the start of the synthetic event streams; seconds after it are
// written kpiAt(s).
var kpiT0 = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

func kpiAt(s float64) time.Time {
	return kpiT0.Add(time.Duration(math.Round(s*1000)) * time.Millisecond)
}

func enq(s float64, q string, c acd.CallID) acd.Event {
	return acd.Event{Time: kpiAt(s), Type: "call.enqueued", Queue: q, Call: c}
}

func offered(s float64, q string, c acd.CallID, a acd.AgentID) acd.Event {
	return acd.Event{Time: kpiAt(s), Type: "call.offered", Queue: q, Call: c, Agent: a}
}

func connected(s float64, q string, c acd.CallID, a acd.AgentID) acd.Event {
	return acd.Event{Time: kpiAt(s), Type: "call.connected", Queue: q, Call: c, Agent: a}
}

func completed(s float64, q string, c acd.CallID, a acd.AgentID) acd.Event {
	return acd.Event{Time: kpiAt(s), Type: "call.completed", Queue: q, Call: c, Agent: a}
}

func abandoned(s float64, q string, c acd.CallID) acd.Event {
	return acd.Event{Time: kpiAt(s), Type: "call.abandoned", Queue: q, Call: c}
}

func agentState(s float64, a acd.AgentID, st acd.State) acd.Event {
	return acd.Event{Time: kpiAt(s), Type: "agent.state", Agent: a, State: st.String()}
}

// kpiStream is a morning in two queues. In "claims", seen at 60 s:
//
//	c1 waits 10 s, answered            (within the 20 s target)
//	c2 waits 25 s, answered            (outside)
//	c7 waits exactly 20 s, answered    (within: at most the target)
//	c3 abandons after 3 s              (short)
//	c4 abandons after 30 s             (a no-answer on the way)
//	c5, c6 still waiting: 20 s and 10 s
//
// "pensions" has one call answered after 4 s and must not mix with claims.
var kpiStream = []acd.Event{
	agentState(0, "anna", acd.Available),
	agentState(0, "ben", acd.Available),
	enq(0, "claims", "c1"),
	enq(0, "claims", "c2"),
	offered(1, "claims", "c1", "anna"),
	agentState(1, "anna", acd.Reserved),
	enq(2, "claims", "c7"),
	enq(5, "claims", "c3"),
	enq(5, "claims", "c4"),
	abandoned(8, "claims", "c3"),
	connected(10, "claims", "c1", "anna"),
	agentState(10, "anna", acd.OnCall),
	offered(11, "claims", "c7", "ben"),
	{Time: kpiAt(16), Type: "call.noanswer", Queue: "claims", Call: "c7", Agent: "ben"},
	offered(17, "claims", "c7", "ben"),
	connected(22, "claims", "c7", "ben"),
	agentState(22, "ben", acd.OnCall),
	connected(25, "claims", "c2", "anna"), // the stream need not be a consistent ACD: figures are per event
	abandoned(35, "claims", "c4"),
	enq(40, "claims", "c5"),
	enq(50, "claims", "c6"),
	completed(45, "claims", "c1", "anna"),
	agentState(45, "anna", acd.WrapUp),
	enq(12, "pensions", "p1"),
	connected(16, "pensions", "p1", "carl"),
	agentState(30, "dora", acd.Available),
	agentState(31, "dora", acd.LoggedOut),
}

var kpiAgentQueues = map[acd.AgentID][]string{
	"anna": {"claims"},
	"ben":  {"claims", "pensions"},
	"carl": {"pensions"},
	"dora": {"pensions"},
	"emil": {"claims"}, // never seen: logged out
}

// claimsAt60 is claims' figures at 60 s, the service level aside.
var claimsAt60 = acd.QueueKPI{
	Waiting:        2,
	LongestWait:    20 * time.Second,
	Offered:        7,
	Answered:       3,
	Abandoned:      2,
	ShortAbandoned: 1,
	AnsweredInSL:   2,
	ASA:            55 * time.Second / 3,
	AgentsByState:  map[string]int{"wrap-up": 1, "on-call": 1, "logged-out": 1},
}

func newTracker(t *testing.T, cfg acd.KPIConfig, events ...acd.Event) *acd.KPITracker {
	t.Helper()
	k, err := acd.NewKPITracker(cfg)
	require.NoError(t, err)
	k.SetAgentQueues(kpiAgentQueues)
	for _, ev := range events {
		k.Observe(ev)
	}
	return k
}

func TestKPIFigures(t *testing.T) {
	cases := []struct {
		formula acd.SLFormula
		calls   int     // denominator
		sl      float64 // answered within 20 s: c1, c7
	}{
		{acd.SLAnswered, 3, 2.0 / 3},       // 2 / answered 3
		{acd.SLOffered, 5, 2.0 / 5},        // 2 / (3 answered + 2 abandoned)
		{acd.SLExcludingShort, 4, 2.0 / 4}, // 2 / (3 + 2 - 1 short)
	}
	for _, tc := range cases {
		t.Run(string(tc.formula), func(t *testing.T) {
			cfg := acd.DefaultKPIConfig(nil)
			cfg.Formula = tc.formula
			k := newTracker(t, cfg, kpiStream...)
			got := k.Snapshot(kpiAt(60))

			want := claimsAt60
			want.SLCalls, want.ServiceLevel = tc.calls, tc.sl
			assert.Equal(t, want, got["claims"], "claims")

			pensions := acd.QueueKPI{
				Offered: 1, Answered: 1, AnsweredInSL: 1, ASA: 4 * time.Second,
				SLCalls: 1, ServiceLevel: 1,
				AgentsByState: map[string]int{"on-call": 1, "logged-out": 2}, // ben; carl (never seen) and dora
			}
			assert.Equal(t, pensions, got["pensions"], "pensions")
			assert.Len(t, got, 2)
		})
	}
}

func TestKPIDefaults(t *testing.T) {
	cfg := acd.DefaultKPIConfig(nil)
	assert.Equal(t, 20*time.Second, cfg.Target)
	assert.Equal(t, 5*time.Second, cfg.ShortAbandon)
	assert.Equal(t, acd.SLExcludingShort, cfg.Formula)
	require.NoError(t, cfg.Validate())
}

func TestKPIThresholds(t *testing.T) {
	// One queue: answered after 19.999 s, 20 s and 20.001 s; abandoned after
	// 2.999 s, 3 s, 3.001 s and 30 s.
	stream := []acd.Event{
		enq(0, "q", "a1"), connected(19.999, "q", "a1", "x"),
		enq(0, "q", "a2"), connected(20, "q", "a2", "x"),
		enq(0, "q", "a3"), connected(20.001, "q", "a3", "x"),
		enq(0, "q", "b1"), abandoned(2.999, "q", "b1"),
		enq(0, "q", "b2"), abandoned(3, "q", "b2"),
		enq(0, "q", "b3"), abandoned(3.001, "q", "b3"),
		enq(0, "q", "b4"), abandoned(30, "q", "b4"),
	}
	cases := []struct {
		name         string
		target       time.Duration
		short        time.Duration
		formula      acd.SLFormula
		inSL, shorts int
		slCalls      int
	}{
		{"default target, 3 s short", 20 * time.Second, 3 * time.Second, acd.SLExcludingShort, 2, 2, 3 + 4 - 2},
		{"default short (5 s)", 20 * time.Second, acd.DefaultShortAbandon, acd.SLExcludingShort, 2, 3, 3 + 4 - 3},
		{"no short abandons", 20 * time.Second, 0, acd.SLExcludingShort, 2, 0, 3 + 4},
		{"no short abandons equals offered", 20 * time.Second, 0, acd.SLOffered, 2, 0, 3 + 4},
		{"30 s target", 30 * time.Second, 3 * time.Second, acd.SLAnswered, 3, 2, 3},
		{"10 s target", 10 * time.Second, 3 * time.Second, acd.SLOffered, 0, 2, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := acd.DefaultKPIConfig(nil)
			cfg.Target, cfg.ShortAbandon, cfg.Formula = tc.target, tc.short, tc.formula
			got := newTracker(t, cfg, stream...).Snapshot(kpiAt(60))["q"]
			assert.Equal(t, tc.inSL, got.AnsweredInSL, "answered in SL")
			assert.Equal(t, tc.shorts, got.ShortAbandoned, "short abandons")
			assert.Equal(t, tc.slCalls, got.SLCalls, "SL calls")
			assert.InDelta(t, float64(tc.inSL)/float64(tc.slCalls), got.ServiceLevel, 1e-12)
			assert.Equal(t, 4, got.Abandoned)
			assert.Equal(t, 3, got.Answered)
			assert.Equal(t, 60000*time.Millisecond/3, got.ASA) // (19.999 + 20 + 20.001) / 3
		})
	}
}

func TestKPIEmptyQueue(t *testing.T) {
	got := newTracker(t, acd.DefaultKPIConfig(nil)).Snapshot(kpiAt(0))
	assert.Equal(t, acd.QueueKPI{AgentsByState: map[string]int{"logged-out": 3}}, got["claims"], "anna, ben and emil")
	assert.Zero(t, got["claims"].ServiceLevel, "no calls: SLCalls 0, ServiceLevel 0")

	// Only short abandons: the excluding_short denominator is 0, not negative.
	k := newTracker(t, acd.DefaultKPIConfig(nil), enq(0, "q", "c"), abandoned(1, "q", "c"))
	q := k.Snapshot(kpiAt(2))["q"]
	assert.Equal(t, 0, q.SLCalls)
	assert.Zero(t, q.ServiceLevel)
}

func TestKPIReset(t *testing.T) {
	k := newTracker(t, acd.DefaultKPIConfig(nil), kpiStream...)
	k.Reset(kpiAt(60))

	got := k.Snapshot(kpiAt(60))["claims"]
	assert.Equal(t, acd.QueueKPI{
		Since: kpiAt(60), Waiting: 2, LongestWait: 20 * time.Second,
		AgentsByState: claimsAt60.AgentsByState,
	}, got, "counters restart; waiting calls and agents stay")

	// c5 entered before the reset: its answer counts now, with its whole wait.
	k.Observe(connected(65, "claims", "c5", "anna"))
	// c6's abandon happened before the reset but arrives late: not counted.
	k.Observe(abandoned(59, "claims", "c6"))
	k.Observe(enq(70, "claims", "c8"))
	got = k.Snapshot(kpiAt(80))["claims"]
	assert.Equal(t, 1, got.Offered, "only c8 entered since the reset")
	assert.Equal(t, 1, got.Answered)
	assert.Equal(t, 25*time.Second, got.ASA, "c5 waited from 40 s to 65 s")
	assert.Equal(t, 0, got.AnsweredInSL)
	assert.Equal(t, 0, got.Abandoned, "late abandon before the reset")
	assert.Equal(t, 1, got.Waiting, "c6 left the queue all the same")
	assert.Equal(t, 10*time.Second, got.LongestWait)
}

func TestKPIDayRollover(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	day := time.Date(2025, 3, 3, 0, 0, 0, 0, berlin)
	late := day.Add(23*time.Hour + 59*time.Minute) // 22:59 UTC
	k, err := acd.NewKPITracker(acd.DefaultKPIConfig(berlin))
	require.NoError(t, err)

	k.Observe(acd.Event{Time: late, Type: "call.enqueued", Queue: "q", Call: "c1"})
	k.Observe(acd.Event{Time: late, Type: "call.enqueued", Queue: "q", Call: "c2"})
	k.Observe(acd.Event{Time: late.Add(10 * time.Second), Type: "call.connected", Queue: "q", Call: "c1"})
	got := k.Snapshot(late.Add(30 * time.Second))["q"]
	assert.True(t, got.Since.Equal(day), "since %s", got.Since)
	assert.Equal(t, 2, got.Offered)
	assert.Equal(t, 1, got.Answered)

	// After local midnight: a new day, c2 still waiting.
	next := day.AddDate(0, 0, 1)
	got = k.Snapshot(next.Add(30 * time.Second))["q"]
	assert.True(t, got.Since.Equal(next), "since %s", got.Since)
	assert.Equal(t, acd.QueueKPI{Since: got.Since, Waiting: 1, LongestWait: 90 * time.Second, AgentsByState: map[string]int{}}, got)

	// c2 is answered today, after waiting since yesterday.
	k.Observe(acd.Event{Time: next.Add(time.Minute), Type: "call.connected", Queue: "q", Call: "c2"})
	got = k.Snapshot(next.Add(2 * time.Minute))["q"]
	assert.Equal(t, 0, got.Offered)
	assert.Equal(t, 1, got.Answered)
	assert.Equal(t, 2*time.Minute, got.ASA)

	// The day also turns on an event alone.
	k.Observe(acd.Event{Time: next.AddDate(0, 0, 1), Type: "call.enqueued", Queue: "q", Call: "c3"})
	got = k.Snapshot(next.AddDate(0, 0, 1))["q"]
	assert.Equal(t, 1, got.Offered)
	assert.Equal(t, 0, got.Answered)
}

func TestKPIAgents(t *testing.T) {
	k := newTracker(t, acd.DefaultKPIConfig(nil))
	k.SetAgents([]acd.Agent{
		{ID: "anna", Queues: []string{"claims"}, State: acd.Available, Since: kpiAt(0)},
		{ID: "ben", Queues: []string{"claims", "pensions"}, State: acd.OnCall, Since: kpiAt(0)},
		{ID: "fay", Queues: []string{"pensions"}}, // zero Since, no events: logged out
	})
	got := k.Snapshot(kpiAt(1))
	assert.Equal(t, map[string]int{"available": 1, "on-call": 1}, got["claims"].AgentsByState, "emil is no longer listed")
	assert.Equal(t, map[string]int{"on-call": 1, "logged-out": 1}, got["pensions"].AgentsByState)

	// Events move agents; a snapshot older than the last event does not.
	k.Observe(agentState(5, "ben", acd.WrapUp))
	k.SetAgents([]acd.Agent{
		{ID: "anna", Queues: []string{"claims"}, State: acd.Reserved, Since: kpiAt(6)}, // newer: taken
		{ID: "ben", Queues: []string{"pensions"}, State: acd.OnCall, Since: kpiAt(0)},  // older: state ignored, queues taken
	})
	// A late event older than what is known is ignored.
	k.Observe(agentState(4, "ben", acd.Available))
	got = k.Snapshot(kpiAt(10))
	assert.Equal(t, map[string]int{"reserved": 1}, got["claims"].AgentsByState)
	assert.Equal(t, map[string]int{"wrap-up": 1}, got["pensions"].AgentsByState)
}

func TestKPIUnknownAndStaleCalls(t *testing.T) {
	cfg := acd.DefaultKPIConfig(nil)
	cfg.StaleAfter = time.Hour
	k := newTracker(t, cfg,
		connected(10, "claims", "before-start", "anna"), // entered before the tracker started
		abandoned(10, "claims", "before-start-2"),
		enq(20, "claims", "c1"),
		enq(21, "claims", "c1"), // duplicate: keeps the first
		enq(30, "claims", "ghost"),
		acd.Event{Time: kpiAt(40), Type: "call.transferred", Queue: "claims", Call: "c1"}, // unknown type
	)
	got := k.Snapshot(kpiAt(50))["claims"]
	assert.Equal(t, 0, got.Answered, "outcome of a call never seen entering")
	assert.Equal(t, 0, got.Abandoned)
	assert.Equal(t, 2, got.Offered, "c1 once (the duplicate is ignored) and ghost")
	assert.Equal(t, 2, got.Waiting)
	assert.Equal(t, 30*time.Second, got.LongestWait)

	k.Observe(connected(60, "claims", "c1", "anna"))
	assert.Equal(t, 40*time.Second, k.Snapshot(kpiAt(60))["claims"].ASA, "wait from the first enqueue")

	// The ghost lost its end event; after StaleAfter it is forgotten.
	got = k.Snapshot(kpiAt(30).Add(time.Hour + time.Second))["claims"]
	assert.Equal(t, 0, got.Waiting)
	assert.Zero(t, got.LongestWait)
}

func TestKPIConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*acd.KPIConfig)
		ok   bool
	}{
		{"defaults", func(*acd.KPIConfig) {}, true},
		{"zero short abandon", func(c *acd.KPIConfig) { c.ShortAbandon = 0 }, true},
		{"zero target", func(c *acd.KPIConfig) { c.Target = 0 }, false},
		{"negative short abandon", func(c *acd.KPIConfig) { c.ShortAbandon = -time.Second }, false},
		{"zero stale", func(c *acd.KPIConfig) { c.StaleAfter = 0 }, false},
		{"unknown formula", func(c *acd.KPIConfig) { c.Formula = "answered_in_time" }, false},
		{"empty formula", func(c *acd.KPIConfig) { c.Formula = "" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := acd.DefaultKPIConfig(nil)
			tc.mod(&cfg)
			_, err := acd.NewKPITracker(cfg)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, acd.ErrBadKPIConfig)
			}
		})
	}
}

func TestKPIConcurrent(t *testing.T) {
	k := newTracker(t, acd.DefaultKPIConfig(time.UTC))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				c := acd.CallID(fmt.Sprintf("g%d-%d", g, i))
				k.Emit(enq(float64(i), "claims", c))
				k.Emit(connected(float64(i)+1, "claims", c, "anna"))
				k.Emit(agentState(float64(i), "anna", acd.OnCall))
			}
		})
		wg.Go(func() {
			for i := range 200 {
				_ = k.Snapshot(kpiAt(float64(i)))
			}
		})
	}
	wg.Wait()
	got := k.Snapshot(kpiAt(300))["claims"]
	assert.Equal(t, 1600, got.Offered)
	assert.Equal(t, 1600, got.Answered)
	assert.Equal(t, time.Second, got.ASA)
	assert.Equal(t, 0, got.Waiting)
}

func TestKPIJSON(t *testing.T) {
	k := newTracker(t, acd.DefaultKPIConfig(nil), kpiStream...)
	b, err := json.Marshal(k.Snapshot(kpiAt(60)))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"service_level":0.5`)
	assert.Contains(t, string(b), `"agents_by_state":{`)
}

func TestFanOut(t *testing.T) {
	a := newTracker(t, acd.DefaultKPIConfig(nil))
	b := newTracker(t, acd.DefaultKPIConfig(nil))
	sink := acd.FanOut(a, b)
	sink.Emit(enq(0, "claims", "c1"))
	assert.Equal(t, 1, a.Snapshot(kpiAt(1))["claims"].Waiting)
	assert.Equal(t, 1, b.Snapshot(kpiAt(1))["claims"].Waiting)
}

// TestKPIWithACD feeds the tracker from a running ACD. It uses only
// Enqueue and Abandon: no agent is needed for a short and a long abandon.
func TestKPIWithACD(t *testing.T) {
	const wait = 2 * time.Second
	k, err := acd.NewKPITracker(acd.DefaultKPIConfig(nil))
	require.NoError(t, err)
	clock := acdtest.NewFakeClock(kpiT0)
	a := acd.New(queues.NewMemory(), []acd.QueueConfig{{Name: "claims", RingTimeout: 20 * time.Second}}, clock, acd.FanOut(k), zerolog.New(zerolog.NewTestWriter(t)))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(wait):
			t.Errorf("Run did not return within %s", wait)
		}
	})

	_, err = a.Enqueue(ctx, acd.Call{ID: "c1", Queue: "claims"})
	require.NoError(t, err)
	_, err = a.Enqueue(ctx, acd.Call{ID: "c2", Queue: "claims"})
	require.NoError(t, err)
	clock.Advance(3 * time.Second)
	require.NoError(t, a.Abandon(ctx, "c1"))
	clock.Advance(27 * time.Second)
	require.NoError(t, a.Abandon(ctx, "c2"))
	_, err = a.Enqueue(ctx, acd.Call{ID: "c3", Queue: "claims"})
	require.NoError(t, err)
	clock.Advance(4 * time.Second)

	assert.Equal(t, acd.QueueKPI{
		Waiting: 1, LongestWait: 4 * time.Second,
		Offered: 3, Abandoned: 2, ShortAbandoned: 1, SLCalls: 1,
		AgentsByState: map[string]int{},
	}, k.Snapshot(clock.Now())["claims"])
}

// Callbacks are counted when asked for, answered and given up; while one
// waits it is pending and waiting.
func TestKPICallbacks(t *testing.T) {
	k, err := acd.NewKPITracker(acd.DefaultKPIConfig(nil))
	require.NoError(t, err)
	cb := func(s float64, typ string, c acd.CallID) acd.Event {
		return acd.Event{Time: kpiAt(s), Type: typ, Queue: "claims", Call: c}
	}
	for _, ev := range []acd.Event{
		enq(0, "claims", "c1"), cb(5, "call.callback", "c1"),
		enq(1, "claims", "c2"), cb(6, "call.callback", "c2"), cb(7, "call.callback", "c2"), // a repeat counts once
		enq(2, "claims", "c3"), cb(8, "call.callback", "c3"),
		enq(3, "claims", "c4"),
		cb(60, "call.callbackretry", "c1"), connected(400, "claims", "c1", "a1"),
		cb(500, "call.callbackfailed", "c2"),
	} {
		k.Observe(ev)
	}
	got := k.Snapshot(kpiAt(600))["claims"]
	assert.Equal(t, 3, got.Callbacks)
	assert.Equal(t, 1, got.CallbacksAnswered)
	assert.Equal(t, 1, got.CallbacksFailed)
	assert.Equal(t, 1, got.CallbacksPending, "c3")
	assert.Equal(t, 2, got.Waiting, "c3 and c4")
	assert.Equal(t, 1, got.Answered)
	assert.Equal(t, 400*time.Second, got.ASA, "a callback's wait runs until the member answers")
	assert.Zero(t, got.Abandoned, "a callback given up is not an abandon")
}
