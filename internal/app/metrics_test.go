package app

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
)

// /metrics, behind the API token, counts what a real call did: the SIP
// messages by method and status, the relay's packets, the queue's
// figures; and it shows no caller number.
func TestMetrics(t *testing.T) {
	const token = "metrics-token-0123456789abcdef"
	n := startNode(t, func(c *config.Config) { c.HTTP.APIToken = token })
	scrape := func(tok string) (int, string) { return httpCall(t, n, http.MethodGet, "/metrics", tok, "") }
	value := func(body, series string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
		require.NotNil(t, m, "no series %s in\n%s", series, body)
		v, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		return v
	}
	code, _ := scrape("")
	assert.Equal(t, http.StatusUnauthorized, code)

	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	const from = "+4930123456789"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mc, err := newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: from})
	require.NoError(t, err)
	ac := waitAnswered(t, agent, 5*time.Second)
	require.Eventually(t, func() bool { return received(mc) > 25 && ac.RTP.Stats().Received > 25 }, 5*time.Second, 50*time.Millisecond)
	_, during := scrape(token)
	assert.Equal(t, 1.0, value(during, "callwerk_calls_active"))
	assert.Equal(t, 2.0, value(during, "callwerk_relay_legs"))
	assert.Equal(t, 1.0, value(during, "callwerk_registered_agents"))
	require.NoError(t, mc.Hangup(ctx))
	waitClosed(t, ac.Done(), 3*time.Second, "the agent's leg ends")

	var body string
	require.Eventually(t, func() bool { // the call's goroutine ends just after the BYE
		code, body = scrape(token)
		return code == http.StatusOK && value(body, "callwerk_calls_active") == 0
	}, 3*time.Second, 20*time.Millisecond, "the call ended")
	assert.GreaterOrEqual(t, value(body, `callwerk_sip_requests_received_total{method="INVITE"}`), 1.0)
	assert.GreaterOrEqual(t, value(body, `callwerk_sip_requests_received_total{method="REGISTER"}`), 1.0)
	assert.GreaterOrEqual(t, value(body, `callwerk_sip_requests_sent_total{method="INVITE"}`), 1.0, "the agent was rung")
	assert.GreaterOrEqual(t, value(body, `callwerk_sip_responses_sent_total{code="200"}`), 2.0)
	assert.GreaterOrEqual(t, value(body, `callwerk_sip_responses_received_total{code="200"}`), 1.0, "the agent answered")
	assert.Greater(t, value(body, "callwerk_relay_packets_received_total"), 50.0)
	assert.Greater(t, value(body, "callwerk_relay_packets_sent_total"), 50.0)
	assert.Equal(t, 1.0, value(body, `callwerk_queue_answered{queue="service"}`))
	assert.NotContains(t, body, from[3:], "no caller number")
	assert.Contains(t, body, "# TYPE callwerk_relay_packets_received_total counter")
}
