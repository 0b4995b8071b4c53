package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/callwerk/callwerk/internal/testlog"
)

// checkGoroutines fails the test if goroutines started during it are still
// running once its other cleanups have run. Call it first in a test.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("goroutines left behind: %d > %d\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// newTestRelay starts a relay on a pool of pairs port pairs of 127.0.0.1
// and stops it (closing all legs) at cleanup.
func newTestRelay(t *testing.T, pairs int, opts ...Option) (*Relay, *fakeClock) {
	t.Helper()
	pool, clk := newTestPool(t, pairs, time.Minute)
	r, err := NewRelay(pool, zerolog.Nop(), opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return r, clk
}

func newTestLeg(t *testing.T, r *Relay, c Codec) *Leg {
	t.Helper()
	l, err := r.NewLeg(c)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	return l
}

// phone is a plain UDP socket on 127.0.0.1 that speaks RTP.
type phone struct {
	conn *net.UDPConn
	ssrc uint32
	seq  uint16
	ts   uint32
}

func newPhone(t *testing.T, ssrc uint32) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &phone{conn: c, ssrc: ssrc, seq: uint16(ssrc), ts: ssrc * 7}
}

func (p *phone) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// send sends one 20 ms PCMU packet with payload (padded to 160 bytes).
func (p *phone) send(to netip.AddrPort, payload []byte) error {
	pl := make([]byte, frameSamples)
	copy(pl, payload)
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc}, Payload: pl}).Marshal()
	if err != nil {
		return err
	}
	p.seq++
	p.ts += frameSamples
	_, err = p.conn.WriteToUDPAddrPort(b, to)
	return err
}

type received struct {
	pkt rtp.Packet
	at  time.Time
}

// recv reads one RTP packet or fails the test after timeout.
func (p *phone) recv(t *testing.T, timeout time.Duration) received {
	t.Helper()
	r, err := p.read(timeout)
	require.NoError(t, err)
	return r
}

func (p *phone) read(timeout time.Duration) (received, error) {
	buf := make([]byte, maxPacket)
	if err := p.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return received{}, err
	}
	n, err := p.conn.Read(buf)
	if err != nil {
		return received{}, err
	}
	var r received
	r.at = time.Now()
	err = r.pkt.Unmarshal(buf[:n])
	return r, err
}

// collect reads packets until stop is closed and the socket has been quiet
// for quiet; it runs on its own goroutine and hands back the packets.
func (p *phone) collect(stop <-chan struct{}, quiet time.Duration) <-chan []received {
	out := make(chan []received, 1)
	go func() {
		var got []received
		for {
			r, err := p.read(quiet)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					select {
					case <-stop:
						out <- got
						return
					default:
						continue
					}
				}
				out <- got
				return
			}
			got = append(got, r)
		}
	}()
	return out
}

// tagged returns a payload "<tag><index>" so a receiver can tell who sent
// which packet.
func tagged(tag byte, i int) []byte {
	return []byte{tag, byte(i >> 8), byte(i)}
}

func tagOf(r received) (byte, int) {
	p := r.pkt.Payload
	if len(p) < 3 {
		return 0, -1
	}
	return p[0], int(p[1])<<8 | int(p[2])
}

