// Package logging sets up zerolog for Callwerk and bridges the SIP library's
// slog output into it, with the library's raw-message attributes removed:
// sipgo logs whole SIP messages (From, P-Asserted-Identity: caller numbers)
// on parse errors, which must never reach our logs.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// New returns the root logger writing JSON ("json") or human-readable
// ("console") lines to w.
func New(w io.Writer, format string) (zerolog.Logger, error) {
	switch format {
	case "json", "":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want json or console", format)
	}
	return zerolog.New(w).With().Timestamp().Logger(), nil
}

// Stderr is New(os.Stderr, format).
func Stderr(format string) (zerolog.Logger, error) { return New(os.Stderr, format) }

// redacted are slog attribute keys under which sipgo puts raw SIP text.
var redacted = map[string]bool{"data": true, "req": true, "res": true, "msg": true, "request": true, "response": true, "message": true}

// Slog returns a slog.Logger that writes to log at Info and above, with raw
// SIP text replaced by "[redacted]".
func Slog(log zerolog.Logger) *slog.Logger {
	return slog.New(&handler{log: log})
}

type handler struct {
	log   zerolog.Logger
	attrs []slog.Attr
	group string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	var ev *zerolog.Event
	switch {
	case r.Level >= slog.LevelError:
		ev = h.log.Error()
	case r.Level >= slog.LevelWarn:
		ev = h.log.Warn()
	default:
		ev = h.log.Info()
	}
	for _, a := range h.attrs {
		ev = addAttr(ev, h.group, a)
	}
	r.Attrs(func(a slog.Attr) bool {
		ev = addAttr(ev, h.group, a)
		return true
	})
	ev.Msg(r.Message)
	return nil
}

func addAttr(ev *zerolog.Event, group string, a slog.Attr) *zerolog.Event {
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	if redacted[a.Key] {
		return ev.Str(key, "[redacted]")
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		for _, g := range v.Group() {
			ev = addAttr(ev, key, g)
		}
		return ev
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return ev.AnErr(key, err)
		}
	}
	return ev.Str(key, v.String())
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &n
}

func (h *handler) WithGroup(name string) slog.Handler {
	n := *h
	if n.group != "" {
		name = n.group + "." + name
	}
	n.group = name
	return &n
}

// Redis returns a logger for go-redis (redis.SetLogger) that writes to log
// at warn level: go-redis logs connection trouble this way.
func Redis(log zerolog.Logger) RedisLogger { return RedisLogger{log: log} }

// RedisLogger adapts zerolog to go-redis's logging interface.
type RedisLogger struct{ log zerolog.Logger }

// Printf logs one go-redis message.
func (l RedisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Msgf(format, v...)
}
