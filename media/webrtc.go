package media

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/stun/v3"
	"github.com/pion/transport/v4/deadline"
)

// WebRTC media for browser phones (RFC 8827 in the small): a leg that
// speaks it is an ICE-lite agent (RFC 8445 §2.5) on its RTP port, runs the
// DTLS-SRTP handshake (RFC 5763, RFC 5764) there as the DTLS server, and
// carries RTP and RTCP on that one port (rtcp-mux, RFC 5761). What arrives
// on the port is told apart by its first byte (RFC 7983): STUN, DTLS or
// SRTP/SRTCP.
//
// Sources: a STUN connectivity check that carries the right credentials
// (MESSAGE-INTEGRITY with the leg's ICE password) makes its source
// verified, and the leg sends to the last source that nominated itself
// (USE-CANDIDATE), or the first verified one until then. DTLS is taken
// only from verified sources; SRTP only once the handshake has given the
// keys, after which authenticated packets move the leg like on any SRTP
// leg. Until then the leg sends and forwards nothing: no plain RTP ever
// leaves a WebRTC leg.

// DTLSIdentity is the relay's DTLS certificate for WebRTC legs and its
// SHA-256 fingerprint as SDP writes it (RFC 8122).
type DTLSIdentity struct {
	cert        tls.Certificate
	Fingerprint string // "sha-256 AB:CD:..."
}

// NewDTLSIdentity makes a fresh self-signed ECDSA P-256 certificate. Browsers
// check it against the fingerprint in the SDP, which travels over WSS.
func NewDTLSIdentity() (*DTLSIdentity, error) {
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		return nil, fmt.Errorf("dtls certificate: %w", err)
	}
	return &DTLSIdentity{cert: cert, Fingerprint: "sha-256 " + fingerprint(cert.Certificate[0])}, nil
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// ICEParams are one side's ICE credentials and DTLS fingerprint, as in SDP.
type ICEParams struct {
	Ufrag, Pwd  string
	Fingerprint string // "sha-256 AB:CD:..."
	Setup       string // a=setup: the answer's role: "active" (the browser is the DTLS client)
}

