package loadtest

import (
	"net"
	"syscall"
	"unsafe"
)

// oobSize holds one SCM_TIMESTAMPNS control message.
var oobSize = syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{})))

// enableRxTimestamps asks the kernel to stamp each datagram when it
// arrives on c (SO_TIMESTAMPNS, CLOCK_REALTIME like time.Now).
func enableRxTimestamps(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// rxTimestamp finds the SCM_TIMESTAMPNS message in oob and returns its
// time in Unix ns. It reads the headers in place and does not allocate.
func rxTimestamp(oob []byte) (int64, bool) {
	const hdr = syscall.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0, false
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && l >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[syscall.CmsgLen(0)]))
			return ts.Nano(), true
		}
		oob = oob[min(syscall.CmsgSpace(l-hdr), len(oob)):]
	}
	return 0, false
}
