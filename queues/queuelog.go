package queues

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callwerk/callwerk/acd"
)

// The queue log: one line per queue event, in the style of Asterisk's
// queue_log, written to a file and optionally published on the bus. The
// format, each verb's fields and how to recompute the ACD's figures from it
// are in docs/queue-log.md.

var _ acd.EventSink = (*QueueLog)(nil)

// SubjectQueueLog is the subject each line is published on (without the
// newline).
const SubjectQueueLog = "callwerk.queuelog"

// Verbs of the queue log.
const (
	VerbEnter          = "ENTER"           // call.enqueued
	VerbRing           = "RING"            // call.offered: an agent's phone rings
	VerbRingNoAnswer   = "RINGNOANSWER"    // call.noanswer: rang out
	VerbRingRejected   = "RINGREJECTED"    // call.rejected: the agent declined
	VerbConnect        = "CONNECT"         // call.connected
	VerbComplete       = "COMPLETE"        // call.completed, neither side hung up (e.g. shutdown)
	VerbOverflow       = "OVERFLOW"        // call.overflowed: data1 target queue, data2 wait so far
	VerbExitTimeout    = "EXITWITHTIMEOUT" // call.timeout: max_wait reached without overflow
	VerbExitEmpty      = "EXITEMPTY"       // call.exitempty: the queue's last agent logged out
	VerbCompleteCaller = "COMPLETECALLER"  // call.completed, the member hung up
	VerbCompleteAgent  = "COMPLETEAGENT"   // call.completed, the agent hung up
	VerbAbandon        = "ABANDON"         // call.abandoned
	VerbTransfer       = "TRANSFER"        // call.transferred: data1 target queue, data2 wait, data3 talk time
	VerbCallback       = "CALLBACK"        // call.callback: the member asked to be called back; data1 wait so far
	VerbCallbackRetry  = "CALLBACKRETRY"   // call.callbackretry: the member did not answer; data1 wait so far
	VerbCallbackFailed = "CALLBACKFAILED"  // call.callbackfailed: given up after the last attempt; data1 wait
	VerbLogin          = "LOGIN"           // agent.state: logged-out -> any other
	VerbLogout         = "LOGOUT"          // agent.state: any other -> logged-out
	VerbPause          = "PAUSE"           // agent.state: paused, or a new pause reason
	VerbUnpause        = "UNPAUSE"         // agent.state: paused -> back to work
)

// Queue log defaults and limits.
const (
	DefaultQueueLogBuffer = 4096             // events between the ACD and the writer
	QueueLogFileMode      = 0o640            // mode of a new log file
	queueLogMaxBatch      = 64 << 10         // bytes written at once
	queueLogTick          = time.Second      // drop reports and pruning
	queueLogCallTTL       = 24 * time.Hour   // a call without news for this long is forgotten
	queueLogNone          = "NONE"           // an absent call, queue or agent
	queueLogFields        = 8                // fields of a line
	queueLogMaxSecDigits  = 12               // bounds parsed times (year 33658)
	queueLogSampleBurst   = 5                // sampled warnings per period
	queueLogSamplePeriod  = 10 * time.Second // ...
)

// State names of agent.state events.
var (
	loggedOut   = acd.LoggedOut.String()
	paused      = acd.Paused.String()
	unreachable = acd.Unreachable.String()
)

// ErrBadQueueLogLine is returned (wrapped) by ParseQueueLogLine.
var ErrBadQueueLogLine = errors.New("bad queue log line")

// QueueLogEntry is one line of the queue log.
type QueueLogEntry struct {
	Time  time.Time   // millisecond precision, UTC when parsed
	Call  acd.CallID  // "" is written NONE
	Queue string      // "" is written NONE
	Agent acd.AgentID // "" is written NONE
	Verb  string
	Data  [3]string // verb-specific; durations are seconds with 3 decimals
}

// String returns the line without its newline.
func (e QueueLogEntry) String() string { return string(e.appendTo(nil)) }

func (e QueueLogEntry) appendTo(b []byte) []byte {
	ms := max(0, e.Time.UnixMilli())
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	b = appendMillis(b, ms%1000)
	b = appendID(b, string(e.Call))
	b = appendID(b, e.Queue)
	b = appendID(b, string(e.Agent))
	b = append(b, '|')
	b = appendEscaped(b, e.Verb)
	for _, d := range e.Data {
		b = append(b, '|')
		b = appendEscaped(b, d)
	}
	return b
}

