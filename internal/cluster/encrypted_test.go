package cluster_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/testcert"
	"github.com/callwerk/callwerk/loadtest"
)

// A clerk whose phone speaks SRTP over TLS registers with n2; a member's
// call arrives at n1. The call's node offers plain RTP through the node
// leg, so n2 relays the media itself: plain towards n1, SRTP towards the
// phone. The member and the clerk hear each other, and every packet the
// phone gets authenticates with the key n2 gave it.
func TestEncryptedAgentOnAnotherNode(t *testing.T) {
	cleanRedis(t)
	cert := testcert.Write(t)
	n1 := startNode(t, "n1", 48000)
	n2 := startNodeWith(t, "n2", 49000, natsURL(), redisURL(), &cert)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id := agentIDs()[0]
	a, err := loadtest.NewAgentOver(id, "tls", &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
		loadtest.AgentOptions{})
	require.NoError(t, err)
	t.Cleanup(a.Close)
	res, err := a.Register(ctx, n2.tls, password, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode, res.Reason)
	require.Eventually(t, func() bool { return n1.states(t)[id] == "available" }, 5*time.Second, 50*time.Millisecond,
		"n1 sees the agent of n2")

	member, err := loadtest.NewPhone("member")
	require.NoError(t, err)
	t.Cleanup(member.Close)
	mc, err := reached(ctx, member, n1, "+49301112223")
	require.NoError(t, err, "n1's call reaches the agent registered with n2")
	endAtCleanup(t, mc)
	var ac *loadtest.AgentCall
	select {
	case ac = <-a.Answered:
	case <-ctx.Done():
		t.Fatal("the agent did not answer")
	}
	assert.True(t, ac.SRTP, "the phone was offered SRTP")
	require.Eventually(t, func() bool { return ac.RTP.Stats().ByTag[loadtest.TagMember] > 25 }, 5*time.Second, 50*time.Millisecond,
		"the member's audio reaches the phone as SRTP")
	assert.Zero(t, ac.RTP.Stats().Unauthentic)
	heard := mc.RTP.Stats().ByTag[loadtest.TagAgent]
	require.Eventually(t, func() bool { return mc.RTP.Stats().ByTag[loadtest.TagAgent] > heard+25 }, 5*time.Second, 50*time.Millisecond,
		"the phone's audio reaches the member")
	require.NoError(t, ac.Hangup(ctx))
	select {
	case <-mc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the member's call did not end with the agent's")
	}
}
