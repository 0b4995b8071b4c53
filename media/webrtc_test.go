package media

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/stun/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browser is the far end of a WebRTC leg in these tests: one UDP socket
// whose datagrams are split by their first byte (RFC 7983) between a DTLS
// client and the test (STUN and SRTP), as a browser's ICE transport does.
type browser struct {
	conn  *net.UDPConn
	dtlsC chan []byte
	media chan []byte
	cert  tls.Certificate
	ice   ICEParams
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	cert, err := selfsign.GenerateSelfSigned()
	require.NoError(t, err)
	b := &browser{conn: c, dtlsC: make(chan []byte, 64), media: make(chan []byte, 256), cert: cert,
		ice: ICEParams{Ufrag: "brws", Pwd: "browser-password-0123456789", Fingerprint: "sha-256 " + fingerprint(cert.Certificate[0]), Setup: "active"}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			p := append([]byte(nil), buf[:n]...)
			if p[0] >= 20 && p[0] <= 63 {
				b.dtlsC <- p
			} else {
				select {
				case b.media <- p:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-done })
	return b
}

func (b *browser) addr() netip.AddrPort { return b.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// check sends a STUN connectivity check to the leg with the given
// credentials and returns the response, or nil if none came.
func (b *browser) check(t *testing.T, to netip.AddrPort, local ICEParams, pwd string, nominate bool) *stun.Message {
	t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(local.Ufrag + ":" + b.ice.Ufrag), rawAttr(stun.AttrICEControlling, make([]byte, 8))}
	if nominate {
		setters = append(setters, rawAttr(stun.AttrUseCandidate, nil))
	}
	setters = append(setters, stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	req, err := stun.Build(setters...)
	require.NoError(t, err)
	_, err = b.conn.WriteToUDPAddrPort(req.Raw, to)
	require.NoError(t, err)
	select {
	case p := <-b.media:
		res := &stun.Message{Raw: p}
		require.NoError(t, res.Decode())
		return res
	case <-time.After(300 * time.Millisecond):
		return nil
	}
}

// rawAttr adds a STUN attribute as raw bytes (the ICE attributes live in
// pion/ice, which the relay does not need).
func rawAttr(t stun.AttrType, v []byte) stun.Setter { return rawSetter{t, v} }

type rawSetter struct {
	t stun.AttrType
	v []byte
}

func (r rawSetter) AddTo(m *stun.Message) error { m.Add(r.t, r.v); return nil }

// dtlsConn is the browser's DTLS side of its socket.
type dtlsConn struct {
	b    *browser
	to   *net.UDPAddr
	done chan struct{}
}

func (c *dtlsConn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case d := <-c.b.dtlsC:
		return copy(p, d), c.to, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}
func (c *dtlsConn) WriteTo(p []byte, _ net.Addr) (int, error) { return c.b.conn.WriteTo(p, c.to) }
func (c *dtlsConn) Close() error                              { return nil }
func (c *dtlsConn) LocalAddr() net.Addr                       { return c.b.conn.LocalAddr() }
func (c *dtlsConn) SetDeadline(time.Time) error               { return nil }
func (c *dtlsConn) SetReadDeadline(time.Time) error           { return nil }
func (c *dtlsConn) SetWriteDeadline(time.Time) error          { return nil }

// handshake runs the DTLS client handshake and returns the browser's SRTP
// sender and receiver.
func (b *browser) handshake(t *testing.T, to netip.AddrPort, serverFingerprint string) (*SRTPSender, *SRTPReceiver) {
	t.Helper()
	dc := &dtlsConn{b: b, to: net.UDPAddrFromAddrPort(to), done: make(chan struct{})}
	t.Cleanup(func() { close(dc.done) })
	c, err := dtls.ClientWithOptions(dc, dc.to, dtls.WithCertificates(b.cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret), dtls.WithInsecureSkipVerify(true))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.HandshakeContext(ctx))
	st, ok := c.ConnectionState()
	require.True(t, ok)
	require.Len(t, st.PeerCertificates, 1)
	assert.Equal(t, serverFingerprint, "sha-256 "+fingerprint(st.PeerCertificates[0]), "the relay's certificate is the one in its SDP")
	m, err := st.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 2*(16+14))
	require.NoError(t, err)
	client := Crypto{Suite: DefaultSuite, Key: append(append([]byte{}, m[:16]...), m[32:46]...)}
	server := Crypto{Suite: DefaultSuite, Key: append(append([]byte{}, m[16:32]...), m[46:]...)}
	tx, err := NewSRTPSender(client)
	require.NoError(t, err)
	rx, err := NewSRTPReceiver(server)
	require.NoError(t, err)
	return tx, rx
}

