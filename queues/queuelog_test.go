package queues_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/testlog"
	"github.com/callwerk/callwerk/queues"
)

// qlT0 is 2025-03-03 08:00:00 UTC, unix 1740988800.
var qlT0 = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

func qlAt(ms int) time.Time { return qlT0.Add(time.Duration(ms) * time.Millisecond) }

func qlCall(ms int, typ string, call acd.CallID, queue string, agent acd.AgentID) acd.Event {
	return acd.Event{Time: qlAt(ms), Type: typ, Call: call, Queue: queue, Agent: agent}
}

func qlAgent(ms int, agent acd.AgentID, s acd.State, reason string) acd.Event {
	return acd.Event{Time: qlAt(ms), Type: "agent.state", Agent: agent, State: s.String(), Reason: reason}
}

// qlStream exercises every verb; qlLines is its log.
var qlStream = []acd.Event{
	qlAgent(0, "anna", acd.Available, ""),
	qlCall(250, "call.enqueued", "c1", "claims", ""),
	qlAgent(1000, "anna", acd.Reserved, ""),
	qlCall(1000, "call.offered", "c1", "claims", "anna"),
	qlCall(16000, "call.noanswer", "c1", "claims", "anna"),
	qlAgent(16000, "anna", acd.Available, ""),
	qlCall(17000, "call.offered", "c1", "claims", "ben"),
	qlCall(20500, "call.connected", "c1", "claims", "ben"),
	qlCall(30000, "call.enqueued", "c2", "claims", ""),
	qlCall(33000, "call.abandoned", "c2", "claims", ""),
	qlCall(34000, "call.rejected", "c3", "claims", "ben"), // c3 entered before the log started
	qlCall(35000, "call.parked", "c1", "claims", ""),      // not an event the log knows
	qlCall(36000, "call.offered", "x|y", "claims", "NONE"),
	qlCall(80500, "call.completed", "c1", "claims", "ben"),
	qlCall(81000, "call.enqueued", "c4", "claims", ""),
	qlCall(82000, "call.connected", "c4", "claims", "ben"),
	{Time: qlAt(84500), Type: "call.transferred", Call: "c4", Queue: "claims", Agent: "ben", Target: "billing"},
	qlCall(85000, "call.enqueued", "c5", "claims", ""),
	qlCall(86000, "call.callback", "c5", "claims", ""),
	qlCall(87000, "call.callbackretry", "c5", "claims", ""),
	qlCall(88000, "call.callbackfailed", "c5", "claims", ""),
	qlAgent(90000, "anna", acd.Paused, "training"),
	qlAgent(100000, "anna", acd.Available, ""),
	qlAgent(110000, "anna", acd.LoggedOut, ""),
	qlAgent(120000, "dora", acd.Paused, "lunch"), // first seen: logged out before
	qlAgent(130000, "dora", acd.Unreachable, ""),
	qlAgent(140000, "dora", acd.Paused, "lunch"), // back from unreachable: same pause
	qlAgent(150000, "dora", acd.Paused, "meeting"),
	qlAgent(160000, "dora", acd.LoggedOut, ""),
	qlAgent(170000, "ben", acd.LoggedOut, ""), // never seen in: no LOGOUT
}

var qlLines = []string{
	"1740988800.000|NONE|NONE|anna|LOGIN|||",
	"1740988800.250|c1|claims|NONE|ENTER|||",
	"1740988801.000|c1|claims|anna|RING|0.750||",
	"1740988816.000|c1|claims|anna|RINGNOANSWER|15.750|15.000|",
	"1740988817.000|c1|claims|ben|RING|16.750||",
	"1740988820.500|c1|claims|ben|CONNECT|20.250|3.500|",
	"1740988830.000|c2|claims|NONE|ENTER|||",
	"1740988833.000|c2|claims|NONE|ABANDON|3.000||",
	"1740988834.000|c3|claims|ben|RINGREJECTED|||",
	"1740988836.000|x%7Cy|claims|%4EONE|RING|||",
	"1740988880.500|c1|claims|ben|COMPLETE|20.250|60.000|",
	"1740988881.000|c4|claims|NONE|ENTER|||",
	"1740988882.000|c4|claims|ben|CONNECT|1.000||",
	"1740988884.500|c4|claims|ben|TRANSFER|billing|1.000|2.500",
	"1740988885.000|c5|claims|NONE|ENTER|||",
	"1740988886.000|c5|claims|NONE|CALLBACK|1.000||",
	"1740988887.000|c5|claims|NONE|CALLBACKRETRY|2.000||",
	"1740988888.000|c5|claims|NONE|CALLBACKFAILED|3.000||",
	"1740988890.000|NONE|NONE|anna|PAUSE|training||",
	"1740988900.000|NONE|NONE|anna|UNPAUSE|training||",
	"1740988910.000|NONE|NONE|anna|LOGOUT|||",
	"1740988920.000|NONE|NONE|dora|LOGIN|||",
	"1740988920.000|NONE|NONE|dora|PAUSE|lunch||",
	"1740988950.000|NONE|NONE|dora|PAUSE|meeting||",
	"1740988960.000|NONE|NONE|dora|LOGOUT|||",
}