func appendMillis(b []byte, ms int64) []byte {
	if ms < 100 {
		b = append(b, '0')
	}
	if ms < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, ms, 10)
}

func appendID(b []byte, id string) []byte {
	b = append(b, '|')
	switch id {
	case "":
		return append(b, queueLogNone...)
	case queueLogNone: // a real ID spelled NONE must not read as absent
		return append(b, "%4EONE"...)
	}
	return appendEscaped(b, id)
}

// appendEscaped writes s with '%', '|' and control characters as %XX, so a
// value can neither split a field nor a line.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c == '|' || c < 0x20 || c == 0x7f {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

// DataDuration returns data field i (0..2) as a duration, false if it is
// empty or not a duration.
func (e QueueLogEntry) DataDuration(i int) (time.Duration, bool) {
	if i < 0 || i >= len(e.Data) {
		return 0, false
	}
	ms, err := parseMillis(e.Data[i])
	if err != nil {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// FormatLogDuration writes d as the queue log does: seconds with 3 decimals,
// negative as 0.
func FormatLogDuration(d time.Duration) string {
	return string(appendDuration(nil, d))
}

func appendDuration(b []byte, d time.Duration) []byte {
	ms := max(0, d.Milliseconds())
	b = strconv.AppendInt(b, ms/1000, 10)
	b = append(b, '.')
	return appendMillis(b, ms%1000)
}

// ParseQueueLogLine parses one line (a trailing newline is allowed).
func ParseQueueLogLine(line string) (QueueLogEntry, error) {
	line = strings.TrimSuffix(line, "\n")
	f := strings.Split(line, "|")
	if len(f) != queueLogFields {
		return QueueLogEntry{}, fmt.Errorf("%w: %d fields, want %d", ErrBadQueueLogLine, len(f), queueLogFields)
	}
	ms, err := parseMillis(f[0])
	if err != nil {
		return QueueLogEntry{}, fmt.Errorf("%w: time: %w", ErrBadQueueLogLine, err)
	}
	var e QueueLogEntry
	e.Time = time.UnixMilli(ms).UTC()
	ids := [3]string{}
	for i := range ids {
		if f[1+i] == queueLogNone || f[1+i] == "" {
			continue
		}
		if ids[i], err = unescape(f[1+i]); err != nil {
			return QueueLogEntry{}, fmt.Errorf("%w: field %d: %w", ErrBadQueueLogLine, 2+i, err)
		}
	}
	e.Call, e.Queue, e.Agent = acd.CallID(ids[0]), ids[1], acd.AgentID(ids[2])
	if e.Verb, err = unescape(f[4]); err != nil || e.Verb == "" {
		return QueueLogEntry{}, fmt.Errorf("%w: verb %q", ErrBadQueueLogLine, f[4])
	}
	for i := range e.Data {
		if e.Data[i], err = unescape(f[5+i]); err != nil {
			return QueueLogEntry{}, fmt.Errorf("%w: data%d: %w", ErrBadQueueLogLine, 1+i, err)
		}
	}
	return e, nil
}

// parseMillis parses "<seconds>.<3 digits>".
func parseMillis(s string) (int64, error) {
	sec, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 3 || sec == "" || len(sec) > queueLogMaxSecDigits || !digits(sec) || !digits(frac) {
		return 0, fmt.Errorf("%q is not seconds with 3 decimals", s)
	}
	n, err := strconv.ParseInt(sec+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return n, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("truncated escape in %q", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// QueueLog is an acd.EventSink that writes the queue log. Emit never
// blocks: events go through a bounded buffer to the QueueLog's one writer
// goroutine, which turns them into lines, writes them to the file and
// publishes them on the bus. When the buffer is full the event is dropped
// and counted (Dropped), and the writer logs the drops at most once a
// second. A failed write is logged (sampled) and its lines counted
// (WriteErrors). Close flushes and stops the writer.
type QueueLog struct {
	w       io.Writer
	c       io.Closer // the file OpenQueueLog opened; nil for NewQueueLog
	nc      *nats.Conn
	log     zerolog.Logger // drop reports (rate-limited by the tick)
	sampled zerolog.Logger // sampled: write and publish failures
	ch      chan acd.Event
	done    chan struct{}
	agent   map[acd.AgentID]agentLog // set by WithAgents, then owned by the writer
	name    func(acd.AgentID) string // how agents are written; nil: their IDs

	mu     sync.RWMutex // guards closed against sends on a closed ch
	closed bool

	closeOnce sync.Once
	closeErr  error

	dropped, writeErrs, pubErrs atomic.Uint64

	// Owned by the writer goroutine.
	calls    map[acd.CallID]*callTimes
	scratch  []QueueLogEntry // lines of one event
	broken   bool            // the last write stopped mid-line
	reported uint64          // drops already logged
	latest   time.Time
}

// callTimes is what the writer remembers of a call for its durations.
type callTimes struct {
	enqueued, offered, connected time.Time // zero: not seen
	last                         time.Time // latest event, for pruning
}

// agentLog is what the writer remembers of an agent.
type agentLog struct {
	state  string // last state
	paused bool   // paused, or unreachable with a pause to return to
	reason string // the pause reason while paused
}

// QueueLogOption configures a QueueLog.
type QueueLogOption func(*QueueLog) error

// WithNATS also publishes each line on SubjectQueueLog over nc; nil: file only.
func WithNATS(nc *nats.Conn) QueueLogOption {
	return func(l *QueueLog) error { l.nc = nc; return nil }
}

// WithBuffer sets how many events may wait for the writer (default
// DefaultQueueLogBuffer).
func WithBuffer(n int) QueueLogOption {
	return func(l *QueueLog) error {
		if n < 1 {
			return fmt.Errorf("queue log buffer %d: must be at least 1", n)
		}
		l.ch = make(chan acd.Event, n)
		return nil
	}
}

// WithAgents tells the log the agents' states at start (the store's
// snapshot), so that the first change of an agent already logged in is not
// written as a LOGIN. Without it an agent not yet seen counts as logged out.
func WithAgents(agents []acd.Agent) QueueLogOption {
	return func(l *QueueLog) error {
		for _, a := range agents {
			l.agent[a.ID] = agentLog{
				state:  a.State.String(),
				paused: a.State == acd.Paused || (a.State == acd.Unreachable && a.Pause != ""),
				reason: a.Pause,
			}
		}
		return nil
	}
}

// WithAgentNames writes each agent as name(id) instead of its ID, for
// example a keyed pseudonym: a queue log that names agents holds per-agent
// performance data (who let which call ring out), which the staff council
// must agree to first.
func WithAgentNames(name func(acd.AgentID) string) QueueLogOption {
	return func(l *QueueLog) error {
		l.name = name
		return nil
	}
}

// OpenQueueLog appends to the file at path, creating it with mode 0640, and
// starts the writer.
func OpenQueueLog(path string, log zerolog.Logger, opts ...QueueLogOption) (*QueueLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, QueueLogFileMode)
	if err != nil {
		return nil, fmt.Errorf("queue log: %w", err)
	}
	l, err := newQueueLog(f, f, log.With().Str("queue_log", path).Logger(), opts)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return l, nil
}

// NewQueueLog writes the queue log to w, which the caller closes after
// Close, and starts the writer.
func NewQueueLog(w io.Writer, log zerolog.Logger, opts ...QueueLogOption) (*QueueLog, error) {
	return newQueueLog(w, nil, log, opts)
}

func newQueueLog(w io.Writer, c io.Closer, log zerolog.Logger, opts []QueueLogOption) (*QueueLog, error) {
	l := &QueueLog{
		w: w, c: c, log: log,
		sampled: log.Sample(&zerolog.BurstSampler{Burst: queueLogSampleBurst, Period: queueLogSamplePeriod}),
		done:    make(chan struct{}),
		agent:   make(map[acd.AgentID]agentLog),
		calls:   make(map[acd.CallID]*callTimes),
	}
	for _, o := range opts {
		if err := o(l); err != nil {
			return nil, fmt.Errorf("queue log: %w", err)
		}
	}
	if l.ch == nil {
		l.ch = make(chan acd.Event, DefaultQueueLogBuffer)
	}
	go l.run()
	return l, nil
}

// Emit queues ev for the writer, or drops it if the buffer is full or the
// log is closed.
func (l *QueueLog) Emit(ev acd.Event) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return
	}
	select {
	case l.ch <- ev:
	default:
		l.dropped.Add(1)
	}
}

// Dropped returns how many events were dropped because the buffer was full
// (or the log closed).
func (l *QueueLog) Dropped() uint64 { return l.dropped.Load() }

// WriteErrors returns how many lines were lost to failed writes.
func (l *QueueLog) WriteErrors() uint64 { return l.writeErrs.Load() }

// PublishErrors returns how many lines could not be published.
func (l *QueueLog) PublishErrors() uint64 { return l.pubErrs.Load() }

// Close writes what is buffered, stops the writer and closes the file
// OpenQueueLog opened. It is safe to call more than once; later events are
// dropped.
func (l *QueueLog) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.ch)
	}
	l.mu.Unlock()
	<-l.done
	l.closeOnce.Do(func() {
		if l.c != nil {
			l.closeErr = l.c.Close()
		}
	})
	return l.closeErr
}