// TestWebRTCLeg: a browser and a plain member are bridged. Nothing reaches
// the browser before DTLS; a check with the wrong password is not
// answered; a right one is, and makes the browser's address the leg's;
// DTLS gives both sides keys; then audio and RTCP flow both ways on one
// port, encrypted on the browser's side.
func TestWebRTCLeg(t *testing.T) {
	checkGoroutines(t)
	id, err := NewDTLSIdentity()
	require.NoError(t, err)
	r, _ := newTestRelay(t, 4)
	web := newTestLeg(t, r, PCMU)
	m := newTestLeg(t, r, PCMU)
	member := newPhone(t, 0x11)
	m.SetRemote(member.addr())
	require.NoError(t, Bridge(m, web))

	local, err := web.StartWebRTC(id)
	require.NoError(t, err)
	assert.Equal(t, id.Fingerprint, local.Fingerprint)
	sdp := BuildSDP(SDPParams{SessionID: 1, Version: 1, Addr: web.LocalAddr().Addr(), Port: int(web.LocalAddr().Port()),
		Codec: PCMU, TelEventPT: 101, WebRTC: &local})
	parsed, err := ParseSDP(sdp)
	require.NoError(t, err)
	assert.True(t, parsed.WebRTC())
	assert.Equal(t, local.Ufrag, parsed.ICE.Ufrag)
	assert.Equal(t, local.Pwd, parsed.ICE.Pwd)
	assert.Equal(t, id.Fingerprint, parsed.ICE.Fingerprint)
	for _, want := range []string{"a=ice-lite", "a=rtcp-mux", "a=setup:actpass", "a=mid:0", "typ host"} {
		assert.Contains(t, string(sdp), want)
	}

	b := newBrowser(t)
	require.NoError(t, web.AcceptWebRTC(b.ice))
	require.NoError(t, member.send(m.LocalAddr(), tagged('M', 0)))

	assert.Nil(t, b.check(t, web.LocalAddr(), local, "wrong-password-000000000", true), "a check with the wrong password")
	assert.Equal(t, uint64(1), web.Stats().Unauthentic)
	loser := newBrowser(t) // rung with the same offer, but its answer was not taken
	loser.ice.Ufrag = "losr"
	assert.Nil(t, loser.check(t, web.LocalAddr(), local, local.Pwd, true), "a check from another browser that knows the offer")
	assert.Equal(t, uint64(2), web.Stats().Unauthentic)
	res := b.check(t, web.LocalAddr(), local, local.Pwd, true)
	require.NotNil(t, res, "a check with the leg's credentials is answered")
	assert.Equal(t, stun.BindingSuccess, res.Type)
	require.NoError(t, stun.NewShortTermIntegrity(local.Pwd).Check(res))
	var mapped stun.XORMappedAddress
	require.NoError(t, mapped.GetFrom(res))
	assert.Equal(t, int(b.addr().Port()), mapped.Port)
	assert.Equal(t, b.addr(), web.remote.Load().latched, "the checked address is the leg's far end")
	early := newPhone(t, 0) // the member's RTCP, before DTLS: not passed on in clear
	rr0, err := (&rtcp.ReceiverReport{SSRC: 0x11}).Marshal()
	require.NoError(t, err)
	_, err = early.conn.WriteToUDPAddrPort(rr0, rtcpAddr(m))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return m.Stats().RTCPPackets == 1 }, time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	select {
	case p := <-b.media:
		t.Fatalf("the browser got %d bytes before DTLS", len(p))
	default:
	}

	tx, rx := b.handshake(t, web.LocalAddr(), local.Fingerprint)
	require.Eventually(t, func() bool { _, on := web.SRTP(); return on }, 2*time.Second, 5*time.Millisecond, "keys from DTLS")

	// Browser -> member.
	pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 7, Timestamp: 160, SSRC: 0x22},
		Payload: append(tagged('B', 0), make([]byte, 157)...)}).Marshal()
	require.NoError(t, err)
	enc, err := tx.Protect(pkt)
	require.NoError(t, err)
	_, err = b.conn.WriteToUDPAddrPort(enc, web.LocalAddr())
	require.NoError(t, err)
	assert.Equal(t, tagged('B', 0), member.recv(t, time.Second).pkt.Payload[:3])

	// Member -> browser, as SRTP.
	require.NoError(t, member.send(m.LocalAddr(), tagged('M', 1)))
	var got rtp.Packet
	require.Eventually(t, func() bool {
		select {
		case p := <-b.media:
			plain, err := rx.Unprotect(p)
			return err == nil && got.Unmarshal(plain) == nil
		default:
			return false
		}
	}, time.Second, 5*time.Millisecond)
	assert.Equal(t, tagged('M', 1), got.Payload[:3])

	// SRTCP from the browser on the RTP port reaches the member's RTCP port.
	memberRTCP := newPhone(t, 0)
	rr, err := (&rtcp.ReceiverReport{SSRC: 0x11}).Marshal()
	require.NoError(t, err)
	_, err = memberRTCP.conn.WriteToUDPAddrPort(rr, rtcpAddr(m))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return m.Stats().RTCPPackets == 2 }, time.Second, 5*time.Millisecond)
	sr, err := (&rtcp.SenderReport{SSRC: 0x22}).Marshal()
	require.NoError(t, err)
	encSR, err := tx.ProtectRTCP(sr)
	require.NoError(t, err)
	_, err = b.conn.WriteToUDPAddrPort(encSR, web.LocalAddr())
	require.NoError(t, err)
	buf := make([]byte, maxPacket)
	require.NoError(t, memberRTCP.conn.SetReadDeadline(time.Now().Add(time.Second)))
	n, err := memberRTCP.conn.Read(buf)
	require.NoError(t, err)
	pkts, err := rtcp.Unmarshal(buf[:n])
	require.NoError(t, err)
	assert.IsType(t, &rtcp.SenderReport{}, pkts[0])
}

