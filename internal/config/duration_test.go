package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestDurationRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want time.Duration
		out  string
	}{
		{"seconds", "20s", 20 * time.Second, "20s"},
		{"minutes and seconds", "1m30s", 90 * time.Second, "1m30s"},
		{"whole minutes", "10m", 10 * time.Minute, "10m"},
		{"whole hours", "2h", 2 * time.Hour, "2h"},
		{"milliseconds", "500ms", 500 * time.Millisecond, "500ms"},
		{"zero", "0s", 0, "0s"},
		{"bare zero", "0", 0, "0s"},
		{"negative", "-1s", -time.Second, "-1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v struct {
				D Duration `yaml:"d"`
			}
			require.NoError(t, yaml.Unmarshal([]byte("d: "+tc.in), &v))
			assert.Equal(t, tc.want, v.D.D())

			out, err := yaml.Marshal(v)
			require.NoError(t, err)
			assert.Equal(t, "d: "+tc.out+"\n", string(out))

			var back struct {
				D Duration `yaml:"d"`
			}
			require.NoError(t, yaml.Unmarshal(out, &back))
			assert.Equal(t, v.D, back.D)
		})
	}
}

func TestDurationInvalid(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"word", "abc", `invalid duration "abc"`},
		{"no unit", "20", `invalid duration "20" (missing unit, e.g. "20s")`},
		{"list", "[1s]", "invalid duration: expected a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d Duration
			err := yaml.Unmarshal([]byte(tc.in), &d)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)

			_, err = Parse([]byte("queues:\n  - name: service\n    ring_timeout: " + tc.in + "\n"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "queues[0].ring_timeout: "+tc.want)
		})
	}
}

func TestConfigMarshalRoundTrip(t *testing.T) {
	c, err := Load("testdata/example.yaml")
	require.NoError(t, err)
	out, err := yaml.Marshal(c)
	require.NoError(t, err)
	back, err := Parse(out)
	require.NoError(t, err, "%s", out)
	assert.Equal(t, c, back)
}
