package media

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SDES-SRTP (RFC 4568, RFC 3711). A leg is plain RTP until StartSRTP gives
// it two master keys: its own, for what it sends to its far end, and the
// far end's, for what it receives. From then on every packet read is
// authenticated (and replay-checked) before anything else happens with it:
// a packet that fails is dropped and counted, and changes no state. Only
// an authenticated packet latches the leg's source, or moves it when the
// phone's NAT binding changes. The relay decrypts what it reads and
// encrypts what it sends in place, in the reader's or the player's buffer,
// so a bridge between an SRTP leg and a plain one (a member on the trunk,
// a clerk at home) costs no allocation.
//
// SDES keys travel in the SDP, so they are only as secret as the
// signalling: offer SRTP over TLS. Keys never appear in logs: Crypto has no
// String method that shows them.

// DefaultSuite is the crypto suite the relay offers: the one every SDES
// implementation has (RFC 4568 §6.2.1).
const DefaultSuite = "AES_CM_128_HMAC_SHA1_80"

// suites are the crypto suites the relay answers, by SDP name (RFC 4568,
// RFC 6188, RFC 7714).
var suites = map[string]srtp.ProtectionProfile{
	"AES_CM_128_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
	"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
	"AES_256_CM_HMAC_SHA1_80": srtp.ProtectionProfileAes256CmHmacSha1_80,
	"AES_256_CM_HMAC_SHA1_32": srtp.ProtectionProfileAes256CmHmacSha1_32,
	"AEAD_AES_128_GCM":        srtp.ProtectionProfileAeadAes128Gcm,
	"AEAD_AES_256_GCM":        srtp.ProtectionProfileAeadAes256Gcm,
}

// replayWindow is the SRTP and SRTCP replay window, in packets (RFC 3711
// §3.3.2 asks for at least 64).
const replayWindow = 128

// srtpOverhead is the most an SRTP or SRTCP packet adds to its plain
// packet: an SRTCP index (4) and the longest tag (GCM's 16). Buffers that
// are encrypted in place keep this much spare capacity.
const srtpOverhead = 4 + 16

// Crypto is one a=crypto attribute (RFC 4568 §9.1) without key lifetime,
// MKI or session parameters: a tag, a suite and the master key followed by
// the master salt.
type Crypto struct {
	Tag   int
	Suite string
	Key   []byte // master key || master salt
}

// NewCrypto returns a crypto attribute with a fresh random key for suite.
func NewCrypto(tag int, suite string) (Crypto, error) {
	n, err := keySaltLen(suite)
	if err != nil {
		return Crypto{}, err
	}
	key := make([]byte, n)
	if _, err := rand.Read(key); err != nil {
		return Crypto{}, fmt.Errorf("srtp key: %w", err)
	}
	return Crypto{Tag: tag, Suite: suite, Key: key}, nil
}

// keySaltLen is the length of the inline key of suite: master key and salt.
func keySaltLen(suite string) (int, error) {
	p, ok := suites[suite]
	if !ok {
		return 0, fmt.Errorf("srtp: unsupported crypto suite %q", suite)
	}
	k, err := p.KeyLen()
	if err != nil {
		return 0, err
	}
	s, err := p.SaltLen()
	if err != nil {
		return 0, err
	}
	return k + s, nil
}

// equal reports whether c and o are the same suite and key (tags aside).
func (c Crypto) equal(o Crypto) bool {
	return c.Suite == o.Suite && bytes.Equal(c.Key, o.Key)
}

// attribute is the value of the a=crypto line for c.
func (c Crypto) attribute() string {
	return strconv.Itoa(c.Tag) + " " + c.Suite + " inline:" + base64.StdEncoding.EncodeToString(c.Key)
}

