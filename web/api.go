// Package web serves Callwerk's HTTP API under /api/v1, behind a bearer
// token: agents' states (read and change), per-queue live figures, the
// numbers' emergency switches, and its OpenAPI description
// (/api/v1/openapi.json). The dashboard and sign-in with roles extend it.
package web

import (
	"context"
	"crypto/subtle"
	_ "embed" // openapi.json
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/sip"
)

// Control is what the API needs of the ACD.
type Control interface {
	Agents(ctx context.Context) ([]acd.Agent, error)
	SetPause(ctx context.Context, agent acd.AgentID, reason string) error
	EndWrapUp(ctx context.Context, agent acd.AgentID) error
}

// Numbers are the dialled numbers and their emergency switches.
type Numbers interface {
	Numbers() []sip.NumberInfo
	SetEmergency(number string, on bool) error
}

// Figures gives the live per-queue figures.
type Figures interface {
	Snapshot(now time.Time) map[string]acd.QueueKPI
}

// API is the /api/v1 handler.
type API struct {
	ctl          Control
	figures      Figures
	numbers      Numbers
	token        []byte
	pauseReasons []string
	node         Node // for /metrics; nil: queue figures only
	log          zerolog.Logger
}

// NewAPI returns the API. token must be non-empty; requests must carry it
// as "Authorization: Bearer <token>".
func NewAPI(ctl Control, figures Figures, numbers Numbers, token string, pauseReasons []string, log zerolog.Logger) *API {
	return &API{ctl: ctl, figures: figures, numbers: numbers, token: []byte(token), pauseReasons: pauseReasons, log: log}
}

// route is one operation of the API.
type route struct {
	pattern string // method and path, as http.ServeMux takes them
	h       http.HandlerFunc
	open    bool // served without the token
}

// routes are the API's operations; openapi.json describes those under
// /api/v1 (TestOpenAPIDescribesEveryRoute).
func (a *API) routes() []route {
	return []route{
		{"GET /api/v1/agents", a.listAgents, false},
		{"POST /api/v1/agents/{id}/pause", a.pause, false},
		{"POST /api/v1/agents/{id}/unpause", a.unpause, false},
		{"POST /api/v1/agents/{id}/end-wrapup", a.endWrapUp, false},
		{"GET /api/v1/queues", a.queues, false},
		{"GET /api/v1/numbers", a.listNumbers, false},
		{"POST /api/v1/numbers/{number}/emergency", a.emergency, false},
		{"GET /api/v1/openapi.json", serveOpenAPI, true},
		{"GET /metrics", a.metrics, false}, // Prometheus: scrape with the token as bearer_token
		// Go's profiler, for operators and the load tool's memory figures:
		// behind the API token, like everything that is not a health check.
		{"GET /debug/pprof/", pprof.Index, false},
		{"GET /debug/pprof/cmdline", pprof.Cmdline, false},
		{"GET /debug/pprof/profile", pprof.Profile, false},
		{"GET /debug/pprof/symbol", pprof.Symbol, false},
		{"GET /debug/pprof/trace", pprof.Trace, false},
	}
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	for _, r := range a.routes() {
		if r.open {
			mux.Handle(r.pattern, r.h)
		} else {
			mux.Handle(r.pattern, a.auth(r.h))
		}
	}
}

//go:embed openapi.json
var openAPI []byte

// serveOpenAPI serves the OpenAPI document of the API.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) { writeJSON(w, code, apiError{Error: msg}) }

