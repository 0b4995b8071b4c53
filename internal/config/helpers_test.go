package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// fieldErrors returns every *FieldError in err's tree, in order.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// requireFieldError asserts that err holds a FieldError at path whose
// problem contains problem.
func requireFieldError(t *testing.T, err error, path, problem string) {
	t.Helper()
	require.Error(t, err)
	for _, fe := range fieldErrors(err) {
		if fe.Path == path {
			require.Contains(t, fe.Problem, problem, "error at %s", path)
			return
		}
	}
	require.Failf(t, "no error at path", "want %s: %s\ngot:\n%v", path, problem, err)
}

// writeFile writes a file in a fresh temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// validConfig is a small valid configuration with two queues and three
// agents, defaults applied, for the validation table.
func validConfig() *Config {
	c := &Config{
		Node:    Node{Name: "node-1"},
		SIP:     SIP{Listen: []string{"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"}},
		Media:   Media{Address: "192.0.2.1"},
		Privacy: Privacy{PseudonymKey: "0123456789abcdef"},
		Trunks: []Trunk{
			{Name: "carrier", Addresses: []string{"10.0.0.0/8"}},
			{Name: "backup", Addresses: []string{"192.0.2.10"}},
		},
		Numbers: []Number{
			{Number: "100", Queue: "service"},
			{Number: "+4930123", Queue: "billing", Answer: AnswerEarly},
		},
		Queues: []Queue{{Name: "service"}, {Name: "billing"}},
		Agents: []Agent{
			{ID: "1001", Password: "password1", Queues: []string{"service"}},
			{ID: "1002", Password: "password2", Queues: []string{"service", "billing"}},
			{ID: "1003", Password: "password3", Queues: []string{"billing"}},
		},
	}
	c.ApplyDefaults()
	return c
}