// TestRelayEndToEnd: a member hears hold music, is bridged to an agent, and
// both phones then talk for 3 s (150 packets each at 20 ms) through the
// relay, while a stranger sprays packets at the member's port.
func TestRelayEndToEnd(t *testing.T) {
	checkGoroutines(t)
	r, _ := newTestRelay(t, 4)
	member := newTestLeg(t, r, PCMU)
	agent := newTestLeg(t, r, PCMU)
	memberPhone := newPhone(t, 0x11111111)
	agentPhone := newPhone(t, 0x22222222)
	stranger := newPhone(t, 0x33333333)
	member.SetRemote(memberPhone.addr())
	agent.SetRemote(agentPhone.addr())

	stopM, stopA := make(chan struct{}), make(chan struct{})
	memberGot := memberPhone.collect(stopM, 300*time.Millisecond)

	// Hold music.
	music := NewToneSource("hold", []float64{440, 550}, 200*time.Millisecond, 2*time.Second)
	member.Play(music)
	// The member's phone talks during the music: the leg latches onto it,
	// and the packets are dropped (not bridged).
	for i := range 5 {
		require.NoError(t, memberPhone.send(member.LocalAddr(), tagged('m', i)))
	}
	require.Eventually(t, func() bool { return member.Stats().Dropped >= 5 }, time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return member.Stats().PlayedFrames >= 15 }, 2*time.Second, 10*time.Millisecond)

	require.NoError(t, Bridge(member, agent))
	droppedAtBridge := member.Stats().Dropped
	agentGot := agentPhone.collect(stopA, 300*time.Millisecond)

	// Both phones talk; the stranger sprays the member's port.
	const n = 150
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	talk := func(p *phone, to netip.AddrPort, tag byte, count int) {
		defer wg.Done()
		tick := time.NewTicker(frameDuration)
		defer tick.Stop()
		for i := range count {
			if err := p.send(to, tagged(tag, i)); err != nil {
				errs <- err
				return
			}
			<-tick.C
		}
	}
	wg.Add(3)
	go talk(memberPhone, member.LocalAddr(), 'M', n)
	go talk(agentPhone, agent.LocalAddr(), 'A', n)
	go talk(stranger, member.LocalAddr(), 'X', 20)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	close(stopM)
	close(stopA)
	toMember, toAgent := <-memberGot, <-agentGot

	t.Run("agent hears the member", func(t *testing.T) {
		assertStream(t, toAgent, 'M', n)
		require.NotEmpty(t, toAgent)
		assert.True(t, toAgent[0].pkt.Marker, "first packet of the agent's stream")
		for _, p := range toAgent {
			tag, _ := tagOf(p)
			assert.NotEqual(t, byte('X'), tag, "a stranger's packet was forwarded")
			assert.NotEqual(t, byte('m'), tag, "a packet from before the bridge was forwarded")
		}
	})

	t.Run("member hears music then the agent", func(t *testing.T) {
		// Split at the first agent packet.
		k := -1
		for i, p := range toMember {
			if tag, _ := tagOf(p); tag == 'A' {
				k = i
				break
			}
		}
		require.Greater(t, k, 10, "music frames before the agent")
		music, talk := toMember[:k], toMember[k:]

		// Music: consecutive frames of the source, paced by the clock.
		var gaps []time.Duration
		for i, p := range music {
			assert.Equal(t, uint8(0), p.pkt.PayloadType)
			assert.Equal(t, music[0].pkt.SSRC, p.pkt.SSRC)
			if i > 0 {
				assert.Equal(t, music[i-1].pkt.SequenceNumber+1, p.pkt.SequenceNumber)
				assert.Equal(t, music[i-1].pkt.Timestamp+frameSamples, p.pkt.Timestamp)
				gaps = append(gaps, p.at.Sub(music[i-1].at))
			}
		}
		assert.Equal(t, member.Stats().PlayedFrames, uint64(len(music)))
		assert.True(t, bytes.Equal(musicFrame(music[0]), music[0].pkt.Payload))
		sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
		median := gaps[len(gaps)/2]
		assert.InDelta(t, float64(frameDuration), float64(median), float64(5*time.Millisecond), "median gap between music frames %v", median)

		// The switch: same SSRC, seq +1, timestamp forward by at least a frame, marker.
		last, first := music[k-1].pkt, talk[0].pkt
		assert.Equal(t, last.SSRC, first.SSRC, "one SSRC for the member's whole call")
		assert.Equal(t, last.SequenceNumber+1, first.SequenceNumber)
		assert.GreaterOrEqual(t, first.Timestamp-last.Timestamp, uint32(frameSamples))
		assert.True(t, first.Marker, "marker on the first agent packet")
		assertStream(t, talk, 'A', n)
	})

	t.Run("counters", func(t *testing.T) {
		ms, as := member.Stats(), agent.Stats()
		assert.GreaterOrEqual(t, ms.Dropped-droppedAtBridge, uint64(20), "stranger's packets dropped")
		assert.GreaterOrEqual(t, ms.RxPackets, uint64(n+20+5))
		assert.GreaterOrEqual(t, as.TxPackets, uint64(n*95/100))
		assert.GreaterOrEqual(t, ms.TxPackets, uint64(n*95/100)+ms.PlayedFrames)
		assert.Zero(t, as.PlayedFrames)
	})
}

