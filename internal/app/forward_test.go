package app

import (
	"context"
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

// Agent 1002 works from home on their own line: agents[].forward sends
// their calls over the carrier trunk to +4917612345678. They are present
// without any registration; a member's call rings the number (from the
// hotline's number, with no internal headers for the carrier), the home
// phone answers, audio flows both ways, and the clerk's hang-up ends the
// member's call and wraps the agent up like any other.
func TestForwardedAgent(t *testing.T) {
	var mu sync.Mutex
	var invites []*sip.Request
	home, err := loadtest.NewAgent("carrier", loadtest.AgentOptions{AnswerAfter: 200 * time.Millisecond,
		OnInvite: func(req *sip.Request) { mu.Lock(); invites = append(invites, req); mu.Unlock() }})
	require.NoError(t, err)
	t.Cleanup(home.Close)
	n := startNode(t, func(c *config.Config) {
		c.Trunks[0].Outbound = &config.Outbound{Address: home.Addr().String(), From: "+4930999000"}
		c.Agents[1].Forward = &config.Forward{Number: "+4917612345678", Trunk: "carrier"}
		c.ApplyDefaults()
	})
	n.waitAgentState(t, "1002", acd.Available, 3*time.Second)

	mc := call(t, n, newMember(t), "100")
	ac := waitAnswered(t, home, 5*time.Second)
	mu.Lock()
	require.Len(t, invites, 1)
	inv := invites[0]
	mu.Unlock()
	assert.Equal(t, "+4917612345678", inv.Recipient.User, "the number dialled over the trunk")
	assert.Equal(t, "+4930999000", inv.From().Address.User, "the hotline calls")
	assert.Nil(t, inv.GetHeader("X-Callwerk-Queue"), "nothing internal for the carrier")
	require.Eventually(t, func() bool {
		return received(mc) > 25 && ac.RTP.Stats().Received > 25
	}, 5*time.Second, 50*time.Millisecond, "audio both ways")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, ac.Hangup(ctx))
	waitClosed(t, mc.Done(), 3*time.Second, "the member's call ends with the clerk's")
	n.waitAgentState(t, "1002", acd.WrapUp, 2*time.Second)
	assert.True(t, logged(n, "ringing agent", "agent", "1002"))
}
