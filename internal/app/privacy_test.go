package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
)

// privacyRedis is this test's Redis database (internal/app's others use
// 15, internal/cluster 14).
const privacyRedis = "redis://127.0.0.1:6379/13"

// Privacy by design, checked end to end: a node on the real Redis store,
// with its bus and a queue log, carries an answered call, an
// abandoned one, a blind transfer and one while the agent holds. Then every
// log line, every event published on the bus, every key and value in the
// store and the queue log are searched for the callers' numbers in every
// form they could take, and none is found; the pseudonym is there instead.
func TestNoCallerNumberInClear(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opt, err := redis.ParseURL(privacyRedis)
	require.NoError(t, err)
	rc := redis.NewClient(opt)
	t.Cleanup(func() { _ = rc.Close() })
	require.NoError(t, rc.Ping(ctx).Err(), "Redis at 127.0.0.1:6379 (run scripts/test-deps.sh)")
	require.NoError(t, rc.FlushDB(ctx).Err())
	t.Cleanup(func() { _ = rc.FlushDB(context.Background()).Err() })

	qlog := filepath.Join(t.TempDir(), "queue_log")
	n := startNode(t, func(c *config.Config) {
		c.Store = privacyRedis
		c.Node.Name = "app-test-privacy"
		c.QueueLog = qlog
		c.Numbers = append(c.Numbers, config.Number{Number: "300", Queue: "other", Answer: "immediate"})
		c.Queues = append(c.Queues, c.Queues[0])
		c.Queues[1].Name = "other"
		c.Agents[1].Queues = []string{"other"}
	})
	// Everything published on the node's bus (embedded: other packages'
	// tests on the machine's NATS are not mixed in).
	var mu sync.Mutex
	var events []string
	sub, err := n.bus.Conn.Subscribe("callwerk.>", func(m *nats.Msg) {
		mu.Lock()
		events = append(events, m.Subject+" "+string(m.Data))
		mu.Unlock()
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{AnswerAfter: 100 * time.Millisecond})
	other := registerAgent(t, n, "1002", loadtest.AgentOptions{AnswerAfter: 100 * time.Millisecond})
	numbers := []string{"+4930123456789", "+4917699887766", "+4940555666777", "+4989111222333"}
	member := newMember(t)
	dial := func(from string) *loadtest.MemberCall {
		mc, err := member.Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: from})
		require.NoError(t, err)
		return mc
	}

	// Answered, then hung up by the member.
	mc := dial(numbers[0])
	waitAnswered(t, agent, 3*time.Second)
	require.NoError(t, mc.Hangup(ctx))
	n.waitAgentState(t, "1001", acd.Available, 4*time.Second)

	// Held by the agent, then transferred blind to the other queue.
	mc = dial(numbers[1])
	ac := waitAnswered(t, agent, 3*time.Second)
	code, err := ac.Hold(ctx, true)
	require.NoError(t, err)
	require.Equal(t, 200, code)
	talking := dumpRedis(t, ctx, rc)
	res, err := ac.Transfer(ctx, "300")
	require.NoError(t, err)
	require.Equal(t, 202, res.StatusCode)
	waitAnswered(t, other, 5*time.Second)
	require.NoError(t, mc.Hangup(ctx))
	n.waitAgentState(t, "1001", acd.Available, 4*time.Second)

	// Abandoned while waiting: the agent is paused.
	require.NoError(t, n.acd.SetPause(ctx, "1001", "break"))
	mc = dial(numbers[2])
	var waiting string
	require.Eventually(t, func() bool { // a waiting call's record exists only now
		waiting = dumpRedis(t, ctx, rc)
		return strings.Contains(waiting, "callwerk:call:")
	}, 3*time.Second, 50*time.Millisecond, "the waiting call is in the store")
	require.NoError(t, mc.Hangup(ctx))

	// Refused: the queue is empty of available agents and full.
	_, _ = member.Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "999", From: numbers[3]})
	require.NoError(t, n.bus.Conn.Flush())
	time.Sleep(200 * time.Millisecond) // the last events reach the subscription
	n.stop()                           // flushes the queue log

	// Every place a number could end up.
	places := []string{"store during a call\n" + talking, "store with a call waiting\n" + waiting, "log\n" + n.logs.String()}
	mu.Lock()
	places = append(places, "events\n"+strings.Join(events, "\n"))
	require.NotEmpty(t, events, "events were published")
	mu.Unlock()
	b, err := os.ReadFile(qlog)
	require.NoError(t, err)
	places = append(places, "queue log\n"+string(b))
	store := dumpRedis(t, ctx, rc)
	require.NotEmpty(t, store, "the store holds records")
	places = append(places, "store\n"+store)

	for _, num := range numbers {
		national := "0" + num[3:]
		for _, form := range []string{num, num[1:], national, num[3:]} {
			for _, p := range places {
				where, _, _ := strings.Cut(p, "\n")
				assert.NotContains(t, p, form, "%s (%s) in clear in the %s", form, num, where)
			}
		}
	}
	assert.Contains(t, n.logs.String(), `"caller":"n-`, "calls are logged with the pseudonym")
}

// dumpRedis renders every key of the database and its value as text.
func dumpRedis(t *testing.T, ctx context.Context, rc *redis.Client) string {
	t.Helper()
	var b strings.Builder
	iter := rc.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := rc.Type(ctx, key).Result()
		require.NoError(t, err)
		var val any
		switch typ {
		case "string":
			val, err = rc.Get(ctx, key).Result()
		case "hash":
			val, err = rc.HGetAll(ctx, key).Result()
		case "list":
			val, err = rc.LRange(ctx, key, 0, -1).Result()
		case "set":
			val, err = rc.SMembers(ctx, key).Result()
		case "zset":
			val, err = rc.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "stream":
			val, err = rc.XRange(ctx, key, "-", "+").Result()
		default:
			val = "(type " + typ + ")"
		}
		if errors.Is(err, redis.Nil) {
			continue // deleted since the scan
		}
		require.NoError(t, err, key)
		fmt.Fprintf(&b, "%s %v\n", key, val)
	}
	require.NoError(t, iter.Err())
	return b.String()
}
