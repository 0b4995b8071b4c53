package media

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func udpPair(t testing.TB, network, ip string) (recv, send *net.UDPConn) {
	t.Helper()
	var err error
	recv, err = net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Skipf("no %s on this machine: %v", network, err) // IPv6 loopback may be off
	}
	send, err = net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(ip)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = recv.Close(); _ = send.Close() })
	return recv, send
}

// What is queued comes out in order with each datagram's own source, IPv4
// and IPv6 alike, in as few reads as the batch allows.
func TestBatchReader(t *testing.T) {
	for _, tc := range []struct{ network, ip string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		t.Run(tc.network, func(t *testing.T) {
			recv, a := udpPair(t, tc.network, tc.ip)
			_, b := udpPair(t, tc.network, tc.ip)
			to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
			from := map[byte]netip.AddrPort{}
			for i := range byte(5) {
				c := a
				if i%2 == 1 {
					c = b
				}
				_, err := c.WriteToUDPAddrPort([]byte{i, 'x', 'y'}, to)
				require.NoError(t, err)
				from[i] = c.LocalAddr().(*net.UDPAddr).AddrPort()
			}
			br, err := newBatchReader(recv)
			require.NoError(t, err)
			var got []byte
			reads := 0
			for len(got) < 5 {
				n, err := br.next()
				require.NoError(t, err)
				reads++
				for i := range n {
					pkt, src := br.packet(i)
					require.Len(t, pkt, 3)
					assert.Equal(t, from[pkt[0]], src, "source of datagram %d", pkt[0])
					got = append(got, pkt[0])
				}
			}
			assert.Equal(t, []byte{0, 1, 2, 3, 4}, got)
			if readBatch > 1 {
				assert.Equal(t, 1, reads, "five queued datagrams in one read")
			}
		})
	}
}

// A datagram longer than the buffer is cut to maxPacket, as a plain read
// cuts it, and the next one is read whole.
func TestBatchReaderLongDatagram(t *testing.T) {
	recv, send := udpPair(t, "udp4", "127.0.0.1")
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	_, err := send.WriteToUDPAddrPort(make([]byte, 3000), to)
	require.NoError(t, err)
	_, err = send.WriteToUDPAddrPort([]byte("ok"), to)
	require.NoError(t, err)
	br, err := newBatchReader(recv)
	require.NoError(t, err)
	var sizes []int
	for len(sizes) < 2 {
		n, err := br.next()
		require.NoError(t, err)
		for i := range n {
			pkt, _ := br.packet(i)
			sizes = append(sizes, len(pkt))
		}
	}
	assert.Equal(t, []int{maxPacket, 2}, sizes)
}

func TestBatchReaderAllocs(t *testing.T) {
	recv, send := udpPair(t, "udp4", "127.0.0.1")
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	br, err := newBatchReader(recv)
	require.NoError(t, err)
	pkt := make([]byte, rtpHeaderLen+frameSamples)
	allocs := testing.AllocsPerRun(200, func() {
		_, _ = send.WriteToUDPAddrPort(pkt, to)
		n, err := br.next()
		if err != nil || n != 1 {
			t.Fatalf("read %d, %v", n, err)
		}
		_, _ = br.packet(0)
	})
	assert.Zero(t, allocs)
}

// BenchmarkReceive reads bursts of readBatch queued RTP datagrams: one at a
// time (ReadFromUDPAddrPort, as before) and in batches (recvmmsg). ns/op
// is per datagram, the send included.
func BenchmarkReceive(b *testing.B) {
	recv, send := udpPair(b, "udp4", "127.0.0.1")
	to := recv.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt := make([]byte, rtpHeaderLen+frameSamples)
	burst := func() {
		for range readBatch {
			_, _ = send.WriteToUDPAddrPort(pkt, to)
		}
	}
	b.Run("single", func(b *testing.B) {
		buf := make([]byte, maxPacket)
		b.ReportAllocs()
		for b.Loop() {
			burst()
			for range readBatch {
				if _, _, err := recv.ReadFromUDPAddrPort(buf); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*readBatch), "ns/datagram")
	})
	b.Run("batch", func(b *testing.B) {
		br, err := newBatchReader(recv)
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			burst()
			for got := 0; got < readBatch; {
				n, err := br.next()
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*readBatch), "ns/datagram")
	})
}