// musicFrame is the hold source's first frame (what the member hears first).
func musicFrame(r received) []byte {
	return NewToneSource("hold", []float64{440, 550}, 200*time.Millisecond, 2*time.Second).Frame(PCMU, 0)
}

// assertStream checks a received stream of count tagged packets: at least
// 95 % arrived, one SSRC, sequence numbers and timestamps that follow the
// sender's (+1 and +160 per packet, gaps for losses).
func assertStream(t *testing.T, got []received, tag byte, count int) {
	t.Helper()
	seen := map[int]bool{}
	var prevIdx int
	var prev *rtp.Packet
	for _, r := range got {
		g, idx := tagOf(r)
		if g != tag {
			continue
		}
		seen[idx] = true
		if prev != nil {
			d := idx - prevIdx
			assert.Equal(t, prev.SSRC, r.pkt.SSRC, "SSRC changed")
			assert.Equal(t, prev.SequenceNumber+uint16(d), r.pkt.SequenceNumber, "seq after %d", prevIdx)
			assert.Equal(t, prev.Timestamp+uint32(d*frameSamples), r.pkt.Timestamp, "timestamp after %d", prevIdx)
		}
		pkt := r.pkt
		prev, prevIdx = &pkt, idx
	}
	assert.GreaterOrEqual(t, len(seen), count*95/100, "%c packets received: %d of %d", tag, len(seen), count)
}

func TestLatching(t *testing.T) {
	sig := netip.MustParseAddrPort("192.0.2.10:4000")
	sameIPOtherPort := netip.MustParseAddrPort("192.0.2.10:5555")
	otherIP := netip.MustParseAddrPort("198.51.100.9:4000")
	natSig := netip.MustParseAddrPort("192.168.1.50:10260")
	cgnatSig := netip.MustParseAddrPort("100.72.1.2:4000")
	cases := []struct {
		name      string
		latchAny  bool
		signalled netip.AddrPort
		packets   []netip.AddrPort
		want      []bool
		wantDest  netip.AddrPort
	}{
		{"signalled address latches", false, sig, []netip.AddrPort{sig, sig}, []bool{true, true}, sig},
		{"same IP other port latches (NAT)", false, sig, []netip.AddrPort{sameIPOtherPort, sig}, []bool{true, false}, sameIPOtherPort},
		{"other IP cannot latch", false, sig, []netip.AddrPort{otherIP, sig, otherIP}, []bool{false, true, false}, sig},
		{"nothing latches before SetRemote", false, netip.AddrPort{}, []netip.AddrPort{sig}, []bool{false}, netip.AddrPort{}},
		{"private SDP address (NAT): first source latches", false, natSig, []netip.AddrPort{otherIP, natSig}, []bool{true, false}, otherIP},
		{"CGNAT SDP address: first source latches", false, cgnatSig, []netip.AddrPort{otherIP, cgnatSig}, []bool{true, false}, otherIP},
		{"any source: first packet latches", true, sig, []netip.AddrPort{otherIP, sig}, []bool{true, false}, otherIP},
		{"any source: before SetRemote", true, netip.AddrPort{}, []netip.AddrPort{otherIP, otherIP}, []bool{true, true}, otherIP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &Leg{relay: &Relay{latchAny: tc.latchAny}}
			l.remote.Store(&remote{})
			l.SetRemote(tc.signalled)
			for i, src := range tc.packets {
				assert.Equal(t, tc.want[i], l.acceptSource(src), "packet %d from %v", i, src)
			}
			dst, ok := l.dest()
			assert.Equal(t, tc.wantDest.IsValid(), ok)
			assert.Equal(t, tc.wantDest, dst)
		})
	}
}

