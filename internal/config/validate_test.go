package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/testcert"
)

func TestValidateValid(t *testing.T) {
	cert := testcert.Write(t)
	cases := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"base", func(*Config) {}},
		{"queue without agents or numbers", func(c *Config) {
			c.Queues = append(c.Queues, Queue{Name: "overflow", RingTimeout: Duration(5 * time.Second)})
		}},
		{"no agents", func(c *Config) { c.Agents = nil }},
		{"no trunks and no numbers", func(c *Config) { c.Trunks, c.Numbers = nil, nil }},
		{"listen port 0 twice", func(c *Config) { c.SIP.Listen = []string{"udp:127.0.0.1:0", "udp:127.0.0.1:0"} }},
		{"listen ipv6 and any", func(c *Config) { c.SIP.Listen = []string{"udp:[::1]:5060", "tcp:0.0.0.0:5060", "tcp:[::]:5061"} }},
		{"http all interfaces", func(c *Config) { c.HTTP.Listen = ":8080" }},
		{"media ipv6", func(c *Config) { c.Media.Address = "2001:db8::1" }},
		{"smallest port range", func(c *Config) { c.Media.Ports = "1024-1027" }},
		{"largest port range", func(c *Config) { c.Media.Ports = "1024-65535" }},
		{"zero quarantine and wrapup", func(c *Config) { c.Media.Quarantine, c.Queues[0].Wrapup = 0, 0 }},
		{"limits", func(c *Config) {
			c.Media.Quarantine = Duration(time.Minute)
			c.Queues[0].RingTimeout, c.Queues[0].Wrapup = Duration(5*time.Second), Duration(10*time.Minute)
			c.Queues[1].RingTimeout = Duration(2 * time.Minute)
		}},
		{"redis", func(c *Config) { c.Store = "redis://:secret@redis.example:6379/2" }},
		{"rediss", func(c *Config) { c.Store = "rediss://redis.example" }},
		{"nats cluster", func(c *Config) { c.Bus = "nats://a.example:4222, nats://b.example:4222" }},
		{"nats tls", func(c *Config) { c.Bus = "tls://user:pw@nats.example:4222" }},
		{"empty pseudonym key", func(c *Config) { c.Privacy.PseudonymKey = "" }},
		{"numbers with star hash plus", func(c *Config) { c.Numbers[0].Number = "*55#" }},
		{"trunk ipv6 and mapped", func(c *Config) { c.Trunks[1].Addresses = []string{"2001:db8::/32", "::ffff:192.0.2.99"} }},
		{"hold music wav", func(c *Config) { c.Media.HoldMusic = filepath.Join("testdata", "hold.wav") }},
		{"menu", func(c *Config) {
			c.Menus = []Menu{{Name: "main", Prompt: filepath.Join("testdata", "hold.wav"), Options: map[string]string{"1": "service", "#": "billing"},
				Timeout: Duration(time.Second), Attempts: 1, Default: "service"}}
			c.Numbers[0].Queue, c.Numbers[0].Menu = "", "main"
		}},
		{"callback", func(c *Config) { withCallback(c, "carrier") }},
		{"every transport", func(c *Config) {
			c.SIP.Listen = []string{"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060", "tls:127.0.0.1:5061", "ws:127.0.0.1:8088", "wss:[::1]:8089"}
			c.SIP.TLS = TLS{CertFile: cert.Cert, KeyFile: cert.Key}
		}},
		{"tls files without a tls listener", func(c *Config) { c.SIP.TLS = TLS{CertFile: "missing.pem"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(c)
			require.NoError(t, c.Validate())
		})
	}
}

