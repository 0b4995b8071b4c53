package queues

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/callwerk/callwerk/acd"
)

var _ acd.EventSink = (*Events)(nil)

// Subjects on which the ACD's events are published (JSON, acd.Event):
//
//	callwerk.agent.<id>.state     an agent's new state
//	callwerk.queue.<name>.events  call events of a queue (enqueued, offered, ...)
//
// '.' in an agent ID is written as "%2E" in the subject.
const (
	SubjectAgentState  = "callwerk.agent.%s.state"
	SubjectQueueEvents = "callwerk.queue.%s.events"
)

// Events publishes ACD events on NATS. Publishing never blocks the ACD: the
// client buffers, and a failed publish is logged (sampled) and dropped, since
// presence is reconciled from the store, not from events.
type Events struct {
	nc  *nats.Conn
	log zerolog.Logger
}

// NewEvents returns an event sink on nc.
func NewEvents(nc *nats.Conn, log zerolog.Logger) *Events {
	return &Events{nc: nc, log: log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Second})}
}

// Emit publishes ev on its subject.
func (e *Events) Emit(ev acd.Event) {
	subject := fmt.Sprintf(SubjectQueueEvents, ev.Queue)
	if ev.Type == "agent.state" {
		subject = fmt.Sprintf(SubjectAgentState, strings.ReplaceAll(string(ev.Agent), ".", "%2E"))
	}
	data, err := json.Marshal(ev)
	if err == nil {
		err = e.nc.Publish(subject, data)
	}
	if err != nil {
		e.log.Warn().Err(err).Str("subject", subject).Msg("event not published")
	}
}

// Bus is a connection to NATS, and the embedded server if there is one.
type Bus struct {
	Conn    *nats.Conn
	srv     *server.Server
	closing *atomic.Bool // set before Close disconnects: the handlers stay quiet
	hooks   *reconnectHooks
}

// reconnectHooks are called, in order, each time the bus reconnects.
type reconnectHooks struct {
	mu sync.Mutex
	fs []func()
}

func (h *reconnectHooks) run() {
	h.mu.Lock()
	fs := h.fs
	h.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// OnReconnect calls f (which must not block) each time the connection is
// back after an outage: what was published meanwhile may be lost (core
// NATS is at-most-once), so state kept from the bus should be reread.
func (b *Bus) OnReconnect(f func()) {
	b.hooks.mu.Lock()
	b.hooks.fs = append(b.hooks.fs, f)
	b.hooks.mu.Unlock()
}

// EmbeddedReadyTimeout bounds the start of the in-process NATS server.
const EmbeddedReadyTimeout = 10 * time.Second

// ConnectBus connects to url, or with "embedded" starts an in-process NATS
// server that listens on no port and connects to it in-process.
func ConnectBus(url, name string, log zerolog.Logger) (*Bus, error) {
	closing := new(atomic.Bool)
	hooks := &reconnectHooks{}
	opts := []nats.Option{
		nats.Name("callwerk " + name),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if !closing.Load() {
				log.Warn().Err(err).Msg("bus disconnected")
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			if !closing.Load() {
				log.Info().Msg("bus reconnected")
				hooks.run()
			}
		}),
	}
	if url != "embedded" {
		nc, err := nats.Connect(url, opts...)
		if err != nil {
			return nil, fmt.Errorf("bus %s: %w", url, err)
		}
		return &Bus{Conn: nc, closing: closing, hooks: hooks}, nil
	}
	srv, err := server.NewServer(&server.Options{ServerName: "callwerk-" + name, DontListen: true, NoSigs: true})
	if err != nil {
		return nil, fmt.Errorf("embedded bus: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(EmbeddedReadyTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded bus: not ready after %s", EmbeddedReadyTimeout)
	}
	nc, err := nats.Connect("", append(opts, nats.InProcessServer(srv))...)
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded bus: %w", err)
	}
	return &Bus{Conn: nc, srv: srv, closing: closing, hooks: hooks}, nil
}

// CloseTimeout bounds the flush of pending events at shutdown.
const CloseTimeout = 2 * time.Second

// Close flushes pending events, closes the connection and stops the
// embedded server.
func (b *Bus) Close() {
	b.closing.Store(true)
	_ = b.Conn.FlushTimeout(CloseTimeout)
	b.Conn.Close()
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
