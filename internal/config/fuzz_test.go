package config

import (
	"os"
	"testing"
)

// FuzzParse checks that Parse never panics and that what it accepts is
// valid and can be summarised. Seeds: the example file and tricky snippets.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range []string{
		"",
		minimal,
		"queues: [{name: a, ring_timeout: abc}]",
		"queues: [{name: a, wrapup: 0}]\nmedia: {quarantine: 0s}",
		"a: &a [*a]",
		"q: &q {name: x}\nqueues: [*q, {<<: *q, name: y}]",
		"queues: [{<<: [*x]}]",
		"sip: {listen: ['udp:[::1]:0', 'tcp::']}\nqueues: [{name: s}]",
		"trunks: [{name: t, addresses: ['::ffff:1.2.3.4/120']}]\nqueues: [{name: s}]",
		"store: 'redis://%zz'\nbus: 'nats://a,,b'\nqueues: [{name: s}]",
		"--- \n...\n---\n",
		"!!binary aGVsbG8=",
		"queues: !!map {}",
		"{? [a]: b}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with error")
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
		_ = c.Summary()
	})
}
