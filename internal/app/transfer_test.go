package app

import (
	"context"
	"os"
	"path/filepath"
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

// A blind transfer (REFER) from the agent's phone to another number: the
// phone is told it worked and hangs up, wraps up, and the member waits in
// the target queue until an agent there answers; the queue log says
// TRANSFER.
func TestAgentTransfersCallToAnotherQueue(t *testing.T) {
	qlog := filepath.Join(t.TempDir(), "queue_log")
	n := startNode(t, func(c *config.Config) {
		c.Queues = append(c.Queues, config.Queue{Name: "billing", RingTimeout: config.Duration(5 * time.Second), RingStep: config.Duration(time.Second)})
		c.Numbers = append(c.Numbers, config.Number{Number: "300", Queue: "billing", Answer: "immediate"})
		c.Agents[1].Queues = []string{"billing"} // 1002
		c.QueueLog = qlog
	})
	first := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	mc := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, first, 3*time.Second)

	billing := registerAgent(t, n, "1002", loadtest.AgentOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := ac.Transfer(ctx, "404")
	require.NoError(t, err)
	assert.Equal(t, 404, res.StatusCode, "not a configured number")
	res, err = ac.Transfer(ctx, "300")
	require.NoError(t, err)
	assert.Equal(t, 202, res.StatusCode)

	waitClosed(t, ac.Done(), 3*time.Second, "the transferring phone hangs up after the NOTIFY")
	waitAnswered(t, billing, 5*time.Second)
	n.waitAgentState(t, "1002", acd.OnCall, 2*time.Second)
	assert.Contains(t, []acd.State{acd.WrapUp, acd.Available}, n.agentState(t, "1001"))
	select {
	case <-mc.Done():
		t.Fatal("the member's call ended with the transfer")
	default:
	}
	before := mc.RTP.Stats().ByTag[loadtest.TagAgent]
	require.Eventually(t, func() bool { return mc.RTP.Stats().ByTag[loadtest.TagAgent] > before+10 }, 2*time.Second, 20*time.Millisecond,
		"the member hears the billing agent")

	n.stop() // flushes the queue log
	b, err := os.ReadFile(qlog)
	require.NoError(t, err)
	assert.Regexp(t, `\|service\|a-[a-z2-7]{16}\|TRANSFER\|billing\|`, string(b))
	assert.Regexp(t, `\|billing\|NONE\|ENTER\|`, string(b))
}

// An attended transfer (RFC 5589): agent 1001 talks with the member, holds
// the call (the member hears music) and calls colleague 1002 by their id;
// they talk. Then 1001's phone transfers with Replaces: 1001's two calls
// end, 1002 is on the call in the ACD and 1001 wraps up, and the member and
// 1002 hear each other, on the legs they already had. When the member
// hangs up, 1002 wraps up.
func TestAttendedTransferToColleague(t *testing.T) {
	n := startNode(t, nil)
	first := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	mc := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, first, 3*time.Second)
	colleague := registerAgent(t, n, "1002", loadtest.AgentOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	code, err := ac.Hold(ctx, true)
	require.NoError(t, err)
	require.Equal(t, 200, code)
	consult, err := first.Call(ctx, loadtest.CallOptions{Server: n.udp, Number: "1002", From: "1001", Password: password})
	require.NoError(t, err, "1001 calls 1002")
	cc := waitAnswered(t, colleague, 3*time.Second)
	require.Eventually(t, func() bool {
		return consult.RTP.Stats().ByTag[loadtest.TagAgent] > 10 && cc.RTP.Stats().ByTag[loadtest.TagMember] > 10
	}, 3*time.Second, 20*time.Millisecond, "the colleagues hear each other")
	assert.Equal(t, acd.Available, n.agentState(t, "1002"), "a consultation is not an ACD call")

	res, err := ac.TransferTo(ctx, "1002", consult)
	require.NoError(t, err)
	require.Equal(t, 202, res.StatusCode, res.Reason)
	waitClosed(t, ac.Done(), 3*time.Second, "1001's call with the member ends")
	waitClosed(t, consult.Done(), 3*time.Second, "1001's consultation ends")
	consult.RTP.Close()
	n.waitAgentState(t, "1002", acd.OnCall, 2*time.Second)
	assert.Contains(t, []acd.State{acd.WrapUp, acd.Available}, n.agentState(t, "1001"))
	select {
	case <-cc.Done():
		t.Fatal("the colleague's call ended with the transfer")
	case <-mc.Done():
		t.Fatal("the member's call ended with the transfer")
	default:
	}
	heardAgent, heardMember := mc.RTP.Stats().ByTag[loadtest.TagAgent], cc.RTP.Stats().ByTag[loadtest.TagMember]
	require.Eventually(t, func() bool {
		return mc.RTP.Stats().ByTag[loadtest.TagAgent] > heardAgent+25 && cc.RTP.Stats().ByTag[loadtest.TagMember] > heardMember+25
	}, 3*time.Second, 20*time.Millisecond, "the member and the colleague hear each other")

	require.NoError(t, mc.Hangup(ctx))
	waitClosed(t, cc.Done(), 3*time.Second, "the colleague's call ends with the member's")
	n.waitAgentState(t, "1002", acd.WrapUp, 2*time.Second)
	assert.True(t, logged(n, "call handed over (attended transfer)", "agent", "1001", "to", "1002"))
}

// A blind transfer to a colleague by agent id: 1001's phone is told it
// worked and hangs up at once, the member hears hold music while 1002's
// phone rings, and when 1002 answers the ACD hands the call over and the
// two hear each other. A target that is no agent gets 404, an agent
// without a phone 480.
func TestBlindTransferToAgent(t *testing.T) {
	n := startNode(t, nil)
	first := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	mc := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, first, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	res, err := ac.Transfer(ctx, "nobody")
	require.NoError(t, err)
	assert.Equal(t, 404, res.StatusCode)
	res, err = ac.Transfer(ctx, "1003")
	require.NoError(t, err)
	assert.Equal(t, 480, res.StatusCode, "1003 has no phone registered")

	colleague := registerAgent(t, n, "1002", loadtest.AgentOptions{AnswerAfter: 500 * time.Millisecond})
	res, err = ac.Transfer(ctx, "1002")
	require.NoError(t, err)
	require.Equal(t, 202, res.StatusCode)
	waitClosed(t, ac.Done(), 3*time.Second, "1001's phone hangs up after the NOTIFY")
	cc := waitAnswered(t, colleague, 5*time.Second)
	n.waitAgentState(t, "1002", acd.OnCall, 2*time.Second)
	assert.Contains(t, []acd.State{acd.WrapUp, acd.Available}, n.agentState(t, "1001"))
	heard := mc.RTP.Stats().ByTag[loadtest.TagAgent]
	require.Eventually(t, func() bool {
		return mc.RTP.Stats().ByTag[loadtest.TagAgent] > heard+25 && cc.RTP.Stats().ByTag[loadtest.TagMember] > 25
	}, 3*time.Second, 20*time.Millisecond, "the member and the colleague hear each other")
	require.NoError(t, cc.Hangup(ctx))
	waitClosed(t, mc.Done(), 3*time.Second, "the member's call ends with the colleague's")
	n.waitAgentState(t, "1002", acd.WrapUp, 2*time.Second)
	assert.True(t, logged(n, "call handed over (blind transfer)", "agent", "1001", "to", "1002"))
}

// A blind transfer to an outside number goes out over transfer.trunk: a
// national number is made international, premium-rate and foreign numbers
// are refused (403), the outside phone rings while the member hears music,
// and when it answers the two are connected; the agent wraps up and the
// call has left the ACD. The member's hang-up ends the outside call.
func TestBlindTransferToOutsideNumber(t *testing.T) {
	var mu sync.Mutex
	var dialled []string
	outside, err := loadtest.NewAgent("carrier", loadtest.AgentOptions{AnswerAfter: 300 * time.Millisecond,
		OnInvite: func(req *sip.Request) { mu.Lock(); dialled = append(dialled, req.Recipient.User); mu.Unlock() }})
	require.NoError(t, err)
	t.Cleanup(outside.Close)
	n := startNode(t, func(c *config.Config) {
		c.Trunks[0].Outbound = &config.Outbound{Address: outside.Addr().String(), From: "+4930999000"}
		c.Transfer = &config.Transfer{Trunk: "carrier"}
		c.ApplyDefaults()
	})
	first := registerAgent(t, n, "1001", loadtest.AgentOptions{})
	mc := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, first, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, refused := range []string{"09001234567", "+441632960123"} {
		res, err := ac.Transfer(ctx, refused)
		require.NoError(t, err)
		assert.Equal(t, 403, res.StatusCode, refused)
	}
	res, err := ac.Transfer(ctx, "030555123")
	require.NoError(t, err)
	require.Equal(t, 202, res.StatusCode)
	waitClosed(t, ac.Done(), 3*time.Second, "the agent's phone hangs up after the NOTIFY")
	oc := waitAnswered(t, outside, 5*time.Second)
	mu.Lock()
	assert.Equal(t, []string{"+4930555123"}, dialled)
	mu.Unlock()
	heard := mc.RTP.Stats().ByTag[loadtest.TagAgent]
	require.Eventually(t, func() bool {
		return mc.RTP.Stats().ByTag[loadtest.TagAgent] > heard+25 && oc.RTP.Stats().ByTag[loadtest.TagMember] > 25
	}, 3*time.Second, 20*time.Millisecond, "the member and the outside party hear each other")
	n.waitAgentState(t, "1001", acd.WrapUp, 2*time.Second)
	require.NoError(t, mc.Hangup(ctx))
	waitClosed(t, oc.Done(), 3*time.Second, "the outside call ends with the member's")
	assert.True(t, logged(n, "call transferred to an outside number", "agent", "1001"))
}
