package logging

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlogRedactsRawSIP(t *testing.T) {
	var buf bytes.Buffer
	zl, err := New(&buf, "json")
	require.NoError(t, err)
	sl := Slog(zl).With("caller", "Server")
	raw := "INVITE sip:100@x SIP/2.0\r\nFrom: <sip:+4930123456@carrier>\r\n"
	sl.Error("failed to parse", "data", raw, "error", errors.New("bad header"))
	sl.Debug("debug is dropped", "x", 1)
	out := buf.String()
	assert.NotContains(t, out, "4930123456")
	assert.Contains(t, out, `"data":"[redacted]"`)
	assert.Contains(t, out, `"caller":"Server"`)
	assert.Contains(t, out, `"error":"bad header"`)
	assert.NotContains(t, out, "debug is dropped")
}

func TestNewRejectsUnknownFormat(t *testing.T) {
	_, err := New(&bytes.Buffer{}, "xml")
	assert.ErrorContains(t, err, "xml")
}
