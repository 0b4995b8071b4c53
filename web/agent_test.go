package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAgentDesktop(t *testing.T) {
	h := AgentDesktop(AgentDesktopConfig{WebSocket: "wss", Port: 5061, PauseReasons: []string{"break", "training"}})
	get := func(path, host string) *http.Response {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Result()
	}

	res := get("/agent/config.json", "pbx.example.org:8080")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var pc pageConfig
	require.NoError(t, json.NewDecoder(res.Body).Decode(&pc))
	assert.Equal(t, pageConfig{WebSocket: "wss://pbx.example.org:5061", Domain: "pbx.example.org", PauseReasons: []string{"break", "training"}}, pc)

	res = get("/agent/", "127.0.0.1:8080")
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, _ := io.ReadAll(res.Body)
	assert.Contains(t, string(body), `<script src="jssip.js"></script>`)
	assert.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'")
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))

	res = get("/agent/jssip.js", "127.0.0.1:8080")
	if _, err := agentFiles.ReadFile("build/jssip.js"); err == nil {
		assert.Equal(t, http.StatusOK, res.StatusCode)
	} else {
		assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "says how to build it")
	}

	none := AgentDesktop(AgentDesktopConfig{})
	req := httptest.NewRequest(http.MethodGet, "/agent/config.json", nil)
	w := httptest.NewRecorder()
	none.ServeHTTP(w, req)
	require.NoError(t, json.NewDecoder(w.Body).Decode(&pc))
	assert.Empty(t, pc.WebSocket, "no WebSocket listener: the page says so")
}
