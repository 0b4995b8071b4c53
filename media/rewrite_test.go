package media

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rtpPacket builds a raw RTP packet.
func rtpPacket(t testing.TB, h rtp.Header, payload []byte) []byte {
	t.Helper()
	h.Version = 2
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	require.NoError(t, err)
	return b
}

type hdr struct {
	marker bool
	pt     uint8
	seq    uint16
	ts     uint32
	ssrc   uint32
}

func parseHdr(b []byte) hdr {
	return hdr{
		marker: b[1]&0x80 != 0,
		pt:     b[1] & 0x7F,
		seq:    binary.BigEndian.Uint16(b[2:]),
		ts:     binary.BigEndian.Uint32(b[4:]),
		ssrc:   binary.BigEndian.Uint32(b[8:]),
	}
}

func TestValidRTP(t *testing.T) {
	extHdr := rtp.Header{}
	require.NoError(t, extHdr.SetExtension(1, []byte{1, 2}))
	withExt := rtpPacket(t, extHdr, []byte{1})
	cases := []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"g711", rtpPacket(t, rtp.Header{PayloadType: 0}, make([]byte, 160)), true},
		{"header only", rtpPacket(t, rtp.Header{PayloadType: 8}, nil), true},
		{"csrc", rtpPacket(t, rtp.Header{CSRC: []uint32{1, 2}}, []byte{1}), true},
		{"extension", withExt, true},
		{"extension cut short", withExt[:len(withExt)-3], false},
		{"too short", make([]byte, 11), false},
		{"version 1", []byte{0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, false},
		{"rtcp sender report on the rtp port", []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0}, false},
		{"csrc count beyond packet", []byte{0x8F, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, false},
		{"padding zero", []byte{0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0}, false},
		{"padding beyond packet", []byte{0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9}, false},
		{"padding ok", []byte{0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 7, 0, 2}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, validRTP(tc.pkt))
		})
	}
}

// TestOutStream walks one leg's outgoing stream through player -> bridged
// peer -> peer SSRC change, checking continuity and the marker bit.
func TestOutStream(t *testing.T) {
	var s outStream
	s.init()
	const player, bridge = 1, 2
	t0 := time.Unix(1000, 0)
	send := func(id uint64, seq uint16, ts, ssrc uint32, at time.Duration) (hdr, bool) {
		t.Helper()
		pkt := rtpPacket(t, rtp.Header{PayloadType: 0, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, []byte{0xFF})
		ok := s.rewrite(pkt, id, 0, t0.Add(at))
		return parseHdr(pkt), ok
	}

	_, ok := send(player, 0, 0, 0, 0)
	require.False(t, ok, "no input active yet")

	s.setActive(player)
	first, ok := send(player, 0, 0, 0, 0)
	require.True(t, ok)
	assert.True(t, first.marker, "first packet of the stream")
	assert.Equal(t, s.ssrc, first.ssrc)
	p2, _ := send(player, 1, 160, 0, 20*time.Millisecond)
	assert.Equal(t, hdr{false, 0, first.seq + 1, first.ts + 160, s.ssrc}, p2)

	s.setActive(bridge)
	_, ok = send(player, 2, 320, 0, 40*time.Millisecond)
	assert.False(t, ok, "a player tick under way after the switch is refused")

	// The agent's phone starts at its own random seq/ts; 100 ms after the
	// last player frame.
	a1, ok := send(bridge, 50000, 900000, 0xA6E47, 120*time.Millisecond)
	require.True(t, ok)
	assert.Equal(t, hdr{true, 0, p2.seq + 1, p2.ts + 800, s.ssrc}, a1, "seq +1, ts + elapsed, marker")
	// Within the source, its deltas are kept: a DTMF event repeats its timestamp.
	a2, _ := send(bridge, 50001, 900160, 0xA6E47, 140*time.Millisecond)
	a3, _ := send(bridge, 50002, 900160, 0xA6E47, 160*time.Millisecond)
	a4, _ := send(bridge, 50005, 900640, 0xA6E47, 220*time.Millisecond) // two lost
	assert.Equal(t, hdr{false, 0, a1.seq + 1, a1.ts + 160, s.ssrc}, a2)
	assert.Equal(t, hdr{false, 0, a1.seq + 2, a1.ts + 160, s.ssrc}, a3)
	assert.Equal(t, hdr{false, 0, a1.seq + 5, a1.ts + 640, s.ssrc}, a4)
	// A late, reordered packet keeps its place and does not move "last".
	late, _ := send(bridge, 50003, 900320, 0xA6E47, 225*time.Millisecond)
	assert.Equal(t, a1.seq+3, late.seq)

	// The agent's phone restarts its stream (new SSRC): treated as a new
	// source, 5 ms later: at least one frame of timestamp.
	b1, _ := send(bridge, 7, 42, 0xB0B, 230*time.Millisecond)
	assert.Equal(t, hdr{true, 0, a4.seq + 1, a4.ts + 160, s.ssrc}, b1)

	// Back to a player (hold over the bridge).
	s.setActive(3)
	h1, _ := send(3, 0, 0, 0, 250*time.Millisecond)
	assert.Equal(t, hdr{true, 0, b1.seq + 1, b1.ts + 160, s.ssrc}, h1)
	assert.True(t, s.swapActive(3, bridge))
	assert.False(t, s.swapActive(3, 0), "only the active input is swapped")
}

func TestElapsedSamples(t *testing.T) {
	cases := []struct {
		name string
		d    time.Duration
		want uint32
	}{
		{"negative", -time.Second, 160},
		{"zero", 0, 160},
		{"under a frame", 5 * time.Millisecond, 160},
		{"100 ms", 100 * time.Millisecond, 800},
		{"a day is capped", 24 * time.Hour, 8000 * 3600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, elapsedSamples(tc.d))
		})
	}
}

