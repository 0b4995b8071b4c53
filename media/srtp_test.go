package media

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCrypto(t *testing.T) {
	key30 := base64.StdEncoding.EncodeToString(make([]byte, 30))
	key46 := base64.StdEncoding.EncodeToString(make([]byte, 46))
	key28 := base64.StdEncoding.EncodeToString(make([]byte, 28))
	for _, tc := range []struct {
		line  string
		ok    bool
		suite string
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30, true, "AES_CM_128_HMAC_SHA1_80"},
		{"2 AES_CM_128_HMAC_SHA1_32 inline:" + key30 + "|2^20", true, "AES_CM_128_HMAC_SHA1_32"},
		{"3 AES_256_CM_HMAC_SHA1_80 inline:" + key46, true, "AES_256_CM_HMAC_SHA1_80"},
		{"4 AEAD_AES_128_GCM inline:" + key28, true, "AEAD_AES_128_GCM"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.TrimRight(key30, "="), true, "AES_CM_128_HMAC_SHA1_80"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^20|1:4", false, ""},         // MKI
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1:4", false, ""},              // MKI without lifetime
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " UNENCRYPTED_SRTP", false, ""}, // session parameter
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key46, false, ""},                       // wrong key length
		{"1 F8_128_HMAC_SHA1_80 inline:" + key30, false, ""},                           // unknown suite
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + ";inline:" + key30, false, ""},
		{"x AES_CM_128_HMAC_SHA1_80 inline:" + key30, false, ""},
		{"1 AES_CM_128_HMAC_SHA1_80 " + key30, false, ""},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:!!!", false, ""},
	} {
		c, ok := parseCrypto(tc.line)
		assert.Equal(t, tc.ok, ok, tc.line)
		if ok {
			assert.Equal(t, tc.suite, c.Suite)
		}
	}
}

func TestSDPCrypto(t *testing.T) {
	c, err := NewCrypto(7, DefaultSuite)
	require.NoError(t, err)
	b := BuildSDP(SDPParams{SessionID: 1, Version: 1, Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000,
		Codec: PCMA, TelEventPT: 101, Crypto: &c})
	assert.Contains(t, string(b), "m=audio 4000 RTP/SAVP 8 101\r\n")
	s, err := ParseSDP(b)
	require.NoError(t, err)
	assert.True(t, s.Secure())
	require.Len(t, s.Crypto, 1)
	assert.Equal(t, c, s.Crypto[0])
	codec, err := s.Negotiate()
	require.NoError(t, err)
	assert.Equal(t, PCMA, codec)

	// RTP/SAVP whose only key the relay cannot use: 488, not plain RTP.
	bad := strings.Replace(string(b), "inline:", "inline:AAAA", 1)
	s, err = ParseSDP([]byte(bad))
	require.NoError(t, err)
	assert.Empty(t, s.Crypto)
	_, err = s.Negotiate()
	assert.ErrorIs(t, err, ErrSRTPRequired)

	// a=crypto in a plain offer is ignored; a later m= line's crypto too.
	plain := BuildSDP(SDPParams{SessionID: 1, Version: 1, Addr: netip.MustParseAddr("192.0.2.1"), Port: 4000, Codec: PCMU, TelEventPT: -1})
	s, err = ParseSDP(append(plain, []byte("m=video 5000 RTP/SAVP 96\r\na=crypto:"+c.attribute()+"\r\n")...))
	require.NoError(t, err)
	assert.False(t, s.Secure())
	assert.Empty(t, s.Crypto)
}

