package media

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testPortBase returns a random even base port with room for pairs pairs,
// so parallel test binaries rarely share a range (a pair that is taken
// anyway is skipped by the pool).
func testPortBase(pairs int) int {
	return 20000 + 2*rand.IntN((60000-20000-2*pairs)/2)
}

// fakeClock is a settable clock for quarantine tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTestPool returns a pool of pairs port pairs on 127.0.0.1 with a fake
// clock.
func newTestPool(t *testing.T, pairs int, quarantine time.Duration) (*PortPool, *fakeClock) {
	t.Helper()
	base := testPortBase(pairs)
	p, err := NewPortPool(loopback, base, base+2*pairs-1, quarantine)
	require.NoError(t, err)
	clk := &fakeClock{now: time.Unix(1700000000, 0)}
	p.now = clk.Now
	return p, clk
}

func TestNewPortPool(t *testing.T) {
	cases := []struct {
		name      string
		addr      netip.Addr
		min, max  int
		q         time.Duration
		wantPairs int
		wantErr   string
	}{
		{"even range", loopback, 30000, 30009, time.Second, 5, ""},
		{"odd bounds trimmed to pairs", loopback, 30001, 30006, 0, 2, ""},
		{"single pair", loopback, 30000, 30001, 0, 1, ""},
		{"min above max", loopback, 30010, 30000, 0, 0, "above max"},
		{"no pair: one port", loopback, 30000, 30000, 0, 0, "no even/odd port pair"},
		{"no pair: odd then even", loopback, 30001, 30002, 0, 0, "no even/odd port pair"},
		{"port 0", loopback, 0, 10, 0, 0, "outside 1-65535"},
		{"above 65535", loopback, 65530, 65536, 0, 0, "outside 1-65535"},
		{"unspecified address", netip.IPv4Unspecified(), 30000, 30009, 0, 0, "not unspecified"},
		{"invalid address", netip.Addr{}, 30000, 30009, 0, 0, "not unspecified"},
		{"negative quarantine", loopback, 30000, 30009, -time.Second, 0, "negative quarantine"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPortPool(tc.addr, tc.min, tc.max, tc.q)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantPairs, p.Available())
		})
	}
}

func TestPortPoolQuarantine(t *testing.T) {
	p, clk := newTestPool(t, 2, time.Minute)
	a1, a2, portA, err := p.bind()
	require.NoError(t, err)
	b1, b2, portB, err := p.bind()
	require.NoError(t, err)
	assert.NotEqual(t, portA, portB)
	assert.Zero(t, p.Available())
	_, _, _, err = p.bind()
	require.ErrorIs(t, err, ErrNoPorts)

	for _, c := range []*net.UDPConn{a1, a2} {
		require.NoError(t, c.Close())
	}
	p.release(portA)
	assert.Zero(t, p.Available(), "a released pair is quarantined")
	clk.Advance(59 * time.Second)
	_, _, _, err = p.bind()
	require.ErrorIs(t, err, ErrNoPorts, "still quarantined")

	clk.Advance(time.Second)
	assert.Equal(t, 1, p.Available())
	c1, c2, port, err := p.bind()
	require.NoError(t, err)
	assert.Equal(t, portA, port)
	assert.Equal(t, portA+1, c2.LocalAddr().(*net.UDPAddr).Port, "RTCP on RTP+1")
	for _, c := range []*net.UDPConn{b1, b2, c1, c2} {
		require.NoError(t, c.Close())
	}
}

// TestPortPoolSkipsPortsInUse: a pair the OS refuses is skipped, and is
// tried again later.
func TestPortPoolSkipsPortsInUse(t *testing.T) {
	p, _ := newTestPool(t, 3, time.Minute)
	first := p.free[0]
	// Another process holds the first pair's RTCP port.
	squatter, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(first+1))))
	require.NoError(t, err)

	rtp1, rtcp1, port, err := p.bind()
	require.NoError(t, err)
	assert.NotEqual(t, first, port)
	t.Cleanup(func() { _ = rtp1.Close(); _ = rtcp1.Close() })
	assert.Equal(t, 2, p.Available(), "the refused pair stays in the pool")

	rtp2, rtcp2, port2, err := p.bind()
	require.NoError(t, err)
	assert.NotEqual(t, first, port2)
	t.Cleanup(func() { _ = rtp2.Close(); _ = rtcp2.Close() })

	_, _, _, err = p.bind()
	require.ErrorIs(t, err, ErrNoPorts)
	assert.ErrorContains(t, err, "address already in use")

	require.NoError(t, squatter.Close())
	rtp3, rtcp3, port3, err := p.bind()
	require.NoError(t, err)
	assert.Equal(t, first, port3)
	require.NoError(t, rtp3.Close())
	require.NoError(t, rtcp3.Close())
}
