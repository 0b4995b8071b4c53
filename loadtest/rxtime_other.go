//go:build !linux

package loadtest

import (
	"errors"
	"net"
)

const oobSize = 0

// enableRxTimestamps is Linux-only; elsewhere delays are taken when the
// receiving goroutine reads the packet.
func enableRxTimestamps(*net.UDPConn) error { return errors.ErrUnsupported }

func rxTimestamp([]byte) (int64, bool) { return 0, false }
