package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/emiago/sipgo/sip"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/internal/logging"
	"github.com/callwerk/callwerk/internal/testlog"
	"github.com/callwerk/callwerk/loadtest"
	sipedge "github.com/callwerk/callwerk/sip"
)

// Media port ranges per test package: packages run in parallel processes.
var nextPorts atomic.Int32

const password = "correct-horse-1"

type node struct {
	*App
	udp  string // SIP UDP address
	tcp  string // SIP TCP address
	logs *testlog.Buffer
	stop func() // stops the node and waits for it; idempotent
}

// startNode runs a node on free ports with a test configuration: queue
// "service" (ring 5 s, wrap-up 1 s), numbers 100 (immediate) and 200 (early
// media), agents 1001-1003, trunk 127.0.0.1/32.
func startNode(t *testing.T, edit func(*config.Config), opts ...Option) *node {
	t.Helper()
	cfg := config.Demo()
	cfg.SIP.Listen = []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"}
	cfg.HTTP.Listen = "127.0.0.1:0"
	base := 30000 + 200*int(nextPorts.Add(1)%40)
	cfg.Media.Ports = fmt.Sprintf("%d-%d", base, base+199)
	cfg.Privacy.PseudonymKey = "test pseudonym key 0123456789"
	cfg.Trunks = []config.Trunk{{Name: "carrier", Addresses: []string{"127.0.0.1/32"}}}
	cfg.Numbers = []config.Number{
		{Number: "100", Queue: "service", Answer: "immediate"},
		{Number: "200", Queue: "service", Answer: "early"},
	}
	cfg.Queues[0].RingTimeout = config.Duration(5 * time.Second)
	cfg.Queues[0].Wrapup = config.Duration(time.Second)
	cfg.Node.DrainTimeout = config.Duration(2 * time.Second)
	for i := range cfg.Agents {
		cfg.Agents[i].Password = password
	}
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.Validate())
	logs := &testlog.Buffer{}
	log, err := logging.New(logs, "json")
	require.NoError(t, err)
	a, err := New(cfg, log.Level(zerolog.DebugLevel), opts...)
	require.NoError(t, err)
	stopNode := a.Start()
	stop := func() { assert.NoError(t, stopNode(15*time.Second)) }
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	n := &node{App: a, logs: logs, stop: stop}
	for _, l := range a.SIPAddrs() {
		switch l.Network {
		case "udp":
			n.udp = l.Addr
		case "tcp":
			n.tcp = l.Addr
		}
	}
	return n
}

func (n *node) agentState(t *testing.T, id string) acd.State {
	t.Helper()
	agents, err := n.ACD().Agents(context.Background())
	require.NoError(t, err)
	for _, a := range agents {
		if string(a.ID) == id {
			return a.State
		}
	}
	t.Fatalf("no agent %s", id)
	return 0
}

func (n *node) waitAgentState(t *testing.T, id string, want acd.State, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return n.agentState(t, id) == want }, within, 20*time.Millisecond,
		"agent %s should become %s", id, want)
}

// registerAgent starts a simulated agent and registers it.
func registerAgent(t *testing.T, n *node, id string, opts loadtest.AgentOptions) *loadtest.Agent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := loadtest.StartAgent(ctx, id, "127.0.0.1", n.udp, password, time.Hour, opts)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	n.waitAgentState(t, id, acd.Available, 2*time.Second)
	return a
}

func newMember(t *testing.T) *loadtest.Phone {
	t.Helper()
	m, err := loadtest.NewPhone("member")
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
}

func call(t *testing.T, n *node, m *loadtest.Phone, number string) *loadtest.MemberCall {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := m.Call(ctx, loadtest.CallOptions{Server: n.udp, Number: number, From: "+4930123456789"})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.Hangup(ctx)
	})
	return c
}

func waitAnswered(t *testing.T, a *loadtest.Agent, within time.Duration) *loadtest.AgentCall {
	t.Helper()
	select {
	case c := <-a.Answered:
		return c
	case <-time.After(within):
		t.Fatalf("agent %s did not answer within %s", a.User, within)
		return nil
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, within time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("%s within %s", what, within)
	}
}

