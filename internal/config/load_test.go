package config

import (
	"io/fs"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minimal is the smallest useful file: everything else defaults.
const minimal = `
queues:
  - name: service
`

func TestLoadExample(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	require.NoError(t, err)

	assert.Equal(t, "node-1", c.Node.Name)
	assert.Equal(t, []string{"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060", "udp:[::1]:5060"}, c.SIP.Listen)
	assert.Equal(t, "callwerk.local", c.SIP.Realm)
	assert.Equal(t, Media{Address: "127.0.0.1", Ports: "20000-20999", Quarantine: Duration(2 * time.Second), HoldMusic: "testdata/hold.wav", Timeout: Duration(DefaultMediaTimeout)}, c.Media)
	assert.Equal(t, "127.0.0.1:8080", c.HTTP.Listen)
	assert.Equal(t, StoreMemory, c.Store)
	assert.Equal(t, BusEmbedded, c.Bus)
	assert.Equal(t, "change-me-to-a-long-random-secret", c.Privacy.PseudonymKey)
	assert.Equal(t, []Trunk{
		{Name: "carrier", Addresses: []string{"127.0.0.0/8", "192.0.2.10"}},
		{Name: "backup", Addresses: []string{"2001:db8::/32"}},
	}, c.Trunks)
	assert.Equal(t, []Number{
		{Number: "100", Queue: "service", Answer: AnswerImmediate},
		{Number: "+4930123456", Queue: "service", Answer: AnswerEarly},
		{Number: "*55#", Queue: "billing", Answer: AnswerImmediate},
	}, c.Numbers)
	assert.Equal(t, []Queue{
		{Name: "service", RingTimeout: Duration(20 * time.Second), Wrapup: Duration(10 * time.Second), Strategy: DefaultStrategy, RingStep: Duration(DefaultRingStep), MaxMisses: DefaultMaxMisses, RejectBackoff: Duration(DefaultRejectBackoff), LeaveWhenEmpty: true, Announce: AnnouncePositionWait, AnnounceFirst: Duration(DefaultAnnounceFirst), AnnounceEvery: Duration(DefaultAnnounceEvery)},
		{Name: "billing", RingTimeout: Duration(90 * time.Second), Wrapup: 0, Strategy: DefaultStrategy, RingStep: Duration(DefaultRingStep), MaxMisses: DefaultMaxMisses, RejectBackoff: Duration(DefaultRejectBackoff), LeaveWhenEmpty: true, Announce: AnnouncePositionWait, AnnounceFirst: Duration(DefaultAnnounceFirst), AnnounceEvery: Duration(DefaultAnnounceEvery)},
		{Name: "overflow", RingTimeout: Duration(DefaultRingTimeout), Wrapup: Duration(DefaultWrapup), Strategy: DefaultStrategy, RingStep: Duration(DefaultRingStep), MaxMisses: DefaultMaxMisses, RejectBackoff: Duration(DefaultRejectBackoff), LeaveWhenEmpty: true, Announce: AnnouncePositionWait, AnnounceFirst: Duration(DefaultAnnounceFirst), AnnounceEvery: Duration(DefaultAnnounceEvery)},
	}, c.Queues)
	require.Len(t, c.Agents, 3)
	assert.Equal(t, Agent{ID: "anna.schmidt", Password: "s3cret-pass-anna", Queues: []string{"billing"}}, c.Agents[2])

	ls, err := c.SIP.Listeners()
	require.NoError(t, err)
	assert.Equal(t, []Listener{{"udp", "127.0.0.1:5060"}, {"tcp", "127.0.0.1:5060"}, {"udp", "[::1]:5060"}}, ls)
	ps, err := c.Trunks[0].Prefixes()
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("192.0.2.10/32")}, ps)
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal + "numbers: [{number: \"100\", queue: service}]\n"))
	require.NoError(t, err)
	assert.NotEmpty(t, c.Node.Name)
	assert.Equal(t, []string{"udp:" + DefaultSIPListen, "tcp:" + DefaultSIPListen}, c.SIP.Listen)
	assert.Equal(t, DefaultRealm, c.SIP.Realm)
	assert.Equal(t, DefaultMediaAddr, c.Media.Address)
	assert.Equal(t, DefaultMediaPorts, c.Media.Ports)
	assert.Equal(t, DefaultQuarantine, c.Media.Quarantine.D())
	assert.Equal(t, DefaultHTTPListen, c.HTTP.Listen)
	assert.Equal(t, StoreMemory, c.Store)
	assert.Equal(t, BusEmbedded, c.Bus)
	assert.Equal(t, AnswerImmediate, c.Numbers[0].Answer)
	assert.Equal(t, DefaultRingTimeout, c.Queues[0].RingTimeout.D())
	assert.Equal(t, DefaultWrapup, c.Queues[0].Wrapup.D())
}

