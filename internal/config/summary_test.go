package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSummary(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	require.NoError(t, err)
	s := c.Summary()
	t.Log("\n" + s)

	for _, want := range []string{
		"node-1",
		"udp:127.0.0.1:5060 tcp:127.0.0.1:5060 udp:[::1]:5060",
		`realm "callwerk.local"`,
		"127.0.0.1, ports 20000-20999 (1000 ports), quarantine 2s, hold music testdata/hold.wav",
		"pseudonym key set",
	} {
		assert.Contains(t, s, want)
	}
	assert.Regexp(t, `(?m)^service\s+longest-idle\s+20s\s+10s\s+2\s+100, \+4930123456 \(early\)$`, s)
	assert.Regexp(t, `(?m)^billing\s+longest-idle\s+1m30s\s+0s\s+2\s+\*55#$`, s)
	assert.Regexp(t, `(?m)^overflow\s+longest-idle\s+20s\s+10s\s+0\s+-$`, s)
	assert.Regexp(t, `(?m)^carrier\s+127.0.0.0/8, 192.0.2.10\s+-$`, s)
	assert.Less(t, strings.Count(s, "\n"), 25, "one screen")
}

func TestSummaryHidesSecrets(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(c *Config)
		secrets []string
	}{
		{"demo passwords", func(*Config) {}, nil},
		{"pseudonym key", func(c *Config) { c.Privacy.PseudonymKey = "very-secret-pseudonym-key" }, []string{"very-secret-pseudonym-key"}},
		{"redis password", func(c *Config) { c.Store = "redis://:redispw123@redis.example:6379/0?password=qp456" }, []string{"redispw123", "qp456"}},
		{"nats credentials", func(c *Config) { c.Bus = "nats://natsuser:natspw789@a:4222,tls://b:4222" }, []string{"natsuser", "natspw789"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Demo()
			tc.mutate(c)
			s := c.Summary()
			for _, a := range c.Agents {
				assert.NotContains(t, s, a.Password)
			}
			for _, secret := range tc.secrets {
				assert.NotContains(t, s, secret)
			}
		})
	}

	c := Demo()
	c.Bus = "nats://u:p@a:4222,tls://b:4222"
	assert.Contains(t, c.Summary(), "nats://***@a:4222,tls://b:4222")
}

func TestSummaryOfInvalidConfig(t *testing.T) {
	var c Config // must not panic on anything Validate would refuse
	c.Media.Ports = "x"
	c.Store = "redis://%zz"
	assert.NotEmpty(t, c.Summary())
}

func TestSummaryMenusAndHours(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	require.NoError(t, err)
	c.Menus = []Menu{{Name: "main", Options: map[string]string{"2": "billing", "1": "service"}}}
	c.Hours = []Hours{{Name: "office", Timezone: DefaultTimezone, Land: "BY", Week: map[string]string{"mon": "08:00-18:00"}}}
	c.Numbers = append(c.Numbers, Number{Number: "300", Menu: "main", Hours: "office"})
	s := c.Summary()
	assert.Regexp(t, `(?m)^main\s+1 service, 2 billing\s+goodbye\s+300$`, s)
	assert.Contains(t, s, "hours office: Europe/Berlin, BY, open on 1 of 7 days, 0 exception dates; numbers 300")
}

func TestSummaryCallbacks(t *testing.T) {
	c := validConfig()
	withCallback(c, "carrier")
	s := c.Summary()
	assert.Contains(t, s, "callback service: key 1, over trunk carrier, 3 attempts 5m apart, ringing 30s")
	assert.Regexp(t, `(?m)^carrier\s+10\.0\.0\.0/8\s+udp:10\.0\.0\.1:5060$`, s)
	assert.Regexp(t, `(?m)^backup\s+192\.0\.2\.10\s+-$`, s)
}
