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
//	P nodes        hash    node name -> JSON of acd.NodeInfo (the node leases)
//
// A record and its ID's membership in the set are always written by the
// same script, so the sets list exactly the records that exist. The sets
// let a snapshot read every record in two round trips (SMEMBERS, then
// pipelined MGETs), whatever the number of records. With Redis Cluster, put
// a hash tag in the prefix ("{callwerk}:") so all keys share one slot:
// scripts and MGET span several keys.
//
// Updates are optimistic and take two round trips: read the record(s) with
// GET or MGET, run the caller's fn on decoded copies, then commit with one
// Lua script (casScript) that writes only if every record read still holds
// exactly the bytes read; else everything is read and decided again, at
// most RedisAttempts times. So reserving an (agent, call) pair is atomic
// and two nodes never hand out the same agent or call. The script compares
// and writes bytes and knows no ACD rules: which transition is legal lives
// in one place, the Go functions of package acd (Reserve, Connect, ...),
// which fn applies. Because of retries, fn may run more than once per call
// of a Store method: each run gets fresh copies and only the last one's
// result is written.
//
// Limits to know: a record round-trips through JSON, so times come back
// without their monotonic reading and with a fixed or local zone (equal as
// instants, Equal, not ==), and a node running older code drops fields it
// does not know when it rewrites a record (upgrade all nodes before relying
// on a new field). Redis replication is asynchronous: after a Sentinel or
// Cluster failover, acknowledged writes (a reservation, its release) can be
// lost. The ACD bounds the damage with node leases (NodeInfo: a dead node's
// reservations are released when its lease runs out) and fencing tokens
// (Agent.Fence: an update for an offer that is no longer the agent's
// current one is refused).

// RedisAttempts bounds the optimistic retries of one state change; after
// that many lost races the change fails with acd.ErrConflict.
const RedisAttempts = 50

// RedisTimeout bounds each dial, read and write of the Redis client.
const RedisTimeout = time.Second

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
	nodesKey  string
}

// NewRedis returns a store that keeps its keys under prefix in c. The store
// owns c from then on: Close closes it.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{c: c, prefix: prefix, agentsKey: prefix + "agents", callsKey: prefix + "calls", nodesKey: prefix + "nodes"}
}

// OpenRedis connects to the server at rawURL (redis://[user:password@]host:port/db,
// or rediss:// for TLS) and checks that it answers within RedisPingTimeout.
// Errors name the URL without its password.
func OpenRedis(rawURL, prefix string) (*Redis, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open redis %s: %w", redactURL(rawURL), stripURL(rawURL, err))
	}
	// Fail fast when the server is gone: the ACD then refuses new calls and
	// keeps its updates until the server is back (acd.ErrUnavailable). The
	// defaults (5 dial attempts, 3 retries with backoff, 3-5 s timeouts)
	// would hold a SIP transaction for seconds.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = RedisTimeout, RedisTimeout, RedisTimeout
	opt.MaxRetries, opt.DialerRetries = 1, 2
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), RedisPingTimeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("open redis %s: %w", redactURL(rawURL), err)
	}
	return NewRedis(c, prefix), nil
}

// redisErr wraps the error of a Redis command. Errors that mean the
// server cannot serve now (no connection, a timeout, a server loading its
// data or demoted to a replica) also wrap acd.ErrUnavailable: the ACD then
// keeps its node's updates until the server is back. A cancelled context
// is the caller's doing and does not.
func redisErr(what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err) // the caller gave up (a client went away), not the server
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"} {
			if strings.HasPrefix(msg, p) {
				return fmt.Errorf("%s: %w: %w", what, acd.ErrUnavailable, err)
			}
		}
		return fmt.Errorf("%s: %w", what, err) // the server answered: a bug, not an outage
	}
	return fmt.Errorf("%s: %w: %w", what, acd.ErrUnavailable, err)
}

// epochKey's value changes when the server lost its data.
const epochInfix = "epoch"

// Epoch returns the store's epoch, setting a new random one if the server
// has none (a new or emptied database), in one round trip.
func (r *Redis) Epoch(ctx context.Context) (string, error) {
	fresh := fmt.Sprintf("%016x", rand.Uint64())
	old, err := r.c.SetArgs(ctx, r.prefix+epochInfix, fresh, redis.SetArgs{Mode: "NX", Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return fresh, nil
	case err != nil:
		return "", redisErr("redis epoch", err)
	}
	return old, nil
}

// Ping checks that the server answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return redisErr("redis ping", err)
	}
	return nil
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

