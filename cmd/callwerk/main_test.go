package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/testlog"
)

const goodConfig = `
sip:
  listen: ["udp:127.0.0.1:0", "tcp:127.0.0.1:0"]
media:
  ports: "33000-33099"
http:
  listen: 127.0.0.1:0
trunks:
  - name: carrier
    addresses: ["127.0.0.1/32"]
numbers:
  - number: "100"
    queue: service
queues:
  - name: service
agents:
  - id: "1001"
    password: "a-long-password"
    queues: [service]
`

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "callwerk.yaml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestConfigCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 0, run([]string{"config", "check", writeFile(t, goodConfig)}, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "service")
	assert.NotContains(t, out.String(), "a-long-password")

	out.Reset()
	bad := strings.Replace(goodConfig, "  - name: service\n", "  - name: service\n    ring_timeout: 2s\n", 1)
	assert.Equal(t, 1, run([]string{"config", "check", writeFile(t, bad)}, &out, &errOut))
	assert.Contains(t, errOut.String(), "queues[0].ring_timeout")

	errOut.Reset()
	unknown := strings.Replace(goodConfig, "http:", "htp:", 1)
	assert.Equal(t, 1, run([]string{"serve", "-config", writeFile(t, unknown)}, &out, &errOut), "serve refuses a bad config")
	assert.Contains(t, errOut.String(), "htp")

	assert.Equal(t, 2, run([]string{"frobnicate"}, &out, &errOut))
}

// serve runs until SIGTERM and then exits 0.
func TestServeStopsOnSignal(t *testing.T) {
	var out testlog.Buffer
	var errOut testlog.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"serve", "-config", writeFile(t, goodConfig)}, &out, &errOut) }()
	require.Eventually(t, func() bool { return strings.Contains(errOut.String(), "callwerk running") },
		10*time.Second, 20*time.Millisecond, "server did not start: %s", errOut.String())
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case code := <-done:
		assert.Equal(t, 0, code, errOut.String())
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	assert.Contains(t, errOut.String(), "callwerk stopped")
}
