//go:build linux

package media

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readBatch is how many datagrams one recvmmsg(2) may return. At 50
// packets a second per leg one is the rule; the batch pays off when the
// node is busy and a reader wakes to several.
const readBatch = 8

// batchReader reads a UDP socket with recvmmsg through Go's poller:
// everything queued, up to readBatch datagrams, in one system call, into
// buffers allocated once.
type batchReader struct {
	rc    syscall.RawConn
	read  func(fd uintptr) bool // the poller's callback, made once
	n     int
	errno syscall.Errno
	msgs  [readBatch]unix.Mmsghdr
	iovs  [readBatch]unix.Iovec
	names [readBatch]unix.RawSockaddrInet6
	bufs  [readBatch][maxPacket]byte
}

func newBatchReader(c *net.UDPConn) (*batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batchReader{rc: rc}
	for i := range b.msgs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(maxPacket)
		b.msgs[i].Hdr.Iov = &b.iovs[i]
		b.msgs[i].Hdr.SetIovlen(1)
		b.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	b.read = func(fd uintptr) bool {
		for i := range b.msgs {
			b.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		}
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), readBatch, unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false // nothing yet: the poller waits, then calls again
		}
		b.n, b.errno = int(n), e
		return true
	}
	return b, nil
}

// next blocks until datagrams are there and returns how many; packet(i)
// reads them. An error is the socket's (closed, or a pending ICMP error).
func (b *batchReader) next() (int, error) {
	b.n, b.errno = 0, 0
	if err := b.rc.Read(b.read); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, b.errno
	}
	return b.n, nil
}

// packet returns datagram i of the last batch and its source. A datagram
// longer than maxPacket is cut short; validRTP drops it, as before.
func (b *batchReader) packet(i int) ([]byte, netip.AddrPort) {
	m := &b.msgs[i]
	return b.bufs[i][:min(int(m.Len), maxPacket)], sockaddrPort(&b.names[i], m.Hdr.Namelen)
}

// sockaddrPort reads an IPv4 or IPv6 socket address as ReadFromUDPAddrPort
// reports it, without allocating.
func sockaddrPort(sa *unix.RawSockaddrInet6, n uint32) netip.AddrPort {
	raw := (*[unix.SizeofSockaddrInet6]byte)(unsafe.Pointer(sa))
	port := binary.BigEndian.Uint16(raw[2:4])
	switch sa.Family {
	case unix.AF_INET:
		if n >= unix.SizeofSockaddrInet4 {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[4:8])), port)
		}
	case unix.AF_INET6:
		if n >= unix.SizeofSockaddrInet6 {
			return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port)
		}
	}
	return netip.AddrPort{}
}
