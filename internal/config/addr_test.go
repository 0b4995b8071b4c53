package config

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListeners(t *testing.T) {
	cases := []struct {
		name    string
		listen  []string
		want    []Listener
		wantErr string
	}{
		{"udp and tcp", []string{"udp:127.0.0.1:5060", "tcp:0.0.0.0:5080"}, []Listener{{"udp", "127.0.0.1:5060"}, {"tcp", "0.0.0.0:5080"}}, ""},
		{"ipv6", []string{"udp:[::1]:5060", "tcp:[::]:0"}, []Listener{{"udp", "[::1]:5060"}, {"tcp", "[::]:0"}}, ""},
		{"normalised", []string{"udp:[0:0:0:0:0:0:0:1]:5060"}, []Listener{{"udp", "[::1]:5060"}}, ""},
		{"empty", nil, []Listener{}, ""},
		{"secure and websocket", []string{"tls:127.0.0.1:5061", "ws:127.0.0.1:8088", "wss:[::1]:8089"},
			[]Listener{{"tls", "127.0.0.1:5061"}, {"ws", "127.0.0.1:8088"}, {"wss", "[::1]:8089"}}, ""},
		{"bad second", []string{"udp:127.0.0.1:5060", "sctp:127.0.0.1:80"}, nil, `sip.listen[1]: unsupported network "sctp"`},
		{"upper case", []string{"TLS:127.0.0.1:5061"}, nil, `sip.listen[0]: unsupported network "TLS"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SIP{Listen: tc.listen}.Listeners()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	assert.Equal(t, "udp:[::1]:5060", Listener{"udp", "[::1]:5060"}.String())
}

func TestPortRange(t *testing.T) {
	cases := []struct {
		name     string
		ports    string
		min, max int
		wantErr  string
	}{
		{"default", DefaultMediaPorts, 20000, 20999, ""},
		{"smallest", "1024-1027", 1024, 1027, ""},
		{"spaces", "30000 - 30010", 30000, 30010, ""},
		{"empty", "", 0, 0, "want MIN-MAX"},
		{"too few", "1024-1026", 0, 0, "at least 4 ports (got 3)"},
		{"negative", "-5-10", 0, 0, "want MIN-MAX"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi, err := Media{Ports: tc.ports}.PortRange()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []int{tc.min, tc.max}, []int{lo, hi})
		})
	}
}

func TestPrefixes(t *testing.T) {
	cases := []struct {
		name    string
		addrs   []string
		want    []string
		wantErr string
	}{
		{"cidr", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, ""},
		{"bare v4", []string{"192.0.2.1"}, []string{"192.0.2.1/32"}, ""},
		{"bare v6", []string{"2001:db8::1"}, []string{"2001:db8::1/128"}, ""},
		{"mapped v4", []string{"::ffff:192.0.2.1"}, []string{"192.0.2.1/32"}, ""},
		{"host bits cleared", []string{"10.1.2.3/8"}, []string{"10.0.0.0/8"}, ""},
		{"bad", []string{"10.0.0.0/8", "10.0.0.300"}, nil, `addresses[1]: want a CIDR`},
		{"zone", []string{"fe80::1%eth0"}, nil, "want a CIDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Trunk{Name: "t", Addresses: tc.addrs}.Prefixes()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			want := make([]netip.Prefix, len(tc.want))
			for i, w := range tc.want {
				want[i] = netip.MustParsePrefix(w)
			}
			assert.Equal(t, want, got)
		})
	}
}