func TestRegister(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cases := []struct {
		name, user, pass string
		want             int
	}{
		{"right password", "1001", password, 200},
		{"wrong password", "1002", "wrong-password", 403},
		{"unknown user", "9999", password, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loadtest.NewPhone(tc.user)
			require.NoError(t, err)
			defer p.Close()
			res, err := p.Register(ctx, n.udp, tc.pass, time.Hour)
			require.NoError(t, err)
			assert.Equal(t, tc.want, res.StatusCode, res.Reason)
		})
	}
	assert.Equal(t, acd.Available, n.agentState(t, "1001"))
	assert.Equal(t, acd.LoggedOut, n.agentState(t, "1002"))

	p, err := loadtest.NewPhone("1001")
	require.NoError(t, err)
	defer p.Close()
	res, err := p.Register(ctx, n.udp, password, 0) // unregister all of this phone's contacts
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	agents, bindings := n.SIP().Location().Count()
	assert.Equal(t, 1, agents, "the first phone's binding stays")
	assert.Equal(t, 1, bindings)
	assert.NotContains(t, n.logs.String(), password)
}

// The member hears the hold player, then the agent, on one continuous
// stream; RTP flows both ways at >= 95 % over 3 s.
func TestCallAnsweredWithMedia(t *testing.T) {
	n := startNode(t, nil)
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{AnswerAfter: time.Second})
	member := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, agent, 5*time.Second)
	n.waitAgentState(t, "1001", acd.OnCall, 2*time.Second)

	time.Sleep(300 * time.Millisecond) // let both streams settle through the bridge
	m0, a0 := member.RTP.Stats(), ac.RTP.Stats()
	time.Sleep(3 * time.Second)
	m1, a1 := member.RTP.Stats(), ac.RTP.Stats()

	toMember := m1.ByTag[loadtest.TagAgent] - m0.ByTag[loadtest.TagAgent]
	fromAgent := a1.Sent - a0.Sent
	toAgent := a1.ByTag[loadtest.TagMember] - a0.ByTag[loadtest.TagMember]
	fromMember := m1.Sent - m0.Sent
	t.Logf("agent->member %d/%d, member->agent %d/%d", toMember, fromAgent, toAgent, fromMember)
	assert.GreaterOrEqual(t, fromAgent, uint64(100), "the agent sent (nominally 150 packets in 3 s; a loaded machine delays some ticks)")
	assert.GreaterOrEqual(t, float64(toMember), 0.95*float64(fromAgent))
	assert.GreaterOrEqual(t, float64(toAgent), 0.95*float64(fromMember))

	// Hold music first (about one second of ringing), then the agent.
	assert.Greater(t, m1.ByTag[loadtest.TagNone], uint64(30), "member heard the hold player")
	assert.Equal(t, 0, m1.FirstTagged[loadtest.TagNone], "hold music came first")
	assert.Greater(t, m1.FirstTagged[loadtest.TagAgent], 30, "agent audio came after the hold music")
	assert.Equal(t, 1, m1.SSRCs, "one SSRC across the switch from player to agent")
	assert.Equal(t, 0, m1.SeqJumps, "sequence numbers continue across the switch")
	assert.GreaterOrEqual(t, m1.Markers, 1, "marker bit on the switch")
	assert.Less(t, a1.MaxDelay, 50*time.Millisecond)

	// The member hangs up: the agent's leg ends, wrap-up, then available.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, member.Hangup(ctx))
	waitClosed(t, ac.Done(), 3*time.Second, "agent leg should end after the member's BYE")
	n.waitAgentState(t, "1001", acd.WrapUp, time.Second)
	n.waitAgentState(t, "1001", acd.Available, 3*time.Second)
	assert.NotContains(t, n.logs.String(), "4930123456789", "caller number in clear in the log")
}