// A DTLS client whose certificate is not the one in its answer gets no
// keys: the leg stays silent.
func TestWebRTCWrongFingerprint(t *testing.T) {
	id, err := NewDTLSIdentity()
	require.NoError(t, err)
	r, _ := newTestRelay(t, 5)
	web := newTestLeg(t, r, PCMU)
	local, err := web.StartWebRTC(id)
	require.NoError(t, err)
	b := newBrowser(t)
	other, err := selfsign.GenerateSelfSigned()
	require.NoError(t, err)
	claimed := b.ice
	claimed.Fingerprint = "sha-256 " + fingerprint(other.Certificate[0])
	require.NoError(t, web.AcceptWebRTC(claimed))
	require.NotNil(t, b.check(t, web.LocalAddr(), local, local.Pwd, true))

	dc := &dtlsConn{b: b, to: net.UDPAddrFromAddrPort(web.LocalAddr()), done: make(chan struct{})}
	defer close(dc.done)
	c, err := dtls.ClientWithOptions(dc, dc.to, dtls.WithCertificates(b.cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80), dtls.WithInsecureSkipVerify(true))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	assert.Error(t, c.HandshakeContext(ctx))
	_, on := web.SRTP()
	assert.False(t, on)

	for _, bad := range []ICEParams{{}, {Ufrag: "a", Pwd: "b", Fingerprint: "sha-1 00", Setup: "active"},
		{Ufrag: "a", Pwd: "b", Fingerprint: b.ice.Fingerprint, Setup: "passive"}} {
		l := newTestLeg(t, r, PCMU)
		_, err := l.StartWebRTC(id)
		require.NoError(t, err)
		assert.ErrorIs(t, l.AcceptWebRTC(bad), ErrSRTPRequired, strings.TrimSpace(bad.Setup))
	}
}