// parseCrypto parses the value of an a=crypto attribute. It reports false
// for a line the relay cannot use: an unknown suite, a key of the wrong
// length, several keys, an MKI or session parameters (such as
// UNENCRYPTED_SRTP). A key lifetime is accepted and not enforced below
// the 2^48 packets of RFC 3711.
func parseCrypto(arg string) (Crypto, bool) {
	f := strings.Fields(arg)
	if len(f) != 3 { // tag, suite, key params; more: session parameters
		return Crypto{}, false
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return Crypto{}, false
	}
	want, err := keySaltLen(f[1])
	if err != nil {
		return Crypto{}, false
	}
	inline, ok := strings.CutPrefix(f[2], "inline:")
	if !ok || strings.Contains(inline, ";") { // one key only
		return Crypto{}, false
	}
	parts := strings.Split(inline, "|")
	if len(parts) > 2 { // key|lifetime|MKI:len: no MKI
		return Crypto{}, false
	}
	if len(parts) == 2 && strings.Contains(parts[1], ":") { // key|MKI:len
		return Crypto{}, false
	}
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	if err != nil || len(key) != want {
		return Crypto{}, false
	}
	return Crypto{Tag: tag, Suite: f[1], Key: key}, true
}

// newContext makes an SRTP context for c with replay protection.
func (c Crypto) newContext() (*srtp.Context, error) {
	p, ok := suites[c.Suite]
	if !ok {
		return nil, fmt.Errorf("srtp: unsupported crypto suite %q", c.Suite)
	}
	k, err := p.KeyLen()
	if err != nil {
		return nil, err
	}
	return srtp.CreateContext(c.Key[:k], c.Key[k:], p,
		srtp.SRTPReplayProtection(replayWindow), srtp.SRTCPReplayProtection(replayWindow))
}

// SRTPSender encrypts one RTP stream and its RTCP with one key, in place.
// It is safe for concurrent use.
type SRTPSender struct {
	mu   sync.Mutex
	rtp  *srtp.Context
	rtcp *srtp.Context
	hdr  rtp.Header
	chdr rtcp.Header
}

// NewSRTPSender makes a sender for the key c.
func NewSRTPSender(c Crypto) (*SRTPSender, error) {
	r, err := c.newContext()
	if err != nil {
		return nil, err
	}
	rc, err := c.newContext() // its own: pion's contexts are not safe for concurrent use
	if err != nil {
		return nil, err
	}
	return &SRTPSender{rtp: r, rtcp: rc}, nil
}

// Protect encrypts the RTP packet pkt in place and returns the SRTP
// packet. pkt needs srtpOverhead bytes of spare capacity, or Protect
// allocates.
func (s *SRTPSender) Protect(pkt []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rtp.EncryptRTP(pkt, pkt, &s.hdr)
}

// ProtectRTCP encrypts the compound RTCP packet pkt in place.
func (s *SRTPSender) ProtectRTCP(pkt []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rtcp.EncryptRTCP(pkt, pkt, &s.chdr)
}

// SRTPReceiver authenticates and decrypts one far end's SRTP, in place.
// Each of its two methods may be used by one goroutine at a time: Unprotect
// by the RTP reader, UnprotectRTCP by the RTCP reader.
type SRTPReceiver struct {
	rtp  *srtp.Context
	rtcp *srtp.Context
	hdr  rtp.Header
	chdr rtcp.Header
}

// NewSRTPReceiver makes a receiver for the far end's key c.
func NewSRTPReceiver(c Crypto) (*SRTPReceiver, error) {
	r, err := c.newContext()
	if err != nil {
		return nil, err
	}
	rc, err := c.newContext()
	if err != nil {
		return nil, err
	}
	return &SRTPReceiver{rtp: r, rtcp: rc}, nil
}

// Unprotect authenticates the SRTP packet pkt, checks it against the
// replay window and decrypts it in place. On error pkt is unusable, and
// no state has changed.
func (r *SRTPReceiver) Unprotect(pkt []byte) ([]byte, error) {
	return r.rtp.DecryptRTP(pkt, pkt, &r.hdr)
}

// UnprotectRTCP is Unprotect for SRTCP.
func (r *SRTPReceiver) UnprotectRTCP(pkt []byte) ([]byte, error) {
	return r.rtcp.DecryptRTCP(pkt, pkt, &r.chdr)
}