// TestSetRemoteReinvite: a re-INVITE that moves the far end redirects the
// leg's stream, even after it latched (livekit/sip#661).
func TestSetRemoteReinvite(t *testing.T) {
	checkGoroutines(t)
	r, _ := newTestRelay(t, 2)
	leg := newTestLeg(t, r, PCMA)
	old, moved := newPhone(t, 1), newPhone(t, 2)
	leg.SetRemote(old.addr())
	leg.Play(NewToneSource("t", []float64{300}, time.Second, time.Second))
	first := old.recv(t, time.Second)
	assert.Equal(t, uint8(8), first.pkt.PayloadType)
	require.NoError(t, old.send(leg.LocalAddr(), nil)) // latch onto old
	require.Eventually(t, func() bool { return leg.Stats().Dropped == 1 }, time.Second, 5*time.Millisecond)

	leg.SetRemote(old.addr()) // a session refresh with the same SDP keeps the latch
	leg.SetRemote(moved.addr())
	got := moved.recv(t, time.Second)
	assert.Equal(t, first.pkt.SSRC, got.pkt.SSRC)

	leg.SetRemote(netip.MustParseAddrPort("0.0.0.0:4000")) // RFC 2543 hold: stop sending
	time.Sleep(3 * frameDuration)                          // let frames in flight arrive, then drain
	for {
		if _, err := moved.read(10 * time.Millisecond); err != nil {
			break
		}
	}
	_, err := moved.read(5 * frameDuration)
	assert.Error(t, err, "nothing sent while the remote is c=0.0.0.0")
}

