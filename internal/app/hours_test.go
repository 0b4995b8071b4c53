package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/internal/prompts"
	"github.com/callwerk/callwerk/loadtest"
)

// Two numbers keep the same weekday hours, one in Bavaria (401), one in
// Berlin (402), on a clock the test sets. On Epiphany (a Bavarian holiday)
// the Bavarian number is closed and the Berlin one open; on Frauentag (a
// Berlin holiday) the other way round; on 24 December both close at noon.
// A closed call is answered, hears the closed prompt, is hung up and
// counted as closed; no agent rings.
func TestClosedHoursAndHolidays(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	var now atomic.Pointer[time.Time]
	set := func(s string) {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		require.NoError(t, err)
		now.Store(&v)
	}
	set("2026-01-06 10:00")
	week := map[string]string{"mon": "08:00-18:00", "tue": "08:00-18:00", "wed": "08:00-18:00", "thu": "08:00-18:00", "fri": "08:00-18:00"}
	n := startNode(t, func(c *config.Config) {
		xmas := map[string]string{"2026-12-24": "08:00-12:00"}
		c.Hours = []config.Hours{{Name: "bavaria", Land: "BY", Week: week, Exceptions: xmas}, {Name: "berlin", Land: "BE", Week: week, Exceptions: xmas}}
		c.Numbers = append(c.Numbers,
			config.Number{Number: "401", Queue: "service", Hours: "bavaria"},
			config.Number{Number: "402", Queue: "service", Hours: "berlin"})
		c.ApplyDefaults()
	}, WithClock(func() time.Time { return *now.Load() }))
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	closedPrompt, err := prompts.Load(prompts.Closed)
	require.NoError(t, err)
	promptLen := time.Duration(closedPrompt.Frames()) * 20 * time.Millisecond

	closed := func(number string) {
		t.Helper()
		start := time.Now()
		mc := call(t, n, newMember(t), number)
		select {
		case <-mc.Done():
		case <-time.After(promptLen + 5*time.Second):
			t.Fatalf("%s: a closed call is hung up after the prompt", number)
		}
		assert.Greater(t, time.Since(start), promptLen-time.Second, "%s: the caller heard the closed prompt", number)
		assert.Greater(t, mc.RTP.Stats().Received, uint64(promptLen/(20*time.Millisecond))*9/10)
	}
	open := func(number string) {
		t.Helper()
		mc := call(t, n, newMember(t), number)
		waitAnswered(t, agent, 5*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, mc.Hangup(ctx))
		n.waitAgentState(t, "1001", acd.Available, 5*time.Second) // after the 1 s wrap-up
	}

	calls := agent.Calls.Load()
	closed("401") // Heilige Drei Könige: Bavaria only
	assert.Equal(t, calls, agent.Calls.Load(), "no agent rang for a closed number")
	assert.True(t, logged(n, "closed: the caller hears the closed prompt", "why", "holiday: Heilige Drei Könige"))
	open("402")

	set("2027-03-08 10:00") // Frauentag: Berlin only
	open("401")
	closed("402")

	set("2026-12-24 12:30") // Christmas Eve, after noon
	closed("401")
	assert.Equal(t, 3, n.KPIs().Snapshot(time.Now())["service"].Closed)
}
