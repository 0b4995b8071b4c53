package app

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/config"
	"github.com/callwerk/callwerk/loadtest"
)

// homePhone is the member's phone behind the carrier: the node's callbacks
// go out over the trunk to it. It records the numbers it was called at.
type homePhone struct {
	*loadtest.Agent
	mu     sync.Mutex
	dialed []string
}

func newHomePhone(t *testing.T, opts loadtest.AgentOptions) *homePhone {
	t.Helper()
	h := &homePhone{}
	opts.OnInvite = func(req *sip.Request) {
		h.mu.Lock()
		h.dialed = append(h.dialed, req.Recipient.User)
		h.mu.Unlock()
	}
	a, err := loadtest.NewAgent("carrier", opts)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	h.Agent = a
	return h
}

func (h *homePhone) numbers() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.dialed...)
}

// callbackNode runs a node whose queue service offers a callback (key 1,
// attempts) from its first announcement after a second; callbacks go out
// over trunk carrier to phone. Agent 1001 is registered and paused, so
// members wait.
func callbackNode(t *testing.T, phone *homePhone, attempts int) (*node, *loadtest.Agent) {
	t.Helper()
	n := startNode(t, func(c *config.Config) {
		c.Trunks[0].Outbound = &config.Outbound{Address: phone.Addr().String(), From: "+4930999000"}
		q := &c.Queues[0]
		q.Callback = &config.Callback{Trunk: "carrier", Attempts: attempts, RingTimeout: config.Duration(10 * time.Second)}
		q.Greeting = config.GreetingNone
		q.AnnounceFirst = config.Duration(time.Second)
		c.ApplyDefaults()
	})
	agent := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	require.NoError(t, n.acd.SetPause(t.Context(), "1001", "break"))
	return n, agent
}

// keys presses each key of s as RFC 4733 telephone-events.
func keys(t *testing.T, mc *loadtest.MemberCall, s string) {
	t.Helper()
	for i := range len(s) {
		require.NoError(t, mc.SendDTMF(s[i]))
		time.Sleep(40 * time.Millisecond)
	}
}

// A waiting member presses 1, confirms the number they call from with 1
// and is hung up; the call keeps its place. When the agent is free, the
// agent's phone rings first, then the member is called back at that
// number, and the two talk: RTP counted at both phones.
func TestCallbackKeepsPlaceThenCallsBack(t *testing.T) {
	phone := newHomePhone(t, loadtest.AgentOptions{AnswerAfter: 300 * time.Millisecond})
	n, agent := callbackNode(t, phone, 3)

	mc := call(t, n, newMember(t), "100") // From +4930123456789
	require.Eventually(t, func() bool { return logged(n, "announcement") }, 5*time.Second, 20*time.Millisecond,
		"the callback offer comes with the first announcement")
	keys(t, mc, "1")
	require.Eventually(t, func() bool { return logged(n, "callback: the member pressed the key") }, 3*time.Second, 20*time.Millisecond)
	keys(t, mc, "1") // "the number you call from": yes
	waitClosed(t, mc.Done(), 15*time.Second, "the member is hung up after the confirmation")
	require.True(t, logged(n, "callback requested"))

	k := n.KPIs().Snapshot(time.Now())["service"]
	assert.Equal(t, 1, k.Callbacks)
	assert.Equal(t, 1, k.CallbacksPending)
	assert.Equal(t, 1, k.Waiting, "the call keeps its place")
	assert.Zero(t, k.Abandoned)
	assert.Zero(t, phone.Rings.Load(), "no callback before an agent is free")

	require.NoError(t, n.acd.SetPause(t.Context(), "1001", ""))
	ac := waitAnswered(t, agent, 5*time.Second)
	home := waitAnswered(t, phone.Agent, 5*time.Second)
	assert.Equal(t, []string{"+4930123456789"}, phone.numbers())
	// After the hello, the bridge: each phone gets the other's frames.
	require.Eventually(t, func() bool {
		return home.RTP.Stats().ByTag[loadtest.TagAgent] > 50 && ac.RTP.Stats().ByTag[loadtest.TagAgent] > 50
	}, 10*time.Second, 50*time.Millisecond, "media flows both ways after the member answered")
	n.waitAgentState(t, "1001", acd.OnCall, time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, home.Hangup(ctx))
	waitClosed(t, ac.Done(), 5*time.Second, "the agent is hung up when the member hangs up")
	require.Eventually(t, func() bool { return logged(n, "call ended", "callback", "true") }, 5*time.Second, 20*time.Millisecond)

	k = n.KPIs().Snapshot(time.Now())["service"]
	assert.Equal(t, 1, k.Answered)
	assert.Equal(t, 1, k.CallbacksAnswered)
	assert.Zero(t, k.CallbacksPending)
	for _, clear := range []string{"4930123456789", "30123456789"} {
		assert.NotContains(t, n.logs.String(), clear, "the member's number is never logged in clear")
	}
}

