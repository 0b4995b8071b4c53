package app

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
)

// With networks.trusted narrowed to 127.0.0.1, a phone on 127.0.0.60 is
// outside: its plain-UDP REGISTER gets 403 with a reason that says why,
// before any challenge, and its feature-code call (plain RTP) 488. The
// trusted phone registers as before, and trunk calls are not affected.
func TestPlainSignallingOutsideTrustedNetworks(t *testing.T) {
	n := startNode(t, func(c *config.Config) { c.Networks.Trusted = []string{"127.0.0.1/32"} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	outside, err := loadtest.NewPhoneAt("1002", "127.0.0.60")
	require.NoError(t, err)
	defer outside.Close()
	res, err := outside.Register(ctx, n.udp, password, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 403, res.StatusCode)
	assert.Equal(t, "Forbidden: TLS required outside the trusted networks", res.Reason)
	assert.True(t, logged(n, "request refused: outside the trusted networks without encryption", "source", outside.Addr().String()))

	_, err = outside.Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "*22", From: "1002", Password: password})
	assert.ErrorContains(t, err, "488 Not Acceptable Here: SRTP required outside the trusted networks")

	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{}) // 127.0.0.1: trusted
	call(t, n, newMember(t), "100")
	waitAnswered(t, agent, 3*time.Second)
}