// casScript commits one optimistic update. KEYS are n record keys followed
// by the n ID sets they belong to; ARGV are the n values read ("" = absent),
// the n values to write ("" = delete), and the n IDs. It writes nothing and
// returns 0 if any record changed since it was read.
var casScript = redis.NewScript(`
local n = #KEYS / 2
for i = 1, n do
  local cur = redis.call('GET', KEYS[i])
  if cur == false then cur = '' end
  if cur ~= ARGV[i] then return 0 end
end
for i = 1, n do
  local new = ARGV[n + i]
  if new == '' then
    redis.call('DEL', KEYS[i])
    redis.call('SREM', KEYS[n + i], ARGV[2 * n + i])
  else
    redis.call('SET', KEYS[i], new)
    if ARGV[i] == '' then redis.call('SADD', KEYS[n + i], ARGV[2 * n + i]) end
  end
end
return 1
`)

// write is one record of an optimistic update: its key, the ID set it
// belongs to and its ID there, the bytes read ("" = absent) and the bytes to
// write ("" = delete).
type write struct {
	key, set, id string
	old, new     string
}

// update runs step, which reads records (one round trip) and returns the
// writes it decided on, and commits them with casScript, until the commit
// holds, step fails, or RedisAttempts commits have lost a race. step's
// errors are returned as they are.
func (r *Redis) update(ctx context.Context, what string, step func() ([]write, error)) error {
	for attempt := 1; ; attempt++ {
		ws, err := step()
		if err != nil {
			return err
		}
		keys := make([]string, 0, 2*len(ws))
		args := make([]any, 0, 3*len(ws))
		for _, w := range ws {
			keys = append(keys, w.key)
		}
		for _, w := range ws {
			keys = append(keys, w.set)
			args = append(args, w.old)
		}
		for _, w := range ws {
			args = append(args, w.new)
		}
		for _, w := range ws {
			args = append(args, w.id)
		}
		ok, err := casScript.Run(ctx, r.c, keys, args...).Int()
		switch {
		case err != nil:
			return redisErr("redis "+what, err)
		case ok == 1:
			return nil
		case attempt == RedisAttempts:
			return fmt.Errorf("%s: lost %d races: %w", what, attempt, acd.ErrConflict)
		}
		if err := sleepJitter(ctx, attempt); err != nil {
			return redisErr("redis "+what, err)
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

// read returns the raw values of keys ("" for a missing key), in one round trip.
func (r *Redis) read(ctx context.Context, what string, keys ...string) ([]string, error) {
	vals, err := r.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, redisErr("redis "+what, err)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
		case string:
			out[i] = v
		default:
			return nil, fmt.Errorf("redis %s: %s: unexpected reply %T", what, keys[i], v)
		}
	}
	return out, nil
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

// decodeRaw is decode for a value from read: "" is a missing key.
func decodeRaw[T any](key, raw string) (T, bool, error) {
	if raw == "" {
		var zero T
		return zero, false, nil
	}
	return decode[T](key, raw)
}

func encode(key string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", key, err)
	}
	return string(b), nil
}

func agentNotFound(id acd.AgentID) error {
	return fmt.Errorf("agent %s: %w", id, acd.ErrNotFound)
}

func callNotFound(id acd.CallID) error {
	return fmt.Errorf("call %s: %w", id, acd.ErrNotFound)
}

// PutAgent creates an agent or updates its configuration (queues, skills),
// keeping its state.
func (r *Redis) PutAgent(ctx context.Context, a acd.Agent) error {
	key := r.agentKey(a.ID)
	what := "put agent " + string(a.ID)
	return r.update(ctx, what, func() ([]write, error) {
		raw, err := r.read(ctx, what, key)
		if err != nil {
			return nil, err
		}
		old, ok, err := decodeRaw[acd.Agent](key, raw[0])
		if err != nil {
			return nil, err
		}
		rec := a.Clone()
		rec.Version = 1
		if ok {
			old.Configure(a)
			old.Version++
			rec = old
		}
		b, err := encode(key, rec)
		if err != nil {
			return nil, err
		}
		return []write{{key: key, set: r.agentsKey, id: string(a.ID), old: raw[0], new: b}}, nil
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
		return nil, redisErr("redis "+set, err)
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
			return nil, redisErr("redis mget "+keyPrefix+"*", err)
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
	what := "update agent " + string(id)
	var out acd.Agent
	err := r.update(ctx, what, func() ([]write, error) {
		raw, err := r.read(ctx, what, key)
		if err != nil {
			return nil, err
		}
		a, ok, err := decodeRaw[acd.Agent](key, raw[0])
		if err != nil {
			return nil, fmt.Errorf("redis %s: %w", what, err)
		}
		if !ok {
			return nil, agentNotFound(id)
		}
		a.Version++
		if err := fn(&a); err != nil {
			return nil, err
		}
		b, err := encode(key, a)
		if err != nil {
			return nil, err
		}
		out = a.Clone()
		return []write{{key: key, set: r.agentsKey, id: string(id), old: raw[0], new: b}}, nil
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
	c.Version = 1
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
		return redisErr("redis add call "+string(c.ID), err)
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
	what := "update call " + string(cid)
	return r.update(ctx, what, func() ([]write, error) {
		raw, err := r.read(ctx, what, keys...)
		if err != nil {
			return nil, err
		}
		c, ok, err := decodeRaw[acd.Call](keys[0], raw[0])
		if err != nil {
			return nil, fmt.Errorf("redis %s: %w", what, err)
		}
		if !ok {
			return nil, callNotFound(cid)
		}
		c.Version++
		var a *acd.Agent
		if aid != "" {
			rec, ok, err := decodeRaw[acd.Agent](keys[1], raw[1])
			if err != nil {
				return nil, fmt.Errorf("redis %s: %w", what, err)
			}
			if !ok {
				return nil, agentNotFound(aid)
			}
			rec.Version++
			a = &rec
		}
		if err := fn(&c, a); err != nil {
			return nil, err
		}
		cb, err := encode(keys[0], c)
		if err != nil {
			return nil, err
		}
		ws := []write{{key: keys[0], set: r.callsKey, id: string(cid), old: raw[0], new: cb}}
		if a != nil {
			ab, err := encode(keys[1], a)
			if err != nil {
				return nil, err
			}
			ws = append(ws, write{key: keys[1], set: r.agentsKey, id: string(aid), old: raw[1], new: ab})
		}
		return ws, nil
	})
}

// RemoveCall deletes a call after fn accepted it and the agent it is offered
// to. fn may be nil. The agent is known only once the call is read, so it
// takes a second read.
func (r *Redis) RemoveCall(ctx context.Context, cid acd.CallID, fn func(*acd.Call, *acd.Agent) error) error {
	key := r.callKey(cid)
	what := "remove call " + string(cid)
	return r.update(ctx, what, func() ([]write, error) {
		raw, err := r.read(ctx, what, key)
		if err != nil {
			return nil, err
		}
		c, ok, err := decodeRaw[acd.Call](key, raw[0])
		if err != nil {
			return nil, fmt.Errorf("redis %s: %w", what, err)
		}
		if !ok {
			return nil, callNotFound(cid)
		}
		ws := []write{{key: key, set: r.callsKey, id: string(cid), old: raw[0]}}
		var a *acd.Agent
		akey := r.agentKey(c.Agent)
		var araw []string
		if c.Agent != "" {
			if araw, err = r.read(ctx, what, akey); err != nil {
				return nil, err
			}
			rec, ok, err := decodeRaw[acd.Agent](akey, araw[0])
			if err != nil {
				return nil, fmt.Errorf("redis %s: %w", what, err)
			}
			if ok {
				rec.Version++
				a = &rec
			}
		}
		if fn != nil {
			if err := fn(&c, a); err != nil {
				return nil, err
			}
		}
		if a != nil {
			ab, err := encode(akey, a)
			if err != nil {
				return nil, err
			}
			ws = append(ws, write{key: akey, set: r.agentsKey, id: string(a.ID), old: araw[0], new: ab})
		}
		return ws, nil
	})
}

// removeNodeScript deletes a node's lease only if it still holds the bytes
// the caller saw expire.
var removeNodeScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
`)

// RenewNode records or extends a node's lease, in one round trip.
func (r *Redis) RenewNode(ctx context.Context, n acd.NodeInfo) error {
	n.Expires = n.Expires.UTC() // RemoveNode compares bytes
	b, err := encode(r.nodesKey, n)
	if err != nil {
		return err
	}
	if err := r.c.HSet(ctx, r.nodesKey, n.Name, b).Err(); err != nil {
		return redisErr("redis renew node "+n.Name, err)
	}
	return nil
}

// Nodes returns every node with a lease, ordered by name, in one round trip.
func (r *Redis) Nodes(ctx context.Context) ([]acd.NodeInfo, error) {
	m, err := r.c.HGetAll(ctx, r.nodesKey).Result()
	if err != nil {
		return nil, redisErr("redis nodes", err)
	}
	out := make([]acd.NodeInfo, 0, len(m))
	for name, raw := range m {
		n, _, err := decodeRaw[acd.NodeInfo](r.nodesKey+" "+name, raw)
		if err != nil {
			return nil, fmt.Errorf("redis nodes: %w", err)
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(x, y acd.NodeInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// RemoveNode deletes a node's lease if it is still n.
func (r *Redis) RemoveNode(ctx context.Context, n acd.NodeInfo) error {
	n.Expires = n.Expires.UTC()
	b, err := encode(r.nodesKey, n)
	if err != nil {
		return err
	}
	if err := removeNodeScript.Run(ctx, r.c, []string{r.nodesKey}, n.Name, b).Err(); err != nil {
		return redisErr("redis remove node "+n.Name, err)
	}
	return nil
}