func TestValidateInvalid(t *testing.T) {
	dir := t.TempDir()
	cert, other := testcert.Write(t), testcert.Write(t)
	notWAV := filepath.Join(dir, "music.mp3")
	require.NoError(t, os.WriteFile(notWAV, []byte("ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00"), 0o600))

	cases := []struct {
		name    string
		mutate  func(c *Config)
		path    string
		problem string
	}{
		{"empty node name", func(c *Config) { c.Node.Name = "" }, "node.name", "must be 1 to 64"},
		{"node name with space", func(c *Config) { c.Node.Name = "node 1" }, "node.name", `(got "node 1")`},
		{"node sip address unspecified", func(c *Config) { c.Node.SIPAddress = "udp:0.0.0.0:5060" }, "node.sip_address", "must name the IP address and port"},
		{"node sip address bad network", func(c *Config) { c.Node.SIPAddress = "sctp:10.0.0.1:5060" }, "node.sip_address", "unsupported network"},
		{"node secret short", func(c *Config) { c.Node.Secret = "short" }, "node.secret", "at least 24 characters (got 5)"},
		{"ring step too short", func(c *Config) { c.Queues[0].RingStep = Duration(time.Millisecond) }, "queues[0].ring_step", "between 1s and 60s"},
		{"node drain timeout zero", func(c *Config) { c.Node.DrainTimeout = 0 }, "node.drain_timeout", "between 1s and 1h (got 0s)"},
		{"node lease long", func(c *Config) { c.Node.Lease = Duration(2 * time.Minute) }, "node.lease", "between 1s and 60s (got 2m0s)"},

		{"no listeners", func(c *Config) { c.SIP.Listen = nil }, "sip.listen", "at least one listener"},
		{"unknown digest algorithm", func(c *Config) { c.SIP.DigestAlgorithms = []string{"SHA-512"} }, "sip.digest_algorithms[0]", `must be SHA-256 or MD5 (got "SHA-512")`},
		{"duplicate digest algorithm", func(c *Config) { c.SIP.DigestAlgorithms = []string{"MD5", "MD5"} }, "sip.digest_algorithms[1]", "duplicate MD5"},
		{"no digest algorithm", func(c *Config) { c.SIP.DigestAlgorithms = []string{} }, "sip.digest_algorithms", "at least one"},
		{"unknown network", func(c *Config) { c.SIP.Listen[1] = "sctp:127.0.0.1:5061" }, "sip.listen[1]", `unsupported network "sctp" (want udp, tcp, tls, ws or wss)`},
		{"tls without cert", func(c *Config) { c.SIP.Listen[1] = "tls:127.0.0.1:5061" }, "sip.tls.cert_file", "is required by the tls or wss listener sip.listen[1]"},
		{"wss without key", func(c *Config) {
			c.SIP.Listen[1], c.SIP.TLS.CertFile = "wss:127.0.0.1:8089", cert.Cert
		}, "sip.tls.key_file", "is required by the tls or wss listener sip.listen[1]"},
		{"tls cert missing", func(c *Config) {
			c.SIP.Listen[1], c.SIP.TLS = "tls:127.0.0.1:5061", TLS{CertFile: filepath.Join(dir, "none.pem"), KeyFile: cert.Key}
		}, "sip.tls.cert_file", "none.pem\": no such file or directory"},
		{"tls key not a key", func(c *Config) {
			c.SIP.Listen[1], c.SIP.TLS = "tls:127.0.0.1:5061", TLS{CertFile: cert.Cert, KeyFile: notWAV}
		}, "sip.tls", "failed to find any PEM data in key input"},
		{"tls key of another cert", func(c *Config) {
			c.SIP.Listen[1], c.SIP.TLS = "tls:127.0.0.1:5061", TLS{CertFile: cert.Cert, KeyFile: other.Key}
		}, "sip.tls", "private key does not match public key"},
		{"node sip address tls", func(c *Config) { c.Node.SIPAddress = "tls:10.0.0.1:5061" }, "node.sip_address", "must be udp or tcp"},
		{"no network", func(c *Config) { c.SIP.Listen[0] = "127.0.0.1" }, "sip.listen[0]", "want NETWORK:HOST:PORT"},
		{"no port", func(c *Config) { c.SIP.Listen[0] = "udp:127.0.0.1" }, "sip.listen[0]", "want HOST:PORT"},
		{"host name", func(c *Config) { c.SIP.Listen[0] = "udp:localhost:5060" }, "sip.listen[0]", `host must be an IP address (got "localhost")`},
		{"empty host", func(c *Config) { c.SIP.Listen[0] = "udp::5060" }, "sip.listen[0]", "host must be an IP address"},
		{"port too big", func(c *Config) { c.SIP.Listen[0] = "udp:127.0.0.1:65536" }, "sip.listen[0]", "port must be a number 0..65535"},
		{"port name", func(c *Config) { c.SIP.Listen[0] = "udp:127.0.0.1:sip" }, "sip.listen[0]", `(got "sip")`},
		{"duplicate listener", func(c *Config) { c.SIP.Listen[1] = "udp:127.0.0.1:5060" }, "sip.listen[1]", "duplicate of sip.listen[0]"},
		{"empty realm", func(c *Config) { c.SIP.Realm = "" }, "sip.realm", "must not be empty"},
		{"realm with quote", func(c *Config) { c.SIP.Realm = `a"b` }, "sip.realm", "must not contain quotes"},
		{"realm with newline", func(c *Config) { c.SIP.Realm = "a\r\nX-Evil: 1" }, "sip.realm", "control characters"},

		{"media address empty", func(c *Config) { c.Media.Address = "" }, "media.address", "must be set"},
		{"media address any v4", func(c *Config) { c.Media.Address = "0.0.0.0" }, "media.address", "not 0.0.0.0"},
		{"media address any v6", func(c *Config) { c.Media.Address = "::" }, "media.address", "not ::"},
		{"media address name", func(c *Config) { c.Media.Address = "media.example" }, "media.address", "must be an IP address"},
		{"media address multicast", func(c *Config) { c.Media.Address = "239.1.1.1" }, "media.address", "multicast"},
		{"ports not a range", func(c *Config) { c.Media.Ports = "20000" }, "media.ports", `want MIN-MAX such as "20000-20999"`},
		{"ports not numbers", func(c *Config) { c.Media.Ports = "a-b" }, "media.ports", "want MIN-MAX"},
		{"ports below 1024", func(c *Config) { c.Media.Ports = "80-2000" }, "media.ports", "within 1024..65535 (got 80-2000)"},
		{"ports above 65535", func(c *Config) { c.Media.Ports = "60000-70000" }, "media.ports", "within 1024..65535"},
		{"ports reversed", func(c *Config) { c.Media.Ports = "21000-20000" }, "media.ports", "min must be below max"},
		{"ports equal", func(c *Config) { c.Media.Ports = "20000-20000" }, "media.ports", "min must be below max"},
		{"flood requests zero", func(c *Config) { c.SIP.Flood.Requests = -1 }, "sip.flood.requests", "between 1 and 100000 (got -1)"},
		{"flood window short", func(c *Config) { c.SIP.Flood.Window = Duration(10 * time.Millisecond) }, "sip.flood.window", "between 100ms and 1h (got 10ms)"},
		{"flood ban long", func(c *Config) { c.SIP.Flood.Ban = Duration(25 * time.Hour) }, "sip.flood.ban", "between 1s and 24h (got 25h0m0s)"},
		{"lockout failures", func(c *Config) { c.SIP.AuthLockout.Failures = 1001 }, "sip.auth_lockout.failures", "between 1 and 1000 (got 1001)"},
		{"lockout window", func(c *Config) { c.SIP.AuthLockout.Window = Duration(time.Second) }, "sip.auth_lockout.window", "between 1m and 24h (got 1s)"},
		{"lockout block", func(c *Config) { c.SIP.AuthLockout.Block = Duration(48 * time.Hour) }, "sip.auth_lockout.block", "between 1m and 24h (got 48h0m0s)"},
		{"connections per ip", func(c *Config) { c.SIP.Connections.PerIP = -2 }, "sip.connections.per_ip", "between 1 and 10000 (got -2)"},
		{"first message timeout", func(c *Config) { c.SIP.Connections.FirstMessage = Duration(10 * time.Minute) }, "sip.connections.first_message_timeout", "between 1s and 5m (got 10m0s)"},
		{"message size", func(c *Config) { c.SIP.MaxMessageSize = 100 }, "sip.max_message_size", "between 1024 and 65535 bytes (got 100)"},
		{"announce", func(c *Config) { c.Queues[0].Announce = "everything" }, "queues[0].announce", `(got "everything")`},
		{"announce first", func(c *Config) { c.Queues[0].AnnounceFirst = Duration(500 * time.Millisecond) }, "queues[0].announce_first", "between 1s and 10m (got 500ms)"},
		{"announce every", func(c *Config) { c.Queues[0].AnnounceEvery = Duration(time.Hour) }, "queues[0].announce_every", "between 5s and 30m (got 1h0m0s)"},
		{"greeting missing", func(c *Config) { c.Queues[0].Greeting = "nope.wav" }, "queues[0].greeting", `cannot use "nope.wav"`},
		{"hours unknown", func(c *Config) { c.Numbers[0].Hours = "office" }, "numbers[0].hours", `unknown hours "office"`},
		{"hours land", func(c *Config) {
			c.Hours = []Hours{{Name: "office", Land: "XY", Week: map[string]string{"mon": "08:00-18:00"}}}
		}, "hours[0]", `land "XY"`},
		{"hours week", func(c *Config) { c.Hours = []Hours{{Name: "office", Week: map[string]string{"mon": "8 to 6"}}} }, "hours[0]", `week.mon`},
		{"hours no week", func(c *Config) { c.Hours = []Hours{{Name: "office"}} }, "hours[0].week", "at least one weekday"},
		{"hours exception", func(c *Config) {
			c.Hours = []Hours{{Name: "office", Week: map[string]string{"mon": "08:00-18:00"}, Exceptions: map[string]string{"xmas": ""}}}
		}, "hours[0]", `"xmas" is not a date`},
		{"hours timezone", func(c *Config) {
			c.Hours = []Hours{{Name: "office", Timezone: "Europe/Atlantis", Week: map[string]string{"mon": "08:00-18:00"}}}
		}, "hours[0]", `timezone "Europe/Atlantis"`},
		{"emergency prompt", func(c *Config) { c.Numbers[0].Emergency = &Emergency{} }, "numbers[0].emergency.prompt", "must name a WAV file"},
		{"emergency then", func(c *Config) {
			c.Numbers[0].Emergency = &Emergency{Prompt: filepath.Join("testdata", "hold.wav"), Then: "transfer"}
		}, "numbers[0].emergency.then", `(got "transfer")`},
		{"trusted network", func(c *Config) { c.Networks.Trusted = []string{"10.0.0.0/8", "office"} }, "networks", `trusted[1]: want a CIDR`},
		{"menu unknown", func(c *Config) { c.Numbers[0].Queue, c.Numbers[0].Menu = "", "nope" }, "numbers[0].menu", `unknown menu "nope"`},
		{"menu and queue", func(c *Config) { c.Menus = []Menu{testMenu()}; c.Numbers[0].Menu = "main" }, "numbers[0]", "both a queue and a menu"},
		{"menu key", func(c *Config) { m := testMenu(); m.Options["12"] = "service"; c.Menus = []Menu{m} }, "menus[0].options", `key "12" must be one of 0-9, * or #`},
		{"menu option queue", func(c *Config) { m := testMenu(); m.Options["2"] = "nope"; c.Menus = []Menu{m} }, "menus[0].options.2", `unknown queue "nope"`},
		{"menu no options", func(c *Config) { m := testMenu(); m.Options = nil; c.Menus = []Menu{m} }, "menus[0].options", "at least one key"},
		{"menu prompt missing", func(c *Config) { m := testMenu(); m.Prompt = "nope.wav"; c.Menus = []Menu{m} }, "menus[0].prompt", `cannot use "nope.wav"`},
		{"menu prompt not wav", func(c *Config) { m := testMenu(); m.Prompt = notWAV; c.Menus = []Menu{m} }, "menus[0].prompt", "not a WAV file"},
		{"menu timeout", func(c *Config) { m := testMenu(); m.Timeout = Duration(2 * time.Minute); c.Menus = []Menu{m} }, "menus[0].timeout", "between 1s and 60s (got 2m0s)"},
		{"menu attempts", func(c *Config) { m := testMenu(); m.Attempts = 9; c.Menus = []Menu{m} }, "menus[0].attempts", "between 1 and 6 (got 9)"},
		{"menu default", func(c *Config) { m := testMenu(); m.Default = "nope"; c.Menus = []Menu{m} }, "menus[0].default", `unknown queue "nope"`},
		{"menu name", func(c *Config) { m := testMenu(); m.Name = "Main Menu"; c.Menus = []Menu{m} }, "menus[0].name", "lower-case letters"},
		{"flood exempt bad", func(c *Config) { c.SIP.Flood.Exempt = []string{"10.0.0.0/8", "nope"} }, "sip.flood", `exempt[1]: want a CIDR`},
		{"three ports", func(c *Config) { c.Media.Ports = "20000-20002" }, "media.ports", "at least 4 ports (got 3)"},
		{"negative quarantine", func(c *Config) { c.Media.Quarantine = Duration(-time.Second) }, "media.quarantine", "between 0s and 60s (got -1s)"},
		{"long quarantine", func(c *Config) { c.Media.Quarantine = Duration(61 * time.Second) }, "media.quarantine", "(got 1m1s)"},
		{"hold music missing", func(c *Config) { c.Media.HoldMusic = filepath.Join(dir, "nope.wav") }, "media.hold_music", "no such file or directory"},
		{"hold music directory", func(c *Config) { c.Media.HoldMusic = dir }, "media.hold_music", "not a regular file"},
		{"hold music not wav", func(c *Config) { c.Media.HoldMusic = notWAV }, "media.hold_music", "not a WAV file"},

		{"http no port", func(c *Config) { c.HTTP.Listen = "127.0.0.1" }, "http.listen", "want HOST:PORT"},
		{"http host name", func(c *Config) { c.HTTP.Listen = "example.com:80" }, "http.listen", "host must be an IP address"},

		{"store unknown word", func(c *Config) { c.Store = "memcache" }, "store", `must be "memory" or a redis:// or rediss:// URL: no scheme`},
		{"store wrong scheme", func(c *Config) { c.Store = "mysql://db:3306" }, "store", `unsupported scheme "mysql"`},
		{"store no host", func(c *Config) { c.Store = "redis://" }, "store", "no host"},
		{"store unparsable", func(c *Config) { c.Store = "redis://a b:%zz" }, "store", "cannot parse"},
		{"store bad port", func(c *Config) { c.Store = "redis://host:0" }, "store", `bad port "0"`},
		{"bus wrong scheme", func(c *Config) { c.Bus = "http://nats:4222" }, "bus", `unsupported scheme "http"`},
		{"bus bad cluster member", func(c *Config) { c.Bus = "nats://a:4222,b:4222" }, "bus", "must be \"embedded\" or a nats:// or tls:// URL"},
		{"bus word", func(c *Config) { c.Bus = "internal" }, "bus", "no scheme"},

		{"short pseudonym key", func(c *Config) { c.Privacy.PseudonymKey = "short" }, "privacy.pseudonym_key", "at least 16 characters or empty (got 5)"},

		{"outbound host name", func(c *Config) {
			c.Trunks[0].Outbound = &Outbound{Address: "sip.carrier.example:5060", Transport: "udp", From: "+4930123456"}
		},
			"trunks[0].outbound.address", "must be the carrier's IP address and port"},
		{"outbound outside the trunk", func(c *Config) {
			c.Trunks[0].Outbound = &Outbound{Address: "192.0.2.10:5060", Transport: "udp", From: "+4930123456"}
		},
			"trunks[0].outbound.address", "192.0.2.10 is not within the trunk's addresses"},
		{"outbound from national", func(c *Config) {
			c.Trunks[0].Outbound = &Outbound{Address: "10.0.0.1:5060", Transport: "udp", From: "030123456"}
		},
			"trunks[0].outbound.from", `must be an international number such as +4930123456 (got "030123456")`},
		{"outbound user without password", func(c *Config) {
			c.Trunks[0].Outbound = &Outbound{Address: "10.0.0.1:5060", Transport: "udp", From: "+4930123456", Username: "u"}
		}, "trunks[0].outbound.password", "set both or neither"},
		{"outbound transport", func(c *Config) {
			c.Trunks[0].Outbound = &Outbound{Address: "10.0.0.1:5060", Transport: "tls", From: "+4930123456"}
		},
			"trunks[0].outbound.transport", `must be "udp" or "tcp" (got "tls")`},
		{"callback unknown trunk", func(c *Config) { withCallback(c, "nope") }, "queues[0].callback.trunk", `no trunk named "nope"`},
		{"callback trunk without outbound", func(c *Config) { withCallback(c, "backup") }, "queues[0].callback.trunk", `trunk "backup" has no outbound: set trunks[1].outbound`},
		{"callback key", func(c *Config) { withCallback(c, "carrier").Key = "12" },
			"queues[0].callback.key", `must be one of 0-9, * or # (got "12")`},
		{"callback attempts", func(c *Config) { withCallback(c, "carrier").Attempts = 11 },
			"queues[0].callback.attempts", "between 1 and 10 (got 11)"},
		{"callback retry", func(c *Config) { withCallback(c, "carrier").RetryAfter = Duration(time.Second) }, "queues[0].callback.retry_after", "between 30s and 2h (got 1s)"},
		{"callback country", func(c *Config) { withCallback(c, "carrier").CountryCode = "+49" },
			"queues[0].callback.country_code", `without + or 00, such as 49 (got "+49")`},
		{"trunk empty name", func(c *Config) { c.Trunks[0].Name = "" }, "trunks[0].name", "must not be empty"},
		{"trunk bad name", func(c *Config) { c.Trunks[0].Name = "Carrier 1" }, "trunks[0].name", "lower-case"},
		{"trunk duplicate name", func(c *Config) { c.Trunks[1].Name = "carrier" }, "trunks[1].name", `duplicate name "carrier" (also trunks[0])`},
		{"trunk no addresses", func(c *Config) { c.Trunks[1].Addresses = nil }, "trunks[1].addresses", "at least one address"},
		{"trunk bad cidr", func(c *Config) { c.Trunks[1].Addresses = []string{"192.0.2.0/33"} }, "trunks[1].addresses[0]", `want a CIDR such as 192.0.2.0/24 or an IP address (got "192.0.2.0/33")`},
		{"trunk host name", func(c *Config) { c.Trunks[1].Addresses = []string{"192.0.2.1", "sip.carrier.example"} }, "trunks[1].addresses[1]", "want a CIDR"},
		{"trunks overlap", func(c *Config) { c.Trunks[1].Addresses = []string{"10.1.2.3"} }, "trunks[1].addresses[0]", "10.1.2.3/32 overlaps trunks[0].addresses[0] (10.0.0.0/8)"},

		{"number empty", func(c *Config) { c.Numbers[0].Number = "" }, "numbers[0].number", "must not be empty"},
		{"number letters", func(c *Config) { c.Numbers[0].Number = "10a" }, "numbers[0].number", `digits, '*' or '#', with an optional leading '+' (got "10a")`},
		{"number plus inside", func(c *Config) { c.Numbers[0].Number = "49+30" }, "numbers[0].number", "optional leading '+'"},
		{"number space", func(c *Config) { c.Numbers[0].Number = "030 123" }, "numbers[0].number", "digits"},
		{"number duplicate", func(c *Config) { c.Numbers[1].Number = "100" }, "numbers[1].number", `duplicate number "100" (also numbers[0])`},
		{"number unknown queue", func(c *Config) { c.Numbers[1].Queue = "sales" }, "numbers[1].queue", `unknown queue "sales"`},
		{"number no queue", func(c *Config) { c.Numbers[1].Queue = "" }, "numbers[1].queue", "must name a queue"},
		{"number bad answer", func(c *Config) { c.Numbers[0].Answer = "late" }, "numbers[0].answer", `must be "immediate" or "early" (got "late")`},

		{"no queues", func(c *Config) { c.Queues, c.Numbers, c.Agents = nil, nil, nil }, "queues", "at least one queue is required"},
		{"queue empty name", func(c *Config) { addQueue(c, "") }, "queues[2].name", "must not be empty"},
		{"queue upper case", func(c *Config) { addQueue(c, "Billing") }, "queues[2].name", `lower-case letters, digits, '_' or '-' (got "Billing")`},
		{"queue name too long", func(c *Config) { addQueue(c, strings.Repeat("q", 33)) }, "queues[2].name", "1 to 32"},
		{"queue duplicate", func(c *Config) { addQueue(c, "service") }, "queues[2].name", `duplicate name "service" (also queues[0])`},
		{"ring timeout short", func(c *Config) { c.Queues[1].RingTimeout = Duration(2 * time.Second) }, "queues[1].ring_timeout", "must be between 5s and 120s (got 2s)"},
		{"ring timeout zero", func(c *Config) { c.Queues[1].RingTimeout = 0 }, "queues[1].ring_timeout", "(got 0s)"},
		{"ring timeout long", func(c *Config) { c.Queues[0].RingTimeout = Duration(121 * time.Second) }, "queues[0].ring_timeout", "(got 2m1s)"},
		{"wrapup negative", func(c *Config) { c.Queues[0].Wrapup = Duration(-time.Second) }, "queues[0].wrapup", "must be between 0s and 10m (got -1s)"},
		{"wrapup long", func(c *Config) { c.Queues[0].Wrapup = Duration(11 * time.Minute) }, "queues[0].wrapup", "(got 11m)"},

		{"agent empty id", func(c *Config) { c.Agents[0].ID = "" }, "agents[0].id", "must not be empty"},
		{"agent bad id", func(c *Config) { c.Agents[0].ID = "anna@example" }, "agents[0].id", `(got "anna@example")`},
		{"agent duplicate id", func(c *Config) { c.Agents[2].ID = "1001" }, "agents[2].id", `duplicate id "1001" (also agents[0])`},
		{"agent short password", func(c *Config) { c.Agents[1].Password = "short" }, "agents[1].password", "at least 8 characters (got 5)"},
		{"agent control in password", func(c *Config) { c.Agents[1].Password = "pass\nword" }, "agents[1].password", "control characters"},
		{"agent no queues", func(c *Config) { c.Agents[0].Queues = nil }, "agents[0].queues", "at least one queue"},
		{"agent unknown queue", func(c *Config) { c.Agents[2].Queues = []string{"sales"} }, "agents[2].queues[0]", `unknown queue "sales"`},
		{"agent empty queue", func(c *Config) { c.Agents[1].Queues[1] = "" }, "agents[1].queues[1]", "must name a queue"},
		{"agent queue twice", func(c *Config) { c.Agents[1].Queues[1] = "service" }, "agents[1].queues[1]", "duplicate of agents[1].queues[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(c)
			err := c.Validate()
			requireFieldError(t, err, tc.path, tc.problem)
			assert.Len(t, fieldErrors(err), 1, "exactly one problem expected, got:\n%v", err)
		})
	}
}