// run is the writer goroutine: it batches the lines of the events at hand
// into one write.
func (l *QueueLog) run() {
	defer close(l.done)
	tick := time.NewTicker(queueLogTick)
	defer tick.Stop()
	buf := make([]byte, 0, queueLogMaxBatch)
	for {
		select {
		case ev, ok := <-l.ch:
			if !ok {
				l.reportDrops()
				return
			}
			buf = l.appendEvent(buf[:0], ev)
			open := true
		batch:
			for open && len(buf) < queueLogMaxBatch {
				select {
				case ev, open = <-l.ch:
					if open {
						buf = l.appendEvent(buf, ev)
					}
				default:
					break batch
				}
			}
			l.write(buf)
			if !open {
				l.reportDrops()
				return
			}
		case <-tick.C:
			l.reportDrops()
			l.prune()
		}
	}
}

// appendEvent appends ev's lines, if it has any, and publishes them.
func (l *QueueLog) appendEvent(buf []byte, ev acd.Event) []byte {
	l.scratch = l.lines(l.scratch[:0], ev)
	for _, e := range l.scratch {
		if l.name != nil && e.Agent != "" {
			e.Agent = acd.AgentID(l.name(e.Agent))
		}
		start := len(buf)
		buf = e.appendTo(buf)
		if l.nc != nil {
			if err := l.nc.Publish(SubjectQueueLog, buf[start:]); err != nil {
				l.pubErrs.Add(1)
				l.sampled.Warn().Err(err).Msg("queue log line not published")
			}
		}
		buf = append(buf, '\n')
	}
	return buf
}