// dtlsProfiles are the SRTP profiles the relay accepts in the handshake, in
// order of preference, with their crypto suite names.
var dtlsProfiles = []struct {
	p     dtls.SRTPProtectionProfile
	suite string
}{
	{dtls.SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM"},
	{dtls.SRTP_AES128_CM_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80"},
}

// handshakeTimeout bounds the wait for the browser's ICE checks and DTLS
// handshake once its answer is in.
const handshakeTimeout = 10 * time.Second

// maxVerified is how many ICE-verified sources a leg keeps (a browser has
// a few candidates; more is someone else).
const maxVerified = 8

// legRTC is a WebRTC leg's ICE and DTLS state.
type legRTC struct {
	id    *DTLSIdentity
	local ICEParams

	mu       sync.Mutex
	verified []netip.AddrPort
	remote   *ICEParams

	conn *dtlsPacketConn
	dtls *dtls.Conn // set by the handshake goroutine, under mu
	done chan struct{}
}

// StartWebRTC makes the leg a WebRTC leg with fresh ICE credentials and
// returns them with the identity's fingerprint for the SDP offer. From now
// on the leg sends nothing until DTLS has given it SRTP keys (AcceptWebRTC).
func (l *Leg) StartWebRTC(id *DTLSIdentity) (ICEParams, error) {
	if id == nil {
		return ICEParams{}, errors.New("webrtc: no DTLS identity")
	}
	rtc := &legRTC{
		id:    id,
		local: ICEParams{Ufrag: rand.Text()[:8], Pwd: rand.Text(), Fingerprint: id.Fingerprint, Setup: "actpass"},
		done:  make(chan struct{}),
	}
	rtc.conn = newDTLSPacketConn(l)
	l.srtpMu.Lock()
	defer l.srtpMu.Unlock()
	if l.rtcEnded {
		return ICEParams{}, errors.New("webrtc: another phone took the leg")
	}
	if cur := l.rtc.Load(); cur != nil {
		return cur.local, nil // several browsers rung with one leg: one set of credentials
	}
	l.rtc.Store(rtc)
	l.secureOnly.Store(true)
	return rtc.local, nil
}

// EndWebRTC makes a leg that was offered WebRTC but never accepted it
// (another phone of a ring group answered) a plain leg again.
func (l *Leg) EndWebRTC() {
	l.srtpMu.Lock()
	defer l.srtpMu.Unlock()
	l.rtcEnded = true // a browser fork that starts late gets no WebRTC leg
	rtc := l.rtc.Load()
	if rtc == nil {
		return
	}
	rtc.mu.Lock()
	started := rtc.remote != nil
	rtc.mu.Unlock()
	if started {
		return
	}
	l.rtc.Store(nil)
	l.secureOnly.Store(false)
}

// AcceptWebRTC takes the far end's ICE credentials and fingerprint from its
// answer and starts the DTLS handshake, as the server; it returns at once.
// When the handshake ends the leg speaks SRTP with the exported keys; if it
// fails or times out, the leg stays silent (and the call's media timeout
// ends the call).
func (l *Leg) AcceptWebRTC(remote ICEParams) error {
	rtc := l.rtc.Load()
	if rtc == nil {
		return errors.New("webrtc: leg not started")
	}
	switch {
	case remote.Ufrag == "" || remote.Pwd == "":
		return fmt.Errorf("%w: no ICE credentials in the answer", ErrSRTPRequired)
	case !strings.HasPrefix(strings.ToLower(remote.Fingerprint), "sha-256 "):
		return fmt.Errorf("%w: no sha-256 fingerprint in the answer", ErrSRTPRequired)
	case remote.Setup != "active":
		return fmt.Errorf("%w: a=setup:%s (want active: the relay is the DTLS server)", ErrSRTPRequired, remote.Setup)
	}
	rtc.mu.Lock()
	started := rtc.remote != nil
	if !started {
		r := remote
		rtc.remote = &r
	}
	rtc.mu.Unlock()
	if started {
		return nil // a re-INVITE: the DTLS association stays
	}
	l.srtpMu.Lock()
	defer l.srtpMu.Unlock()
	if l.closed.Load() {
		return ErrLegClosed
	}
	l.readers.Add(1)
	go l.handshake(rtc, strings.ToUpper(strings.TrimSpace(remote.Fingerprint[len("sha-256 "):])))
	return nil
}

// WebRTC reports whether the leg is a WebRTC leg, and its local parameters.
func (l *Leg) WebRTC() (ICEParams, bool) {
	rtc := l.rtc.Load()
	if rtc == nil {
		return ICEParams{}, false
	}
	return rtc.local, true
}

// handshake runs the DTLS server handshake and then hands the exported
// keys to the leg. It is one of the leg's goroutines: Close waits for it.
func (l *Leg) handshake(rtc *legRTC, want string) {
	defer l.readers.Done()
	defer close(rtc.done)
	profiles := make([]dtls.SRTPProtectionProfile, len(dtlsProfiles))
	for i, p := range dtlsProfiles {
		profiles[i] = p.p
	}
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 || fingerprint(raw[0]) != want {
			return errors.New("certificate does not match the SDP fingerprint")
		}
		return nil
	}
	opts := []dtls.ServerOption{
		dtls.WithCertificates(rtc.id.cert),
		dtls.WithSRTPProtectionProfiles(profiles...),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithInsecureSkipVerify(true), // self-signed: checked against the SDP fingerprint instead
		dtls.WithVerifyPeerCertificate(verify),
	}
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { rtc.conn.Close() }) // a closing leg ends the wait
	defer stop()
	c, err := dtls.ServerWithOptions(rtc.conn, rtc.conn.LocalAddr(), opts...)
	if err == nil {
		err = c.HandshakeContext(ctx)
	}
	if err == nil {
		err = l.startDTLSSRTP(c)
	}
	if err != nil {
		if !l.closed.Load() {
			l.log.Warn().Err(err).Msg("webrtc: DTLS handshake failed")
		}
		if c != nil {
			_ = c.Close()
		}
		return
	}
	stop() // the handshake is done: the association lives until the leg closes
	rtc.mu.Lock()
	rtc.dtls = c
	rtc.mu.Unlock()
	l.log.Debug().Msg("webrtc: DTLS-SRTP up")
}

// startDTLSSRTP starts SRTP with the keys the handshake exported (RFC 5764
// §4.2): client key, server key, client salt, server salt. The relay is
// the server: it sends with the server's, receives with the client's.
func (l *Leg) startDTLSSRTP(c *dtls.Conn) error {
	p, ok := c.SelectedSRTPProtectionProfile()
	if !ok {
		return errors.New("no SRTP profile negotiated")
	}
	suite := ""
	for _, q := range dtlsProfiles {
		if q.p == p {
			suite = q.suite
		}
	}
	sp, ok := suites[suite]
	if !ok {
		return fmt.Errorf("unexpected SRTP profile %v", p)
	}
	kn, err := sp.KeyLen()
	if err != nil {
		return err
	}
	sn, err := sp.SaltLen()
	if err != nil {
		return err
	}
	st, ok := c.ConnectionState()
	if !ok {
		return errors.New("no DTLS state")
	}
	m, err := st.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 2*(kn+sn))
	if err != nil {
		return err
	}
	client := Crypto{Suite: suite, Key: append(append([]byte{}, m[:kn]...), m[2*kn:2*kn+sn]...)}
	server := Crypto{Suite: suite, Key: append(append([]byte{}, m[kn:2*kn]...), m[2*kn+sn:]...)}
	return l.StartSRTP(server, client)
}

