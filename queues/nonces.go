package queues

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Nonces keeps digest nonce counts in Redis, shared by every node on the
// same server and prefix (it implements sip.NonceCounter), so credentials
// replayed to another node are refused as on the node that took them.
type Nonces struct {
	c      redis.UniversalClient
	prefix string
}

// Nonces returns the store's nonce counts, on its connection.
func (r *Redis) Nonces() *Nonces { return &Nonces{c: r.c, prefix: r.prefix + "nonce:"} }

// useNonceScript sets the key to ARGV[1] if that is above its value (or it
// has none), expiring at ARGV[2] (Unix ms); 1 if it did.
var useNonceScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
return 1
`)

// UseNonce records nc for nonce and reports whether it is above every
// count recorded for it before, in one round trip. The record goes at
// expires.
func (n *Nonces) UseNonce(ctx context.Context, nonce string, nc uint64, expires time.Time) (bool, error) {
	ok, err := useNonceScript.Run(ctx, n.c, []string{n.prefix + nonce}, nc, expires.UnixMilli()).Int()
	if err != nil {
		return false, redisErr("redis nonce", err)
	}
	return ok == 1, nil
}