// newTestQueueLog writes a queue log to a buffer; the log is closed when the
// test ends.
func newTestQueueLog(t *testing.T, opts ...queues.QueueLogOption) (*queues.QueueLog, *testlog.Buffer) {
	t.Helper()
	var out testlog.Buffer
	ql, err := queues.NewQueueLog(&out, zerolog.New(zerolog.NewTestWriter(t)), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, ql.Close()) })
	return ql, &out
}

func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestQueueLogLines(t *testing.T) {
	ql, out := newTestQueueLog(t)
	for _, ev := range qlStream {
		ql.Emit(ev)
	}
	require.NoError(t, ql.Close())
	assert.Equal(t, qlLines, lines(out.String()))
	assert.Zero(t, ql.Dropped())
	assert.Zero(t, ql.WriteErrors())
}

func TestQueueLogWithAgents(t *testing.T) {
	ql, out := newTestQueueLog(t, queues.WithAgents([]acd.Agent{
		{ID: "anna", State: acd.Available},
		{ID: "ben", State: acd.Paused, Pause: "lunch"},
		{ID: "carl", State: acd.Unreachable, Pause: "training"},
		{ID: "dora", State: acd.OnCall},
	}))
	ql.Emit(qlAgent(0, "anna", acd.Reserved, ""))  // known to be in: no LOGIN
	ql.Emit(qlAgent(0, "ben", acd.Available, ""))  // was paused
	ql.Emit(qlAgent(0, "carl", acd.Available, "")) // returns, then unpauses
	ql.Emit(qlAgent(0, "dora", acd.WrapUp, ""))
	require.NoError(t, ql.Close())
	assert.Equal(t, []string{
		"1740988800.000|NONE|NONE|ben|UNPAUSE|lunch||",
		"1740988800.000|NONE|NONE|carl|UNPAUSE|training||",
	}, lines(out.String()))
}

func TestQueueLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue_log")
	ql, err := queues.OpenQueueLog(path, zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, err)
	ql.Emit(qlCall(0, "call.enqueued", "c1", "claims", ""))
	require.NoError(t, ql.Close())
	require.NoError(t, ql.Close(), "Close is idempotent")
	ql.Emit(qlCall(1, "call.abandoned", "c1", "claims", ""))
	assert.Equal(t, uint64(1), ql.Dropped(), "events after Close are dropped")

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Zero(t, fi.Mode().Perm()&^0o640, "mode %s: no more than 0640 (less with a strict umask)", fi.Mode())

	// A second log appends.
	ql, err = queues.OpenQueueLog(path, zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, err)
	ql.Emit(qlCall(2000, "call.enqueued", "c2", "claims", ""))
	require.NoError(t, ql.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "1740988800.000|c1|claims|NONE|ENTER|||\n1740988802.000|c2|claims|NONE|ENTER|||\n", string(b))

	_, err = queues.OpenQueueLog(filepath.Join(t.TempDir(), "missing", "queue_log"), zerolog.Nop())
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestQueueLogOptions(t *testing.T) {
	_, err := queues.NewQueueLog(&testlog.Buffer{}, zerolog.Nop(), queues.WithBuffer(0))
	assert.Error(t, err)
	ql, err := queues.NewQueueLog(&testlog.Buffer{}, zerolog.Nop(), queues.WithBuffer(1), queues.WithNATS(nil))
	require.NoError(t, err)
	require.NoError(t, ql.Close())
}

