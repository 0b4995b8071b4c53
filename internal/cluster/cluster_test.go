// Package cluster_test runs Callwerk as several processes on the real Redis
// and NATS of the test machine, with simulated phones on loopback: the
// behaviour of nodes that share one ACD, and of a node killed mid-run.
package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/redistest"
	"github.com/callwerk/callwerk/internal/testcert"
	"github.com/callwerk/callwerk/loadtest"
)

const (
	password  = "cluster-test-pw"
	apiToken  = "cluster-test-api-token-0123456789"
	secret    = "cluster-test-node-secret-0123456789"
	lease     = 2 * time.Second
	redisDB   = 14 // keys of this test only (internal/app uses 15); callwerk:* there is deleted before and after
	numAgents = 40
	numCalls  = 400
)

var binary string // the callwerk binary under test, built once

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callwerk-cluster")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "callwerk")
	out, err := exec.Command("go", "build", "-o", binary, "github.com/callwerk/callwerk/cmd/callwerk").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build callwerk: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// redisURL is the test Redis (redistest.URL) with this test's database.
func redisURL() string {
	addr := "127.0.0.1:6379"
	if opt, err := redis.ParseURL(redistest.URL()); err == nil {
		addr = opt.Addr
	}
	return fmt.Sprintf("redis://%s/%d", addr, redisDB)
}

func natsURL() string {
	if u := os.Getenv("CALLWERK_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// cleanRedis deletes callwerk:* in the test's database, now and at the end.
func cleanRedis(t *testing.T) {
	opt, err := redis.ParseURL(redisURL())
	require.NoError(t, err)
	c := redis.NewClient(opt)
	clean := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, err := c.Keys(ctx, "callwerk:*").Result()
		require.NoError(t, err, "Redis at %s (run scripts/test-deps.sh)", opt.Addr)
		if len(keys) > 0 {
			require.NoError(t, c.Del(ctx, keys...).Err())
		}
	}
	clean()
	t.Cleanup(func() { clean(); _ = c.Close() })
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// node is one callwerk process.
type node struct {
	name string
	sip  string // host:port, UDP
	tls  string // host:port of the TLS listener, if any
	http string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
}

// agentIDs are the configured agents: 2001.. for the load run, then the
// takeover run's.
func agentIDs() []string {
	var ids []string
	for i := range numAgents + 6 {
		ids = append(ids, fmt.Sprint(2001+i))
	}
	return ids
}

func startNode(t *testing.T, name string, mediaBase int) *node {
	t.Helper()
	return startNodeOn(t, name, mediaBase, natsURL())
}

// startNodeOn starts node name with bus (one or more NATS URLs).
func startNodeOn(t *testing.T, name string, mediaBase int, bus string) *node {
	t.Helper()
	return startNodeAt(t, name, mediaBase, bus, redisURL())
}

// startNodeAt starts node name with bus and store (a Redis URL).
func startNodeAt(t *testing.T, name string, mediaBase int, bus, store string) *node {
	t.Helper()
	return startNodeWith(t, name, mediaBase, bus, store, nil)
}

// startNodeWith is startNodeAt with, if cert is not nil, a TLS listener
// (node.tls) presenting it.
func startNodeWith(t *testing.T, name string, mediaBase int, bus, store string, cert *testcert.Files) *node {
	t.Helper()
	n := &node{name: name, log: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	n.sip = fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	listen, tlsConf := fmt.Sprintf("%q", "udp:"+n.sip), ""
	if cert != nil {
		n.tls = fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
		listen += fmt.Sprintf(", %q", "tls:"+n.tls)
		tlsConf = fmt.Sprintf("\n  tls: {cert_file: %q, key_file: %q}", cert.Cert, cert.Key)
	}
	n.http = fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	var agents strings.Builder
	for _, id := range agentIDs() {
		fmt.Fprintf(&agents, "  - {id: %q, password: %q, queues: [service]}\n", id, password)
	}
	cfg := fmt.Sprintf(`node:
  name: %s
  secret: %q
  lease: %s
  drain_timeout: 5s
sip:
  listen: [%s]%s
  max_call_rate: 0
media:
  ports: "%d-%d"
http:
  listen: %q
  api_token: %q
store: %q
bus: %q
privacy:
  pseudonym_key: "cluster test pseudonym key"
trunks:
  - {name: carrier, addresses: ["127.0.0.1/32"]}
numbers:
  - {number: "100", queue: service, answer: immediate}
queues:
  - {name: service, ring_timeout: 10s, wrapup: 0s}
agents:
%s`, name, secret, lease, listen, tlsConf, mediaBase, mediaBase+999, n.http, apiToken, store, bus, agents.String())
	path := filepath.Join(t.TempDir(), name+".yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))

	n.cmd = exec.Command(binary, "serve", "-config", path, "-log-format", "json")
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	n.cmd.Stdout, n.cmd.Stderr = pw, pw
	require.NoError(t, n.cmd.Start())
	pw.Close()
	go func() {
		defer close(n.done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			n.mu.Lock()
			n.log.Write(sc.Bytes())
			n.log.WriteByte('\n')
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, n.logText())
		}
	})
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + n.http + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 15*time.Second, 50*time.Millisecond, "%s did not come up", name)
	return n
}

// startNATSCluster runs three nats-server processes on loopback, routed to
// each other as a cluster, and returns their client URLs.
func startNATSCluster(t *testing.T) []string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	require.NoError(t, err, "nats-server (Debian package nats-server; scripts/test-deps.sh installs it)")
	type srv struct{ client, cluster, monitor int }
	var srvs []srv
	for range 3 {
		srvs = append(srvs, srv{freePort(t, "tcp"), freePort(t, "tcp"), freePort(t, "tcp")})
	}
	var urls []string
	for i, s := range srvs {
		var routes []string
		for j, o := range srvs {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", o.cluster))
			}
		}
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(s.client), "-m", fmt.Sprint(s.monitor),
			"-n", fmt.Sprintf("callwerk-test-%d", i), "--cluster_name", "callwerk-test",
			"--cluster", fmt.Sprintf("nats://127.0.0.1:%d", s.cluster), "--routes", strings.Join(routes, ","))
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", s.client))
	}
	for _, s := range srvs { // every server routes to both others
		require.Eventually(t, func() bool {
			res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/routez", s.monitor))
			if err != nil {
				return false
			}
			defer res.Body.Close()
			var rz struct {
				NumRoutes int `json:"num_routes"`
			}
			return json.NewDecoder(res.Body).Decode(&rz) == nil && rz.NumRoutes >= 2
		}, 15*time.Second, 50*time.Millisecond, "NATS cluster routes")
	}
	return urls
}

func (n *node) logText() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.log.String()
}

// stop ends the process with SIGTERM (a graceful drain), if it still runs.
func (n *node) stop() {
	if n.cmd.ProcessState == nil {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		_ = n.cmd.Wait()
	}
	<-n.done
}

// kill ends the process as a crash does: no drain, no lease given up.
func (n *node) kill() {
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	<-n.done
}

// waitReady checks that the node's /readyz answers code, with a body that
// contains want, within 3 s (a node notices a lost store at its next
// lease renewal). The last answer is logged.
func (n *node) waitReady(t *testing.T, code int, want string) {
	t.Helper()
	var got int
	var body string
	ok := assert.Eventually(t, func() bool {
		res, err := http.Get("http://" + n.http + "/readyz")
		if err != nil {
			body = err.Error()
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		got, body = res.StatusCode, string(b)
		return got == code && strings.Contains(body, want)
	}, 3*time.Second, 100*time.Millisecond, "%s /readyz: want %d with %q", n.name, code, want)
	t.Logf("%s /readyz: %d %s (ok %v)", n.name, got, strings.TrimSpace(body), ok)
}

// states returns every agent's state by the node's API.
func (n *node) states(t *testing.T) map[string]string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+n.http+"/api/v1/agents", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var views []struct{ ID, State string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&views))
	out := map[string]string{}
	for _, v := range views {
		out[v.ID] = v.State
	}
	return out
}

// pause pauses agent id through the node's API.
func (n *node) pause(t *testing.T, id string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+n.http+"/api/v1/agents/"+id+"/pause", strings.NewReader(`{"reason":"break"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "pause %s", id)
}

func newAgent(t *testing.T, id string, at *node, opts loadtest.AgentOptions) *loadtest.Agent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := loadtest.StartAgent(ctx, id, "127.0.0.1", at.sip, password, time.Hour, opts)
	require.NoError(t, err, "at %s", at.name)
	t.Cleanup(a.Close)
	return a
}

// endAtCleanup hangs up a member call when the test ends, and stops its
// RTP, so that it sends nothing to ports a later test's nodes use.
func endAtCleanup(t *testing.T, mc *loadtest.MemberCall) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = mc.Hangup(ctx)
	})
}

// errNotTaken marks a call the node did not answer (refused, or no
// response): a trunk tries the next node.
var errNotTaken = errors.New("call not taken")

// reached places a member call at n and waits until the agent's audio
// arrives; it returns the call, or an error.
func reached(ctx context.Context, member *loadtest.Phone, n *node, from string) (*loadtest.MemberCall, error) {
	return reachedWith(ctx, member, n, loadtest.CallOptions{From: from})
}

// reachedWith is reached with more call options (Server and Number are set).
func reachedWith(ctx context.Context, member *loadtest.Phone, n *node, o loadtest.CallOptions) (*loadtest.MemberCall, error) {
	o.Server, o.Number = n.sip, "100"
	mc, err := member.Call(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotTaken, err)
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for mc.RTP.Stats().ByTag[loadtest.TagAgent] == 0 {
		select {
		case <-ctx.Done():
			hctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = mc.Hangup(hctx)
			cancel()
			return nil, fmt.Errorf("no agent audio: %w", ctx.Err())
		case <-mc.Done():
			return nil, fmt.Errorf("call ended before an agent answered")
		case <-t.C:
		}
	}
	return mc, nil
}

// Two nodes on one Redis and one NATS, 40 agents registered half with
// each, 400 member calls half at each: every call reaches an agent once,
// no agent has two calls at a time, calls cross nodes, and every agent
// ends available.
//
// The nodes use a three-server NATS cluster, each a different server, so
// their changes cross the cluster's routes.
func TestTwoNodesServeAsOneACD(t *testing.T) {
	cleanRedis(t)
	nats := startNATSCluster(t)
	n1 := startNodeOn(t, "n1", 42000, nats[0]+","+nats[2])
	n2 := startNodeOn(t, "n2", 43000, nats[1])
	nodes := []*node{n1, n2}

	var agents []*loadtest.Agent
	for i, id := range agentIDs()[:numAgents] {
		agents = append(agents, newAgent(t, id, nodes[i%2], loadtest.AgentOptions{AnswerAfter: 20 * time.Millisecond}))
	}
	member, err := loadtest.NewPhone("member")
	require.NoError(t, err)
	t.Cleanup(member.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var ok, failed atomic.Int64
	var failures sync.Map
	var wg sync.WaitGroup
	tick := time.NewTicker(20 * time.Millisecond) // 50 calls per second
	for i := range numCalls {
		<-tick.C
		wg.Go(func() {
			cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
			defer ccancel()
			mc, err := reached(cctx, member, nodes[i%2], fmt.Sprintf("+4930%07d", i))
			if err != nil {
				failed.Add(1)
				failures.Store(i, err.Error())
				return
			}
			time.Sleep(300 * time.Millisecond) // talk
			hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer hcancel()
			if err := mc.Hangup(hctx); err != nil {
				failures.Store(i, "hangup: "+err.Error())
			}
			ok.Add(1)
		})
	}
	tick.Stop()
	wg.Wait()
	failures.Range(func(k, v any) bool { t.Logf("call %v: %v", k, v); return true })
	require.Equal(t, int64(numCalls), ok.Load(), "calls that reached an agent (%d failed)", failed.Load())

	var answered int64
	for _, a := range agents {
		answered += a.Calls.Load()
		assert.LessOrEqual(t, a.MaxActive.Load(), int64(1), "agent %s had two calls at once", a.User)
	}
	assert.Equal(t, int64(numCalls), answered, "every call answered exactly once")

	crossed := 0
	for _, n := range nodes {
		crossed += strings.Count(n.logText(), `"message":"node leg connected"`)
	}
	assert.Positive(t, crossed, "some calls reached an agent registered with the other node")
	t.Logf("%d of %d calls reached their agent through the other node", crossed, numCalls)

	for _, n := range nodes {
		require.Eventually(t, func() bool {
			st := n.states(t)
			for _, id := range agentIDs()[:numAgents] {
				if st[id] != "available" {
					return false
				}
			}
			return true
		}, 5*time.Second, 50*time.Millisecond, "all agents available, seen from %s: %v", n.name, n.states(t))
	}
}

// A node killed mid-run: the agents it had reserved (registered with the
// other node) are offered the other node's waiting calls again within the
// lease, the other node's connected call goes on, and the killed node's
// own agents become unreachable.
func TestKilledNodesReservationsReturn(t *testing.T) {
	cleanRedis(t)
	n1 := startNode(t, "n1", 44000)
	n2 := startNode(t, "n2", 45000)
	ids := agentIDs()[numAgents:]
	member, err := loadtest.NewPhone("member")
	require.NoError(t, err)
	t.Cleanup(member.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// A call of n2, connected to an agent of n2: it must survive n1.
	fast := newAgent(t, ids[0], n2, loadtest.AgentOptions{})
	connected, err := reached(ctx, member, n2, "+4930000001")
	require.NoError(t, err)
	endAtCleanup(t, connected)

	// An agent registered with n1, paused so that it takes no call.
	newAgent(t, ids[5], n1, loadtest.AgentOptions{})
	n1.pause(t, ids[5])

	// Four agents of n2 ring for n1's calls; they answer after 6 s, later
	// than n1 will be dead and found dead.
	var slow []*loadtest.Agent
	for _, id := range ids[1:5] {
		slow = append(slow, newAgent(t, id, n2, loadtest.AgentOptions{AnswerAfter: 6 * time.Second}))
	}
	for i := range slow {
		go func() {
			mc, err := member.Call(ctx, loadtest.CallOptions{Server: n1.sip, Number: "100", From: fmt.Sprintf("+49301%06d", i)})
			if err == nil {
				endAtCleanup(t, mc)
			}
		}()
	}
	require.Eventually(t, func() bool {
		for _, a := range slow {
			if a.Rings.Load() != 1 {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond, "n1's calls ring n2's agents")

	// n2's own calls wait: its agents are all busy or ringing for n1.
	type result struct {
		mc  *loadtest.MemberCall
		err error
	}
	results := make(chan result, len(slow))
	for i := range slow {
		go func() {
			mc, err := reached(ctx, member, n2, fmt.Sprintf("+49302%06d", i))
			if err == nil {
				endAtCleanup(t, mc)
			}
			results <- result{mc, err}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	before := connected.RTP.Stats().ByTag[loadtest.TagAgent]
	killedAt := time.Now()
	n1.kill()

	// Within a lease (plus one renewal period to notice), the four agents
	// ring again, for n2's calls.
	require.Eventually(t, func() bool {
		for _, a := range slow {
			if a.Rings.Load() < 2 {
				return false
			}
		}
		return true
	}, lease+lease/3+3*time.Second, 10*time.Millisecond, "n2's calls ring the agents n1 had reserved")
	took := time.Since(killedAt)
	t.Logf("agents offered again %v after the kill (lease %v)", took.Round(time.Millisecond), lease)
	assert.Less(t, took, lease+lease/3+time.Second)

	for range slow {
		r := <-results
		require.NoError(t, r.err, "n2's waiting call reaches an agent")
	}
	select {
	case <-connected.Done():
		t.Fatal("n2's connected call ended when n1 died")
	default:
	}
	assert.Greater(t, connected.RTP.Stats().ByTag[loadtest.TagAgent], before+100, "n2's connected call keeps its audio")
	assert.Equal(t, int64(1), fast.Calls.Load())
	assert.Equal(t, "unreachable", n2.states(t)[ids[5]], "n1's agent is unreachable after n1 died")
	assert.Contains(t, n2.logText(), `"message":"took over after dead node"`)
}

// Draining one of two nodes under load: new calls it refuses (503) go to
// the other node, as a trunk fails over; no call in progress is dropped and
// no call fails. Its agents' phones register with the other node once it
// is gone, as phones with a second registrar do.
func TestDrainUnderLoad(t *testing.T) {
	cleanRedis(t)
	n1 := startNode(t, "n1", 46000)
	n2 := startNode(t, "n2", 47000)
	nodes := []*node{n1, n2}
	ids := agentIDs()[:20]
	var agents []*loadtest.Agent
	for i, id := range ids {
		agents = append(agents, newAgent(t, id, nodes[i%2], loadtest.AgentOptions{AnswerAfter: 20 * time.Millisecond}))
	}
	member, err := loadtest.NewPhone("member")
	require.NoError(t, err)
	t.Cleanup(member.Close)

	const calls, talk = 120, time.Second
	var drained, gone atomic.Bool // n1 got SIGTERM; n1 has exited
	var ok, refused atomic.Int64
	var failures sync.Map
	var wg sync.WaitGroup
	tick := time.NewTicker(50 * time.Millisecond) // 20 calls per second
	for i := range calls {
		<-tick.C
		if i == calls/3 {
			wg.Go(func() {
				drained.Store(true)
				n1.stop()        // SIGTERM, wait until it exits
				gone.Store(true) // the trunk stops trying it
				for i, a := range agents {
					if i%2 == 0 { // n1's phones fail over
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						_, err := a.Register(ctx, n2.sip, password, time.Hour)
						cancel()
						if err != nil {
							failures.Store("register "+a.User, err.Error())
						}
					}
				}
			})
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			began := time.Now()
			defer func() {
				if d := time.Since(began); d > 10*time.Second {
					t.Logf("call %d took %v", i, d.Round(time.Millisecond))
				}
			}()
			first := nodes[i%2]
			switch {
			case gone.Load():
				first = n2
			case drained.Load():
				first = n1 // keep sending it calls: it must refuse them
			}
			var mc *loadtest.MemberCall
			var err error
			if first == n1 && drained.Load() {
				// A draining node refuses at once; one that just exited does
				// not answer: do not wait the INVITE's 32 s for that.
				fctx, fcancel := context.WithTimeout(ctx, 3*time.Second)
				mc, err = reached(fctx, member, first, fmt.Sprintf("+4930%07d", i))
				fcancel()
			} else {
				mc, err = reached(ctx, member, first, fmt.Sprintf("+4930%07d", i))
			}
			if errors.Is(err, errNotTaken) && first == n1 && drained.Load() { // 503 while draining, no answer once gone
				refused.Add(1)
				mc, err = reached(ctx, member, n2, fmt.Sprintf("+4930%07d", i)) // the trunk's failover
			}
			if err != nil {
				failures.Store(i, err.Error())
				return
			}
			select {
			case <-mc.Done():
				failures.Store(i, "dropped while talking")
				return
			case <-time.After(talk):
			}
			hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer hcancel()
			if err := mc.Hangup(hctx); err != nil {
				failures.Store(i, "hangup: "+err.Error())
				return
			}
			ok.Add(1)
		})
	}
	tick.Stop()
	wg.Wait()
	failures.Range(func(k, v any) bool { t.Errorf("call %v: %v", k, v); return true })
	assert.Equal(t, int64(calls), ok.Load(), "calls that reached an agent, talked and hung up themselves")
	assert.Positive(t, refused.Load(), "the draining node refused new calls")
	t.Logf("%d calls refused by the draining node and placed with the other", refused.Load())
	log := n1.logText()
	assert.Contains(t, log, `"message":"draining: new calls refused, calls in progress go on"`)
	assert.NotContains(t, log, "calls still up after drain timeout", "every call ended by itself within the drain")
}