// addQueue appends a queue that nothing refers to.
func addQueue(c *Config, name string) {
	c.Queues = append(c.Queues, Queue{Name: name, RingTimeout: Duration(DefaultRingTimeout), Wrapup: Duration(DefaultWrapup)})
}

func TestValidateReportsAll(t *testing.T) {
	c := validConfig()
	c.Node.Name = ""
	c.Queues[1].RingTimeout = Duration(2 * time.Second)
	c.Agents[2].Queues = []string{"sales"}
	c.Store = "mysql://db"

	err := c.Validate()
	require.Error(t, err)
	got := fieldErrors(err)
	require.Len(t, got, 4)
	assert.Equal(t, "node.name", got[0].Path)
	assert.Contains(t, err.Error(), "queues[1].ring_timeout: must be between 5s and 120s (got 2s)")
	assert.Contains(t, err.Error(), `agents[2].queues[0]: unknown queue "sales"`)
	assert.Len(t, strings.Split(err.Error(), "\n"), 4, "one line per problem")
}

func TestValidateNeverEchoesSecrets(t *testing.T) {
	c := validConfig()
	c.Agents[0].Password = "pw-1234"
	c.Privacy.PseudonymKey = "key-98765"
	c.Store = "mysql://user:hunter22@db"
	c.Bus = "http://user:hunter33@nats"
	err := c.Validate()
	require.Error(t, err)
	for _, secret := range []string{"pw-1234", "key-98765", "hunter22", "hunter33"} {
		assert.NotContains(t, err.Error(), secret)
	}
}

