//go:build !linux

package media

import (
	"net"
	"net/netip"
)

// batchReader reads one datagram at a time where recvmmsg is missing.
type batchReader struct {
	c   *net.UDPConn
	buf [maxPacket]byte
	n   int
	src netip.AddrPort
}

func newBatchReader(c *net.UDPConn) (*batchReader, error) { return &batchReader{c: c}, nil }

func (b *batchReader) next() (int, error) {
	var err error
	b.n, b.src, err = b.c.ReadFromUDPAddrPort(b.buf[:])
	if err != nil {
		return 0, err
	}
	return 1, nil
}

func (b *batchReader) packet(int) ([]byte, netip.AddrPort) { return b.buf[:b.n], b.src }