func TestRingTimeoutMovesToNextAgent(t *testing.T) {
	n := startNode(t, nil)
	sleepy := registerAgent(t, n, "1001", loadtest.AgentOptions{NeverAnswer: true})
	time.Sleep(10 * time.Millisecond) // 1001 idles longer, so is rung first
	awake := registerAgent(t, n, "1002", loadtest.AgentOptions{AnswerAfter: 200 * time.Millisecond})
	start := time.Now()
	call(t, n, newMember(t), "100")
	waitAnswered(t, awake, 10*time.Second)
	elapsed := time.Since(start)
	assert.Equal(t, int64(1), sleepy.Rings.Load())
	require.Eventually(t, func() bool { return sleepy.Cancels.Load() == 1 }, 2*time.Second, 20*time.Millisecond,
		"the first agent's ringing is cancelled")
	assert.GreaterOrEqual(t, elapsed, 5*time.Second, "rang the first agent for the ring timeout")
	assert.Less(t, elapsed, 7*time.Second)
	assert.Equal(t, acd.Available, n.agentState(t, "1001"))
	// The agent's phone reports the call when our ACK arrives, just before
	// the server records on-call.
	n.waitAgentState(t, "1002", acd.OnCall, time.Second)
}

func TestMemberHangsUpWhileAgentRings(t *testing.T) {
	n := startNode(t, nil)
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{NeverAnswer: true})
	member := call(t, n, newMember(t), "100")
	require.Eventually(t, func() bool { return agent.Rings.Load() == 1 }, 3*time.Second, 10*time.Millisecond)
	n.waitAgentState(t, "1001", acd.Reserved, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, member.Hangup(ctx))
	require.Eventually(t, func() bool { return agent.Cancels.Load() == 1 }, 3*time.Second, 10*time.Millisecond,
		"the agent stops ringing")
	n.waitAgentState(t, "1001", acd.Available, time.Second)
	require.Eventually(t, func() bool { return n.SIP().ActiveCalls() == 0 }, 3*time.Second, 10*time.Millisecond)
}

// With early media (number 200) the member's call is not answered until an
// agent answers, so the member can CANCEL while the agent's phone rings.
func TestMemberCancelsWhileAgentRings(t *testing.T) {
	n := startNode(t, nil)
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{NeverAnswer: true})
	m := newMember(t)
	var early, trying atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := m.Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "200", From: "+4930123456789",
			OnProvisional: func(r *sip.Response) {
				switch r.StatusCode {
				case 100:
					trying.Add(1)
				case 183:
					early.Add(1)
				}
			}})
		errc <- err
	}()
	require.Eventually(t, func() bool { return agent.Rings.Load() == 1 }, 3*time.Second, 10*time.Millisecond)
	assert.Equal(t, int32(1), trying.Load(), "100 Trying first")
	assert.Equal(t, int32(1), early.Load(), "183 with early media before the agent answers")
	cancel()
	select {
	case err := <-errc:
		require.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("member's CANCEL did not end the call")
	}
	require.Eventually(t, func() bool { return agent.Cancels.Load() == 1 }, 3*time.Second, 10*time.Millisecond,
		"the agent stops ringing")
	n.waitAgentState(t, "1001", acd.Available, time.Second)
	require.Eventually(t, func() bool { return n.SIP().ActiveCalls() == 0 }, 3*time.Second, 10*time.Millisecond)
}

func TestEarlyMediaCallConnects(t *testing.T) {
	n := startNode(t, nil)
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{AnswerAfter: 500 * time.Millisecond})
	member := call(t, n, newMember(t), "200")
	ac := waitAnswered(t, agent, 3*time.Second)
	require.Eventually(t, func() bool { return ac.RTP.Stats().ByTag[loadtest.TagMember] > 20 }, 3*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return member.RTP.Stats().ByTag[loadtest.TagAgent] > 20 }, 3*time.Second, 20*time.Millisecond)
}

func TestAgentHangsUp(t *testing.T) {
	n := startNode(t, nil)
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	member := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, agent, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, ac.Hangup(ctx))
	waitClosed(t, member.Done(), 3*time.Second, "member should get a BYE")
	n.waitAgentState(t, "1001", acd.WrapUp, time.Second)
	n.waitAgentState(t, "1001", acd.Available, 3*time.Second)
}

// An agent is busy during a call and during wrap-up: a second call waits.
func TestAgentBusyDuringCallAndWrapUp(t *testing.T) {
	n := startNode(t, nil)
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	first := call(t, n, newMember(t), "100")
	waitAnswered(t, agent, 3*time.Second)
	call(t, n, newMember(t), "100")
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, int64(1), agent.Rings.Load(), "no second offer while on a call")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ended := time.Now()
	require.NoError(t, first.Hangup(ctx))
	waitAnswered(t, agent, 5*time.Second)
	assert.GreaterOrEqual(t, time.Since(ended), 900*time.Millisecond, "the second call waits for the 1 s wrap-up")
	assert.Equal(t, int64(2), agent.Rings.Load())
}

