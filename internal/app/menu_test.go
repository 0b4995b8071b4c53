package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
)

// menuNode runs a node whose number 300 leads to menu "main": key 1 to
// queue service (agent 1001), key 2 to queue billing (agent 1002). The
// prompt is the built-in demo menu (about 8 s): keys cut it short.
func menuNode(t *testing.T, edit func(*config.Menu)) *node {
	return startNode(t, func(c *config.Config) {
		c.Queues = append(c.Queues, config.Queue{Name: "billing", RingTimeout: config.Duration(5 * time.Second), Wrapup: config.Duration(time.Second)})
		c.Agents[1].Queues = []string{"billing"}
		m := config.Menu{Name: "main", Prompt: "../prompts/de/menu-demo.wav", Options: map[string]string{"1": "service", "2": "billing"},
			Timeout: config.Duration(time.Second), Attempts: 2}
		if edit != nil {
			edit(&m)
		}
		c.Menus = []config.Menu{m}
		c.Numbers = append(c.Numbers, config.Number{Number: "300", Menu: "main", Answer: config.AnswerImmediate})
		c.ApplyDefaults()
	})
}

// The member presses keys as RFC 4733 telephone-events: 2 reaches billing's
// agent; a key not offered (9) hears "invalid" and the menu again, then 1
// reaches service's agent.
func TestMenuRFC4733(t *testing.T) {
	n := menuNode(t, nil)
	service := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	billing := registerAgent(t, n, "1002", loadtest.AgentOptions{})

	mc := call(t, n, newMember(t), "300")
	require.Eventually(t, func() bool { return received(mc) > 10 }, 3*time.Second, 10*time.Millisecond, "the prompt plays")
	require.NoError(t, mc.SendDTMF('2')) // a key cuts the prompt short
	waitAnswered(t, billing, 3*time.Second)
	assert.Zero(t, service.Calls.Load())

	mc = call(t, n, newMember(t), "300")
	require.NoError(t, mc.SendDTMF('9'))
	require.Eventually(t, func() bool { return logged(n, "menu: key not offered", "key", "9") }, 3*time.Second, 10*time.Millisecond)
	require.NoError(t, mc.SendDTMF('1')) // during "invalid": ignored
	require.Eventually(t, func() bool { return countLogged(n, "menu prompt", "attempt", "2") == 1 }, 10*time.Second, 10*time.Millisecond,
		"after \"invalid\", the prompt again")
	require.NoError(t, mc.SendDTMF('1'))
	waitAnswered(t, service, 3*time.Second)
	assert.True(t, logged(n, "menu: key not offered", "key", "9"))
	assert.True(t, logged(n, "menu choice", "key", "1", "to", "service"))
	assert.True(t, logged(n, "menu choice", "key", "2", "to", "billing"))
}

// A phone without RFC 4733 presses keys as SIP INFO (application/dtmf-relay).
func TestMenuSIPINFO(t *testing.T) {
	n := menuNode(t, nil)
	billing := registerAgent(t, n, "1002", loadtest.AgentOptions{})
	mc := call(t, n, newMember(t), "300")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status, err := mc.SendINFO(ctx, '2')
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	waitAnswered(t, billing, 3*time.Second)
}

// No key at all: after the attempts the call goes to the default queue;
// without a default it hears goodbye and is hung up.
func TestMenuTimeout(t *testing.T) {
	short := func(m *config.Menu) {
		m.Prompt = "../config/testdata/hold.wav"
		m.Attempts = 2
		m.Default = "billing"
	}
	n := menuNode(t, short)
	billing := registerAgent(t, n, "1002", loadtest.AgentOptions{})
	start := time.Now()
	call(t, n, newMember(t), "300")
	waitAnswered(t, billing, 10*time.Second)
	assert.Greater(t, time.Since(start), 2*time.Second, "two prompts and two timeouts of 1 s first")
	assert.True(t, logged(n, "menu: default", "to", "billing"))

	n = menuNode(t, func(m *config.Menu) { short(m); m.Default = ""; m.Attempts = 1 })
	mc := call(t, n, newMember(t), "300")
	select {
	case <-mc.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the call without a choice was not hung up")
	}
	assert.Eventually(t, func() bool { return logged(n, "call ended", "reason", "no choice in the menu") }, time.Second, 10*time.Millisecond)
}

// logged reports whether the node logged message with the given field
// values (name, value, name, value, ...).
func logged(n *node, message string, fields ...string) bool {
	return countLogged(n, message, fields...) > 0
}

// countLogged counts the node's log lines with message and the field values.
func countLogged(n *node, message string, fields ...string) int {
	count := 0
	for line := range strings.Lines(n.logs.String()) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["message"] != message {
			continue
		}
		match := true
		for i := 0; i+1 < len(fields); i += 2 {
			if fmt.Sprint(rec[fields[i]]) != fields[i+1] {
				match = false
			}
		}
		if match {
			count++
		}
	}
	return count
}

// received counts the RTP packets a member got.
func received(mc *loadtest.MemberCall) uint64 { return mc.RTP.Stats().Received }
