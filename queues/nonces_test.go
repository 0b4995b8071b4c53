package queues_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/redistest"
	"github.com/callwerk/callwerk/queues"
	"github.com/callwerk/callwerk/sip"
)

func TestNonceCounts(t *testing.T) {
	ctx := t.Context()
	c := redistest.Client(t, 0)
	n := queues.NewRedis(c, redistest.Prefix(t, c)).Nonces()
	exp := time.Now().Add(time.Minute)
	for _, step := range []struct {
		nc   uint64
		want bool
	}{{1, true}, {1, false}, {3, true}, {2, false}, {0xffffffff, true}, {0xffffffff, false}} {
		ok, err := n.UseNonce(ctx, "n1", step.nc, exp)
		require.NoError(t, err)
		assert.Equal(t, step.want, ok, "nc %d", step.nc)
	}
	ok, err := n.UseNonce(ctx, "n2", 1, exp)
	require.NoError(t, err)
	assert.True(t, ok, "counts are per nonce")

	ok, err = n.UseNonce(ctx, "short", 5, time.Now().Add(50*time.Millisecond))
	require.NoError(t, err)
	require.True(t, ok)
	time.Sleep(100 * time.Millisecond)
	ok, err = n.UseNonce(ctx, "short", 1, exp)
	require.NoError(t, err)
	assert.True(t, ok, "the record expires with the nonce")
}

// Two nodes (two authenticators with the shared nonce key) on one Redis:
// credentials a phone sent to one node are refused when replayed to the
// other; the phone's next nonce count is accepted by either.
func TestDigestReplayAcrossNodes(t *testing.T) {
	c := redistest.Client(t, 0)
	nonces := queues.NewRedis(c, redistest.Prefix(t, c)).Nonces()
	key := []byte("the nonce key every node shares 0123456789")
	lookup := func(u string) (string, bool) { return "secret-pass", u == "1001" }
	node := func() *sip.Authenticator {
		a := sip.NewAuthenticator("callwerk", []string{"SHA-256"}, key, lookup)
		a.ShareNonceCounts(nonces)
		return a
	}
	n1, n2 := node(), node()
	chal := n1.Challenges(false)[0]
	first := authorization(t, chal, "00000001")
	_, res := n1.Check("REGISTER", first)
	require.Equal(t, sip.AuthOK, res)
	_, res = n2.Check("REGISTER", first)
	assert.Equal(t, sip.AuthFailed, res, "the replay to the other node is refused")
	_, res = n2.Check("REGISTER", authorization(t, chal, "00000002"))
	assert.Equal(t, sip.AuthOK, res, "the other node accepts the first node's nonce with the next count")
	_, res = n1.Check("REGISTER", authorization(t, chal, "00000002"))
	assert.Equal(t, sip.AuthFailed, res)
}

// authorization answers a SHA-256 challenge as phone 1001 would.
func authorization(t *testing.T, chal, nc string) string {
	t.Helper()
	p, err := sip.ParseDigest(chal)
	require.NoError(t, err)
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1 := h("1001:" + p["realm"] + ":secret-pass")
	ha2 := h("REGISTER:sip:127.0.0.1")
	resp := h(ha1 + ":" + p["nonce"] + ":" + nc + ":c0ffee:auth:" + ha2)
	return fmt.Sprintf(`Digest username="1001", realm="%s", nonce="%s", uri="sip:127.0.0.1", response="%s", algorithm=SHA-256, qop=auth, nc=%s, cnonce="c0ffee"`,
		p["realm"], p["nonce"], resp, nc)
}