func (a *API) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), a.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="callwerk"`)
			fail(w, http.StatusUnauthorized, "missing or wrong API token: send Authorization: Bearer <http.api_token>")
			return
		}
		h(w, r)
	})
}

// AgentView is what the API shows of an agent: routing state only, no
// per-agent performance figures.
type AgentView struct {
	ID     string    `json:"id"`
	State  string    `json:"state"`
	Pause  string    `json:"pause,omitempty"` // reason while paused, or the pause that follows the current call
	Since  time.Time `json:"since"`
	Queues []string  `json:"queues"`
}

func (a *API) listAgents(w http.ResponseWriter, r *http.Request) {
	agents, err := a.ctl.Agents(r.Context())
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "agents unavailable: "+err.Error())
		return
	}
	out := make([]AgentView, 0, len(agents))
	for _, ag := range agents {
		out = append(out, AgentView{ID: string(ag.ID), State: ag.State.String(), Pause: ag.Pause, Since: ag.Since, Queues: ag.Queues})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) pause(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		fail(w, http.StatusBadRequest, `body must be JSON like {"reason":"lunch"}`)
		return
	}
	if !slices.Contains(a.pauseReasons, body.Reason) {
		fail(w, http.StatusBadRequest, "reason must be one of pause_reasons: "+strings.Join(a.pauseReasons, ", "))
		return
	}
	a.change(w, r, "pause", func(ctx context.Context, id acd.AgentID) error { return a.ctl.SetPause(ctx, id, body.Reason) })
}

func (a *API) unpause(w http.ResponseWriter, r *http.Request) {
	a.change(w, r, "unpause", func(ctx context.Context, id acd.AgentID) error { return a.ctl.SetPause(ctx, id, "") })
}

func (a *API) endWrapUp(w http.ResponseWriter, r *http.Request) {
	a.change(w, r, "end wrap-up", a.ctl.EndWrapUp)
}

// change applies a state change, logs it for the audit trail and answers
// with the agent's state afterwards.
func (a *API) change(w http.ResponseWriter, r *http.Request, what string, fn func(context.Context, acd.AgentID) error) {
	id := acd.AgentID(r.PathValue("id"))
	err := fn(r.Context(), id)
	a.log.Info().Str("action", what).Str("agent", string(id)).Str("from", r.RemoteAddr).AnErr("error", err).Msg("api: agent state change")
	switch {
	case errors.Is(err, acd.ErrNotFound):
		fail(w, http.StatusNotFound, "no agent "+string(id))
		return
	case errors.Is(err, acd.ErrConflict):
		fail(w, http.StatusConflict, what+" is not possible in the agent's current state")
		return
	case err != nil:
		fail(w, http.StatusServiceUnavailable, what+" failed: "+err.Error())
		return
	}
	agents, err := a.ctl.Agents(r.Context())
	if err != nil {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	for _, ag := range agents {
		if ag.ID == id {
			writeJSON(w, http.StatusOK, AgentView{ID: string(ag.ID), State: ag.State.String(), Pause: ag.Pause, Since: ag.Since, Queues: ag.Queues})
			return
		}
	}
	fail(w, http.StatusNotFound, "no agent "+string(id))
}

func (a *API) queues(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.figures.Snapshot(time.Now()))
}

func (a *API) listNumbers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.numbers.Numbers())
}

// emergency switches a number's emergency announcement: {"on": true}.
func (a *API) emergency(w http.ResponseWriter, r *http.Request) {
	var body struct {
		On *bool `json:"on"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.On == nil {
		fail(w, http.StatusBadRequest, `body must be JSON like {"on":true}`)
		return
	}
	number := r.PathValue("number")
	err := a.numbers.SetEmergency(number, *body.On)
	a.log.Info().Str("action", "emergency announcement").Str("number", number).Bool("on", *body.On).Str("from", r.RemoteAddr).
		AnErr("error", err).Msg("api: emergency switch")
	switch {
	case errors.Is(err, sip.ErrUnknownNumber):
		fail(w, http.StatusNotFound, "no number "+number)
		return
	case errors.Is(err, sip.ErrNoEmergency):
		fail(w, http.StatusConflict, "number "+number+" has no emergency announcement: configure numbers[].emergency.prompt")
		return
	case err != nil:
		fail(w, http.StatusServiceUnavailable, "switch failed: "+err.Error())
		return
	}
	for _, n := range a.numbers.Numbers() {
		if n.Number == number {
			writeJSON(w, http.StatusOK, n)
			return
		}
	}
	fail(w, http.StatusNotFound, "no number "+number)
}