// blockingWriter blocks its first Write until released.
type blockingWriter struct {
	testlog.Buffer
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		close(w.entered)
		<-w.release
	})
	return w.Buffer.Write(p)
}

func TestQueueLogDropsWhenFull(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	var logs testlog.Buffer
	ql, err := queues.NewQueueLog(w, zerolog.New(&logs), queues.WithBuffer(2))
	require.NoError(t, err)

	ql.Emit(qlCall(0, "call.enqueued", "c0", "claims", ""))
	select {
	case <-w.entered: // the writer holds c0 and waits; the buffer is empty
	case <-time.After(waitFor):
		t.Fatal("writer did not write")
	}
	done := make(chan struct{})
	go func() { // Emit must return at once even though nothing moves
		for i := 1; i <= 5; i++ {
			ql.Emit(qlCall(i, "call.enqueued", acd.CallID(fmt.Sprint("c", i)), "claims", ""))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("Emit blocked")
	}
	assert.Equal(t, uint64(3), ql.Dropped(), "c1 and c2 fit the buffer")
	close(w.release)
	require.NoError(t, ql.Close())

	assert.Len(t, lines(w.String()), 3, "c0, c1, c2")
	assert.Contains(t, logs.String(), "queue log lines dropped")
	assert.Contains(t, logs.String(), `"dropped_total":3`)
}

// failingWriter fails the writes whose numbers (from 1) are in fail, the
// first of them after writing half.
type failingWriter struct {
	testlog.Buffer
	n    atomic.Int32
	fail []int32
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	n := w.n.Add(1)
	if !slices.Contains(w.fail, n) {
		return w.Buffer.Write(p)
	}
	if n == w.fail[0] {
		n, _ := w.Buffer.Write(p[:len(p)/2])
		return n, errDiskFull
	}
	return 0, errDiskFull
}

func TestQueueLogWriteErrors(t *testing.T) {
	w := &failingWriter{fail: []int32{1, 2}}
	var logs testlog.Buffer
	ql, err := queues.NewQueueLog(w, zerolog.New(&logs))
	require.NoError(t, err)
	for i, c := range []acd.CallID{"c1", "c2", "c3"} {
		ql.Emit(qlCall(i, "call.enqueued", c, "claims", ""))
		// One event per write: wait until the writer took it.
		require.Eventually(t, func() bool { return w.n.Load() > int32(i) }, waitFor, time.Millisecond)
	}
	require.NoError(t, ql.Close())

	// Write 1 stops mid-line in c1, write 2 (c2, after the newline that ends
	// c1's fragment) fails, write 3 ends the fragment, then writes c3.
	got := lines(w.String())
	require.Len(t, got, 2, "%q", w.String())
	assert.Equal(t, "1740988800.000|c1|claims|NONE|ENTER|||"[:len(got[0])], got[0], "a fragment of c1")
	_, err = queues.ParseQueueLogLine(got[0])
	assert.ErrorIs(t, err, queues.ErrBadQueueLogLine, "the fragment stands alone")
	assert.Equal(t, "1740988800.002|c3|claims|NONE|ENTER|||", got[1])
	assert.Equal(t, uint64(2), ql.WriteErrors(), "c1 and c2 lost")
	assert.Contains(t, logs.String(), "disk full")
}

func TestQueueLogNATS(t *testing.T) {
	bus := newBus(t)
	sub := subscribe(t, bus, queues.SubjectQueueLog)
	ql, out := newTestQueueLog(t, queues.WithNATS(bus.Conn))
	for _, ev := range qlStream {
		ql.Emit(ev)
	}
	for i, want := range qlLines {
		msg, err := sub.NextMsg(waitFor)
		require.NoError(t, err, "line %d", i)
		assert.Equal(t, want, string(msg.Data))
	}
	require.NoError(t, ql.Close())
	assert.Equal(t, qlLines, lines(out.String()))
	assert.Zero(t, ql.PublishErrors())
}

func TestQueueLogCloseStopsWriter(t *testing.T) {
	before := runtime.NumGoroutine()
	ql, err := queues.NewQueueLog(&testlog.Buffer{}, zerolog.Nop())
	require.NoError(t, err)
	ql.Emit(qlStream[0])
	require.NoError(t, ql.Close())
	deadline := time.Now().Add(waitFor)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before)
}

