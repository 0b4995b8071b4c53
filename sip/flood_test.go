package sip

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFloodLimiter(t *testing.T) {
	trunk := netip.MustParseAddr("127.0.0.1")
	f := NewFloodLimiter(FloodLimits{}, func(a netip.Addr) bool { return a == trunk })
	now := time.Unix(1_800_000_000, 0)
	f.now = func() time.Time { return now }
	src := netip.MustParseAddr("127.0.0.5")

	for i := range FloodRequests {
		ok, banned := f.Allow(src)
		assert.True(t, ok, "message %d", i+1)
		assert.False(t, banned)
	}
	ok, banned := f.Allow(src)
	assert.False(t, ok, "one over the limit within the window")
	assert.True(t, banned, "reported once, when the ban starts")
	ok, banned = f.Allow(src)
	assert.False(t, ok)
	assert.False(t, banned)

	for range 10 * FloodRequests {
		ok, _ := f.Allow(trunk)
		assert.True(t, ok, "trunks are exempt")
	}

	now = now.Add(FloodBan)
	ok, _ = f.Allow(src)
	assert.True(t, ok, "the ban ends")

	// A steady rate under the limit is never banned.
	other := netip.MustParseAddr("127.0.0.6")
	for range 100 {
		ok, _ := f.Allow(other)
		assert.True(t, ok)
		now = now.Add(FloodWindow/FloodRequests + time.Millisecond)
	}
}

func TestFromScanner(t *testing.T) {
	msg := func(ua string) []byte {
		return []byte("OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1\r\n" +
			ua + "Call-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\nUser-Agent: friendly-scanner in the body\r\n")
	}
	assert.True(t, fromScanner(msg("User-Agent: friendly-scanner\r\n")))
	assert.True(t, fromScanner(msg("user-agent: sipvicious 0.3\r\n")))
	assert.True(t, fromScanner(msg("User-Agent: VaxSIPUserAgent/3.1\r\n")))
	assert.False(t, fromScanner(msg("User-Agent: Yealink SIP-T54W\r\n")))
	assert.False(t, fromScanner(msg("")), "the body does not count")
}

// Configured limits replace the defaults, and configured prefixes are
// exempt like trunks.
func TestFloodLimiterConfigured(t *testing.T) {
	f := NewFloodLimiter(FloodLimits{Requests: 3, Window: time.Second, Ban: 10 * time.Second,
		Exempt: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}, nil)
	now := time.Unix(1_800_000_000, 0)
	f.now = func() time.Time { return now }
	src := netip.MustParseAddr("192.0.2.7")
	for range 3 {
		ok, _ := f.Allow(src)
		assert.True(t, ok)
	}
	ok, banned := f.Allow(src)
	assert.False(t, ok, "a fourth message within 1 s")
	assert.True(t, banned)
	now = now.Add(10*time.Second - time.Millisecond)
	ok, _ = f.Allow(src)
	assert.False(t, ok, "still banned")
	now = now.Add(time.Millisecond)
	ok, _ = f.Allow(src)
	assert.True(t, ok, "the 10 s ban ends")

	for range 100 {
		ok, _ := f.Allow(netip.MustParseAddr("10.1.2.3"))
		assert.True(t, ok, "exempt prefix")
	}
	assert.Equal(t, FloodBan, NewFloodLimiter(FloodLimits{}, nil).Limits().Ban, "zero limits take the defaults")
}