func TestFieldErrorString(t *testing.T) {
	assert.Equal(t, "queues[1].ring_timeout: must be between 5s and 120s (got 2s)",
		(&FieldError{Path: "queues[1].ring_timeout", Problem: "must be between 5s and 120s (got 2s)"}).Error())
	assert.Equal(t, "empty document", (&FieldError{Problem: "empty document"}).Error())
}

func TestValidateRouting(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(c *Config)
		path    string
		problem string
	}{
		{"unknown strategy", func(c *Config) { c.Queues[0].Strategy = "ring-everyone" }, "queues[0].strategy", `got "ring-everyone"`},
		{"weight too big", func(c *Config) { c.Queues[0].Weight = 101 }, "queues[0].weight", "between 0 and 100"},
		{"skill level too high", func(c *Config) { c.Queues[0].Skills = map[string]int{"kv": 6} }, "queues[0].skills.kv", "between 1 and 5 (got 6)"},
		{"bad skill name", func(c *Config) { c.Agents[0].Skills = map[string]int{"Beitrag Recht": 3} }, "agents[0].skills", `got "Beitrag Recht"`},
		{"widen not later", func(c *Config) {
			c.Queues[0].Skills = map[string]int{"kv": 4}
			c.Queues[0].Widen = []Widen{{After: Duration(time.Minute), Skills: map[string]int{"kv": 2}}, {After: Duration(time.Minute)}}
		}, "queues[0].widen[1].after", "must be later than 1m"},
		{"widen raises a level", func(c *Config) {
			c.Queues[0].Skills = map[string]int{"kv": 2}
			c.Queues[0].Widen = []Widen{{After: Duration(time.Minute), Skills: map[string]int{"kv": 3}}}
		}, "queues[0].widen[0].skills.kv", "may only lower requirements"},
		{"widen adds a skill", func(c *Config) {
			c.Queues[0].Widen = []Widen{{After: Duration(time.Minute), Skills: map[string]int{"english": 1}}}
		}, "queues[0].widen[0].skills.english", "may only lower requirements"},
		{"priority negative", func(c *Config) { c.Numbers[0].Priority = -1 }, "numbers[0].priority", "between 0 and 100"},
		{"number is a feature code", func(c *Config) { c.Numbers[0].Number = "*222" }, "numbers[0].number", "feature code"},
		{"max misses negative", func(c *Config) { c.Queues[0].MaxMisses = -1 }, "queues[0].max_misses", "between 0 and 100"},
		{"reject backoff too long", func(c *Config) { c.Queues[0].RejectBackoff = Duration(time.Hour) }, "queues[0].reject_backoff", "between 0s and 300s (got 1h)"},
		{"reserved pause reason", func(c *Config) { c.PauseReasons = []string{"lunch", "no-answer"} }, "pause_reasons[1]", "reserved"},
		{"duplicate pause reason", func(c *Config) { c.PauseReasons = []string{"lunch", "lunch"} }, "pause_reasons[1]", "duplicate"},
		{"forward to a national number", func(c *Config) {
			c.Agents[0].Forward = &Forward{Number: "017612345678", Trunk: "local"}
		}, "agents[0].forward.number", "international number"},
		{"forward over no trunk", func(c *Config) {
			c.Agents[0].Forward = &Forward{Number: "+4917612345678", Trunk: "nope"}
		}, "agents[0].forward.trunk", `no trunk named "nope"`},
		{"forward over a trunk without outbound", func(c *Config) {
			c.Agents[0].Forward = &Forward{Number: "+4917612345678", Trunk: "local"}
		}, "agents[0].forward.trunk", `trunk "local" has no outbound`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Demo()
			tc.mutate(c)
			err := c.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.path+": ")
			assert.Contains(t, err.Error(), tc.problem)
		})
	}
	ok := Demo()
	ok.Queues[0].Strategy = "round-robin"
	ok.Queues[0].Skills = map[string]int{"kv": 4}
	ok.Queues[0].Widen = []Widen{{After: Duration(30 * time.Second), Skills: map[string]int{"kv": 2}}, {After: Duration(90 * time.Second)}}
	ok.Agents[0].Skills = map[string]int{"kv": 5}
	ok.Numbers[0].Priority = 10
	assert.NoError(t, ok.Validate())
}