func TestAnswerAndAcceptSRTP(t *testing.T) {
	r, _ := newTestRelay(t, 2)
	l := newTestLeg(t, r, PCMU)
	offerKey, err := NewCrypto(3, "AES_256_CM_HMAC_SHA1_80")
	require.NoError(t, err)
	offer := &SDP{Proto: "RTP/SAVP", Crypto: []Crypto{offerKey}}

	require.NoError(t, l.AnswerSRTP(&SDP{Proto: "RTP/AVP"}), "plain offer to a plain leg")
	_, on := l.SRTP()
	assert.False(t, on)

	require.NoError(t, l.AnswerSRTP(offer))
	local, on := l.SRTP()
	require.True(t, on)
	assert.Equal(t, 3, local.Tag, "the answer takes the offer's tag")
	assert.Equal(t, offerKey.Suite, local.Suite)
	assert.NotEqual(t, offerKey.Key, local.Key, "our own key")
	first := l.srtp.Load()

	// A re-INVITE with the same key keeps both contexts (ROC, replay window).
	offerKey.Tag = 9
	require.NoError(t, l.AnswerSRTP(&SDP{Proto: "RTP/SAVP", Crypto: []Crypto{offerKey}}))
	again, _ := l.SRTP()
	assert.Equal(t, local.Key, again.Key)
	assert.Equal(t, 9, again.Tag)
	assert.Same(t, first.out, l.srtp.Load().out)
	assert.Same(t, first.in, l.srtp.Load().in)

	// A new far-end key replaces only the receiving context.
	newKey, err := NewCrypto(1, "AES_256_CM_HMAC_SHA1_80")
	require.NoError(t, err)
	require.NoError(t, l.AnswerSRTP(&SDP{Proto: "RTP/SAVP", Crypto: []Crypto{newKey}}))
	assert.Same(t, first.out, l.srtp.Load().out)
	assert.NotSame(t, first.in, l.srtp.Load().in)

	assert.ErrorIs(t, l.AnswerSRTP(&SDP{Proto: "RTP/AVP"}), ErrSRTPRequired, "no downgrade to plain RTP")
	assert.ErrorIs(t, l.AnswerSRTP(&SDP{Proto: "RTP/SAVP"}), ErrSRTPRequired, "SRTP without a key")

	// Offerer side.
	m := newTestLeg(t, r, PCMU)
	ours, err := NewCrypto(1, DefaultSuite)
	require.NoError(t, err)
	theirs, err := NewCrypto(1, DefaultSuite)
	require.NoError(t, err)
	assert.ErrorIs(t, m.AcceptSRTP(&SDP{Proto: "RTP/AVP"}, ours), ErrSRTPRequired)
	other := theirs
	other.Tag = 2
	assert.ErrorIs(t, m.AcceptSRTP(&SDP{Proto: "RTP/SAVP", Crypto: []Crypto{other}}, ours), ErrSRTPRequired)
	require.NoError(t, m.AcceptSRTP(&SDP{Proto: "RTP/SAVP", Crypto: []Crypto{other, theirs}}, ours))
	got, on := m.SRTP()
	assert.True(t, on)
	assert.Equal(t, ours, got)
}

// srtpPhone is a phone that speaks SRTP: it encrypts with its own key and
// decrypts with the relay's.
type srtpPhone struct {
	*phone
	tx *SRTPSender
	rx *SRTPReceiver
}

func newSRTPPhone(t *testing.T, ssrc uint32, own, relay Crypto) *srtpPhone {
	t.Helper()
	tx, err := NewSRTPSender(own)
	require.NoError(t, err)
	rx, err := NewSRTPReceiver(relay)
	require.NoError(t, err)
	return &srtpPhone{phone: newPhone(t, ssrc), tx: tx, rx: rx}
}

// packet returns the next SRTP packet with payload, as send would send it.
func (p *srtpPhone) packet(t *testing.T, payload []byte) []byte {
	t.Helper()
	pl := make([]byte, frameSamples)
	copy(pl, payload)
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc}, Payload: pl}).Marshal()
	require.NoError(t, err)
	p.seq++
	p.ts += frameSamples
	out, err := p.tx.Protect(b)
	require.NoError(t, err)
	return out
}

func (p *srtpPhone) sendSRTP(t *testing.T, to netip.AddrPort, payload []byte) []byte {
	t.Helper()
	b := p.packet(t, payload)
	_, err := p.conn.WriteToUDPAddrPort(b, to)
	require.NoError(t, err)
	return b
}

// recvSRTP reads one packet, which must authenticate with the relay's key.
func (p *srtpPhone) recvSRTP(t *testing.T, timeout time.Duration) rtp.Packet {
	t.Helper()
	buf := make([]byte, maxPacket)
	require.NoError(t, p.conn.SetReadDeadline(time.Now().Add(timeout)))
	n, err := p.conn.Read(buf)
	require.NoError(t, err)
	plain, err := p.rx.Unprotect(buf[:n])
	require.NoError(t, err, "what the relay sends authenticates with the key it gave")
	var pkt rtp.Packet
	require.NoError(t, pkt.Unmarshal(plain))
	return pkt
}

// srtpBridge bridges a plain member leg to an agent leg that speaks SRTP
// with the keys it returns.
func srtpBridge(t *testing.T, r *Relay, member *phone) (agent *Leg, agentKey, relayKey Crypto) {
	t.Helper()
	m := newTestLeg(t, r, PCMU)
	agent = newTestLeg(t, r, PCMU)
	var err error
	agentKey, err = NewCrypto(1, DefaultSuite)
	require.NoError(t, err)
	relayKey, err = NewCrypto(1, DefaultSuite)
	require.NoError(t, err)
	require.NoError(t, agent.StartSRTP(relayKey, agentKey))
	m.SetRemote(member.addr())
	require.NoError(t, Bridge(m, agent))
	return agent, agentKey, relayKey
}

