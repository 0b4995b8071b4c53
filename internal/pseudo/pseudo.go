// Package pseudo turns caller numbers into keyed pseudonyms (HMAC-SHA-256),
// so logs, events and records can correlate a caller's calls without ever
// holding the number in clear. Without the key a pseudonym cannot be linked
// back to a number by trying all numbers.
package pseudo

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Pseudonymizer computes pseudonyms under one key. Safe for concurrent use.
type Pseudonymizer struct {
	key []byte
}

// New returns a Pseudonymizer for key; an empty key draws a random one (the
// pseudonyms then change with every start).
func New(key string) *Pseudonymizer {
	k := []byte(key)
	if len(k) == 0 {
		k = make([]byte, 32)
		_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	}
	return &Pseudonymizer{key: k}
}

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// Number returns the pseudonym of a phone number, "n-" and 16 base32
// characters (80 bits). Formatting (spaces, dashes, a "sip:" URI's
// parameters) is normalised first, so one number has one pseudonym.
func (p *Pseudonymizer) Number(number string) string {
	if number == "" {
		return ""
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(normalise(number)))
	return "n-" + strings.ToLower(enc.EncodeToString(m.Sum(nil)[:10]))
}

// Agent returns the pseudonym of an agent ID, "a-" and 16 base32
// characters, for records that must not show per-agent performance.
func (p *Pseudonymizer) Agent(id string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("agent:" + id))
	return "a-" + strings.ToLower(enc.EncodeToString(m.Sum(nil)[:10]))
}

func normalise(n string) string {
	var b strings.Builder
	for _, r := range n {
		if r == '+' || r == '*' || r == '#' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
