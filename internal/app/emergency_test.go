package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/internal/prompts"
	"github.com/callwerk/callwerk/loadtest"
)

// A supervisor switches number 100's emergency announcement on through the
// API: the next caller hears it and is hung up, no agent rings; switched
// off, calls reach the agent again. Number 500's announcement is on from
// the start and lets callers go on to the queue afterwards.
func TestEmergencyAnnouncement(t *testing.T) {
	const token = "test-api-token-0123456789abcdef"
	n := startNode(t, func(c *config.Config) {
		c.HTTP.APIToken = token
		c.Numbers[0].Emergency = &config.Emergency{Prompt: "../prompts/de/goodbye.wav", Then: config.EmergencyHangup}
		c.Numbers = append(c.Numbers, config.Number{Number: "500", Queue: "service",
			Emergency: &config.Emergency{Prompt: "../prompts/de/invalid.wav", Active: true}})
		c.ApplyDefaults()
	})
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	do := func(method, path, body string) (int, string) {
		t.Helper()
		return apiCall(t, n, method, path, token, body)
	}
	code, body := do("GET", "/numbers", "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `{"number":"100","queue":"service","emergency":true,"emergency_on":false}`)
	assert.Contains(t, body, `{"number":"500","queue":"service","emergency":true,"emergency_on":true}`)

	code, body = do("POST", "/numbers/100/emergency", `{"on":true}`)
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"emergency_on":true`)
	goodbye, err := prompts.Load(prompts.Goodbye)
	require.NoError(t, err)
	mc := call(t, n, newMember(t), "100")
	select {
	case <-mc.Done():
	case <-time.After(time.Duration(goodbye.Frames())*20*time.Millisecond + 5*time.Second):
		t.Fatal("the caller was not hung up after the emergency announcement")
	}
	assert.Zero(t, agent.Calls.Load(), "no agent rang")
	assert.Greater(t, mc.RTP.Stats().Received, uint64(goodbye.Frames()*9/10), "the caller heard the announcement")

	code, _ = do("POST", "/numbers/100/emergency", `{"on":false}`)
	require.Equal(t, 200, code)
	call(t, n, newMember(t), "100")
	waitAnswered(t, agent, 5*time.Second)

	agent2 := registerAgent(t, n, "1002", loadtest.AgentOptions{})
	call(t, n, newMember(t), "500")
	waitAnswered(t, agent2, 10*time.Second) // after the announcement, the queue
	assert.True(t, logged(n, "emergency announcement", "hangup", "false"))

	code, body = do("POST", "/numbers/999/emergency", `{"on":true}`)
	assert.Equal(t, 404, code, body)
	code, body = do("POST", "/numbers/200/emergency", `{"on":true}`)
	assert.Equal(t, 409, code, body)
	assert.Contains(t, body, "numbers[].emergency.prompt")
	code, _ = do("POST", "/numbers/100/emergency", `{"active":true}`)
	assert.Equal(t, 400, code)
	assert.True(t, logged(n, "api: emergency switch", "number", "100", "on", "true"), "the switch is in the audit log")
}