// write writes whole lines. A line cut short by an error is ended by a
// newline at the start of the next write, so it cannot merge with the next
// line; readers skip it as malformed.
func (l *QueueLog) write(buf []byte) {
	if len(buf) == 0 {
		return
	}
	data, lead := buf, 0
	if l.broken {
		data, lead = append([]byte{'\n'}, buf...), 1
	}
	n, err := l.w.Write(data)
	if n > 0 {
		l.broken = data[n-1] != '\n'
	}
	if err == nil {
		return
	}
	lost := bytes.Count(data[max(n, lead):], []byte{'\n'})
	l.writeErrs.Add(uint64(lost))
	l.sampled.Error().Err(err).Int("lines", lost).Uint64("lines_lost_total", l.writeErrs.Load()).Msg("queue log write failed")
}

func (l *QueueLog) reportDrops() {
	d := l.dropped.Load()
	if d == l.reported {
		return
	}
	l.log.Warn().Uint64("dropped", d-l.reported).Uint64("dropped_total", d).Msg("queue log lines dropped: writer too slow")
	l.reported = d
}

// prune forgets calls without news for queueLogCallTTL of ACD time (their
// end event was dropped).
func (l *QueueLog) prune() {
	for id, c := range l.calls {
		if l.latest.Sub(c.last) > queueLogCallTTL {
			delete(l.calls, id)
		}
	}
}

