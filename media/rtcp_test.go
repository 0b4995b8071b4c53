package media

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func marshalRTCP(t testing.TB, pkts ...rtcp.Packet) []byte {
	t.Helper()
	b, err := rtcp.Marshal(pkts)
	require.NoError(t, err)
	return b
}

func TestValidRTCP(t *testing.T) {
	sr := marshalRTCP(t, &rtcp.SenderReport{SSRC: 1, RTPTime: 5}, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 1,
		Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "a"}}}}})
	assert.True(t, validRTCP(sr))
	assert.False(t, validRTCP(sr[:len(sr)-4]), "lengths do not add up")
	assert.False(t, validRTCP(append(append([]byte(nil), sr...), 0)), "trailing byte")
	rtpPkt := rtpPacket(t, rtp.Header{PayloadType: 0, SSRC: 1}, make([]byte, 160))
	assert.False(t, validRTCP(rtpPkt), "RTP is not RTCP")
	assert.False(t, validRTCP([]byte{0x80, 200, 0}), "short")
}

func TestRewriteRTCP(t *testing.T) {
	pkt := marshalRTCP(t,
		&rtcp.SenderReport{SSRC: 0xA, RTPTime: 1000, Reports: []rtcp.ReceptionReport{{SSRC: 0xAAAA, LastSequenceNumber: 7}}},
		&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 0xA, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "a@x"}}}}},
		&rtcp.Goodbye{Sources: []uint32{0xA}})
	rewriteRTCP(pkt, ssrcMap{sender: 0xB0B, peer: 0xBEEF, tsOff: 500})
	got, err := rtcp.Unmarshal(pkt)
	require.NoError(t, err)
	sr := got[0].(*rtcp.SenderReport)
	assert.Equal(t, uint32(0xB0B), sr.SSRC)
	assert.Equal(t, uint32(1500), sr.RTPTime)
	assert.Equal(t, uint32(0xBEEF), sr.Reports[0].SSRC, "the report is about the peer phone's stream")
	assert.Equal(t, uint32(7), sr.Reports[0].LastSequenceNumber)
	assert.Equal(t, uint32(0xB0B), got[1].(*rtcp.SourceDescription).Chunks[0].Source)
	assert.Equal(t, []uint32{0xB0B}, got[2].(*rtcp.Goodbye).Sources)

	rr := marshalRTCP(t, &rtcp.ReceiverReport{SSRC: 0xA, Reports: []rtcp.ReceptionReport{{SSRC: 0xAAAA}}})
	rewriteRTCP(rr, ssrcMap{sender: 0xB0B})
	gotRR, err := rtcp.Unmarshal(rr)
	require.NoError(t, err)
	assert.Equal(t, uint32(0xB0B), gotRR[0].(*rtcp.ReceiverReport).SSRC)
	assert.Equal(t, uint32(0xAAAA), gotRR[0].(*rtcp.ReceiverReport).Reports[0].SSRC, "unknown peer SSRC: left alone")
}