// legSRTP is a leg's SRTP state, replaced as a whole when a new offer or
// answer changes a key.
type legSRTP struct {
	local, remote Crypto
	out           *SRTPSender   // shared with the previous state when local is unchanged
	in            *SRTPReceiver // likewise when remote is unchanged
}

// StartSRTP makes the leg speak SRTP: it encrypts what it sends with local
// and authenticates and decrypts what it receives with remote. Called again
// (a re-INVITE), an unchanged key keeps its context, so the stream's
// rollover counter and replay window carry on.
func (l *Leg) StartSRTP(local, remote Crypto) error {
	l.srtpMu.Lock()
	defer l.srtpMu.Unlock()
	cur := l.srtp.Load()
	next := &legSRTP{local: local, remote: remote}
	var err error
	if cur != nil && cur.local.equal(local) {
		next.out = cur.out
	} else if next.out, err = NewSRTPSender(local); err != nil {
		return fmt.Errorf("leg %v: %w", l.local, err)
	}
	if cur != nil && cur.remote.equal(remote) {
		next.in = cur.in
	} else if next.in, err = NewSRTPReceiver(remote); err != nil {
		return fmt.Errorf("leg %v: %w", l.local, err)
	}
	l.srtp.Store(next)
	if cur == nil {
		l.log.Debug().Str("suite", local.Suite).Msg("srtp on")
	}
	return nil
}

// SRTP returns the leg's own crypto attribute, for the SDP the leg's far
// end is sent, and whether the leg speaks SRTP at all.
func (l *Leg) SRTP() (Crypto, bool) {
	cur := l.srtp.Load()
	if cur == nil {
		return Crypto{}, false
	}
	return cur.local, true
}

// AnswerSRTP sets the leg up for an offer it answers: SRTP with the first
// usable crypto attribute of an RTP/SAVP offer (the leg keeps its own key
// if it already speaks that suite, and takes the offer's tag), nothing for
// plain RTP. A plain offer to a leg that speaks SRTP (a downgrade) and an
// SRTP offer without a usable key are ErrSRTPRequired.
//
// On a WebRTC leg the offer must be WebRTC too; its DTLS association and
// keys stay (an ICE restart or a new DTLS handshake is not supported).
func (l *Leg) AnswerSRTP(offer *SDP) error {
	if l.rtc.Load() != nil {
		if !offer.WebRTC() {
			return fmt.Errorf("%w: %s offered to a WebRTC leg", ErrSRTPRequired, offer.Proto)
		}
		return nil
	}
	cur := l.srtp.Load()
	if !offer.Secure() {
		if cur != nil {
			return fmt.Errorf("%w: plain RTP offered to an SRTP leg", ErrSRTPRequired)
		}
		return nil
	}
	if len(offer.Crypto) == 0 {
		return fmt.Errorf("%w: no usable a=crypto", ErrSRTPRequired)
	}
	remote := offer.Crypto[0]
	var local Crypto
	if cur != nil && cur.local.Suite == remote.Suite {
		local = cur.local
		local.Tag = remote.Tag
	} else {
		var err error
		if local, err = NewCrypto(remote.Tag, remote.Suite); err != nil {
			return err
		}
	}
	return l.StartSRTP(local, remote)
}

// AcceptSRTP sets the leg up from the answer to an offer that carried
// offered: the answer must be RTP/SAVP and accept offered's tag and suite
// with its own key.
func (l *Leg) AcceptSRTP(answer *SDP, offered Crypto) error {
	if !answer.Secure() {
		return fmt.Errorf("%w: SRTP offered, plain RTP answered", ErrSRTPRequired)
	}
	for _, c := range answer.Crypto {
		if c.Tag == offered.Tag && c.Suite == offered.Suite {
			return l.StartSRTP(offered, c)
		}
	}
	return fmt.Errorf("%w: the answer accepts none of the offered keys", ErrSRTPRequired)
}