func BenchmarkRewrite(b *testing.B) {
	var s outStream
	s.init()
	s.setActive(1)
	pkt := rtpPacket(b, rtp.Header{PayloadType: 0, SSRC: 1}, make([]byte, 160))
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[8:], 1)
		s.rewrite(pkt, 1, 0, now)
	}
}

// FuzzRelayPacket feeds arbitrary datagrams to the relay's packet path:
// validRTP decides, and only packets it accepts are rewritten. Whatever
// the input, nothing panics, a refused packet is never touched, and a
// rewritten one keeps its length and payload and carries the stream's SSRC
// with sequence numbers that continue the stream.
func FuzzRelayPacket(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4, 0xff, 0xff})
	f.Add([]byte{0x80, 0xc8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0})                   // RTCP SR on the RTP port
	f.Add([]byte{0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1}) // extension past the end
	f.Add([]byte{0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5})       // padding longer than the payload
	f.Add([]byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42})             // STUN binding request
	var s outStream
	s.init()
	s.setActive(1)
	now := time.Unix(0, 0)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		in := append([]byte(nil), pkt...)
		if !validRTP(pkt) {
			return
		}
		if len(pkt) < rtpHeaderLen || pkt[0]>>6 != 2 {
			t.Fatalf("validRTP accepted %x", in)
		}
		now = now.Add(20 * time.Millisecond)
		prev := s.lastSeq
		if !s.rewrite(pkt, 1, 8, now) {
			t.Fatal("rewrite refused the active input")
		}
		if len(pkt) != len(in) || !bytes.Equal(pkt[rtpHeaderLen:], in[rtpHeaderLen:]) {
			t.Fatalf("rewrite changed more than the fixed header: %x -> %x", in, pkt)
		}
		if got := binary.BigEndian.Uint32(pkt[8:12]); got != s.ssrc {
			t.Fatalf("ssrc %08x, want the stream's %08x", got, s.ssrc)
		}
		if pkt[0] != in[0] || pkt[1]&0x7f != 8 {
			t.Fatalf("first bytes %x %x from %x %x", pkt[0], pkt[1], in[0], in[1])
		}
		if seq := binary.BigEndian.Uint16(pkt[2:4]); seq != s.lastSeq && int16(seq-prev) > 0 {
			t.Fatalf("seq %d went ahead of the stream's last %d", seq, s.lastSeq)
		}
	})
}