func TestRefusals(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	_, err := newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "999", From: "+4930111"})
	assert.ErrorContains(t, err, "404", "unknown number")

	stranger, err := loadtest.NewPhoneAt("stranger", "127.0.0.2")
	require.NoError(t, err)
	defer stranger.Close()
	_, err = stranger.Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "+4930111"})
	assert.ErrorContains(t, err, "403", "INVITE from a source that is not a trunk")
}

// A malformed request gets a 400 and the next good call still works.
func TestMalformedRequestGets400(t *testing.T) {
	n := startNode(t, nil)
	conn, err := net.Dial("udp", n.udp)
	require.NoError(t, err)
	defer conn.Close()
	bad := "INVITE sip:100@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKbad1\r\n" +
		"From: <sip:+4930999@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\n" +
		"Call-ID: bad-1\r\nCSeq: notanumber INVITE\r\nContent-Length: 0\r\n\r\n"
	_, err = conn.Write([]byte(bad))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
	buf := make([]byte, 2048)
	k, err := conn.Read(buf)
	require.NoError(t, err)
	res := string(buf[:k])
	assert.True(t, strings.HasPrefix(res, "SIP/2.0 400 "), res)
	assert.Contains(t, res, "Call-ID: bad-1")
	assert.NotContains(t, n.logs.String(), "4930999", "raw message not logged")

	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	call(t, n, newMember(t), "100")
	waitAnswered(t, agent, 3*time.Second)
}

// Stopping a node drains it: new calls get 503 with Retry-After, the call
// in progress goes on until node.drain_timeout (2 s here), then both legs
// get a BYE.
func TestShutdownDrainsThenHangsUp(t *testing.T) {
	n := startNode(t, nil)
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	member := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, agent, 3*time.Second)

	stopped := make(chan struct{})
	start := time.Now()
	go func() { defer close(stopped); n.stop() }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.Eventually(t, func() bool {
		_, err := newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "+4930999"})
		return err != nil && strings.Contains(err.Error(), "503")
	}, time.Second, 50*time.Millisecond, "a new call while draining gets 503")
	res, err := http.Get("http://" + n.HTTPAddr() + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "a draining node is not ready")
	assert.Contains(t, string(body), "draining")
	before := member.RTP.Stats().ByTag[loadtest.TagAgent]
	time.Sleep(500 * time.Millisecond)
	select {
	case <-member.Done():
		t.Fatal("the call in progress ended before the drain timeout")
	default:
	}
	assert.Greater(t, member.RTP.Stats().ByTag[loadtest.TagAgent], before+10, "the call in progress keeps its audio while draining")

	waitClosed(t, member.Done(), 5*time.Second, "member should get a BYE at the drain timeout")
	waitClosed(t, ac.Done(), 5*time.Second, "agent should get a BYE at the drain timeout")
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second)
	waitClosed(t, stopped, 10*time.Second, "node stopped")
}

// Skills from the config decide who is offered a call, and a number's
// priority puts its calls before older ones.
func TestSkillsAndPriorityFromConfig(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Queues[0].Skills = map[string]int{"beitrag": 3}
		c.Agents[1].Skills = map[string]int{"beitrag": 4} // 1002
		c.Numbers = append(c.Numbers, config.Number{Number: "300", Queue: "service", Answer: "immediate", Priority: 50})
	})
	unskilled := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	time.Sleep(10 * time.Millisecond) // 1001 idles longer, but lacks the skill
	skilled := registerAgent(t, n, "1002", loadtest.AgentOptions{})
	first := call(t, n, newMember(t), "100")
	waitAnswered(t, skilled, 3*time.Second)
	assert.Equal(t, int64(0), unskilled.Rings.Load(), "the agent without the skill is not offered the call")

	// 1002 is busy: a normal call waits, then a priority call joins. When
	// 1002 is free again, the priority call is offered first.
	normal := call(t, n, newMember(t), "100")
	time.Sleep(100 * time.Millisecond)
	urgent := call(t, n, newMember(t), "300")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, first.Hangup(ctx))
	waitAnswered(t, skilled, 5*time.Second)
	require.Eventually(t, func() bool { return urgent.RTP.Stats().ByTag[loadtest.TagAgent] > 5 }, 3*time.Second, 20*time.Millisecond,
		"the priority call is connected")
	assert.Zero(t, normal.RTP.Stats().ByTag[loadtest.TagAgent], "the older normal call still waits")
	assert.Equal(t, int64(0), unskilled.Rings.Load())
}

