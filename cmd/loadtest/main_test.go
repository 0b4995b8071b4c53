package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/loadtest"
)

func TestFlagsOverrideScenarioFile(t *testing.T) {
	file := loadtest.Scenario{Server: "127.0.0.1:5070", Rate: 300, Talk: 2 * time.Second, Agents: 400}
	flags := loadtest.Scenario{Server: "127.0.0.1:5060", Rate: 10, Talk: 3 * time.Second, Agents: 3}
	got := merge(file, flags, map[string]bool{"rate": true})
	assert.Equal(t, loadtest.Scenario{Server: "127.0.0.1:5070", Rate: 10, Talk: 2 * time.Second, Agents: 400}, got)
}

func TestBadScenarioFileRefusesToRun(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.yaml")
	require.NoError(t, os.WriteFile(p, []byte("rate: 300\ntalkk: 3s\n"), 0o600))
	var out, errb bytes.Buffer
	assert.Equal(t, 2, run([]string{"-scenario", p}, &out, &errb))
	assert.True(t, strings.Contains(errb.String(), "talkk"), errb.String())
}
