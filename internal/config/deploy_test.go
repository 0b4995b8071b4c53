package config

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The docker-compose topology cannot run here (no container runtime), so
// its parts are checked for what would break it: every node config is
// valid, is the one its service mounts, names the address the service has,
// and reaches Redis and NATS by services that exist.
func TestDeployTopology(t *testing.T) {
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Build    string   `yaml:"build"`
			Command  []string `yaml:"command"`
			Volumes  []string `yaml:"volumes"`
			Networks map[string]struct {
				IPv4 string `yaml:"ipv4_address"`
			} `yaml:"networks"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(b, &compose))
	for _, name := range []string{"redis", "nats1", "nats2", "nats3", "callwerk1", "callwerk2"} {
		require.Contains(t, compose.Services, name)
	}
	nodes := 0
	var first *Config
	for name, svc := range compose.Services {
		if svc.Build == "" {
			continue
		}
		nodes++
		require.Len(t, svc.Volumes, 1, name)
		host, target, ok := strings.Cut(strings.TrimSuffix(svc.Volumes[0], ":ro"), ":")
		require.True(t, ok, name)
		assert.Equal(t, []string{"serve", "-config", target}, svc.Command, name)
		c, err := Load(filepath.Join(root, host))
		require.NoError(t, err, "%s: %s", name, host)
		ip := svc.Networks["callwerk"].IPv4
		assert.Equal(t, name, c.Node.Name, host)
		assert.Equal(t, ip, c.Media.Address, "%s: media.address is the service's address", host)
		assert.Equal(t, "udp:"+ip+":5060", c.Node.SIPAddress, host)
		u, err := url.Parse(c.Store)
		require.NoError(t, err)
		assert.Contains(t, compose.Services, u.Hostname(), "%s: store host", host)
		for _, b := range strings.Split(c.Bus, ",") {
			u, err := url.Parse(strings.TrimSpace(b))
			require.NoError(t, err)
			assert.Contains(t, compose.Services, u.Hostname(), "%s: bus host", host)
		}
		assert.NotEmpty(t, c.Node.Secret, "%s: nodes need node.secret to ring each other's agents", host)
		if first == nil {
			first = c
			continue
		}
		// One ACD: the same agents, queues, numbers and secrets everywhere.
		assert.Equal(t, first.Agents, c.Agents, host)
		assert.Equal(t, first.Queues, c.Queues, host)
		assert.Equal(t, first.Numbers, c.Numbers, host)
		assert.Equal(t, first.Node.Secret, c.Node.Secret, host)
		assert.Equal(t, first.Privacy.PseudonymKey, c.Privacy.PseudonymKey, host)
	}
	assert.Equal(t, 2, nodes)
}
