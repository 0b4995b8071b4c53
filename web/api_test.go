package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
)

// fakeControl is the API's boundary: a map of agents and the transition
// functions of acd, so the API's mapping of outcomes to status codes is
// tested without a running ACD (the end-to-end test in internal/app runs one).
type fakeControl struct {
	agents map[acd.AgentID]*acd.Agent
	fail   error
}

func (f *fakeControl) Agents(context.Context) ([]acd.Agent, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var out []acd.Agent
	for _, a := range f.agents {
		out = append(out, a.Clone())
	}
	return out, nil
}

func (f *fakeControl) SetPause(_ context.Context, id acd.AgentID, reason string) error {
	a, ok := f.agents[id]
	if !ok {
		return acd.ErrNotFound
	}
	return acd.SetPause(a, reason, time.Now())
}

func (f *fakeControl) EndWrapUp(_ context.Context, id acd.AgentID) error {
	a, ok := f.agents[id]
	if !ok {
		return acd.ErrNotFound
	}
	return acd.EndWrapUp(a, a.Call, time.Now())
}

type fakeFigures struct{}

func (fakeFigures) Snapshot(time.Time) map[string]acd.QueueKPI {
	return map[string]acd.QueueKPI{"service": {Waiting: 2, Answered: 7}}
}

const token = "a-token-of-at-least-24-chars"

func TestAPIStatusCodes(t *testing.T) {
	ctl := &fakeControl{agents: map[acd.AgentID]*acd.Agent{
		"anna": {ID: "anna", Queues: []string{"service"}, State: acd.Available, Online: true, Answered: 42},
		"ben":  {ID: "ben", Queues: []string{"service"}, State: acd.WrapUp, Online: true, Call: "c1"},
		"gone": {ID: "gone", State: acd.LoggedOut},
	}}
	mux := http.NewServeMux()
	NewAPI(ctl, fakeFigures{}, nil, token, []string{"break", "lunch"}, zerolog.Nop()).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	cases := []struct {
		name, method, path, tok, body string
		want                          int
		contains                      string
	}{
		{"no token", "GET", "/api/v1/agents", "", "", 401, "API token"},
		{"wrong token", "GET", "/api/v1/agents", "b-token-of-at-least-24-chars", "", 401, ""},
		{"list", "GET", "/api/v1/agents", token, "", 200, `"id":"anna","state":"available"`},
		{"pause", "POST", "/api/v1/agents/anna/pause", token, `{"reason":"lunch"}`, 200, `"state":"paused","pause":"lunch"`},
		{"pause with unknown reason", "POST", "/api/v1/agents/anna/pause", token, `{"reason":"nap"}`, 400, "pause_reasons"},
		{"pause with bad body", "POST", "/api/v1/agents/anna/pause", token, `lunch`, 400, "JSON"},
		{"pause unknown agent", "POST", "/api/v1/agents/zoe/pause", token, `{"reason":"lunch"}`, 404, "no agent zoe"},
		{"pause logged-out agent", "POST", "/api/v1/agents/gone/pause", token, `{"reason":"lunch"}`, 409, "not possible"},
		{"end wrap-up", "POST", "/api/v1/agents/ben/end-wrapup", token, "", 200, `"state":"available"`},
		{"end wrap-up twice", "POST", "/api/v1/agents/ben/end-wrapup", token, "", 409, ""},
		{"unpause", "POST", "/api/v1/agents/anna/unpause", token, "", 200, `"state":"available"`},
		{"queues", "GET", "/api/v1/queues", token, "", 200, `"waiting":2`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.tok != "" {
				req.Header.Set("Authorization", "Bearer "+tc.tok)
			}
			res, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			assert.Equal(t, tc.want, res.StatusCode, string(b))
			assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
			assert.Contains(t, string(b), tc.contains)
			if strings.Contains(tc.path, "/agents") {
				for _, field := range []string{"nswered", "alk", "isses"} {
					assert.NotContains(t, string(b), field, "no per-agent performance figures")
				}
			}
		})
	}
}

func TestProfilerNeedsTheToken(t *testing.T) {
	mux := http.NewServeMux()
	NewAPI(&fakeControl{}, fakeFigures{}, nil, token, nil, zerolog.Nop()).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	get := func(tok string) (int, string) {
		req, err := http.NewRequest("GET", srv.URL+"/debug/pprof/heap?debug=1", nil)
		require.NoError(t, err)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, _ := get("")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, body := get(token)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "# HeapAlloc = ")
}

// The OpenAPI document is served without the token and describes exactly
// the operations registered under /api/v1.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPI, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	described := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			described[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, r := range (&API{}).routes() {
		if strings.Contains(r.pattern, " /api/v1/") {
			registered[r.pattern] = true
		}
	}
	assert.Equal(t, registered, described)

	mux := http.NewServeMux()
	NewAPI(&fakeControl{}, fakeFigures{}, nil, token, nil, zerolog.Nop()).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	assert.Equal(t, 200, rec.Code)
	assert.JSONEq(t, string(openAPI), rec.Body.String())
}

// The document's QueueFigures schema names every field of the figures the
// API returns, and nothing else.
func TestOpenAPIQueueFiguresMatchKPIs(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPI, &doc))
	described := map[string]bool{}
	for name := range doc.Components.Schemas["QueueFigures"].Properties {
		described[name] = true
	}
	returned := map[string]bool{}
	for f := range reflect.TypeFor[acd.QueueKPI]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		returned[name] = true
	}
	assert.Equal(t, returned, described)
}
