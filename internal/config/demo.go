package config

import "crypto/rand"

// Demo returns the configuration `callwerk serve` runs without a file: SIP on
// udp and tcp 127.0.0.1:5060, HTTP on 127.0.0.1:8080, media on 127.0.0.1,
// memory store, embedded bus, trunk "local" for 127.0.0.0/8, number "100" to
// queue "service", and agents 1001, 1002 and 1003 with random 12-character
// passwords (read them from the result: they change with every call).
func Demo() *Config {
	c := &Config{
		SIP: SIP{
			Listen: []string{"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060", "ws:127.0.0.1:5066"}, // ws: the agent desktop
			Realm:  DefaultRealm,
		},
		Media: Media{
			Address:    "127.0.0.1",
			Ports:      DefaultMediaPorts,
			Quarantine: Duration(DefaultQuarantine),
		},
		HTTP:    HTTP{Listen: DefaultHTTPListen, APIToken: randomPassword(32)},
		Store:   StoreMemory,
		Bus:     BusEmbedded,
		Trunks:  []Trunk{{Name: "local", Addresses: []string{"127.0.0.0/8"}}},
		Numbers: []Number{{Number: "100", Queue: "service", Answer: AnswerImmediate}},
		Queues: []Queue{{
			Name:        "service",
			RingTimeout: Duration(DefaultRingTimeout),
			Wrapup:      Duration(DefaultWrapup),
		}},
	}
	for _, id := range []string{"1001", "1002", "1003"} {
		c.Agents = append(c.Agents, Agent{ID: id, Password: randomPassword(12), Queues: []string{"service"}})
	}
	c.ApplyDefaults() // node name
	return c
}

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomPassword returns n letters and digits from crypto/rand, uniformly:
// bytes at or above the largest multiple of the alphabet size are dropped.
func randomPassword(n int) string {
	const limit = 256 - 256%len(passwordAlphabet)
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		rand.Read(buf[:]) // never fails (Go 1.24+: crashes the program instead)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out)
}
