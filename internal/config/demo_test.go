package config

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemo(t *testing.T) {
	c := Demo()
	require.NoError(t, c.Validate())

	ls, err := c.SIP.Listeners()
	require.NoError(t, err)
	assert.Equal(t, []Listener{{NetworkUDP, "127.0.0.1:5060"}, {NetworkTCP, "127.0.0.1:5060"}, {NetworkWS, "127.0.0.1:5066"}}, ls)
	assert.Equal(t, DefaultHTTPListen, c.HTTP.Listen)
	assert.Equal(t, "127.0.0.1", c.Media.Address)
	assert.Equal(t, DefaultMediaPorts, c.Media.Ports)
	assert.Equal(t, StoreMemory, c.Store)
	assert.Equal(t, BusEmbedded, c.Bus)
	assert.Equal(t, []Trunk{{Name: "local", Addresses: []string{"127.0.0.0/8"}}}, c.Trunks)
	assert.Equal(t, []Number{{Number: "100", Queue: "service", Answer: AnswerImmediate}}, c.Numbers)
	assert.Equal(t, []Queue{{Name: "service", RingTimeout: Duration(DefaultRingTimeout), Wrapup: Duration(DefaultWrapup), Strategy: DefaultStrategy, RingStep: Duration(DefaultRingStep), MaxMisses: DefaultMaxMisses, RejectBackoff: Duration(DefaultRejectBackoff), LeaveWhenEmpty: true, Announce: AnnouncePositionWait, AnnounceFirst: Duration(DefaultAnnounceFirst), AnnounceEvery: Duration(DefaultAnnounceEvery)}}, c.Queues)

	alnum12 := regexp.MustCompile(`^[A-Za-z0-9]{12}$`)
	require.Len(t, c.Agents, 3)
	for i, id := range []string{"1001", "1002", "1003"} {
		assert.Equal(t, id, c.Agents[i].ID)
		assert.Equal(t, []string{"service"}, c.Agents[i].Queues)
		assert.Regexp(t, alnum12, c.Agents[i].Password)
	}
	assert.NotEqual(t, c.Agents[0].Password, c.Agents[1].Password)
	assert.NotEqual(t, c.Agents[0].Password, Demo().Agents[0].Password, "passwords are random per call")
}

func TestRandomPasswordAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for range 200 {
		for _, r := range randomPassword(12) {
			seen[r] = true
		}
	}
	// 2400 draws from 62 symbols: all appear unless the draw is skewed.
	assert.Len(t, seen, len(passwordAlphabet))
}