// TestSRTPRelay: an SRTP agent and a plain member talk through the relay;
// forged, replayed and stray packets change nothing and are counted; the
// agent's NAT binding changes and its audio follows within one packet.
func TestSRTPRelay(t *testing.T) {
	checkGoroutines(t)
	r, _ := newTestRelay(t, 4)
	member := newPhone(t, 0x11)
	agent, agentKey, relayKey := srtpBridge(t, r, member)
	ph := newSRTPPhone(t, 0x22, agentKey, relayKey)
	memberLeg := agent.peer.Load().leg
	agent.SetRemote(ph.addr())

	// The agent talks: the member hears plain RTP with the agent's payload.
	first := ph.sendSRTP(t, agent.LocalAddr(), tagged('A', 0))
	got := member.recv(t, time.Second)
	assert.Equal(t, tagged('A', 0), got.pkt.Payload[:3])
	assert.Len(t, got.pkt.Payload, frameSamples, "the auth tag is gone")

	// The member talks: the agent gets SRTP that authenticates.
	require.NoError(t, member.send(memberLeg.LocalAddr(), tagged('M', 0)))
	heard := ph.recvSRTP(t, time.Second)
	assert.Equal(t, tagged('M', 0), heard.Payload[:3])

	// A forger who knows the port but not the key, from another address
	// and from the agent's own: nothing reaches the member.
	forged, err := NewCrypto(1, DefaultSuite)
	require.NoError(t, err)
	stranger := newSRTPPhone(t, 0x22, forged, relayKey)
	stranger.seq, stranger.ts = ph.seq+5, ph.ts+5*frameSamples
	stranger.sendSRTP(t, agent.LocalAddr(), tagged('X', 0))
	plainX, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: ph.seq + 6, SSRC: 0x22}, Payload: tagged('X', 1)}).Marshal()
	require.NoError(t, err)
	_, err = ph.conn.WriteToUDPAddrPort(plainX, agent.LocalAddr()) // plain RTP from the agent's address
	require.NoError(t, err)
	// A captured packet sent again, from the agent's address and elsewhere.
	_, err = ph.conn.WriteToUDPAddrPort(first, agent.LocalAddr())
	require.NoError(t, err)
	_, err = stranger.conn.WriteToUDPAddrPort(first, agent.LocalAddr())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return agent.Stats().Unauthentic == 4 }, time.Second, 5*time.Millisecond)
	_, err = member.read(200 * time.Millisecond)
	assert.Error(t, err, "no forged or replayed packet is forwarded")
	assert.Equal(t, ph.addr(), agent.remote.Load().latched, "the latch did not move")

	// The agent's NAT binding changes: its next packet, from a new port,
	// is authentic, and the member's audio goes there at once.
	moved := newSRTPPhone(t, 0x22, agentKey, relayKey)
	moved.tx, moved.rx = ph.tx, ph.rx // the same phone: same keys, contexts and sequence
	moved.seq, moved.ts = ph.seq, ph.ts
	moved.sendSRTP(t, agent.LocalAddr(), tagged('A', 1))
	assert.Equal(t, tagged('A', 1), member.recv(t, time.Second).pkt.Payload[:3])
	require.NoError(t, member.send(memberLeg.LocalAddr(), tagged('M', 1)))
	assert.Equal(t, tagged('M', 1), moved.recvSRTP(t, time.Second).Payload[:3])

	// SRTCP from the agent reaches the member as plain RTCP; RTCP from the
	// member reaches the agent as SRTCP.
	sr, err := (&rtcp.SenderReport{SSRC: 0x22}).Marshal()
	require.NoError(t, err)
	srtcpPkt, err := moved.tx.ProtectRTCP(sr)
	require.NoError(t, err)
	memberRTCP := newPhone(t, 0)
	rr, err := (&rtcp.ReceiverReport{SSRC: 0x11}).Marshal()
	require.NoError(t, err)
	_, err = memberRTCP.conn.WriteToUDPAddrPort(rr, rtcpAddr(memberLeg)) // teaches memberLeg where its RTCP goes
	require.NoError(t, err)
	require.Eventually(t, func() bool { return memberLeg.Stats().RTCPPackets == 1 }, time.Second, 5*time.Millisecond)
	_, err = moved.conn.WriteToUDPAddrPort(srtcpPkt, rtcpAddr(agent))
	require.NoError(t, err)
	buf := make([]byte, maxPacket)
	require.NoError(t, memberRTCP.conn.SetReadDeadline(time.Now().Add(time.Second)))
	n, err := memberRTCP.conn.Read(buf)
	require.NoError(t, err)
	pkts, err := rtcp.Unmarshal(buf[:n])
	require.NoError(t, err, "plain RTCP for the member")
	assert.IsType(t, &rtcp.SenderReport{}, pkts[0])
}

