package media

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTelephoneEvent(t *testing.T) {
	ev, err := ParseTelephoneEvent([]byte{11, 0x80 | 10, 0x03, 0x20})
	require.NoError(t, err)
	assert.Equal(t, TelephoneEvent{Event: 11, End: true, Volume: 10, Duration: 800}, ev)
	assert.Equal(t, byte('#'), ev.Digit())
	ev, err = ParseTelephoneEvent([]byte{5, 10, 0, 160, 0xff}) // trailing bytes ignored
	require.NoError(t, err)
	assert.Equal(t, byte('5'), ev.Digit())
	assert.False(t, ev.End)
	assert.Equal(t, byte(0), TelephoneEvent{Event: 32}.Digit(), "not a key (a line event)")
	_, err = ParseTelephoneEvent([]byte{1, 2, 3})
	assert.ErrorIs(t, err, ErrShortEvent)
}

// eventPackets are the packets a phone sends for one key press at RTP
// timestamp ts: three while the key is down, three final ones.
func eventPackets(t testing.TB, event byte, ts uint32, seq uint16) [][]byte {
	var out [][]byte
	for i, d := range []uint16{160, 320, 480, 640, 640, 640} {
		end := byte(0)
		if i >= 3 {
			end = 0x80
		}
		out = append(out, rtpPacket(t, rtp.Header{PayloadType: 101, SequenceNumber: seq + uint16(i), Timestamp: ts, SSRC: 7, Marker: i == 0},
			[]byte{event, end | 10, byte(d >> 8), byte(d)}))
	}
	return out
}

// A key press is reported once, at its first packet, whatever the
// retransmissions and end packets; the same key pressed again (a new
// timestamp) is a new press. Keys reach the channel before any bridge.
func TestLegReportsKeyPresses(t *testing.T) {
	r, _ := newTestRelay(t, 1)
	l := newTestLeg(t, r, PCMU)
	src := netip.MustParseAddrPort("127.0.0.1:7000")
	l.SetRemote(src)
	l.SetTelephoneEvent(101)
	keys := make(chan byte, 8)
	l.OnDTMF(keys)
	var pkts [][]byte
	pkts = append(pkts, eventPackets(t, 2, 1000, 1)...)
	pkts = append(pkts, eventPackets(t, 2, 2000, 10)...)
	pkts = append(pkts, eventPackets(t, 11, 3000, 20)...)
	pkts = append(pkts, rtpPacket(t, rtp.Header{PayloadType: 0, SequenceNumber: 30, Timestamp: 3160, SSRC: 7}, make([]byte, 160)))
	for _, p := range pkts {
		l.receiveRTP(p, src, time.Now())
	}
	close(keys)
	var got []byte
	for k := range keys {
		got = append(got, k)
	}
	assert.Equal(t, "22#", string(got))
}

func TestKeyDetectionAllocs(t *testing.T) {
	a, src := bridgedPair(t, newBenchRelay(t, 2))
	a.SetTelephoneEvent(101)
	keys := make(chan byte, 1)
	a.OnDTMF(keys)
	// Two presses in turn, each a new event: every packet reports a key.
	presses := [][]byte{eventPackets(t, 5, 800, 1)[0], eventPackets(t, 6, 1600, 9)[0]}
	pkt := make([]byte, len(presses[0]))
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		copy(pkt, presses[i%2])
		i++
		a.receiveRTP(pkt, src, time.Now())
		<-keys
	})
	assert.Zero(t, allocs)
}

// PlayOnce sends the clip once, then the leg falls silent and done closes.
func TestPlayOnce(t *testing.T) {
	r, _ := newTestRelay(t, 1)
	l := newTestLeg(t, r, PCMU)
	sink := newPhone(t, 1)
	l.SetRemote(sink.addr())
	clip := NewToneSource("prompt", []float64{440}, 0, 100*time.Millisecond) // 5 frames
	done := l.PlayOnce(clip)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("PlayOnce did not finish")
	}
	for i := range clip.Frames() {
		got := sink.recv(t, time.Second)
		assert.Equal(t, clip.Frame(PCMU, i), got.pkt.Payload, "frame %d", i)
	}
	_, err := sink.read(100 * time.Millisecond)
	assert.Error(t, err, "nothing after the clip")
	assert.Equal(t, uint64(clip.Frames()), l.Stats().PlayedFrames)

	// A prompt cut short by Play (or StopPlay) also reports done.
	done = l.PlayOnce(NewToneSource("long", []float64{440}, 0, 10*time.Second))
	l.Play(clip)
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("done not closed when the prompt was replaced")
	}
	l.StopPlay()
}

// FuzzTelephoneEvent feeds arbitrary datagrams to the relay's DTMF path:
// validRTP, then the key detector, as the leg's reader runs them. It
// proves the path cannot panic or read out of bounds on any input; that a
// reported key is a DTMF key follows from the parser, which the unit tests
// above check.
func FuzzTelephoneEvent(f *testing.F) {
	for _, p := range eventPackets(f, 11, 3000, 20) {
		f.Add(p)
	}
	f.Add([]byte{0x90, 101, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 5, 0x80, 0, 160}) // extension
	f.Add([]byte{0xa0, 101, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 5, 0, 0, 160, 0, 0, 3})       // padding
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if !validRTP(pkt) {
			return
		}
		var d dtmfDetector
		first := d.key(pkt)
		if again := d.key(pkt); again != 0 {
			t.Fatalf("the same packet reported a second key %q (first %q)", again, first)
		}
	})
}

// PlayOnceThen goes from the clip to the looped music without a gap.
func TestPlayOnceThen(t *testing.T) {
	r, _ := newTestRelay(t, 1)
	l := newTestLeg(t, r, PCMU)
	sink := newPhone(t, 1)
	l.SetRemote(sink.addr())
	clip := NewToneSource("prompt", []float64{440}, 0, 60*time.Millisecond) // 3 frames
	music := NewToneSource("music", []float64{300, 500}, 20*time.Millisecond, 40*time.Millisecond)
	done := l.PlayOnceThen(clip, music)
	var got [][]byte
	for range clip.Frames() + 2*music.Frames() {
		got = append(got, sink.recv(t, time.Second).pkt.Payload)
	}
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("done not closed after the clip")
	}
	for i := range clip.Frames() {
		assert.Equal(t, clip.Frame(PCMU, i), got[i], "clip frame %d", i)
	}
	for i := range 2 * music.Frames() {
		assert.Equal(t, music.Frame(PCMU, i), got[clip.Frames()+i], "music frame %d", i)
	}
	l.StopPlay()
}
