package sip

import (
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testAuth(now *time.Time) *Authenticator {
	a := NewAuthenticator("callwerk", nil, []byte("0123456789abcdef0123456789abcdef"), func(u string) (string, bool) {
		if u == "1001" {
			return "secret-pass", true
		}
		return "", false
	})
	a.now = func() time.Time { return *now }
	return a
}

// answer computes a client's Authorization value for a challenge.
func answer(t *testing.T, chal, user, pass, method, uri, nc string) string {
	t.Helper()
	p, err := ParseDigest(chal)
	require.NoError(t, err)
	newHash := map[string]func() hash.Hash{"MD5": md5.New, "SHA-256": sha256.New}[p["algorithm"]]
	ha1 := hexHash(newHash, user+":"+p["realm"]+":"+pass)
	ha2 := hexHash(newHash, method+":"+uri)
	resp := hexHash(newHash, ha1+":"+p["nonce"]+":"+nc+":c0ffee:auth:"+ha2)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=%s, qop=auth, nc=%s, cnonce="c0ffee"`,
		user, p["realm"], p["nonce"], uri, resp, p["algorithm"], nc)
}

func TestChallengesPreferSHA256(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ch := testAuth(&now).Challenges(false)
	require.Len(t, ch, 2)
	assert.Contains(t, ch[0], "algorithm=SHA-256")
	assert.Contains(t, ch[1], "algorithm=MD5")
	assert.Contains(t, ch[0], `qop="auth"`)
	assert.NotContains(t, ch[0], "stale")
	assert.Contains(t, testAuth(&now).Challenges(true)[0], "stale=true")
}

func TestCheck(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := testAuth(&now)
	sha, md := a.Challenges(false)[0], a.Challenges(false)[1]
	cases := []struct {
		name  string
		value string
		want  AuthResult
	}{
		{"sha-256", answer(t, sha, "1001", "secret-pass", "REGISTER", "sip:127.0.0.1", "00000001"), AuthOK},
		{"md5", answer(t, md, "1001", "secret-pass", "REGISTER", "sip:127.0.0.1", "00000001"), AuthOK},
		{"wrong password", answer(t, sha, "1001", "wrong", "REGISTER", "sip:127.0.0.1", "00000002"), AuthFailed},
		{"unknown user", answer(t, sha, "9999", "secret-pass", "REGISTER", "sip:127.0.0.1", "00000001"), AuthFailed},
		{"wrong method", answer(t, sha, "1001", "secret-pass", "INVITE", "sip:127.0.0.1", "00000003"), AuthFailed},
		{"forged nonce", strings.Replace(answer(t, sha, "1001", "secret-pass", "REGISTER", "sip:127.0.0.1", "00000001"), `nonce="`, `nonce="AAAA`, 1), AuthFailed},
		{"no credentials", "", AuthMissing},
		{"other realm", `Digest username="1001", realm="elsewhere", nonce="x", uri="sip:x", response="0"`, AuthMissing},
		{"garbage", "Basic Zm9vOmJhcg==", AuthMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, got := a.Check("REGISTER", tc.value)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCheckReplayAndExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := testAuth(&now)
	chal := a.Challenges(false)[0]
	first := answer(t, chal, "1001", "secret-pass", "REGISTER", "sip:127.0.0.1", "00000001")
	user, res := a.Check("REGISTER", first)
	require.Equal(t, AuthOK, res)
	assert.Equal(t, "1001", user)

	_, res = a.Check("REGISTER", first)
	assert.Equal(t, AuthFailed, res, "a replayed nonce count is refused")

	_, res = a.Check("REGISTER", answer(t, chal, "1001", "secret-pass", "REGISTER", "sip:127.0.0.1", "00000002"))
	assert.Equal(t, AuthOK, res, "the next nonce count is accepted")

	now = now.Add(NonceLifetime + time.Second)
	_, res = a.Check("REGISTER", answer(t, chal, "1001", "secret-pass", "REGISTER", "sip:127.0.0.1", "00000003"))
	assert.Equal(t, AuthStale, res, "an expired nonce with the right password is stale")
	_, res = a.Check("REGISTER", answer(t, chal, "1001", "wrong", "REGISTER", "sip:127.0.0.1", "00000004"))
	assert.Equal(t, AuthFailed, res, "an expired nonce with a wrong password fails")
}

func TestParseDigest(t *testing.T) {
	p, err := ParseDigest(`Digest username="a\"b", realm=callwerk,nonce="n,1" , qop=auth`)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"username": `a"b`, "realm": "callwerk", "nonce": "n,1", "qop": "auth"}, p)
	for _, bad := range []string{"", "Digest", `Digest username="x`, `Digest a=1, a=2`, `Digest a=1 b=2`, `Digest =x`, "Basic x=y"} {
		_, err := ParseDigest(bad)
		assert.ErrorIs(t, err, ErrBadDigest, bad)
	}
}

func FuzzParseDigest(f *testing.F) {
	f.Add(`Digest username="1001", realm="callwerk", nonce="abc", uri="sip:x", response="00", qop=auth, nc=00000001, cnonce="c"`)
	f.Add(`Digest a="\`)
	f.Add(`digest ,,,`)
	now := time.Unix(1_800_000_000, 0)
	a := testAuth(&now)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseDigest(s)
		if err == nil && p == nil {
			t.Fatal("nil map without error")
		}
		if _, res := a.Check("REGISTER", s); res == AuthOK {
			t.Fatalf("random credentials accepted: %q", s)
		}
	})
}

func TestRejectResponseCopiesMatchingHeaders(t *testing.T) {
	in := "INVITE sip:100@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:+4930@x>;tag=1\r\n" +
		"To: <sip:100@x>\r\nCall-ID: abc\r\nCSeq: x INVITE\r\nSubject: hello\r\n\r\nbody"
	out := string(rejectResponse([]byte(in), Verdict{Status: 400, Reason: "Bad Request"}))
	assert.True(t, strings.HasPrefix(out, "SIP/2.0 400 Bad Request\r\n"))
	for _, h := range []string{"Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Call-ID: abc", "CSeq: x INVITE", "To: <sip:100@x>"} {
		assert.Contains(t, out, h+"\r\n")
	}
	assert.NotContains(t, out, "Subject")
	assert.NotContains(t, out, "body")
	assert.True(t, strings.HasSuffix(out, "Content-Length: 0\r\n\r\n"))
}

func TestCheckOnlyConfiguredAlgorithms(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	both := testAuth(&now)
	md5Answer := answer(t, both.Challenges(false)[1], "1001", "secret-pass", "REGISTER", "sip:127.0.0.1", "00000001")
	shaOnly := NewAuthenticator("callwerk", []string{"SHA-256"}, []byte("0123456789abcdef0123456789abcdef"), both.lookup)
	shaOnly.now = both.now
	require.Len(t, shaOnly.Challenges(false), 1)
	_, res := shaOnly.Check("REGISTER", md5Answer)
	assert.Equal(t, AuthFailed, res, "an MD5 answer is refused where only SHA-256 is configured")
}

func TestRejectResponseCarriesUnsupportedAndAccept(t *testing.T) {
	in := "INVITE sip:100@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: abc\r\nCSeq: 1 INVITE\r\n\r\n"
	out := string(rejectResponse([]byte(in), Verdict{Status: 420, Reason: "Bad Extension", Unsupported: "foo, bar"}))
	assert.True(t, strings.HasPrefix(out, "SIP/2.0 420 Bad Extension\r\n"))
	assert.Contains(t, out, "Unsupported: foo, bar\r\n")
	out = string(rejectResponse([]byte(in), Verdict{Status: 415, Reason: "Unsupported Media Type", Accept: "application/sdp"}))
	assert.Contains(t, out, "Accept: application/sdp\r\n")
}