// A phone's sender report reaches the bridged peer's phone on its RTCP
// address with the SSRC and timestamp of the RTP that phone receives, and
// its report block names the peer phone's own SSRC. RTCP from a stranger
// is not forwarded.
func TestRTCPPassThrough(t *testing.T) {
	r, _ := newTestRelay(t, 2)
	a, b := newTestLeg(t, r, PCMU), newTestLeg(t, r, PCMU)
	phoneA, phoneB := newPhone(t, 0xA1), newPhone(t, 0xB2)
	rtcpB := newPhone(t, 0) // phone B's RTCP socket
	a.SetRemote(phoneA.addr())
	b.SetRemote(phoneB.addr())
	require.NoError(t, Bridge(a, b))

	// B's RTP reaches A (A's stream now carries B), B's RTCP tells leg b
	// where B takes RTCP, A's RTP reaches B.
	require.NoError(t, phoneB.send(b.LocalAddr(), tagged('B', 0)))
	phoneA.recv(t, time.Second)
	rr := marshalRTCP(t, &rtcp.ReceiverReport{SSRC: 0xB2})
	_, err := rtcpB.conn.WriteToUDPAddrPort(rr, rtcpAddr(b))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.Stats().RTCPPackets == 1 }, time.Second, 5*time.Millisecond)
	aTS := phoneA.ts
	require.NoError(t, phoneA.send(a.LocalAddr(), tagged('A', 0)))
	atB := phoneB.recv(t, time.Second)

	sr := marshalRTCP(t, &rtcp.SenderReport{SSRC: 0xA1, RTPTime: aTS,
		Reports: []rtcp.ReceptionReport{{SSRC: 0x12345678, FractionLost: 3}}})
	rtcpA := newPhone(t, 0)
	_, err = rtcpA.conn.WriteToUDPAddrPort(sr, rtcpAddr(a))
	require.NoError(t, err)
	buf := make([]byte, 1500)
	require.NoError(t, rtcpB.conn.SetReadDeadline(time.Now().Add(time.Second)))
	n, err := rtcpB.conn.Read(buf)
	require.NoError(t, err)
	got, err := rtcp.Unmarshal(buf[:n])
	require.NoError(t, err)
	fwd := got[0].(*rtcp.SenderReport)
	assert.Equal(t, atB.pkt.SSRC, fwd.SSRC, "the SSRC phone B knows A's audio by")
	assert.Equal(t, atB.pkt.Timestamp, fwd.RTPTime, "A's timestamp as B sees it")
	assert.Equal(t, uint32(0xB2), fwd.Reports[0].SSRC, "the report is about B's own stream")
	assert.Equal(t, uint8(3), fwd.Reports[0].FractionLost)
	assert.Equal(t, uint64(1), b.Stats().RTCPSent)

	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	require.NoError(t, err)
	defer stranger.Close()
	_, err = stranger.WriteToUDPAddrPort(sr, rtcpAddr(a))
	require.NoError(t, err)
	require.NoError(t, rtcpB.conn.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = rtcpB.conn.Read(buf)
	assert.Error(t, err, "RTCP from another address is not forwarded")
}

// rtcpAddr is the leg's RTCP address: its RTP port + 1.
func rtcpAddr(l *Leg) netip.AddrPort {
	ap := l.LocalAddr()
	return netip.AddrPortFrom(ap.Addr(), ap.Port()+1)
}

func TestRTCPForwardAllocs(t *testing.T) {
	a, src := bridgedPair(t, newBenchRelay(t, 2))
	a.receiveRTP(rtpPacket(t, rtp.Header{PayloadType: 0, SSRC: 0xABC}, make([]byte, 160)), src, time.Now())
	tmpl := marshalRTCP(t, &rtcp.SenderReport{SSRC: 0xABC, Reports: []rtcp.ReceptionReport{{SSRC: 1}}})
	pkt := make([]byte, len(tmpl))
	allocs := testing.AllocsPerRun(200, func() {
		copy(pkt, tmpl)
		a.receiveRTCP(pkt, src)
	})
	assert.Zero(t, allocs)
	assert.Equal(t, uint64(201), a.peer.Load().leg.Stats().RTCPSent)
}

// FuzzRTCP feeds arbitrary datagrams to the RTCP path: whatever validRTCP
// accepts is rewritten in place without panicking, keeps its length, and
// is still valid RTCP.
func FuzzRTCP(f *testing.F) {
	f.Add(marshalRTCP(f, &rtcp.SenderReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2}}}, &rtcp.Goodbye{Sources: []uint32{1, 2}}))
	f.Add(marshalRTCP(f, &rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2}))
	f.Add([]byte{0x9f, 200, 0, 1, 0, 0, 0, 1}) // report count 31 in a short packet
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if !validRTCP(pkt) {
			return
		}
		n := len(pkt)
		rewriteRTCP(pkt, ssrcMap{sender: 0xB0B, peer: 0xBEEF, tsOff: 7})
		if len(pkt) != n || !validRTCP(pkt) {
			t.Fatalf("rewrite broke the packet: %x", pkt)
		}
	})
}
