package loadtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHeapAllocReadsMemStats(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		assert.Equal(t, "1", r.URL.Query().Get("gc"), "a GC first, so only live objects count")
		_, _ = w.Write([]byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 99\n# HeapAlloc = 1417048\n# Sys = 7\n"))
	}))
	defer srv.Close()
	got, err := HeapAlloc(t.Context(), srv.URL+"/debug/pprof/heap", "tok")
	require.NoError(t, err)
	assert.Equal(t, uint64(1417048), got)
	_, err = HeapAlloc(t.Context(), srv.URL+"/debug/pprof/heap", "wrong")
	assert.ErrorContains(t, err, "401")
}

func TestHeapURLMustBeLoopback(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080/debug/pprof/heap", "http://[::1]:8080/debug/pprof/heap"} {
		assert.NoError(t, checkHeapURL(u), u)
	}
	for _, u := range []string{"http://10.0.0.1:8080/x", "http://localhost:8080/x", "https://127.0.0.1/x", "::"} {
		assert.ErrorIs(t, checkHeapURL(u), ErrHeapNotLoopback, u)
	}
}

func TestMemoryPerAgentAndCall(t *testing.T) {
	m := Memory{Before: 1000, Agents: 1000 + 400*1024, Peak: 1000 + 400*1024 + 200*20*1024, CallsUp: 200}
	m.finish(400)
	assert.Equal(t, int64(1024), m.PerAgent)
	assert.Equal(t, int64(20*1024), m.PerCall)
}

func TestReportHTML(t *testing.T) {
	r := Report{Server: "127.0.0.1:5070<script>", Duration: 3 * time.Second, Series: []Sample{
		{At: 1, Up: 10, Waiting: 4, CPS: 10, SetupAgentP99: 12.5},
		{At: 2, Up: 20, Waiting: 0, CPS: 10, SetupAgentP99: 30},
	}}
	page := string(r.HTML())
	assert.Contains(t, page, "<svg")
	assert.Equal(t, 3, strings.Count(page, "<polyline"), "up, waiting, p99")
	assert.Contains(t, page, "127.0.0.1:5070&lt;script&gt;", "escaped")
	assert.NotContains(t, page, "<script>")
}