func TestSRTPForwardAllocs(t *testing.T) {
	r := newBenchRelay(t, 4)
	sink := newPhone(t, 1)
	agent, agentKey, relayKey := srtpBridge(t, r, sink)
	member := agent.peer.Load().leg
	ph := newSRTPPhone(t, 0x22, agentKey, relayKey)
	src := ph.addr()
	agent.SetRemote(src)
	memberSrc := netip.MustParseAddrPort("127.0.0.1:7000")
	member.SetRemote(memberSrc)

	// SRTP in: authenticate, decrypt, forward plain. Encrypt the packets
	// first, so only the relay's work is measured.
	const runs = 500
	in := make([][]byte, runs+1)
	for i := range in {
		b := ph.packet(t, tagged('A', i))
		in[i] = append(make([]byte, 0, maxPacket), b...)
	}
	agent.receiveRTP(in[0], src, time.Now()) // latch (allocates once)
	i := 1
	allocs := testing.AllocsPerRun(runs-1, func() {
		agent.receiveRTP(in[i], src, time.Now())
		i++
	})
	assert.Zero(t, allocs, "srtp in")
	assert.Zero(t, agent.Stats().Unauthentic)

	// Plain in, SRTP out: encrypt in the reader's buffer.
	tmpl := rtpPacket(t, rtp.Header{PayloadType: 0, SSRC: 0xABC}, make([]byte, 160))
	pkt := make([]byte, len(tmpl), maxPacket)
	member.receiveRTP(append(make([]byte, 0, maxPacket), tmpl...), memberSrc, time.Now())
	seq := uint16(0)
	allocs = testing.AllocsPerRun(runs, func() {
		pkt = pkt[:len(tmpl)]
		copy(pkt, tmpl)
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		member.receiveRTP(pkt, memberSrc, time.Now())
	})
	assert.Zero(t, allocs, "srtp out")
	assert.GreaterOrEqual(t, agent.Stats().TxPackets, uint64(runs))
}

func TestSRTPPlayerTickAllocs(t *testing.T) {
	r := newBenchRelay(t, 1)
	l, err := r.NewLeg(PCMA)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	k1, _ := NewCrypto(1, DefaultSuite)
	k2, _ := NewCrypto(1, DefaultSuite)
	require.NoError(t, l.StartSRTP(k1, k2))
	sink := newPhone(t, 1)
	l.SetRemote(sink.addr())
	l.Play(NewToneSource("t", []float64{300}, time.Second, time.Second))
	allocs := testing.AllocsPerRun(100, func() { r.tick(time.Now()) })
	assert.Zero(t, allocs)
	assert.GreaterOrEqual(t, l.Stats().TxPackets, uint64(100))
}

// BenchmarkForwardSRTP: one SRTP packet from an agent to a plain member
// (authenticate, decrypt, rewrite, sendto), and one plain packet from the
// member to the agent (rewrite, encrypt, sendto), per iteration.
func BenchmarkForwardSRTP(b *testing.B) {
	r := newBenchRelay(b, 4)
	m, err := r.NewLeg(PCMU)
	require.NoError(b, err)
	agent, err := r.NewLeg(PCMU)
	require.NoError(b, err)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = m.Close(); _ = agent.Close(); _ = sink.Close() })
	agentKey, _ := NewCrypto(1, DefaultSuite)
	relayKey, _ := NewCrypto(1, DefaultSuite)
	require.NoError(b, agent.StartSRTP(relayKey, agentKey))
	sinkAddr := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	m.SetRemote(sinkAddr)
	agent.SetRemote(sinkAddr)
	require.NoError(b, Bridge(m, agent))
	tx, err := NewSRTPSender(agentKey)
	require.NoError(b, err)

	const pre = 4096 // encrypted ahead, outside the timer
	tmpl := rtpPacket(b, rtp.Header{PayloadType: 0, SSRC: 0x22}, make([]byte, 160))
	in := make([][]byte, pre)
	fill := func(base int) {
		for i := range in {
			p := append(make([]byte, 0, maxPacket), tmpl...)
			binary.BigEndian.PutUint16(p[2:], uint16(base+i))
			binary.BigEndian.PutUint32(p[4:], uint32(base+i)*160)
			var err error
			if in[i], err = tx.Protect(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	plain := rtpPacket(b, rtp.Header{PayloadType: 0, SSRC: 0x11}, make([]byte, 160))
	pkt := make([]byte, len(plain), maxPacket)
	b.ReportAllocs()
	base := 0
	fill(base)
	for i := 0; b.Loop(); i++ {
		if i%pre == 0 && i > 0 {
			b.StopTimer()
			base += pre
			fill(base)
			b.StartTimer()
		}
		agent.receiveRTP(in[i%pre], sinkAddr, time.Now())
		pkt = pkt[:len(plain)]
		copy(pkt, plain)
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		m.receiveRTP(pkt, sinkAddr, time.Now())
	}
	if agent.Stats().Unauthentic != 0 {
		b.Fatal(errors.New("packets failed authentication"))
	}
}