// A caller who withholds their number keys one in. A premium-rate number
// is refused and asked again; a national one is called as +49... . With
// one attempt, a callback the member does not answer is given up, and the
// agent, who had answered, is free again without a miss.
func TestCallbackKeyedNumberNotAnswered(t *testing.T) {
	phone := newHomePhone(t, loadtest.AgentOptions{Decline: true})
	n, agent := callbackNode(t, phone, 1)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mc, err := newMember(t).Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "100", From: "anonymous"})
	require.NoError(t, err)
	defer func() { _ = mc.Hangup(ctx) }()
	require.Eventually(t, func() bool { return logged(n, "announcement") }, 5*time.Second, 20*time.Millisecond)
	keys(t, mc, "1")
	require.Eventually(t, func() bool { return logged(n, "callback: the member pressed the key") }, 3*time.Second, 20*time.Millisecond)
	keys(t, mc, "09001234567#")
	require.Eventually(t, func() bool { return logged(n, "callback: number refused", "why", "a premium-rate or service number") },
		5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return logged(n, "callback prompt", "try", "2", "caller_id", "false") }, 5*time.Second, 20*time.Millisecond,
		"after \"invalid\", the number is asked for again")
	keys(t, mc, "0301234567#")
	waitClosed(t, mc.Done(), 15*time.Second, "hung up after the confirmation")

	require.NoError(t, n.acd.SetPause(ctx, "1001", ""))
	waitAnswered(t, agent, 5*time.Second)
	require.Eventually(t, func() bool { return logged(n, "callback given up") }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{"+49301234567"}, phone.numbers())
	n.waitAgentState(t, "1001", acd.Available, 3*time.Second)
	assert.Zero(t, n.agent(t, "1001").Misses)

	k := n.KPIs().Snapshot(time.Now())["service"]
	assert.Equal(t, 1, k.Callbacks)
	assert.Equal(t, 1, k.CallbacksFailed)
	assert.Zero(t, k.Waiting)
	assert.Zero(t, k.Abandoned)
	assert.False(t, strings.Contains(n.logs.String(), "301234567"), "the keyed number is never logged in clear")
}

// A member who answers the callback and hangs up during the hello ends a
// connected call: the agent wraps up and is free again, not left reserved.
func TestCallbackMemberHangsUpDuringHello(t *testing.T) {
	phone := newHomePhone(t, loadtest.AgentOptions{})
	n, agent := callbackNode(t, phone, 3)
	mc := call(t, n, newMember(t), "100")
	require.Eventually(t, func() bool { return logged(n, "announcement") }, 5*time.Second, 20*time.Millisecond)
	keys(t, mc, "1")
	require.Eventually(t, func() bool { return logged(n, "callback: the member pressed the key") }, 3*time.Second, 20*time.Millisecond)
	keys(t, mc, "1")
	waitClosed(t, mc.Done(), 15*time.Second, "hung up after the confirmation")

	require.NoError(t, n.acd.SetPause(t.Context(), "1001", ""))
	ac := waitAnswered(t, agent, 5*time.Second)
	home := waitAnswered(t, phone.Agent, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, home.Hangup(ctx)) // the hello lasts about 3 s
	waitClosed(t, ac.Done(), 5*time.Second, "the agent is hung up")
	n.waitAgentState(t, "1001", acd.Available, 5*time.Second) // after 1 s of wrap-up
	k := n.KPIs().Snapshot(time.Now())["service"]
	assert.Equal(t, 1, k.Answered)
	assert.Equal(t, 1, k.CallbacksAnswered)
	assert.Zero(t, k.Waiting)
	assert.Zero(t, ac.RTP.Stats().ByTag[loadtest.TagAgent], "never bridged")
}
