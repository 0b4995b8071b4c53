package sip

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Digest authentication (RFC 3261 §22, RFC 7616 algorithms, RFC 8760 for
// SIP): we challenge with SHA-256 first and MD5 second, qop=auth only.
// Nonces are stateless (a timestamp and random bytes, signed with an HMAC
// key), so any node sharing the key can verify them; each nonce's highest
// nonce count is remembered until the nonce expires, so a replayed
// Authorization is refused.

// NonceLifetime is how long a nonce is accepted; afterwards the client gets
// a fresh challenge with stale=true and retries without asking its user.
const NonceLifetime = 300 * time.Second

// AuthResult is the outcome of checking a request's credentials.
type AuthResult int

// Outcomes of Authenticator.Check.
const (
	AuthOK      AuthResult = iota
	AuthMissing            // no credentials for our realm: challenge
	AuthStale              // right credentials on an expired nonce: challenge with stale=true
	AuthFailed             // wrong user, password, nonce or replay: refuse (403)
)

// ErrBadDigest is wrapped by ParseDigest errors.
var ErrBadDigest = errors.New("malformed digest credentials")

// Authenticator issues challenges and checks digest credentials.
type Authenticator struct {
	realm  string
	algs   []string // challenge algorithms, most preferred first
	key    []byte
	lookup func(user string) (password string, ok bool)
	now    func() time.Time

	shared NonceCounter // nil: counts are this node's own

	mu        sync.Mutex
	counts    map[string]nonceUse // nonce -> highest nc seen; all of them without shared, else only during its outages
	lastSweep time.Time
}

type nonceUse struct {
	nc      uint64
	expires time.Time
}

// DefaultAlgorithms is the RFC 8760 order of challenges.
var DefaultAlgorithms = []string{"SHA-256", "MD5"}

// NewAuthenticator returns an Authenticator for realm that challenges with
// algs ("SHA-256", "MD5"; empty: DefaultAlgorithms) and accepts answers in
// those only. key signs nonces (empty: random, nonces then only valid on
// this node). lookup returns a user's password.
func NewAuthenticator(realm string, algs []string, key []byte, lookup func(string) (string, bool)) *Authenticator {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	return &Authenticator{realm: realm, algs: algs, key: key, lookup: lookup, now: time.Now, counts: make(map[string]nonceUse)}
}

// Challenges returns the WWW-Authenticate values to send, most preferred first.
func (a *Authenticator) Challenges(stale bool) []string {
	nonce := a.newNonce()
	var out []string
	for _, alg := range a.algs {
		v := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=%s, qop="auth"`, a.realm, nonce, alg)
		if stale {
			v += ", stale=true"
		}
		out = append(out, v)
	}
	return out
}

func (a *Authenticator) newNonce() string {
	var b [8 + 8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(a.now().Unix()))
	_, _ = rand.Read(b[8:16])
	copy(b[16:], a.sign(b[:16]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *Authenticator) sign(b []byte) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write(b)
	return m.Sum(nil)[:16]
}

// nonceTime verifies a nonce's signature and returns when it was issued.
func (a *Authenticator) nonceTime(nonce string) (time.Time, bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 32 {
		return time.Time{}, false
	}
	if !hmac.Equal(b[16:], a.sign(b[:16])) {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0), true
}

// Check verifies the Authorization value h of a request with method and
// returns the authenticated user. Unknown users take the same path as known
// ones with a wrong password, so answers do not reveal which users exist.
func (a *Authenticator) Check(method, h string) (string, AuthResult) {
	if h == "" {
		return "", AuthMissing
	}
	cr, err := ParseDigest(h)
	if err != nil || cr["realm"] != a.realm {
		return "", AuthMissing
	}
	user := cr["username"]
	issued, ok := a.nonceTime(cr["nonce"])
	pass, known := a.lookup(user)
	if !known {
		pass = "\x00unknown user\x00" // compute anyway: same work, same answer
	}
	alg := strings.ToUpper(cr["algorithm"])
	if alg == "" {
		alg = "MD5" // RFC 2617: absent means MD5
	}
	newHash := hashFor(alg)
	if newHash == nil || !slices.Contains(a.algs, alg) || cr["qop"] != "auth" || cr["cnonce"] == "" || cr["uri"] == "" {
		return user, AuthFailed
	}
	ha1 := hexHash(newHash, user+":"+a.realm+":"+pass)
	ha2 := hexHash(newHash, method+":"+cr["uri"])
	want := hexHash(newHash, ha1+":"+cr["nonce"]+":"+cr["nc"]+":"+cr["cnonce"]+":auth:"+ha2)
	good := subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(cr["response"]))) == 1
	if !ok || !known || !good {
		return user, AuthFailed
	}
	now := a.now()
	if now.Sub(issued) > NonceLifetime || issued.After(now.Add(time.Minute)) {
		return user, AuthStale
	}
	nc, err := strconv.ParseUint(cr["nc"], 16, 64)
	if err != nil || !a.useNonce(cr["nonce"], nc, issued.Add(NonceLifetime), now) {
		return user, AuthFailed
	}
	return user, AuthOK
}

// NonceCounter keeps the highest nonce count used with each nonce where
// every node sees it, so that credentials replayed to another node are
// refused too (nonces are signed with a key all nodes share, so any node
// accepts any node's nonce).
type NonceCounter interface {
	// UseNonce records nc for nonce and reports whether it is higher than
	// every count recorded for it before; the record may go after expires.
	UseNonce(ctx context.Context, nonce string, nc uint64, expires time.Time) (bool, error)
}

// SharedNonceTimeout bounds one NonceCounter call; past it, or on an
// error, the node's own counts decide.
const SharedNonceTimeout = 500 * time.Millisecond

// ShareNonceCounts makes a keep nonce counts in c, shared by all nodes.
// Call it before a is used.
func (a *Authenticator) ShareNonceCounts(c NonceCounter) { a.shared = c }

// useNonce records nc for nonce; false if nc does not exceed the last one.
func (a *Authenticator) useNonce(nonce string, nc uint64, expires, now time.Time) bool {
	if a.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), SharedNonceTimeout)
		ok, err := a.shared.UseNonce(ctx, nonce, nc, expires)
		cancel()
		if err == nil {
			if ok {
				a.useLocal(nonce, nc, expires, now) // the fallback knows it too
			}
			return ok
		}
	}
	return a.useLocal(nonce, nc, expires, now)
}

// useLocal is useNonce on this node's own counts.
func (a *Authenticator) useLocal(nonce string, nc uint64, expires, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.lastSweep) > NonceLifetime/10 {
		for k, u := range a.counts {
			if now.After(u.expires) {
				delete(a.counts, k)
			}
		}
		a.lastSweep = now
	}
	u, seen := a.counts[nonce]
	if seen && nc <= u.nc {
		return false
	}
	a.counts[nonce] = nonceUse{nc: nc, expires: expires}
	return true
}

func hashFor(alg string) func() hash.Hash {
	switch alg {
	case "MD5":
		return md5.New
	case "SHA-256":
		return sha256.New
	}
	return nil
}

func hexHash(newHash func() hash.Hash, s string) string {
	h := newHash()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// ParseDigest parses the value of an Authorization header with the Digest
// scheme into lower-case parameter names and unquoted values.
func ParseDigest(h string) (map[string]string, error) {
	h = strings.TrimSpace(h)
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return nil, fmt.Errorf("%w: not the Digest scheme", ErrBadDigest)
	}
	out := make(map[string]string, 10)
	s := strings.TrimSpace(rest)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%w: parameter without value", ErrBadDigest)
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("%w: unterminated quoted value of %s", ErrBadDigest, name)
			}
			val, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
			if strings.ContainsAny(val, " \t=\"") {
				return nil, fmt.Errorf("%w: bad token value of %s", ErrBadDigest, name)
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: duplicate parameter %s", ErrBadDigest, name)
		}
		out[name] = val
		s = strings.TrimLeft(s, " \t")
		if s != "" {
			if s[0] != ',' {
				return nil, fmt.Errorf("%w: expected ',' after %s", ErrBadDigest, name)
			}
			s = strings.TrimLeft(s[1:], " \t")
		}
	}
	return out, nil
}
