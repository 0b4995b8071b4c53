package cluster_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/loadtest"
	"github.com/callwerk/callwerk/media"
)

// server is a Redis or NATS server process of one test, on a fixed port so
// that it can be stopped and started again where the nodes expect it.
type server struct {
	t    *testing.T
	args []string
	cmd  *exec.Cmd
}

func startServer(t *testing.T, name string, args ...string) *server {
	t.Helper()
	bin, err := exec.LookPath(name)
	require.NoError(t, err, "%s (scripts/test-deps.sh installs it)", name)
	s := &server{t: t, args: append([]string{bin}, args...)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	require.NoError(s.t, s.cmd.Start())
}

// stop kills the server (no clean shutdown: a crash or a pulled cable).
func (s *server) stop() {
	if s.cmd != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// callNumber matches the members' numbers of this test in any form a log
// could show them.
var callNumber = regexp.MustCompile(`4930777\d{4}`)

// Faults: Redis killed for 30 s, then NATS for 10 s, under two nodes with
// calls in progress.
//
// Redis: the connected calls keep their audio throughout; new calls get
// 503 with Retry-After; a call that ends during the outage frees its agent
// once Redis is back. Redis comes back empty (it keeps nothing on disk):
// the nodes restore their agents and calls, and a new call reaches an agent
// within 5 s.
//
// Redis frozen longer than a lease, keeping its data: no node takes over
// after the other when it thaws.
//
// NATS: an agent that registers with one node while the bus is down is
// routed by the other node's calls within 5 s of the bus returning.
//
// The call that stays up throughout is SRTP from the member's side. The
// logs hold no member number, no Authorization value and no SRTP key.
func TestStoreAndBusOutage(t *testing.T) {
	redisPort, natsPort := freePort(t, "tcp"), freePort(t, "tcp")
	rs := startServer(t, "redis-server", "--bind", "127.0.0.1", "--port", fmt.Sprint(redisPort),
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	ns := startServer(t, "nats-server", "-a", "127.0.0.1", "-p", fmt.Sprint(natsPort))
	store := fmt.Sprintf("redis://127.0.0.1:%d/0", redisPort)
	bus := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", redisPort)})
	t.Cleanup(func() { _ = rc.Close() })
	require.Eventually(t, func() bool { return rc.Ping(context.Background()).Err() == nil }, 10*time.Second, 50*time.Millisecond, "test Redis up")

	n1 := startNodeAt(t, "n1", 44000, bus, store)
	n2 := startNodeAt(t, "n2", 45000, bus, store)
	ids := agentIDs()[numAgents:]
	member, err := loadtest.NewPhone("member")
	require.NoError(t, err)
	t.Cleanup(member.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	newAgent(t, ids[0], n1, loadtest.AgentOptions{})
	newAgent(t, ids[1], n2, loadtest.AgentOptions{})
	newAgent(t, ids[2], n1, loadtest.AgentOptions{})
	talking, err := reachedWith(ctx, member, n1, loadtest.CallOptions{From: "+49307770001", SRTP: true})
	require.NoError(t, err)
	answer, err := media.ParseSDP(talking.Answer.Body())
	require.NoError(t, err)
	require.True(t, answer.Secure())
	nodeKey := base64.StdEncoding.EncodeToString(answer.Crypto[0].Key)
	endAtCleanup(t, talking)
	ending, err := reached(ctx, member, n2, "+49307770002")
	require.NoError(t, err)

	n1.waitReady(t, http.StatusOK, "")

	// Redis down for 30 s.
	rs.stop()
	downAt := time.Now()
	before := talking.RTP.Stats().ByTag[loadtest.TagAgent]
	time.Sleep(3 * time.Second) // the nodes notice at their next lease renewal
	for _, n := range []*node{n1, n2} {
		_, err = member.Call(ctx, loadtest.CallOptions{Server: n.sip, Number: "100", From: "+49307770003"})
		assert.ErrorContains(t, err, "503", "%s refuses new calls while Redis is down", n.name)
		n.waitReady(t, http.StatusServiceUnavailable, "redis ping")
	}
	time.Sleep(7 * time.Second)
	require.NoError(t, ending.Hangup(ctx), "a call ends during the outage")
	time.Sleep(30*time.Second - time.Since(downAt))
	select {
	case <-talking.Done():
		t.Fatal("the connected call ended during the Redis outage")
	default:
	}
	during := talking.RTP.Stats().ByTag[loadtest.TagAgent] - before
	assert.Greater(t, during, uint64(29*50), "the connected call kept its audio: %d packets from the agent in 30 s", during)
	assert.Zero(t, talking.RTP.Stats().Unauthentic, "SRTP packets to the member that failed authentication")

	rs.start()
	upAt := time.Now()
	var back *loadtest.MemberCall
	for back == nil && time.Since(upAt) < 15*time.Second {
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		back, err = reached(cctx, member, n1, "+49307770004")
		ccancel()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	require.NotNil(t, back, "no call reached an agent after Redis came back: %v", err)
	endAtCleanup(t, back)
	recovery := time.Since(upAt)
	t.Logf("Redis back: a new call reached an agent after %v", recovery.Round(time.Millisecond))
	assert.Less(t, recovery, 5*time.Second)
	n2.waitReady(t, http.StatusOK, "")
	// Three agents, two calls up: the agent whose call ended in the outage
	// took the new call or is free.
	require.Eventually(t, func() bool {
		st := n2.states(t)
		busy := 0
		for _, id := range ids[:3] {
			if st[id] == "on-call" {
				busy++
			}
		}
		return busy == 2
	}, 5*time.Second, 100*time.Millisecond, "exactly the two calls in progress hold agents")
	assert.Contains(t, n1.logText(), "the store lost its data: restoring this node's agents and calls")

	// NATS down for 10 s; an agent registers with n2 meanwhile.
	// n1 may see the agent whose call ended in the Redis outage free a
	// moment after n2 does: wait for it, or the late call could go there.
	var free string
	require.Eventually(t, func() bool {
		st := n1.states(t)
		for _, id := range ids[:3] {
			if st[id] == "available" {
				free = id
			}
		}
		return free != ""
	}, 5*time.Second, 100*time.Millisecond, "n1 sees the third agent available")
	n1.pause(t, free)
	ns.stop()
	time.Sleep(2 * time.Second)
	late := newAgent(t, ids[3], n2, loadtest.AgentOptions{})
	n2.waitReady(t, http.StatusServiceUnavailable, "nats: not connected")
	time.Sleep(8 * time.Second)
	ns.start()
	busAt := time.Now()
	late1, err := reached(ctx, member, n1, "+49307770005")
	require.NoError(t, err, "n1's call reaches the agent that registered with n2 during the bus outage")
	endAtCleanup(t, late1)
	t.Logf("NATS back: n1 routed to n2's new agent after %v", time.Since(busAt).Round(time.Millisecond))
	assert.Less(t, time.Since(busAt), 5*time.Second)
	assert.Equal(t, int64(1), late.Calls.Load())

	// Redis frozen (SIGSTOP) for longer than a lease: it keeps its data, so
	// when it thaws every node finds the others' leases run out. None may
	// take over after another that was only cut off like itself.
	onCall := func() int {
		n := 0
		for _, st := range n2.states(t) {
			if st == "on-call" {
				n++
			}
		}
		return n
	}
	require.Equal(t, 3, onCall(), "three calls in progress")
	require.NoError(t, rs.cmd.Process.Signal(syscall.SIGSTOP))
	time.Sleep(3 * lease)
	require.NoError(t, rs.cmd.Process.Signal(syscall.SIGCONT))
	time.Sleep(2 * lease)
	assert.Equal(t, 3, onCall(), "no node took over after the other when Redis thawed")
	for _, n := range []*node{n1, n2} {
		assert.NotContains(t, n.logText(), "took over after dead node", n.name)
	}

	select {
	case <-talking.Done():
		t.Fatal("the connected call ended")
	default:
	}
	for _, n := range []*node{n1, n2} {
		logs := n.logText()
		assert.NotRegexp(t, callNumber, logs, "%s logs a member number", n.name)
		assert.NotContains(t, logs, "Digest ", "%s logs an Authorization value", n.name)
		assert.False(t, strings.Contains(logs, password), "%s logs a password", n.name)
		assert.NotContains(t, logs, nodeKey, "%s logs its SRTP key", n.name)
		assert.NotContains(t, logs, "inline:", "%s logs an a=crypto line", n.name)
	}
}