// closeWebRTC ends the DTLS association (close_notify) and the handshake,
// before the leg's sockets close.
func (l *Leg) closeWebRTC() {
	l.srtpMu.Lock() // waits for an AcceptWebRTC that saw the leg open to add its handshake
	rtc := l.rtc.Load()
	l.srtpMu.Unlock()
	if rtc == nil {
		return
	}
	rtc.mu.Lock()
	c := rtc.dtls
	rtc.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	rtc.conn.Close()
}

// receiveMux handles a datagram on a WebRTC leg's port that is not SRTP or
// SRTCP: STUN checks and DTLS records (RFC 7983). It reports whether pkt
// was one of those.
func (l *Leg) receiveMux(rtc *legRTC, pkt []byte, src netip.AddrPort) bool {
	switch b := pkt[0]; {
	case b <= 3:
		l.receiveSTUN(rtc, pkt, src)
	case b >= 20 && b <= 63:
		if rtc.isVerified(src) {
			rtc.conn.push(pkt)
		} else {
			l.dropped.Add(1)
		}
	default:
		return false
	}
	return true
}

// receiveSTUN answers a connectivity check that carries the leg's
// credentials and verifies its source; anything else is dropped.
func (l *Leg) receiveSTUN(rtc *legRTC, pkt []byte, src netip.AddrPort) {
	m := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if m.Decode() != nil || m.Type != stun.BindingRequest {
		l.dropped.Add(1)
		return
	}
	// Only the browser whose answer the leg took: other browsers rung with
	// the same offer know the leg's credentials, not the answer's ufrag.
	rtc.mu.Lock()
	remote := rtc.remote
	rtc.mu.Unlock()
	if remote == nil { // a check that overtook the answer: the browser checks again
		l.dropped.Add(1)
		return
	}
	var user stun.Username
	integrity := stun.NewShortTermIntegrity(rtc.local.Pwd)
	if user.GetFrom(m) != nil || user.String() != rtc.local.Ufrag+":"+remote.Ufrag ||
		integrity.Check(m) != nil || stun.Fingerprint.Check(m) != nil {
		l.dropped.Add(1)
		l.unauth.Add(1)
		return
	}
	nominated := m.Contains(stun.AttrUseCandidate)
	if !rtc.verify(src) {
		l.dropped.Add(1)
		return
	}
	if cur := l.remote.Load(); nominated || !cur.latched.IsValid() {
		l.followSource(src)
	}
	addr := src.Addr().Unmap()
	res, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: addr.AsSlice(), Port: int(src.Port())}, integrity, stun.Fingerprint)
	if err != nil {
		return
	}
	_, _ = l.rtp.WriteToUDPAddrPort(res.Raw, src)
}

// verify adds src to the verified sources; false if there are too many.
func (rtc *legRTC) verify(src netip.AddrPort) bool {
	rtc.mu.Lock()
	defer rtc.mu.Unlock()
	for _, v := range rtc.verified {
		if v == src {
			return true
		}
	}
	if len(rtc.verified) >= maxVerified {
		return false
	}
	rtc.verified = append(rtc.verified, src)
	return true
}

func (rtc *legRTC) isVerified(src netip.AddrPort) bool {
	rtc.mu.Lock()
	defer rtc.mu.Unlock()
	for _, v := range rtc.verified {
		if v == src {
			return true
		}
	}
	return false
}

// dtlsPacketConn is the leg's port as the DTLS library sees it: reads are
// the DTLS records the leg's reader pushes, writes go to the leg's far end
// from the leg's socket.
type dtlsPacketConn struct {
	leg    *Leg
	in     chan []byte
	closed chan struct{}
	once   sync.Once
	rd     *deadline.Deadline
	addr   *net.UDPAddr
	drops  atomic.Uint64
}

func newDTLSPacketConn(l *Leg) *dtlsPacketConn {
	return &dtlsPacketConn{leg: l, in: make(chan []byte, 32), closed: make(chan struct{}), rd: deadline.New(),
		addr: net.UDPAddrFromAddrPort(l.local)}
}

// push hands a DTLS record to the handshake; it never blocks the reader.
func (c *dtlsPacketConn) push(pkt []byte) {
	select {
	case c.in <- append([]byte(nil), pkt...):
	default:
		c.drops.Add(1)
	}
}

func (c *dtlsPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case p := <-c.in:
		return copy(b, p), c.addr, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	case <-c.rd.Done():
		return 0, nil, errTimeout{}
	}
}

func (c *dtlsPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	dst, ok := c.leg.dest()
	if !ok {
		return 0, errors.New("webrtc: no verified far end yet")
	}
	return c.leg.rtp.WriteToUDPAddrPort(b, dst)
}

func (c *dtlsPacketConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *dtlsPacketConn) LocalAddr() net.Addr { return c.addr }

func (c *dtlsPacketConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *dtlsPacketConn) SetReadDeadline(t time.Time) error {
	c.rd.Set(t)
	return nil
}

func (c *dtlsPacketConn) SetWriteDeadline(time.Time) error { return nil }

// errTimeout is a read deadline's error, a net.Error that times out.
type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }
