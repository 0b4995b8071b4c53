package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callwerk/callwerk/acd"
)

// The Redis store lets several Callwerk nodes share one ACD state.
//
// Key layout (P is the prefix given to NewRedis, e.g. "callwerk:"):
//
//	P agent:<id>   string  JSON of acd.Agent
//	P call:<id>    string  JSON of acd.Call
//	P agents       set     IDs of all agents
//	P calls        set     IDs of all calls
//
// A record and its ID's membership in the set are always written in the
// same MULTI/EXEC, so the sets list exactly the records that exist. One key
// per record (not one hash for all agents) keeps WATCH narrow: a reservation
// conflicts only with writes to its own call and agent. The sets let a
// snapshot read every record in two round trips (SMEMBERS, then pipelined
// MGETs), whatever the number of records. With Redis Cluster, put a hash tag
// in the prefix ("{callwerk}:") so all keys share one slot: transactions and
// MGET span several keys.
//
// Transactions are optimistic: WATCH the record(s), read them, run the
// caller's fn on decoded copies, then write in MULTI/EXEC, which Redis
// refuses if a watched key changed meanwhile; then everything is read and
// decided again, at most RedisAttempts times. We do not use Lua: the rules of
// which transition is legal live in one place, the Go functions of package
// acd (Reserve, Connect, ...), which fn applies. A script would repeat them
// in a second language, and the two copies would drift. The price is a round
// trip or two more per update and retries under contention, which at ACD
// rates (a few updates per call) is cheap. Because of retries, fn may run
// more than once per call of a Store method: each run gets fresh copies and
// only the last one's result is written.
//
// Limits to know: a record round-trips through JSON, so times come back
// without their monotonic reading and with a fixed or local zone (equal as
// instants, Equal, not ==), and a node running older code drops fields it
// does not know when it rewrites a record (upgrade all nodes before relying
// on a new field). Redis replication is asynchronous: after a Sentinel or
// Cluster failover, acknowledged writes (a reservation, its release) can be
// lost; this store has no reservation TTL or fencing token of its own.

// RedisAttempts bounds the optimistic retries of one state change; after
// that many lost races the change fails with acd.ErrConflict.
const RedisAttempts = 50

// RedisPingTimeout bounds OpenRedis's first contact with the server.
const RedisPingTimeout = 3 * time.Second

const (
	retryBase  = 50 * time.Microsecond // first retry waits up to this long; doubles up to 32x
	mgetChunk  = 1000                  // keys per MGET in a snapshot, so one command never blocks Redis long
	agentInfix = "agent:"
	callInfix  = "call:"
)

var _ acd.Store = (*Redis)(nil)

// Redis is an acd.Store in Redis, shared by all nodes that use the same
// server and prefix. It is safe for concurrent use.
type Redis struct {
	c         redis.UniversalClient
	prefix    string
	agentsKey string
	callsKey  string
}

// NewRedis returns a store that keeps its keys under prefix in c. The store
// owns c from then on: Close closes it.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{c: c, prefix: prefix, agentsKey: prefix + "agents", callsKey: prefix + "calls"}
}

// OpenRedis connects to the server at rawURL (redis://[user:password@]host:port/db,
// or rediss:// for TLS) and checks that it answers within RedisPingTimeout.
// Errors name the URL without its password.
func OpenRedis(rawURL, prefix string) (*Redis, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open redis %s: %w", redactURL(rawURL), stripURL(rawURL, err))
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), RedisPingTimeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("open redis %s: %w", redactURL(rawURL), err)
	}
	return NewRedis(c, prefix), nil
}

// Close closes the Redis client.
func (r *Redis) Close() error { return r.c.Close() }

// redactURL returns rawURL with any password replaced by "xxxxx", also when
// rawURL does not parse.
func redactURL(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Redacted()
	}
	// Unparsable: userinfo is whatever lies between "://" and the last "@".
	start := strings.Index(rawURL, "://")
	at := strings.LastIndex(rawURL, "@")
	if start < 0 || at < start {
		return rawURL
	}
	start += len("://")
	user, _, hasPass := strings.Cut(rawURL[start:at], ":")
	if !hasPass {
		return rawURL
	}
	return rawURL[:start] + user + ":xxxxx" + rawURL[at:]
}

// stripURL removes the raw URL that net/url puts into its errors. The
// detail is dropped too if the URL has userinfo: it may quote the password
// (`invalid URL escape "%zz"`).
func stripURL(rawURL string, err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	if strings.Contains(rawURL, "@") {
		return errors.New("invalid URL")
	}
	return ue.Err
}

func (r *Redis) agentKey(id acd.AgentID) string { return r.prefix + agentInfix + string(id) }
func (r *Redis) callKey(id acd.CallID) string   { return r.prefix + callInfix + string(id) }

// final marks an error that a transaction returns as it is: fn's own error,
// or not found. Other errors of a transaction body get the operation as
// context; redis.TxFailedErr means "retry".
type final struct{ err error }

func (f final) Error() string { return f.err.Error() }

// update runs body under WATCH of keys until it commits, fails, or has lost
// RedisAttempts races. body may WATCH more keys through tx before reading
// them and must write with tx.TxPipelined.
func (r *Redis) update(ctx context.Context, what string, keys []string, body func(tx *redis.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := r.c.Watch(ctx, body, keys...)
		var f final
		switch {
		case err == nil:
			return nil
		case errors.As(err, &f):
			return f.err
		case !errors.Is(err, redis.TxFailedErr):
			return fmt.Errorf("redis %s: %w", what, err)
		case attempt == RedisAttempts:
			return fmt.Errorf("%s: lost %d races: %w", what, attempt, acd.ErrConflict)
		}
		if err := sleepJitter(ctx, attempt); err != nil {
			return fmt.Errorf("redis %s: %w", what, err)
		}
	}
}

// sleepJitter waits a random time below retryBase*2^(attempt-1), capped,
// so racing nodes spread out.
func sleepJitter(ctx context.Context, attempt int) error {
	t := time.NewTimer(rand.N(retryBase << min(attempt-1, 5)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decode unmarshals a record read with GET or MGET (a string, or nil if
// the key is missing). ok is false for a missing key.
func decode[T any](key string, v any) (rec T, ok bool, err error) {
	if v == nil {
		return rec, false, nil
	}
	s, isString := v.(string)
	if !isString {
		return rec, false, fmt.Errorf("decode %s: unexpected reply %T", key, v)
	}
	if err := json.Unmarshal([]byte(s), &rec); err != nil {
		return rec, false, fmt.Errorf("decode %s: %w", key, err)
	}
	return rec, true, nil
}

// getAgent reads an agent inside a transaction; ok is false if it is missing.
func getAgent(ctx context.Context, tx *redis.Tx, key string, id acd.AgentID) (acd.Agent, bool, error) {
	v, err := tx.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return acd.Agent{}, false, nil
	}
	if err != nil {
		return acd.Agent{}, false, err
	}
	return decode[acd.Agent](key, v)
}

func encode(key string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	return b, nil
}

func agentNotFound(id acd.AgentID) error {
	return final{fmt.Errorf("agent %s: %w", id, acd.ErrNotFound)}
}

func callNotFound(id acd.CallID) error {
	return final{fmt.Errorf("call %s: %w", id, acd.ErrNotFound)}
}

// PutAgent creates an agent or updates its configuration (queues, skills),
// keeping its state.
func (r *Redis) PutAgent(ctx context.Context, a acd.Agent) error {
	key := r.agentKey(a.ID)
	return r.update(ctx, "put agent "+string(a.ID), []string{key}, func(tx *redis.Tx) error {
		old, ok, err := getAgent(ctx, tx, key, a.ID)
		if err != nil {
			return err
		}
		rec := a
		if ok {
			old.Configure(a)
			rec = old
		}
		b, err := encode(key, rec)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, b, 0)
			if !ok {
				p.SAdd(ctx, r.agentsKey, string(a.ID))
			}
			return nil
		})
		return err
	})
}

// Agents returns a copy of all agents, ordered by ID, in two round trips.
func (r *Redis) Agents(ctx context.Context) ([]acd.Agent, error) {
	out, err := snapshot[acd.Agent](ctx, r, r.agentsKey, r.prefix+agentInfix)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(x, y acd.Agent) int { return strings.Compare(string(x.ID), string(y.ID)) })
	return out, nil
}

// Calls returns a copy of all calls in queue order (by enqueue time, then
// ID), in two round trips.
func (r *Redis) Calls(ctx context.Context) ([]acd.Call, error) {
	out, err := snapshot[acd.Call](ctx, r, r.callsKey, r.prefix+callInfix)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(x, y acd.Call) int {
		if c := x.Enqueued.Compare(y.Enqueued); c != 0 {
			return c
		}
		return strings.Compare(string(x.ID), string(y.ID))
	})
	return out, nil
}

// snapshot reads the IDs in set, then all their records in one pipeline.
// Every record is a committed state; a record removed between the two
// round trips is left out, one added is not seen yet.
func snapshot[T any](ctx context.Context, r *Redis, set, keyPrefix string) ([]T, error) {
	ids, err := r.c.SMembers(ctx, set).Result()
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", set, err)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = keyPrefix + id
	}
	cmds := make([]*redis.SliceCmd, 0, (len(keys)+mgetChunk-1)/mgetChunk)
	if len(keys) > 0 {
		_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for rest := keys; len(rest) > 0; {
				n := min(len(rest), mgetChunk)
				cmds = append(cmds, p.MGet(ctx, rest[:n]...))
				rest = rest[n:]
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("redis mget %s*: %w", keyPrefix, err)
		}
	}
	out := make([]T, 0, len(keys))
	i := 0
	for _, cmd := range cmds {
		for _, v := range cmd.Val() {
			rec, ok, err := decode[T](keys[i], v)
			i++
			if err != nil {
				return nil, fmt.Errorf("redis %s: %w", set, err)
			}
			if ok {
				out = append(out, rec)
			}
		}
	}
	return out, nil
}

// UpdateAgent applies fn to a copy and stores it if fn succeeds.
func (r *Redis) UpdateAgent(ctx context.Context, id acd.AgentID, fn func(*acd.Agent) error) (acd.Agent, error) {
	key := r.agentKey(id)
	var out acd.Agent
	err := r.update(ctx, "update agent "+string(id), []string{key}, func(tx *redis.Tx) error {
		a, ok, err := getAgent(ctx, tx, key, id)
		if err != nil {
			return err
		}
		if !ok {
			return agentNotFound(id)
		}
		if err := fn(&a); err != nil {
			return final{err}
		}
		b, err := encode(key, a)
		if err != nil {
			return err
		}
		if _, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, b, 0)
			return nil
		}); err != nil {
			return err
		}
		out = a.Clone()
		return nil
	})
	if err != nil {
		return acd.Agent{}, err
	}
	return out, nil
}

// AddCall stores a new call, in one round trip: SET NX fails if the ID is
// taken (the SADD of an existing member changes nothing).
func (r *Redis) AddCall(ctx context.Context, c acd.Call) error {
	key := r.callKey(c.ID)
	b, err := encode(key, c)
	if err != nil {
		return fmt.Errorf("redis add call %s: %w", c.ID, err)
	}
	var created *redis.BoolCmd
	if _, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		created = p.SetNX(ctx, key, b, 0)
		p.SAdd(ctx, r.callsKey, string(c.ID))
		return nil
	}); err != nil {
		return fmt.Errorf("redis add call %s: %w", c.ID, err)
	}
	if !created.Val() {
		return fmt.Errorf("call %s: %w", c.ID, acd.ErrConflict)
	}
	return nil
}

// UpdateCallAgent applies fn to copies of the call and agent and stores both
// if fn succeeds.
func (r *Redis) UpdateCallAgent(ctx context.Context, cid acd.CallID, aid acd.AgentID, fn func(*acd.Call, *acd.Agent) error) error {
	keys := []string{r.callKey(cid)}
	if aid != "" {
		keys = append(keys, r.agentKey(aid))
	}
	return r.update(ctx, "update call "+string(cid), keys, func(tx *redis.Tx) error {
		vals, err := tx.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		c, ok, err := decode[acd.Call](keys[0], vals[0])
		if err != nil {
			return err
		}
		if !ok {
			return callNotFound(cid)
		}
		var a *acd.Agent
		if aid != "" {
			rec, ok, err := decode[acd.Agent](keys[1], vals[1])
			if err != nil {
				return err
			}
			if !ok {
				return agentNotFound(aid)
			}
			a = &rec
		}
		if err := fn(&c, a); err != nil {
			return final{err}
		}
		cb, err := encode(keys[0], c)
		if err != nil {
			return err
		}
		var ab []byte
		if a != nil {
			if ab, err = encode(keys[1], a); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, keys[0], cb, 0)
			if a != nil {
				p.Set(ctx, keys[1], ab, 0)
			}
			return nil
		})
		return err
	})
}

// RemoveCall deletes a call after fn accepted it and the agent it is offered
// to. fn may be nil. The agent is known only once the call is read, so it is
// watched then, before it is read.
func (r *Redis) RemoveCall(ctx context.Context, cid acd.CallID, fn func(*acd.Call, *acd.Agent) error) error {
	key := r.callKey(cid)
	return r.update(ctx, "remove call "+string(cid), []string{key}, func(tx *redis.Tx) error {
		v, err := tx.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return callNotFound(cid)
		}
		if err != nil {
			return err
		}
		c, _, err := decode[acd.Call](key, v)
		if err != nil {
			return err
		}
		var a *acd.Agent
		akey := r.agentKey(c.Agent)
		if c.Agent != "" {
			if err := tx.Watch(ctx, akey).Err(); err != nil {
				return err
			}
			rec, ok, err := getAgent(ctx, tx, akey, c.Agent)
			if err != nil {
				return err
			}
			if ok {
				a = &rec
			}
		}
		if fn != nil {
			if err := fn(&c, a); err != nil {
				return final{err}
			}
		}
		var ab []byte
		if a != nil {
			if ab, err = encode(akey, a); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, key)
			p.SRem(ctx, r.callsKey, string(cid))
			if a != nil {
				p.Set(ctx, akey, ab, 0)
			}
			return nil
		})
		return err
	})
}
