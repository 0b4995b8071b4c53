package sip

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLockout(t *testing.T) {
	l := NewLockout(LockoutLimits{})
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	bad, other := netip.MustParseAddr("127.0.0.9"), netip.MustParseAddr("127.0.0.10")

	for i := 1; i < MaxAuthFailures; i++ {
		assert.False(t, l.Fail(bad), "failure %d does not block yet", i)
		now = now.Add(time.Minute)
	}
	assert.False(t, l.Blocked(bad))
	assert.True(t, l.Fail(bad), "the fifth failure within 10 minutes blocks")
	assert.True(t, l.Blocked(bad))
	assert.False(t, l.Blocked(other), "other addresses are not affected")

	now = now.Add(AuthBlockTime - time.Second)
	assert.True(t, l.Blocked(bad))
	now = now.Add(time.Second)
	assert.False(t, l.Blocked(bad), "the block ends after AuthBlockTime")

	// Failures spread wider than the window never block.
	for range 3 * MaxAuthFailures {
		assert.False(t, l.Fail(other))
		now = now.Add(AuthFailureWindow/MaxAuthFailures + time.Minute)
	}
}

func TestLockoutConfigured(t *testing.T) {
	l := NewLockout(LockoutLimits{Failures: 2, Window: time.Minute, Block: 30 * time.Second})
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	src := netip.MustParseAddr("127.0.0.9")
	assert.False(t, l.Fail(src))
	assert.True(t, l.Fail(src), "the second failure within a minute blocks")
	now = now.Add(30 * time.Second)
	assert.False(t, l.Blocked(src), "the block lasts 30 s")
	assert.False(t, l.Fail(src))
	now = now.Add(61 * time.Second)
	assert.False(t, l.Fail(src), "a failure older than the window is forgotten")
	assert.Equal(t, LockoutLimits{Failures: 5, Window: 10 * time.Minute, Block: 10 * time.Minute}, NewLockout(LockoutLimits{}).Limits())
}