func TestBridgeErrors(t *testing.T) {
	r, _ := newTestRelay(t, 6)
	a, b, c := newTestLeg(t, r, PCMU), newTestLeg(t, r, PCMU), newTestLeg(t, r, PCMU)
	alaw := newTestLeg(t, r, PCMA)
	closed, err := r.NewLeg(PCMU)
	require.NoError(t, err)
	require.NoError(t, closed.Close())
	require.NoError(t, closed.Close(), "Close is idempotent")
	require.NoError(t, Bridge(a, b))

	cases := []struct {
		name    string
		x, y    *Leg
		wantErr error
		wantMsg string
	}{
		{"self", c, c, nil, "itself"},
		{"nil", c, nil, nil, "nil leg"},
		{"codec mismatch", c, alaw, ErrCodecMismatch, ""},
		{"already bridged", a, c, ErrAlreadyBridged, ""},
		{"already bridged, other side", c, b, ErrAlreadyBridged, ""},
		{"closed", c, closed, ErrLegClosed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Bridge(tc.x, tc.y)
			require.Error(t, err)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			}
			assert.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

// TestCloseUnbridgesPeer: when the agent hangs up, the member's leg keeps
// running: its packets are dropped, it can play again and be bridged to the
// next agent.
func TestCloseUnbridgesPeer(t *testing.T) {
	checkGoroutines(t)
	r, _ := newTestRelay(t, 4)
	member := newTestLeg(t, r, PCMU)
	agent, err := r.NewLeg(PCMU)
	require.NoError(t, err)
	memberPhone := newPhone(t, 1)
	member.SetRemote(memberPhone.addr())
	require.NoError(t, Bridge(member, agent))
	require.NoError(t, agent.Close())

	require.NoError(t, memberPhone.send(member.LocalAddr(), nil))
	require.Eventually(t, func() bool { return member.Stats().Dropped == 1 }, time.Second, 5*time.Millisecond)

	member.Play(NewToneSource("t", []float64{300}, time.Second, time.Second))
	memberPhone.recv(t, time.Second)
	next := newTestLeg(t, r, PCMU)
	require.NoError(t, Bridge(member, next))
}

// TestPlayOverBridge: Play on a bridged leg puts the peer on hold (the far
// end hears the music, not the peer); StopPlay gives the peer back.
func TestPlayOverBridge(t *testing.T) {
	checkGoroutines(t)
	r, _ := newTestRelay(t, 4)
	member, agent := newTestLeg(t, r, PCMU), newTestLeg(t, r, PCMU)
	memberPhone, agentPhone := newPhone(t, 1), newPhone(t, 2)
	member.SetRemote(memberPhone.addr())
	agent.SetRemote(agentPhone.addr())
	require.NoError(t, Bridge(member, agent))

	music := NewToneSource("t", []float64{300}, time.Second, time.Second)
	member.Play(music)
	got := memberPhone.recv(t, time.Second)
	assert.Equal(t, music.Frame(PCMU, 0), got.pkt.Payload)
	require.NoError(t, agentPhone.send(agent.LocalAddr(), tagged('A', 0)))
	require.Eventually(t, func() bool { return agent.Stats().Dropped == 1 }, time.Second, 5*time.Millisecond, "agent's packet is not sent over the music")

	member.StopPlay()
	// Frames in flight may still arrive; then the agent's packet, with a marker.
	require.NoError(t, agentPhone.send(agent.LocalAddr(), tagged('A', 1)))
	for {
		p := memberPhone.recv(t, time.Second)
		if tag, _ := tagOf(p); tag == 'A' {
			assert.True(t, p.pkt.Marker)
			assert.Equal(t, got.pkt.SSRC, p.pkt.SSRC)
			break
		}
	}
}

func TestDropsNonRTP(t *testing.T) {
	r, _ := newTestRelay(t, 2)
	leg := newTestLeg(t, r, PCMU)
	p := newPhone(t, 1)
	leg.SetRemote(p.addr())
	for _, b := range [][]byte{
		[]byte("hello"),
		{0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1},   // RTP version 1
		{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0}, // RTCP SR on the RTP port
	} {
		_, err := p.conn.WriteToUDPAddrPort(b, leg.LocalAddr())
		require.NoError(t, err)
	}
	rtcp := netip.AddrPortFrom(leg.LocalAddr().Addr(), leg.LocalAddr().Port()+1)
	_, err := p.conn.WriteToUDPAddrPort([]byte{0x80, 201, 0, 1, 0, 0, 0, 1}, rtcp)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s := leg.Stats()
		return s.Dropped == 3 && s.RxPackets == 3 && s.RTCPPackets == 1
	}, time.Second, 5*time.Millisecond)
	// None of them latched the leg: a real packet from elsewhere on the
	// signalled IP still can.
	assert.True(t, leg.acceptSource(netip.AddrPortFrom(loopback, 9)))
}