func (n *node) agent(t *testing.T, id string) acd.Agent {
	t.Helper()
	agents, err := n.ACD().Agents(context.Background())
	require.NoError(t, err)
	for _, a := range agents {
		if string(a.ID) == id {
			return a
		}
	}
	t.Fatalf("no agent %s", id)
	return acd.Agent{}
}

// An offer that rings out is a miss; max_misses misses in a row pause the
// agent. Declining (486) is not a miss: the call moves on at once and the
// agent stays available.
func TestMissAutoPausesButDeclineDoesNot(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Queues[0].MaxMisses = 1
		c.Queues[0].RejectBackoff = config.Duration(time.Minute)
	})
	decliner := registerAgent(t, n, "1001", loadtest.AgentOptions{Decline: true})
	time.Sleep(10 * time.Millisecond)
	sleepy := registerAgent(t, n, "1002", loadtest.AgentOptions{NeverAnswer: true})
	time.Sleep(10 * time.Millisecond)
	awake := registerAgent(t, n, "1003", loadtest.AgentOptions{})

	start := time.Now()
	call(t, n, newMember(t), "100")
	// 1001 declines at once, 1002 rings out (5 s), 1003 answers.
	waitAnswered(t, awake, 10*time.Second)
	assert.GreaterOrEqual(t, time.Since(start), 5*time.Second, "1002 rang for the ring timeout")
	assert.Equal(t, int64(1), decliner.Rings.Load())
	assert.Equal(t, int64(1), sleepy.Rings.Load())

	d := n.agent(t, "1001")
	assert.Equal(t, acd.Available, d.State, "declining is not a miss")
	assert.Zero(t, d.Misses)
	assert.True(t, d.RestUntil.After(time.Now()), "but the decliner rests")
	s := n.agent(t, "1002")
	assert.Equal(t, acd.Paused, s.State, "one miss pauses with max_misses 1")
	assert.Equal(t, acd.AutoPauseReason, s.Pause)
}

// Agents change their state from the phone with feature codes; the INVITE is
// authenticated like a REGISTER.
func TestFeatureCodes(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.PauseReasons = []string{"break", "lunch"}
		c.Queues[0].Wrapup = config.Duration(time.Minute)
	})
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	dial := func(code, pass string) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := agent.Call(ctx, loadtest.CallOptions{Server: n.udp, Number: code, From: "1001", Password: pass})
		if err != nil {
			return err
		}
		// The confirmation tone plays, then Callwerk hangs up.
		waitClosed(t, c.Done(), 3*time.Second, "feature call should be hung up by the server")
		assert.Greater(t, c.RTP.Stats().ByTag[loadtest.TagNone], uint64(10), "a tone was played")
		c.RTP.Close()
		return nil
	}
	require.NoError(t, dial("*222", password))
	assert.Equal(t, acd.Paused, n.agent(t, "1001").State)
	assert.Equal(t, "lunch", n.agent(t, "1001").Pause)

	require.NoError(t, dial("*21", password))
	assert.Equal(t, acd.Available, n.agent(t, "1001").State)

	// *23 ends a wrap-up early; in any other state it plays the error tone.
	member := call(t, n, newMember(t), "100")
	waitAnswered(t, agent, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, member.Hangup(ctx))
	n.waitAgentState(t, "1001", acd.WrapUp, 2*time.Second)
	require.NoError(t, dial("*23", password))
	assert.Equal(t, acd.Available, n.agent(t, "1001").State, "wrap-up ended before its minute")
	require.NoError(t, dial("*23", password), "not in wrap-up: answered with the error tone")

	assert.ErrorContains(t, dial("*229", password), "404", "no ninth pause reason")
	assert.ErrorContains(t, dial("*22", "wrong-password"), "403")
	assert.Equal(t, acd.Available, n.agent(t, "1001").State, "a refused code changes nothing")
	assert.NotContains(t, n.logs.String(), password)
}

// A node on the real Redis store writes the queue log (agents as
// pseudonyms, no numbers) and keeps live figures.
func TestRedisStoreQueueLogAndKPIs(t *testing.T) {
	qlog := filepath.Join(t.TempDir(), "queue_log")
	n := startNode(t, func(c *config.Config) {
		c.Store = "redis://127.0.0.1:6379/15"
		c.Node.Name = "app-test-redis" // fixed: Recover cleans up after an earlier run
		c.QueueLog = qlog
	})
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{AnswerAfter: 100 * time.Millisecond})
	member := call(t, n, newMember(t), "100")
	waitAnswered(t, agent, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, member.Hangup(ctx))
	n.waitAgentState(t, "1001", acd.WrapUp, 2*time.Second)

	k := n.KPIs().Snapshot(time.Now())["service"]
	assert.Equal(t, 1, k.Offered)
	assert.Equal(t, 1, k.Answered)
	assert.Equal(t, 0, k.Waiting)

	n.stop() // flushes the queue log
	b, err := os.ReadFile(qlog)
	require.NoError(t, err)
	log := string(b)
	for _, verb := range []string{"|ENTER|", "|RING|", "|CONNECT|", "|COMPLETECALLER|"} {
		assert.Contains(t, log, verb)
	}
	assert.NotContains(t, log, "|1001|", "agents are pseudonyms without privacy.agent_statistics")
	assert.Regexp(t, `\|service\|a-[a-z2-7]{16}\|CONNECT\|`, log)
	assert.NotContains(t, log, "4930123456789")
}

// Queue limits through SIP: nobody logged in -> 480; full -> 486; max_wait
// without overflow ends the call.
func TestQueueLimits(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Queues[0].MaxLength = 1
		c.Queues[0].MaxWait = config.Duration(2 * time.Second)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "+4930111"})
	assert.ErrorContains(t, err, "480", "no agent of service is logged in")

	sleepy := registerAgent(t, n, "1001", loadtest.AgentOptions{NeverAnswer: true})
	start := time.Now()
	waiting := call(t, n, newMember(t), "100")
	require.Eventually(t, func() bool { return sleepy.Rings.Load() == 1 }, 3*time.Second, 10*time.Millisecond)
	_, err = newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "+4930222"})
	assert.ErrorContains(t, err, "486", "service holds at most one call")

	// max_wait applies to calls not being offered: after the 5 s ring the
	// call is over its 2 s and is ended.
	waitClosed(t, waiting.Done(), 10*time.Second, "the call should be ended after max_wait")
	assert.GreaterOrEqual(t, time.Since(start), 5*time.Second)
	assert.Equal(t, 1, n.KPIs().Snapshot(time.Now())["service"].TimedOut)
}

// A call that waits max_wait in a queue moves to its overflow queue and is
// answered there.
func TestQueueOverflow(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Queues = append(c.Queues, config.Queue{Name: "second", RingTimeout: config.Duration(5 * time.Second),
			MaxWait: config.Duration(2 * time.Second), Overflow: "service", LeaveWhenEmpty: true})
		c.Numbers = append(c.Numbers, config.Number{Number: "400", Queue: "second", Answer: "immediate"})
		c.Agents[1].Queues = []string{"second"} // 1002 serves only second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	registerAgent(t, n, "1002", loadtest.AgentOptions{})
	require.NoError(t, n.ACD().SetPause(ctx, "1002", "break")) // logged in to second, takes nothing
	awake := registerAgent(t, n, "1003", loadtest.AgentOptions{})
	start := time.Now()
	call(t, n, newMember(t), "400")
	waitAnswered(t, awake, 6*time.Second)
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "answered after the overflow")
	k := n.KPIs().Snapshot(time.Now())
	assert.Equal(t, 1, k["second"].Overflowed)
	assert.Equal(t, 1, k["service"].Offered, "counted as offered in the overflow queue")
}

// The HTTP API reads and changes agents' states behind the bearer token,
// and shows no per-agent performance figures.
func TestAPI(t *testing.T) {
	const token = "test-api-token-0123456789abcdef"
	n := startNode(t, func(c *config.Config) { c.HTTP.APIToken = token })
	registerAgent(t, n, "1001", loadtest.AgentOptions{})
	do := func(method, path, tok, body string) (int, string) {
		t.Helper()
		return apiCall(t, n, method, path, tok, body)
	}
	code, _ := do("GET", "/agents", "", "")
	assert.Equal(t, 401, code)
	code, _ = do("GET", "/agents", "wrong-token-wrong-token-wrong", "")
	assert.Equal(t, 401, code)

	code, body := do("GET", "/agents", token, "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"id":"1001","state":"available"`)
	assert.NotContains(t, body, "Answered")
	assert.NotContains(t, body, "talk")

	code, body = do("POST", "/agents/1001/pause", token, `{"reason":"lunch"}`)
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"state":"paused","pause":"lunch"`)
	assert.Equal(t, acd.Paused, n.agentState(t, "1001"))

	code, body = do("POST", "/agents/1001/pause", token, `{"reason":"siesta"}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "pause_reasons")
	code, _ = do("POST", "/agents/1001/end-wrapup", token, "")
	assert.Equal(t, 409, code, "not in wrap-up")
	code, _ = do("POST", "/agents/9999/unpause", token, "")
	assert.Equal(t, 404, code)
	code, _ = do("POST", "/agents/1001/unpause", token, "")
	assert.Equal(t, 200, code)
	assert.Equal(t, acd.Available, n.agentState(t, "1001"))

	code, body = do("GET", "/queues", token, "")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `"service"`)
	assert.NotContains(t, n.logs.String(), token, "the token is never logged")
}

// Five wrong passwords from one address block it: the right password is
// refused too, and a security event names the address, never a password.
func TestDigestBruteForceBlocksAddress(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := loadtest.NewPhoneAt("1001", "127.0.0.7")
	require.NoError(t, err)
	defer p.Close()
	for i := range 5 {
		res, err := p.Register(ctx, n.udp, fmt.Sprintf("guess-%d-password", i), time.Hour)
		require.NoError(t, err)
		require.Equal(t, 403, res.StatusCode)
	}
	res, err := p.Register(ctx, n.udp, password, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 403, res.StatusCode, "blocked: even the right password is refused")
	logs := n.logs.String()
	assert.Contains(t, logs, `"security":"digest-brute-force","source":"127.0.0.7"`)
	assert.NotContains(t, logs, "guess-")

	registerAgent(t, n, "1002", loadtest.AgentOptions{}) // another address still registers
}

// A source flooding the server is banned (no more answers) while calls from
// the trunk go on; a scanner's User-Agent gets no answer at all.
func TestFloodBanAndScanner(t *testing.T) {
	n := startNode(t, nil)
	options := func(ip, ua string, i int) string {
		return "OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + ip + ":5099;rport;branch=z9hG4bKfl" + fmt.Sprint(i) + "\r\n" +
			"From: <sip:probe@" + ip + ">;tag=f" + fmt.Sprint(i) + "\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: flood-" + ip + "-" + fmt.Sprint(i) + "\r\n" +
			"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n" + ua + "Content-Length: 0\r\n\r\n"
	}
	// answers sends count OPTIONS from ip and counts the responses.
	answers := func(ip, ua string, count int) int {
		t.Helper()
		raddr, err := net.ResolveUDPAddr("udp", n.udp)
		require.NoError(t, err)
		conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)}, raddr)
		require.NoError(t, err)
		defer conn.Close()
		for i := range count {
			_, err := conn.Write([]byte(options(ip, ua, i)))
			require.NoError(t, err)
		}
		got := 0
		buf := make([]byte, 4096)
		for {
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(time.Second)))
			if _, err := conn.Read(buf); err != nil {
				return got
			}
			got++
		}
	}
	assert.Equal(t, 1, answers("127.0.0.6", "", 1), "a single OPTIONS is answered")
	assert.Zero(t, answers("127.0.0.8", "User-Agent: friendly-scanner\r\n", 1), "scanners get no answer")

	got := answers("127.0.0.5", "", 60)
	assert.Equal(t, 30, got, "30 messages within 2 s are answered, then the source is banned")
	assert.Zero(t, answers("127.0.0.5", "", 1), "banned: no answer")
	assert.Contains(t, n.logs.String(), `"security":"flood","source":"127.0.0.5"`)

	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	call(t, n, newMember(t), "100") // the trunk (127.0.0.1) is exempt and unaffected
	waitAnswered(t, agent, 3*time.Second)
}

// The RFC 4475 torture messages that the sanity check refuses get their
// status from the running server over UDP (dropped ones get no answer), and
// the server answers a valid OPTIONS afterwards. Messages the check passes
// on are not sent: sipgo would answer them at their Via hosts, which are
// not on loopback.
func TestTortureMessagesOverUDP(t *testing.T) {
	n := startNode(t, nil)
	files, err := filepath.Glob("../../sip/testdata/rfc4475/*/*.dat")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 49)
	conn, err := net.Dial("udp", n.udp)
	require.NoError(t, err)
	defer conn.Close()
	buf := make([]byte, 8192)
	sent := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		v := sipedge.Sanity(data, sipedge.DefaultMaxMessageSize)
		if v.Status == 0 && !v.Drop {
			continue
		}
		sent++
		_, err = conn.Write(data)
		require.NoError(t, err, f)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(500*time.Millisecond)))
		k, err := conn.Read(buf)
		if v.Drop {
			assert.Error(t, err, "%s is dropped without an answer", filepath.Base(f))
			continue
		}
		require.NoError(t, err, "%s: no answer", filepath.Base(f))
		assert.True(t, strings.HasPrefix(string(buf[:k]), fmt.Sprintf("SIP/2.0 %d ", v.Status)),
			"%s: want %d, got %q", filepath.Base(f), v.Status, firstLineOf(buf[:k]))
	}
	assert.GreaterOrEqual(t, sent, 30, "most torture messages are refused or dropped")

	ok := "OPTIONS sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;rport;branch=z9hG4bKafter\r\n" +
		"From: <sip:probe@127.0.0.1>;tag=a\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: after-torture\r\nCSeq: 1 OPTIONS\r\n" +
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	_, err = conn.Write([]byte(ok))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	k, err := conn.Read(buf)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(buf[:k]), "SIP/2.0 200 "), "the server still answers")
}

func firstLineOf(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\r\n")
	return s
}

// Admission limits: max_calls and max_call_rate answer 503 with
// Retry-After; max_registrations refuses one device too many.
func TestAdmissionLimits(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.SIP.MaxCalls = 1
		c.SIP.MaxRegistrations = 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	registerAgent(t, n, "1001", loadtest.AgentOptions{NeverAnswer: true})
	second, err := loadtest.NewPhone("1001")
	require.NoError(t, err)
	defer second.Close()
	res, err := second.Register(ctx, n.udp, password, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode, "a second device is allowed")
	third, err := loadtest.NewPhone("1001")
	require.NoError(t, err)
	defer third.Close()
	res, err = third.Register(ctx, n.udp, password, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 403, res.StatusCode, "a third device is one too many")
	res, err = second.Register(ctx, n.udp, password, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode, "refreshing a known device is fine")

	call(t, n, newMember(t), "100") // the one call allowed
	_, err = newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "+4930333"})
	assert.ErrorContains(t, err, "503", "max_calls reached")
}

func TestCallRateLimit(t *testing.T) {
	n := startNode(t, func(c *config.Config) { c.SIP.MaxCallRate = 1 })
	registerAgent(t, n, "1001", loadtest.AgentOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call(t, n, newMember(t), "100")
	_, err := newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "+4930444"})
	assert.ErrorContains(t, err, "503", "a second new call within the same second is refused")
}

// apiCall sends a request to the node's /api/v1 with the bearer token tok
// ("" = none) and returns the status and body.
func apiCall(t *testing.T, n *node, method, path, tok, body string) (int, string) {
	t.Helper()
	return httpCall(t, n, method, "/api/v1"+path, tok, body)
}

// httpCall sends a request to the node's HTTP server, with the bearer
// token tok if not empty, and returns the status and body.
func httpCall(t *testing.T, n *node, method, path, tok, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.HTTPAddr()+path, strings.NewReader(body))
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