func TestParseKeepsExplicitZero(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c *Config, err error)
	}{
		{"quarantine 0s", "media: {quarantine: 0s}\n" + minimal, func(t *testing.T, c *Config, err error) {
			require.NoError(t, err)
			assert.Zero(t, c.Media.Quarantine)
		}},
		{"wrapup 0", minimal + "    wrapup: 0\n", func(t *testing.T, c *Config, err error) {
			require.NoError(t, err)
			assert.Zero(t, c.Queues[0].Wrapup)
			assert.Equal(t, DefaultRingTimeout, c.Queues[0].RingTimeout.D())
		}},
		{"ring_timeout 0s is refused, not defaulted", minimal + "    ring_timeout: 0s\n", func(t *testing.T, _ *Config, err error) {
			requireFieldError(t, err, "queues[0].ring_timeout", "must be between 5s and 120s (got 0s)")
		}},
		{"empty media mapping", "media:\n" + minimal, func(t *testing.T, c *Config, err error) {
			require.NoError(t, err)
			assert.Equal(t, DefaultQuarantine, c.Media.Quarantine.D())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			tc.check(t, c, err)
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // each must appear in the error text
		path string   // if set, a FieldError at this path
	}{
		{"unknown key in queue", minimal + "    ringtimeout: 20s\n", []string{"line 4: queues[0].ringtimeout: unknown key (valid: name, ring_timeout, wrapup, strategy, ring_step, weight, skills, max_misses, reject_backoff, max_wait, overflow, max_length, join_empty, leave_when_empty, widen, greeting, announce, announce_first, announce_every, callback)"}, "queues[0].ringtimeout"},
		{"unknown top-level key", "queue:\n  - name: x\n" + minimal, []string{"line 1: queue: unknown key (valid: node, sip, media, http, store, bus, privacy, networks, trunks, numbers, menus, hours, queues, agents, transfer, queue_log, pause_reasons)"}, "queue"},
		{"unknown nested key", "sip:\n  listen: []\n  port: 5060\n" + minimal, []string{"line 3: sip.port: unknown key"}, "sip.port"},
		{"unknown keys all reported", "node: {nam: x}\nhttp: {listn: x}\n" + minimal, []string{"line 1: node.nam: unknown key", "line 2: http.listn: unknown key"}, "http.listn"},
		{"duplicate key", minimal + "    name: other\n", []string{"line 4: queues[0].name: duplicate key (first at line 3)"}, "queues[0].name"},
		{"bad duration", minimal + "    ring_timeout: abc\n", []string{`line 4: queues[0].ring_timeout: invalid duration "abc"`}, "queues[0].ring_timeout"},
		{"duration without unit", minimal + "    wrapup: 30\n", []string{`queues[0].wrapup: invalid duration "30" (missing unit, e.g. "30s")`}, "queues[0].wrapup"},
		{"duration as list", "media:\n  quarantine: [1s]\n" + minimal, []string{"line 2: media.quarantine: invalid duration: expected a string"}, "media.quarantine"},
		{"string as list", "store: [memory]\n" + minimal, []string{"line 1: store: expected a single value, got a list"}, "store"},
		{"list as string", "sip:\n  listen: udp:127.0.0.1:5060\n" + minimal, []string{"line 2: sip.listen: expected a list, got a single value"}, "sip.listen"},
		{"mapping as list", "node: [a]\n" + minimal, []string{"node: expected a mapping of keys, got a list"}, "node"},
		{"document not a mapping", "hello\n", []string{"line 1: expected a mapping of keys, got a single value"}, ""},
		{"syntax error", "queues:\n  - name: [\n", []string{"line 2: did not find expected node content"}, ""},
		{"tab indentation", "queues:\n\t- name: x\n", []string{"found character that cannot start any token"}, ""},
		{"two documents", minimal + "---\n" + minimal, []string{"only one YAML document is allowed"}, ""},
		{"empty file", "", []string{"queues: at least one queue is required"}, "queues"},
		{"only comments", "# nothing yet\n", []string{"queues: at least one queue is required"}, "queues"},
		{"validation with line", minimal + "    ring_timeout: 2s\n", []string{"line 4: queues[0].ring_timeout: must be between 5s and 120s (got 2s)"}, "queues[0].ring_timeout"},
		{"validation line of list item", minimal + "agents:\n  - id: a\n    password: longenough\n    queues:\n      - service\n      - sales\n", []string{`line 9: agents[0].queues[1]: unknown queue "sales"`}, "agents[0].queues[1]"},
		{"validation line of parent", minimal + "agents:\n  - id: a\n    password: longenough\n", []string{"line 5: agents[0].queues: at least one queue is required"}, "agents[0].queues"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			require.Error(t, err)
			assert.Nil(t, c)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			if tc.path != "" {
				requireFieldError(t, err, tc.path, "")
			}
		})
	}
}

func TestParseAnchorsAndMerge(t *testing.T) {
	c, err := Parse([]byte(`
queues:
  - &q {name: service, ring_timeout: 30s}
  - <<: *q
    name: billing
agents:
  - {id: "1", password: longenough, queues: &both [service, billing]}
  - {id: "2", password: longenough, queues: *both}
`))
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, c.Queues[1].RingTimeout.D())
	assert.Equal(t, "billing", c.Queues[1].Name)
	assert.Equal(t, []string{"service", "billing"}, c.Agents[1].Queues)

	_, err = Parse([]byte(minimal + "    <<: {bogus: 1}\n"))
	requireFieldError(t, err, "queues[0].bogus", "unknown key")
}

func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("trunks: [{name: t, addresses: *a8}]\n")
	_, err := Parse([]byte(b.String()))
	require.Error(t, err) // quickly, whatever the message
}

func TestLoadErrorsStartWithFileName(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    string
	}{
		{"unknown key", minimal + "    ringtimeout: 20s\n", ":4: queues[0].ringtimeout: unknown key"},
		{"syntax", "queues: [\n", ": "},
		{"validation", minimal + "    wrapup: 11m\n", ":4: queues[0].wrapup: must be between 0s and 10m (got 11m)"},
		{"validation without line", "store: memory\n", ": queues: at least one queue is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "callwerk.yaml", tc.content)
			_, err := Load(path)
			require.Error(t, err)
			for _, line := range strings.Split(err.Error(), "\n") {
				assert.True(t, strings.HasPrefix(line, path), "line %q must start with %s", line, path)
			}
			assert.Contains(t, err.Error(), path+tc.want)
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := Load("testdata/does-not-exist.yaml")
		require.ErrorIs(t, err, fs.ErrNotExist)
		assert.Equal(t, "testdata/does-not-exist.yaml: no such file or directory", err.Error())
	})
}