// lines appends ev's lines (none, one, or two) to out, updating what the
// writer remembers of calls and agents.
func (l *QueueLog) lines(out []QueueLogEntry, ev acd.Event) []QueueLogEntry {
	if ev.Time.After(l.latest) {
		l.latest = ev.Time
	}
	e := QueueLogEntry{Time: ev.Time, Call: ev.Call, Queue: ev.Queue, Agent: ev.Agent}
	switch ev.Type {
	case "agent.state":
		return l.agentLines(out, e, ev)
	case "call.enqueued", "call.offered", "call.noanswer", "call.rejected", "call.connected", "call.completed", "call.abandoned",
		"call.overflowed", "call.timeout", "call.exitempty", "call.transferred",
		"call.callback", "call.callbackretry", "call.callbackfailed":
	default:
		return out
	}
	c := l.calls[ev.Call]
	if c == nil {
		c = &callTimes{}
		l.calls[ev.Call] = c
	}
	c.last = ev.Time
	switch ev.Type {
	case "call.enqueued":
		*c = callTimes{enqueued: ev.Time, last: ev.Time}
		e.Verb = VerbEnter
	case "call.offered":
		c.offered = ev.Time
		e.Verb = VerbRing
		e.Data[0] = span(c.enqueued, ev.Time)
	case "call.noanswer", "call.rejected":
		e.Verb = VerbRingNoAnswer
		if ev.Type == "call.rejected" {
			e.Verb = VerbRingRejected
		}
		e.Data[0], e.Data[1] = span(c.enqueued, ev.Time), span(c.offered, ev.Time)
		c.offered = time.Time{}
	case "call.connected":
		c.connected = ev.Time
		e.Verb = VerbConnect
		e.Data[0], e.Data[1] = span(c.enqueued, ev.Time), span(c.offered, ev.Time)
	case "call.completed":
		switch ev.HangupBy {
		case acd.HangupCaller:
			e.Verb = VerbCompleteCaller
		case acd.HangupAgent:
			e.Verb = VerbCompleteAgent
		default:
			e.Verb = VerbComplete
		}
		e.Data[0], e.Data[1] = span(c.enqueued, c.connected), span(c.connected, ev.Time)
		delete(l.calls, ev.Call)
	case "call.transferred":
		e.Verb = VerbTransfer
		e.Data = [3]string{ev.Target, span(c.enqueued, c.connected), span(c.connected, ev.Time)}
		delete(l.calls, ev.Call)
	case "call.abandoned", "call.callbackfailed":
		e.Verb = VerbAbandon
		if ev.Type == "call.callbackfailed" {
			e.Verb = VerbCallbackFailed
		}
		e.Data[0] = span(c.enqueued, ev.Time)
		delete(l.calls, ev.Call)
	case "call.callback", "call.callbackretry":
		e.Verb = VerbCallback
		if ev.Type == "call.callbackretry" {
			e.Verb = VerbCallbackRetry
		}
		e.Data[0] = span(c.enqueued, ev.Time)
	case "call.overflowed":
		e.Verb = VerbOverflow
		e.Data[0], e.Data[1] = ev.Target, span(c.enqueued, ev.Time)
	case "call.timeout", "call.exitempty":
		e.Verb = VerbExitTimeout
		if ev.Type == "call.exitempty" {
			e.Verb = VerbExitEmpty
		}
		e.Data[0] = span(c.enqueued, ev.Time)
		delete(l.calls, ev.Call)
	}
	return append(out, e)
}

// agentLines appends the lines of an agent's state change: LOGIN when they
// leave logged-out, LOGOUT when they return to it; PAUSE when they become
// paused or the reason changes, UNPAUSE when they leave the pause for
// another state than logged-out or unreachable (an unreachable agent keeps
// their pause until the phone is back).
func (l *QueueLog) agentLines(out []QueueLogEntry, e QueueLogEntry, ev acd.Event) []QueueLogEntry {
	e.Call = ""
	prev, ok := l.agent[ev.Agent]
	if !ok {
		prev = agentLog{state: loggedOut}
	}
	now := agentLog{state: ev.State}
	line := func(verb, data1 string) {
		e.Verb, e.Data = verb, [3]string{data1}
		out = append(out, e)
	}
	switch {
	case prev.state == loggedOut && ev.State != loggedOut:
		line(VerbLogin, "")
	case prev.state != loggedOut && ev.State == loggedOut:
		line(VerbLogout, "")
		l.agent[ev.Agent] = now
		return out
	}
	switch ev.State {
	case paused:
		now.paused, now.reason = true, ev.Reason
		if !prev.paused || prev.reason != ev.Reason {
			line(VerbPause, ev.Reason)
		}
	case unreachable:
		now.paused, now.reason = prev.paused, prev.reason
	default:
		if prev.paused {
			line(VerbUnpause, prev.reason)
		}
	}
	l.agent[ev.Agent] = now
	return out
}

// span is the time from a to b as the difference of their millisecond
// timestamps, "" if a is unknown.
func span(a, b time.Time) string {
	if a.IsZero() || b.IsZero() {
		return ""
	}
	return string(appendDuration(nil, time.Duration(b.UnixMilli()-a.UnixMilli())*time.Millisecond))
}