// TestQueueLogHasNoNumbers guards the privacy rule: a line is built from an
// acd.Event only, and no field of an event can hold a caller's number. A
// new Event field fails this test until it is reviewed here and in
// docs/queue-log.md.
func TestQueueLogHasNoNumbers(t *testing.T) {
	reviewed := map[string]string{
		"Time":     "time.Time",
		"Type":     "string",      // event type, mapped to the verb
		"Queue":    "string",      // configured queue name
		"Agent":    "acd.AgentID", // agent's SIP user name
		"Call":     "acd.CallID",  // Callwerk's call id, not the SIP Call-ID, not a number
		"State":    "string",      // agent state name
		"Reason":   "string",      // pause reason: configured reasons or AutoPauseReason
		"HangupBy": "string",      // "caller" or "agent": picks the COMPLETE verb, not written itself
		"Target":   "string",      // overflow or transfer target: a configured queue name
	}
	typ := reflect.TypeFor[acd.Event]()
	got := map[string]string{}
	for f := range typ.Fields() {
		got[f.Name] = f.Type.String()
	}
	require.Equal(t, reviewed, got, "acd.Event changed: review what the queue log writes (no caller numbers)")

	// Every field of every line comes from those fields: the time, an id
	// of the stream, a verb, a duration, a pause reason, or a target queue.
	ids := map[string]bool{"NONE": true, "%4EONE": true, "x%7Cy": true}
	reasons := map[string]bool{}
	for _, ev := range qlStream {
		ids[string(ev.Call)], ids[ev.Queue], ids[string(ev.Agent)], ids[ev.Target] = true, true, true, true
		reasons[ev.Reason] = true
	}
	verbs := map[string]bool{}
	for _, v := range []string{queues.VerbEnter, queues.VerbRing, queues.VerbRingNoAnswer, queues.VerbRingRejected,
		queues.VerbConnect, queues.VerbComplete, queues.VerbCompleteCaller, queues.VerbCompleteAgent, queues.VerbAbandon, queues.VerbTransfer, queues.VerbLogin, queues.VerbLogout,
		queues.VerbPause, queues.VerbUnpause, queues.VerbCallback, queues.VerbCallbackRetry, queues.VerbCallbackFailed} {
		verbs[v] = true
	}
	duration := regexp.MustCompile(`^[0-9]+\.[0-9]{3}$`)
	ql, out := newTestQueueLog(t)
	for _, ev := range qlStream {
		ql.Emit(ev)
	}
	require.NoError(t, ql.Close())
	for _, line := range lines(out.String()) {
		f := strings.Split(line, "|")
		require.Len(t, f, 8, line)
		assert.Regexp(t, duration, f[0], "time: %s", line)
		for _, id := range f[1:4] {
			assert.True(t, ids[id], "id field %q of %s", id, line)
		}
		assert.True(t, verbs[f[4]], "verb of %s", line)
		for _, d := range f[5:] {
			assert.True(t, d == "" || duration.MatchString(d) || reasons[d] || ids[d], "data field %q of %s", d, line)
		}
	}
}