// TestRunClosesLegs: cancelling Run closes every leg and stops every
// goroutine; the relay then refuses new legs.
func TestRunClosesLegs(t *testing.T) {
	checkGoroutines(t)
	pool, _ := newTestPool(t, 3, time.Minute)
	r, err := NewRelay(pool, zerolog.Nop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	a, err := r.NewLeg(PCMU)
	require.NoError(t, err)
	b, err := r.NewLeg(PCMU)
	require.NoError(t, err)
	require.NoError(t, Bridge(a, b))
	a.Play(NewToneSource("t", []float64{300}, time.Second, time.Second)) // hold over the bridge
	require.Eventually(t, r.running.Load, time.Second, time.Millisecond)
	require.Error(t, r.Run(ctx), "Run runs once")

	cancel()
	require.NoError(t, <-done)
	assert.True(t, a.closed.Load())
	assert.True(t, b.closed.Load())
	assert.NoError(t, a.Close())
	_, err = r.NewLeg(PCMU)
	assert.ErrorIs(t, err, ErrRelayClosed)
	assert.Equal(t, 1, pool.Available(), "closed legs' ports are quarantined, the unused pair is free")
}

// TestLegPortQuarantine: a closed leg's ports are not handed out again
// within the quarantine time.
func TestLegPortQuarantine(t *testing.T) {
	r, clk := newTestRelay(t, 2)
	first, err := r.NewLeg(PCMU)
	require.NoError(t, err)
	port := first.LocalAddr().Port()
	require.NoError(t, first.Close())

	second := newTestLeg(t, r, PCMU)
	assert.NotEqual(t, port, second.LocalAddr().Port())
	_, err = r.NewLeg(PCMU)
	require.ErrorIs(t, err, ErrNoPorts)

	clk.Advance(59 * time.Second)
	_, err = r.NewLeg(PCMU)
	require.ErrorIs(t, err, ErrNoPorts)
	clk.Advance(time.Second)
	third := newTestLeg(t, r, PCMU)
	assert.Equal(t, port, third.LocalAddr().Port())
}

func TestNewLegRejectsOtherCodecs(t *testing.T) {
	r, _ := newTestRelay(t, 1)
	_, err := r.NewLeg(Codec{PT: 9, Name: "G722"})
	assert.ErrorContains(t, err, "unsupported codec")
}

func TestTelephoneEventPT(t *testing.T) {
	r, _ := newTestRelay(t, 2)
	a, b := newTestLeg(t, r, PCMU), newTestLeg(t, r, PCMU)
	sink := newPhone(t, 9)
	b.SetRemote(sink.addr())
	a.SetTelephoneEvent(101)
	b.SetTelephoneEvent(96)
	require.NoError(t, Bridge(a, b))
	src := netip.MustParseAddrPort("127.0.0.1:7000")
	a.SetRemote(src)
	for _, pt := range []uint8{101, 0, 13} {
		pkt := rtpPacket(t, rtp.Header{PayloadType: pt, SequenceNumber: uint16(pt), SSRC: 5}, []byte{1, 2, 3, 4})
		a.receiveRTP(pkt, src, time.Now())
	}
	for _, want := range []uint8{96, 0, 13} {
		got := sink.recv(t, time.Second)
		assert.Equal(t, want, got.pkt.PayloadType)
	}
}

// bridgedPair returns two bridged legs, a latched onto src, b sending to a
// sink that nobody reads (the kernel drops what overflows).
func bridgedPair(tb testing.TB, r *Relay) (a *Leg, src netip.AddrPort) {
	tb.Helper()
	a, err := r.NewLeg(PCMU)
	require.NoError(tb, err)
	b, err := r.NewLeg(PCMU)
	require.NoError(tb, err)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(tb, err)
	tb.Cleanup(func() {
		assert.NoError(tb, a.Close())
		assert.NoError(tb, b.Close())
		_ = sink.Close()
	})
	src = netip.MustParseAddrPort("127.0.0.1:7000")
	a.SetRemote(src)
	b.SetRemote(sink.LocalAddr().(*net.UDPAddr).AddrPort())
	require.NoError(tb, Bridge(a, b))
	return a, src
}

func newBenchRelay(tb testing.TB, pairs int) *Relay {
	tb.Helper()
	// A quarter more pairs than needed: the range lies among the ephemeral
	// ports, and other packages' sockets may hold a few of them.
	spare := pairs/4 + 8
	base := testPortBase(pairs + spare)
	pool, err := NewPortPool(loopback, base, base+2*(pairs+spare)-1, time.Minute)
	require.NoError(tb, err)
	r, err := NewRelay(pool, zerolog.Nop())
	require.NoError(tb, err)
	return r
}

// TestForwardAllocs proves the per-packet path allocates nothing.
func TestForwardAllocs(t *testing.T) {
	a, src := bridgedPair(t, newBenchRelay(t, 2))
	tmpl := rtpPacket(t, rtp.Header{PayloadType: 0, SSRC: 0xABC}, make([]byte, 160))
	pkt := make([]byte, len(tmpl))
	a.receiveRTP(append([]byte(nil), tmpl...), src, time.Now()) // latch (allocates once)
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		copy(pkt, tmpl)
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		a.receiveRTP(pkt, src, time.Now())
	})
	assert.Zero(t, allocs)
	assert.GreaterOrEqual(t, a.peer.Load().leg.Stats().TxPackets, uint64(1000))
	assert.Zero(t, a.Stats().Dropped)
}