func TestParseRoutingKeys(t *testing.T) {
	_, err := Parse([]byte("queues:\n  - name: q\n    weight: lots\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `queues[0].weight: expected a whole number, got "lots"`)
	_, err = Parse([]byte("queues:\n  - name: q\n    skills: [kv]\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "queues[0].skills: expected a mapping")
	_, err = Parse([]byte("queues:\n  - name: q\n    skills: {kv: high}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `queues[0].skills.kv: expected a whole number, got "high"`)
}

func TestExplicitZeroMaxMissesKept(t *testing.T) {
	c, err := Parse([]byte("queues:\n  - name: q\n    max_misses: 0\n    reject_backoff: 0s\n  - name: r\nagents:\n  - {id: \"1\", password: \"12345678\", queues: [q]}\n"))
	require.NoError(t, err)
	assert.Equal(t, 0, c.Queues[0].MaxMisses, "0 means never pause")
	assert.Equal(t, Duration(0), c.Queues[0].RejectBackoff)
	assert.Equal(t, DefaultMaxMisses, c.Queues[1].MaxMisses)
	assert.Equal(t, DefaultPauseReasons, c.PauseReasons)
}

func TestValidateQueueLimits(t *testing.T) {
	withQueues := func(qs ...Queue) *Config {
		c := Demo()
		c.Queues = append(c.Queues, qs...)
		return c
	}
	cases := []struct {
		name    string
		c       *Config
		path    string
		problem string
	}{
		{"overflow without max_wait", withQueues(Queue{Name: "a", Overflow: "service"}), "queues[1].overflow", "needs max_wait"},
		{"overflow to itself", withQueues(Queue{Name: "a", MaxWait: Duration(time.Minute), Overflow: "a"}), "queues[1].overflow", "another queue"},
		{"overflow to an unknown queue", withQueues(Queue{Name: "a", MaxWait: Duration(time.Minute), Overflow: "nowhere"}), "queues[1].overflow", "nowhere"},
		{"overflow cycle", withQueues(
			Queue{Name: "a", MaxWait: Duration(time.Minute), Overflow: "b"},
			Queue{Name: "b", MaxWait: Duration(time.Minute), Overflow: "a"}), "queues[1].overflow", "comes back"},
		{"max_wait too long", withQueues(Queue{Name: "a", MaxWait: Duration(48 * time.Hour)}), "queues[1].max_wait", "between 0s and"},
		{"negative max_length", withQueues(Queue{Name: "a", MaxLength: -1}), "queues[1].max_length", "between 0 and"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.path+": ")
			assert.Contains(t, err.Error(), tc.problem)
		})
	}
	ok := withQueues(Queue{Name: "a", RingTimeout: Duration(DefaultRingTimeout), MaxWait: Duration(time.Minute), Overflow: "service", MaxLength: 20})
	assert.NoError(t, ok.Validate())
}

func TestLeaveWhenEmptyDefaultAndExplicitFalse(t *testing.T) {
	c, err := Parse([]byte("queues:\n  - name: q\n  - name: r\n    leave_when_empty: false\nagents:\n  - {id: \"1\", password: \"12345678\", queues: [q]}\n"))
	require.NoError(t, err)
	assert.True(t, c.Queues[0].LeaveWhenEmpty, "default")
	assert.False(t, c.Queues[1].LeaveWhenEmpty, "explicit false is kept")
}

func testMenu() Menu {
	return Menu{Name: "main", Prompt: filepath.Join("testdata", "hold.wav"), Options: map[string]string{"1": "service"},
		Timeout: Duration(DefaultMenuTimeout), Attempts: DefaultMenuAttempts}
}

// withCallback gives trunk "carrier" a valid outbound and queue "service"
// a callback over trunk with the defaults, and returns the callback.
func withCallback(c *Config, trunk string) *Callback {
	c.Trunks[0].Outbound = &Outbound{Address: "10.0.0.1:5060", Transport: NetworkUDP, From: "+4930123456"}
	c.Queues[0].Callback = &Callback{Trunk: trunk}
	c.Queues[0].Callback.withDefaults()
	return c.Queues[0].Callback
}
