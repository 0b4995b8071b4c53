package loadtest

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadScenario(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "s.yaml")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	s, err := LoadScenario(write("server: 127.0.0.1:5070\nagents: 400\npassword: pw\nrate: 300\ntalk: 2s\ntalk_dist: uniform\ntalk_max: 4s\nmax_up: 500\nduration: 1m\nseed: 7\n"))
	require.NoError(t, err)
	assert.Equal(t, Scenario{Server: "127.0.0.1:5070", Agents: 400, Password: "pw", Rate: 300, Talk: 2 * time.Second,
		TalkDist: TalkUniform, TalkMax: 4 * time.Second, MaxUp: 500, Duration: time.Minute, Seed: 7}, s)

	_, err = LoadScenario(write("rate: 300\nratee: 3\n"))
	assert.ErrorContains(t, err, "ratee")
	_, err = LoadScenario(write("talk: 3\n"))
	assert.ErrorContains(t, err, "talk: ")
	_, err = LoadScenario(filepath.Join(dir, "missing.yaml"))
	assert.Error(t, err)
}

func TestTalkTimes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fixed := Scenario{Talk: 3 * time.Second, TalkDist: TalkFixed}
	assert.Equal(t, 3*time.Second, fixed.talkTime(rng))

	uni := Scenario{Talk: time.Second, TalkMax: 2 * time.Second, TalkDist: TalkUniform}
	exp := Scenario{Talk: time.Second, TalkDist: TalkExponential}
	var sum time.Duration
	const n = 20000
	for range n {
		d := uni.talkTime(rng)
		require.True(t, d >= time.Second && d <= 2*time.Second, "%v", d)
		e := exp.talkTime(rng)
		require.True(t, e >= 0 && e <= 10*time.Second, "%v", e)
		sum += e
	}
	assert.InDelta(t, float64(time.Second), float64(sum/n), 0.05*float64(time.Second), "exponential mean ~ talk")
}

func TestScenarioChecksTalkDistribution(t *testing.T) {
	base := Scenario{Server: "127.0.0.1:5060", Password: "pw"}
	s := base
	s.TalkDist = "normal"
	_, err := s.withDefaults()
	assert.ErrorContains(t, err, "normal")
	s = base
	s.TalkDist, s.Talk, s.TalkMax = TalkUniform, 3*time.Second, time.Second
	_, err = s.withDefaults()
	assert.ErrorContains(t, err, "talk max")
	s = base
	s.MaxUp = -1
	_, err = s.withDefaults()
	assert.Error(t, err)
}