func TestPlayerTickAllocs(t *testing.T) {
	r := newBenchRelay(t, 1)
	l, err := r.NewLeg(PCMA)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })
	sink := newPhone(t, 1)
	l.SetRemote(sink.addr())
	l.Play(NewToneSource("t", []float64{300}, time.Second, time.Second))
	allocs := testing.AllocsPerRun(100, func() { r.tick(time.Now()) })
	assert.Zero(t, allocs)
	assert.GreaterOrEqual(t, l.Stats().PlayedFrames, uint64(100))
}

// BenchmarkForward: one packet through the relay (validate, source check,
// header rewrite, sendto on loopback).
func BenchmarkForward(b *testing.B) {
	a, src := bridgedPair(b, newBenchRelay(b, 2))
	tmpl := rtpPacket(b, rtp.Header{PayloadType: 0, SSRC: 0xABC}, make([]byte, 160))
	pkt := make([]byte, len(tmpl))
	a.receiveRTP(append([]byte(nil), tmpl...), src, time.Now())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		copy(pkt, tmpl)
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		a.receiveRTP(pkt, src, time.Now())
	}
}

// BenchmarkPlayerTick: one tick of the relay clock with 1,000 legs playing
// hold music (1,000 sendto calls).
func BenchmarkPlayerTick(b *testing.B) {
	const players = 1000
	r := newBenchRelay(b, players)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = sink.Close() })
	music := NewToneSource("hold", []float64{440, 550, 660}, 300*time.Millisecond, 6*time.Second)
	for range players {
		l, err := r.NewLeg(PCMU)
		require.NoError(b, err)
		b.Cleanup(func() { _ = l.Close() })
		l.SetRemote(sink.LocalAddr().(*net.UDPAddr).AddrPort())
		l.Play(music)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.tick(time.Now())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*players), "ns/frame")
}

// TestUnexpectedSourceLogIsRateLimited: a flood from a wrong source is
// counted packet by packet but logged at most 5 times a second.
func TestUnexpectedSourceLogIsRateLimited(t *testing.T) {
	var logs testlog.Buffer
	pool, _ := newTestPool(t, 1, time.Minute)
	r, err := NewRelay(pool, zerolog.New(&logs).Level(zerolog.WarnLevel).With().Str("component", "media").Logger())
	require.NoError(t, err)
	leg, err := r.NewLeg(PCMU)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, leg.Close()) })
	phoneAddr := netip.MustParseAddrPort("127.0.0.1:7000")
	leg.SetRemote(phoneAddr)
	pkt := rtpPacket(t, rtp.Header{PayloadType: 0, SSRC: 1}, make([]byte, 160))
	leg.receiveRTP(append([]byte(nil), pkt...), phoneAddr, time.Now()) // latch
	for i := range 100 {
		leg.receiveRTP(append([]byte(nil), pkt...), netip.AddrPortFrom(loopback, uint16(8000+i)), time.Now())
	}
	assert.Equal(t, uint64(101), leg.Stats().Dropped)
	assert.Equal(t, 5, strings.Count(logs.String(), "rtp from unexpected source dropped"))
	assert.Contains(t, logs.String(), `"component":"media"`)
	assert.Contains(t, logs.String(), `"latched":"127.0.0.1:7000"`)
}

// BenchmarkSendtoBaseline is a bare sendto on the same loopback path, to
// read BenchmarkForward against: the difference is the relay's own cost.
func BenchmarkSendtoBaseline(b *testing.B) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(b, err)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = c.Close(); _ = sink.Close() })
	dst := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt := make([]byte, rtpHeaderLen+frameSamples)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.WriteToUDPAddrPort(pkt, dst)
	}
}
