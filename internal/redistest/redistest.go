// Package redistest connects tests and benchmarks to the test machine's
// Redis: a client, a fresh key prefix cleaned up afterwards, and a hook
// that counts round trips. A missing Redis fails the test, never skips it:
// a skipped store test reads as a pass.
package redistest

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the test Redis unless CALLWERK_TEST_REDIS_URL says otherwise.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns the test Redis's URL.
func URL() string {
	if u := os.Getenv("CALLWERK_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Client connects to the test Redis and closes the client at cleanup.
// poolSize 0 keeps go-redis's default. Hooks are added before first use, so
// transactions (which copy the client's hooks) see them too.
func Client(tb testing.TB, poolSize int, hooks ...redis.Hook) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(URL())
	if err != nil {
		tb.Fatalf("CALLWERK_TEST_REDIS_URL: %v", err)
	}
	if poolSize > 0 {
		opt.PoolSize = poolSize
	}
	c := redis.NewClient(opt)
	for _, h := range hooks {
		c.AddHook(h)
	}
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("Redis at %s is unreachable (%v): run `make test` or ./scripts/test-deps.sh to start it, or set CALLWERK_TEST_REDIS_URL", opt.Addr, err)
	}
	return c
}

// Prefix returns a fresh key prefix whose keys are deleted at cleanup
// (before the client closes: cleanups run last-in first-out).
func Prefix(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	prefix := "callwerk-test:" + rand.Text() + ":"
	tb.Cleanup(func() { DeleteKeys(tb, c, prefix) })
	return prefix
}

// DeleteKeys removes all keys under prefix (SCAN, then DEL in chunks).
func DeleteKeys(tb testing.TB, c *redis.Client, prefix string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := KeysUnder(ctx, c, prefix)
	for err == nil && len(keys) > 0 {
		n := min(len(keys), 1000)
		err = c.Del(ctx, keys[:n]...).Err()
		keys = keys[n:]
	}
	if err != nil {
		tb.Errorf("clean up %s*: %v", prefix, err)
	}
}

// KeysUnder lists the keys under prefix, which is matched literally.
func KeysUnder(ctx context.Context, c *redis.Client, prefix string) ([]string, error) {
	glob := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(prefix) + "*"
	var keys []string
	it := c.Scan(ctx, 0, glob, 1000).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	return keys, it.Err()
}

// RoundTrips is a hook that counts what go-redis sends: one per command,
// one per pipeline or MULTI/EXEC block.
type RoundTrips struct{ N atomic.Int64 }

// DialHook passes dialling through.
func (h *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts a command.
func (h *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.N.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts a pipeline.
func (h *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.N.Add(1)
		return next(ctx, cmds)
	}
}