func TestParseQueueLogLine(t *testing.T) {
	cases := []struct {
		line string
		want queues.QueueLogEntry
		err  bool
	}{
		{
			line: "1740988820.500|c1|claims|ben|CONNECT|20.250|3.500|\n",
			want: queues.QueueLogEntry{Time: qlAt(20500), Call: "c1", Queue: "claims", Agent: "ben", Verb: "CONNECT", Data: [3]string{"20.250", "3.500"}},
		},
		{
			line: "0.007|NONE|NONE|%4EONE|LOGIN|||",
			want: queues.QueueLogEntry{Time: time.UnixMilli(7).UTC(), Agent: "NONE", Verb: "LOGIN"},
		},
		{
			line: "1740988800.000|a%7Cb%25|||PAUSE|coffee%0Abreak||",
			want: queues.QueueLogEntry{Time: qlT0, Call: "a|b%", Verb: "PAUSE", Data: [3]string{"coffee\nbreak"}},
		},
		{line: "1740988800.000|c1|claims|NONE|ENTER||", err: true},     // 7 fields
		{line: "1740988800.000|c1|claims|NONE|ENTER||||", err: true},   // 9 fields
		{line: "1740988800|c1|claims|NONE|ENTER|||", err: true},        // no decimals
		{line: "1740988800.5|c1|claims|NONE|ENTER|||", err: true},      // 1 decimal
		{line: "-1.000|c1|claims|NONE|ENTER|||", err: true},            // negative
		{line: "1e9.000|c1|claims|NONE|ENTER|||", err: true},           // not digits
		{line: "9999999999999.000|c1|claims|NONE|ENTER|||", err: true}, // 13 digits
		{line: "1740988800.000|c%1|claims|NONE|ENTER|||", err: true},   // truncated escape
		{line: "1740988800.000|c%zz|claims|NONE|ENTER|||", err: true},  // bad escape
		{line: "1740988800.000|c1|claims|NONE||||", err: true},         // no verb
		{line: "1740988800.000|c1|claims|NONE|ENTER|%|", err: true},    // bad data escape
		{line: "", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			got, err := queues.ParseQueueLogLine(tc.line)
			if tc.err {
				assert.ErrorIs(t, err, queues.ErrBadQueueLogLine)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	e, err := queues.ParseQueueLogLine(qlLines[5])
	require.NoError(t, err)
	wait, ok := e.DataDuration(0)
	assert.True(t, ok)
	assert.Equal(t, 20250*time.Millisecond, wait)
	_, ok = e.DataDuration(2)
	assert.False(t, ok, "empty")
	_, ok = e.DataDuration(3)
	assert.False(t, ok, "no such field")
	assert.Equal(t, "1.005", queues.FormatLogDuration(1005*time.Millisecond+999*time.Microsecond))
	assert.Equal(t, "0.000", queues.FormatLogDuration(-time.Second))
}

func FuzzParseQueueLogLine(f *testing.F) {
	for _, l := range qlLines {
		f.Add(l)
	}
	f.Add("0.000|%4EONE|NONE||X|%25|%7C|%0D")
	f.Fuzz(func(t *testing.T, line string) {
		e, err := queues.ParseQueueLogLine(line)
		if err != nil {
			return
		}
		again, err := queues.ParseQueueLogLine(e.String())
		require.NoError(t, err, "%q from %q", e.String(), line)
		require.Equal(t, e, again)
		require.NotContains(t, e.String(), "\n")
	})
}

// TestQueueLogRecomputesKPIs checks docs/queue-log.md: figures recomputed
// from the log as described there equal the KPITracker's.
func TestQueueLogRecomputesKPIs(t *testing.T) {
	stream, end := simulate(rand.New(rand.NewPCG(1, 2)), 400)
	ql, out := newTestQueueLog(t, queues.WithBuffer(len(stream)))
	for _, ev := range stream {
		ql.Emit(ev)
	}
	require.NoError(t, ql.Close())
	require.Zero(t, ql.Dropped())
	var entries []queues.QueueLogEntry
	for _, l := range lines(out.String()) {
		e, err := queues.ParseQueueLogLine(l)
		require.NoError(t, err)
		entries = append(entries, e)
	}
	for _, formula := range []acd.SLFormula{acd.SLAnswered, acd.SLOffered, acd.SLExcludingShort} {
		t.Run(string(formula), func(t *testing.T) {
			cfg := acd.DefaultKPIConfig(nil)
			cfg.Formula = formula
			k, err := acd.NewKPITracker(cfg)
			require.NoError(t, err)
			for _, ev := range stream {
				k.Observe(ev)
			}
			want := k.Snapshot(end)
			got := recompute(entries, cfg, end)
			require.Len(t, got, len(want))
			for q, w := range want {
				w.AgentsByState = nil // not in the log
				require.Positive(t, w.Answered+w.Abandoned+w.Waiting, "queue %s has calls", q)
				assert.Equal(t, w, got[q], "queue %s", q)
			}
		})
	}
}

// simulate returns a random stream of n calls over three queues, in time
// order, and a moment after its end.
func simulate(r *rand.Rand, n int) ([]acd.Event, time.Time) {
	var evs []acd.Event
	queueNames := []string{"claims", "pensions", "care"}
	ms := func(s int) time.Duration { return time.Duration(s) * time.Millisecond }
	for i := range n {
		c := acd.CallID(fmt.Sprint("c", i))
		q := queueNames[r.IntN(len(queueNames))]
		at := qlT0.Add(ms(r.IntN(3_600_000)))
		wait := ms(r.IntN(60_000))
		evs = append(evs, acd.Event{Time: at, Type: "call.enqueued", Queue: q, Call: c})
		switch r.IntN(4) {
		case 0, 1:
			evs = append(evs,
				acd.Event{Time: at.Add(wait / 2), Type: "call.offered", Queue: q, Call: c, Agent: "a"},
				acd.Event{Time: at.Add(wait), Type: "call.connected", Queue: q, Call: c, Agent: "a"},
				acd.Event{Time: at.Add(wait + ms(r.IntN(600_000))), Type: "call.completed", Queue: q, Call: c, Agent: "a"})
		case 2:
			evs = append(evs, acd.Event{Time: at.Add(wait / 6), Type: "call.abandoned", Queue: q, Call: c})
		default: // still waiting or long gone: left open
			if r.IntN(2) == 0 {
				evs = append(evs, acd.Event{Time: at.Add(wait), Type: "call.abandoned", Queue: q, Call: c})
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b acd.Event) int { return a.Time.Compare(b.Time) })
	return evs, qlT0.Add(2 * time.Hour)
}

// recompute computes the figures from log entries as docs/queue-log.md
// tells operators to.
func recompute(entries []queues.QueueLogEntry, cfg acd.KPIConfig, now time.Time) map[string]acd.QueueKPI {
	out := map[string]acd.QueueKPI{}
	entered := map[acd.CallID]time.Time{}
	var waitSum = map[string]time.Duration{}
	for _, e := range entries {
		k := out[e.Queue]
		switch e.Verb {
		case queues.VerbEnter:
			k.Offered++
			entered[e.Call] = e.Time
		case queues.VerbConnect, queues.VerbAbandon:
			delete(entered, e.Call)
			wait, ok := e.DataDuration(0)
			if !ok {
				continue
			}
			if e.Verb == queues.VerbConnect {
				k.Answered++
				waitSum[e.Queue] += wait
				if wait <= cfg.Target {
					k.AnsweredInSL++
				}
			} else {
				k.Abandoned++
				if wait <= cfg.ShortAbandon {
					k.ShortAbandoned++
				}
			}
		default:
			continue
		}
		out[e.Queue] = k
	}
	for q, k := range out {
		if k.Answered > 0 {
			k.ASA = waitSum[q] / time.Duration(k.Answered)
		}
		switch cfg.Formula {
		case acd.SLAnswered:
			k.SLCalls = k.Answered
		case acd.SLOffered:
			k.SLCalls = k.Answered + k.Abandoned
		case acd.SLExcludingShort:
			k.SLCalls = k.Answered + k.Abandoned - k.ShortAbandoned
		}
		if k.SLCalls > 0 {
			k.ServiceLevel = float64(k.AnsweredInSL) / float64(k.SLCalls)
		}
		out[q] = k
	}
	for _, e := range entries { // calls still waiting: ENTER without CONNECT or ABANDON
		if at, ok := entered[e.Call]; ok && e.Verb == queues.VerbEnter {
			k := out[e.Queue]
			k.Waiting++
			k.LongestWait = max(k.LongestWait, now.Sub(at))
			out[e.Queue] = k
		}
	}
	return out
}

func TestQueueLogAgentNames(t *testing.T) {
	ql, out := newTestQueueLog(t, queues.WithAgentNames(func(id acd.AgentID) string { return "p-" + strings.ToUpper(string(id)) }))
	ql.Emit(qlCall(0, "call.enqueued", "c1", "kv", ""))
	ql.Emit(qlCall(10, "call.offered", "c1", "kv", "anna"))
	ql.Emit(qlCall(20, "call.noanswer", "c1", "kv", "anna"))
	require.NoError(t, ql.Close())
	got := out.String()
	assert.NotContains(t, got, "|anna|", "agent IDs are written through the name function")
	assert.Contains(t, got, "|kv|p-ANNA|RINGNOANSWER|")
}
