package queues_test

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/testlog"
	"github.com/callwerk/callwerk/queues"
)

const waitFor = 2 * time.Second

// newBus starts an embedded bus that is closed when the test ends.
func newBus(t *testing.T) *queues.Bus {
	t.Helper()
	bus, err := queues.ConnectBus("embedded", t.Name(), zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, err)
	t.Cleanup(bus.Close)
	return bus
}

// subscribe subscribes to subject on the bus's connection and waits until
// the server has the subscription.
func subscribe(t *testing.T, bus *queues.Bus, subject string) *nats.Subscription {
	t.Helper()
	sub, err := bus.Conn.SubscribeSync(subject)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, bus.Conn.FlushTimeout(waitFor))
	return sub
}

func TestEventsSubjects(t *testing.T) {
	bus := newBus(t)
	sub := subscribe(t, bus, "callwerk.>")
	events := queues.NewEvents(bus.Conn, zerolog.New(zerolog.NewTestWriter(t)))
	at := time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.UTC)

	cases := []struct {
		name    string
		ev      acd.Event
		subject string
	}{
		{
			name:    "agent state",
			ev:      acd.Event{Time: at, Type: "agent.state", Agent: "anna", State: "available"},
			subject: "callwerk.agent.anna.state",
		},
		{
			name:    "agent state goes to the agent even with a queue",
			ev:      acd.Event{Time: at, Type: "agent.state", Queue: "sales", Agent: "anna", State: "wrap-up"},
			subject: "callwerk.agent.anna.state",
		},
		{
			name:    "dot in agent id is escaped",
			ev:      acd.Event{Time: at, Type: "agent.state", Agent: "jane.doe.2", State: "on-call"},
			subject: "callwerk.agent.jane%2Edoe%2E2.state",
		},
		{name: "enqueued", ev: acd.Event{Time: at, Type: "call.enqueued", Queue: "sales", Call: "c1"}, subject: "callwerk.queue.sales.events"},
		{name: "offered", ev: acd.Event{Time: at, Type: "call.offered", Queue: "sales", Agent: "jane.doe", Call: "c1"}, subject: "callwerk.queue.sales.events"},
		{name: "noanswer", ev: acd.Event{Time: at, Type: "call.noanswer", Queue: "support", Agent: "anna", Call: "c1"}, subject: "callwerk.queue.support.events"},
		{name: "connected", ev: acd.Event{Time: at, Type: "call.connected", Queue: "sales", Agent: "anna", Call: "c1"}, subject: "callwerk.queue.sales.events"},
		{name: "completed", ev: acd.Event{Time: at, Type: "call.completed", Queue: "sales", Agent: "anna", Call: "c1"}, subject: "callwerk.queue.sales.events"},
		{name: "abandoned", ev: acd.Event{Time: at, Type: "call.abandoned", Queue: "sales", Call: "c1"}, subject: "callwerk.queue.sales.events"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			events.Emit(tc.ev)
			msg, err := sub.NextMsg(waitFor)
			require.NoError(t, err)
			assert.Equal(t, tc.subject, msg.Subject)
			var got acd.Event
			require.NoError(t, json.Unmarshal(msg.Data, &got))
			assert.True(t, tc.ev.Time.Equal(got.Time), "time %s, want %s", got.Time, tc.ev.Time)
			got.Time = tc.ev.Time
			assert.Equal(t, tc.ev, got)
		})
	}
}

// TestEventsAgentWildcard checks what the escaping is for: an agent whose
// ID holds a dot is still one token, so one wildcard sees every agent.
func TestEventsAgentWildcard(t *testing.T) {
	bus := newBus(t)
	sub := subscribe(t, bus, "callwerk.agent.*.state")
	events := queues.NewEvents(bus.Conn, zerolog.Nop())
	for _, id := range []acd.AgentID{"anna", "jane.doe"} {
		events.Emit(acd.Event{Type: "agent.state", Agent: id, State: "available"})
	}
	events.Emit(acd.Event{Type: "call.enqueued", Queue: "sales", Call: "c1"}) // not an agent subject
	for _, want := range []acd.AgentID{"anna", "jane.doe"} {
		msg, err := sub.NextMsg(waitFor)
		require.NoError(t, err)
		var got acd.Event
		require.NoError(t, json.Unmarshal(msg.Data, &got))
		assert.Equal(t, want, got.Agent)
	}
	require.NoError(t, bus.Conn.FlushTimeout(waitFor))
	pending, _, err := sub.Pending()
	require.NoError(t, err)
	assert.Zero(t, pending, "call events stay off agent subjects")
}

func TestEventsJSON(t *testing.T) {
	bus := newBus(t)
	sub := subscribe(t, bus, "callwerk.>")
	events := queues.NewEvents(bus.Conn, zerolog.Nop())
	events.Emit(acd.Event{Time: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), Type: "agent.state", Agent: "anna", State: "reserved"})
	msg, err := sub.NextMsg(waitFor)
	require.NoError(t, err)
	assert.JSONEq(t, `{"time":"2025-03-01T09:00:00Z","type":"agent.state","agent":"anna","state":"reserved"}`, string(msg.Data))
}

func TestEventsAfterCloseAreDropped(t *testing.T) {
	bus, err := queues.ConnectBus("embedded", t.Name(), zerolog.Nop())
	require.NoError(t, err)
	bus.Close()
	var buf testlog.Buffer
	events := queues.NewEvents(bus.Conn, zerolog.New(&buf))
	assert.NotPanics(t, func() {
		events.Emit(acd.Event{Type: "call.enqueued", Queue: "sales", Call: "c1"})
	})
	assert.Contains(t, buf.String(), "event not published")
	assert.Contains(t, buf.String(), "callwerk.queue.sales.events")
}

func TestBusCloseLeavesNoGoroutines(t *testing.T) {
	settle := func() int {
		// Goroutines of earlier tests may still be on their way out.
		n := runtime.NumGoroutine()
		for range 3 {
			runtime.Gosched()
			n = min(n, runtime.NumGoroutine())
		}
		return n
	}
	before := settle()

	bus, err := queues.ConnectBus("embedded", t.Name(), zerolog.Nop())
	require.NoError(t, err)
	sub, err := bus.Conn.SubscribeSync("callwerk.>")
	require.NoError(t, err)
	events := queues.NewEvents(bus.Conn, zerolog.Nop())
	events.Emit(acd.Event{Type: "agent.state", Agent: "anna", State: "available"})
	_, err = sub.NextMsg(waitFor)
	require.NoError(t, err)
	require.Greater(t, runtime.NumGoroutine(), before, "the bus runs goroutines")

	closed := make(chan struct{})
	go func() {
		bus.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatalf("Bus.Close did not return within %s", waitFor)
	}
	// Polled here rather than with assert.Eventually, whose own goroutine
	// would be counted.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	for runtime.NumGoroutine() > before {
		select {
		case <-tick.C:
		case <-deadline:
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines %s after Close, %d before the bus:\n%s",
				runtime.NumGoroutine(), waitFor, before, buf[:runtime.Stack(buf, true)])
		}
	}
}
