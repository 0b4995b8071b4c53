package loadtest

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	assert.Equal(t, Percentiles{}, h.Percentiles(), "empty")
	for i := 1; i <= 1000; i++ { // 1 µs .. 1 ms
		h.Record(time.Duration(i) * time.Microsecond)
	}
	h.Record(-time.Second) // a clock step: counted as 0
	h.Record(50 * time.Millisecond)
	h.Record(time.Hour) // overflow bucket
	p := h.Percentiles()
	assert.Equal(t, 1003, p.N)
	assert.Equal(t, 510*time.Microsecond, p.P50, "rank 502 is 501 µs, in the 500-510 µs bucket")
	assert.Equal(t, 1000*time.Microsecond, p.P99, "rank 993 is 992 µs, in the 990-1000 µs bucket")
	assert.Equal(t, time.Hour, p.Max)
	assert.Equal(t, 51*time.Millisecond, h.Quantile(1002.0/1003), "1 ms buckets past 10 ms")
	assert.Equal(t, time.Hour, h.Quantile(1), "the overflow bucket reports the maximum")
}

// frame builds one of our tagged packets.
func frame(ssrc, id uint32, seq uint16, tag Tag, counter uint32, sent time.Time) *rtp.Packet {
	pl := make([]byte, frameSize)
	copy(pl, magic[:])
	pl[offTag] = byte(tag)
	binary.BigEndian.PutUint64(pl[offSent:], uint64(sent.UnixNano()))
	binary.BigEndian.PutUint32(pl[offCounter:], counter)
	binary.BigEndian.PutUint32(pl[offStream:], id)
	return &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: ssrc, SequenceNumber: seq}, Payload: pl}
}

// Loss is counted inside each stream's window of frame counters, whenever
// the receiver started listening, and per sender even under one SSRC (the
// relay sends the player's and every agent's audio as one stream).
func TestLossWindowPerStream(t *testing.T) {
	p := &RTPPeer{ssrcs: make(map[uint32]bool), streams: make(map[uint32]*stream),
		st: RTPStats{ByTag: make(map[Tag]uint64), Expected: make(map[Tag]uint64), FirstTagged: make(map[Tag]int)}}
	now := time.Now()
	for _, c := range []uint32{100, 101, 103, 102, 105} { // 104 lost, 102 late
		p.record(frame(1, 7, uint16(c), TagAgent, c, now), now.UnixNano())
	}
	for _, c := range []uint32{0, 1, 2} { // a second agent, same SSRC, nothing lost
		p.record(frame(1, 8, uint16(200+c), TagAgent, c, now), now.UnixNano())
	}
	untagged := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 3}, Payload: make([]byte, frameSize)}
	p.record(untagged, now.UnixNano())
	st := p.Stats()
	assert.EqualValues(t, 6+3, st.Expected[TagAgent])
	assert.EqualValues(t, 5+3, st.ByTag[TagAgent])
	assert.EqualValues(t, 1, st.ByTag[TagNone])
	assert.Zero(t, st.Expected[TagNone], "the player's audio has no window")
	assert.Equal(t, 2, st.SSRCs)
}

// Two peers on loopback, no server between them: every frame arrives,
// delays are stamped by the kernel and come out tiny, and the shared
// clock keeps 50 frames a second per sender.
func TestPeersOnLoopback(t *testing.T) {
	var h Histogram
	a, err := NewRTPPeer(TagMember, 0, nil)
	require.NoError(t, err)
	b, err := NewRTPPeer(TagAgent, 0, &h)
	require.NoError(t, err)
	c, err := NewRTPPeer(TagAgent, 0, nil)
	require.NoError(t, err)
	a.Send(b.Addr())
	c.Send(netip.MustParseAddrPort("127.0.0.1:9")) // a second sender on the clock (discard port)
	time.Sleep(time.Second)
	a.Close()
	c.Close()
	time.Sleep(50 * time.Millisecond)
	b.Close()

	st := b.Stats()
	sent := a.Stats().Sent
	assert.InDelta(t, 50, float64(sent), 5, "50 frames a second")
	assert.Equal(t, sent, st.ByTag[TagMember], "loopback loses nothing")
	assert.Equal(t, sent, st.Expected[TagMember])
	assert.Zero(t, st.SeqJumps)
	p := h.Percentiles()
	assert.EqualValues(t, sent, p.N)
	assert.Less(t, p.P50, time.Millisecond, "a direct loopback hop")
	assert.Zero(t, pacer.n, "the clock stops with its last sender")
}

func TestRxTimestampParsing(t *testing.T) {
	_, ok := rxTimestamp(nil)
	assert.False(t, ok)
	_, ok = rxTimestamp([]byte{1, 2, 3})
	assert.False(t, ok)
	_, ok = rxTimestamp(make([]byte, 64)) // a header with length 0
	assert.False(t, ok)
}
