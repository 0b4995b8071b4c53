package media

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// RTCP pass-through. RTCP a phone sends on the leg's RTCP port is
// forwarded to the bridged peer's far end, from the peer's RTCP socket,
// with its SSRCs rewritten to match the rewritten RTP (outStream): what the
// far end reads as the sender's SSRC is the SSRC of the stream it receives
// from us, a report block about the stream the phone receives names the
// peer phone's own SSRC, and a sender report's RTP timestamp is moved by
// the same offset as the RTP. Packets from another address than the leg's
// far end are dropped like stray RTP; nothing is forwarded while the leg
// is not bridged. Forwarding does not allocate.

// RTCP packet types this relay rewrites (RFC 3550, RFC 4585, RFC 3611).
const (
	rtcpSR    = 200
	rtcpRR    = 201
	rtcpSDES  = 202
	rtcpBYE   = 203
	rtcpRTPFB = 205
	rtcpPSFB  = 206
	rtcpXR    = 207
)

// validRTCP reports whether pkt is a compound RTCP packet: version 2, a
// first packet of type SR or RR (RFC 3550 §6.1; RFC 5506 reduced-size
// packets start with any type 200-207), and lengths that add up exactly.
func validRTCP(pkt []byte) bool {
	if len(pkt) < 8 || pkt[0]>>6 != 2 || pkt[1] < rtcpSR || pkt[1] > rtcpXR {
		return false
	}
	for off := 0; off < len(pkt); {
		if len(pkt)-off < 4 || pkt[off]>>6 != 2 {
			return false
		}
		n := 4 * (int(binary.BigEndian.Uint16(pkt[off+2:])) + 1)
		if n > len(pkt)-off {
			return false
		}
		off += n
	}
	return true
}

// ssrcMap is what a rewrite needs of the two streams: the SSRC the peer's
// far end knows the sender by (sender), the SSRC of the peer phone's own
// RTP (peer, 0 if unknown), and the RTP timestamp offset of the sender's
// stream as forwarded (tsOff).
type ssrcMap struct {
	sender, peer uint32
	tsOff        uint32
}

// rewriteRTCP rewrites the valid compound packet pkt in place.
func rewriteRTCP(pkt []byte, m ssrcMap) {
	for off := 0; off < len(pkt); {
		p := pkt[off : off+4*(int(binary.BigEndian.Uint16(pkt[off+2:]))+1)]
		count := int(p[0] & 0x1F)
		switch p[1] {
		case rtcpSR:
			putSSRC(p, 4, m.sender)
			if len(p) >= 20 {
				binary.BigEndian.PutUint32(p[16:], binary.BigEndian.Uint32(p[16:])+m.tsOff)
			}
			reportBlocks(p, 28, count, m.peer)
		case rtcpRR:
			putSSRC(p, 4, m.sender)
			reportBlocks(p, 8, count, m.peer)
		case rtcpSDES:
			putSSRC(p, 4, m.sender) // the first chunk: the sender's CNAME
		case rtcpBYE:
			for i := range count {
				putSSRC(p, 4+4*i, m.sender)
			}
		case rtcpRTPFB, rtcpPSFB:
			putSSRC(p, 4, m.sender)
			putSSRC(p, 8, m.peer) // the media source the feedback is about
		case rtcpXR:
			putSSRC(p, 4, m.sender)
		}
		off += len(p)
	}
}

// reportBlocks rewrites the source SSRC of count report blocks of 24 bytes
// starting at off (those that fit).
func reportBlocks(p []byte, off, count int, ssrc uint32) {
	for i := range count {
		putSSRC(p, off+24*i, ssrc)
	}
}

// putSSRC writes ssrc at p[off:] if it fits and ssrc is known.
func putSSRC(p []byte, off int, ssrc uint32) {
	if ssrc != 0 && off+4 <= len(p) {
		binary.BigEndian.PutUint32(p[off:], ssrc)
	}
}

// rtcpMap returns the SSRC mapping for RTCP the far end of leg l sends to
// the far end of to, whose stream carries l's packets as input id.
func rtcpMap(l, to *Leg, id uint64) ssrcMap {
	m := ssrcMap{}
	to.out.mu.Lock()
	m.sender = to.out.ssrc
	if to.out.cur == id {
		m.tsOff = to.out.tsOff
	}
	to.out.mu.Unlock()
	l.out.mu.Lock()
	if l.out.cur != 0 {
		m.peer = l.out.curSSRC
	}
	l.out.mu.Unlock()
	return m
}

// receiveRTCP handles one datagram read on the leg's RTCP socket.
func (l *Leg) receiveRTCP(pkt []byte, src netip.AddrPort) {
	l.rtcpRx.Add(1)
	cur := l.remote.Load()
	far := cur.latched
	if !far.IsValid() {
		far = cur.signalled
	}
	if !far.IsValid() || src.Addr() != far.Addr() {
		return // not from the leg's far end
	}
	sec := l.srtp.Load()
	if sec == nil && l.secureOnly.Load() {
		return // a WebRTC leg before its keys: nothing is authentic yet
	}
	if sec != nil {
		plain, err := sec.in.UnprotectRTCP(pkt)
		if err != nil {
			l.unauthRTCP.Add(1)
			if e := l.drop.Debug(); e.Enabled() {
				e.Err(err).Str("src", src.String()).Msg("srtcp packet refused")
			}
			return
		}
		pkt = plain
	}
	if !validRTCP(pkt) {
		return
	}
	l.rtcpFrom.Store(addrKey(src))
	end := l.peer.Load()
	if end == nil {
		return
	}
	to := end.leg
	conn, dst, ok := to.rtcpOut()
	if !ok {
		return
	}
	rewriteRTCP(pkt, rtcpMap(l, to, end.id))
	if sec := to.srtp.Load(); sec != nil {
		var err error
		if pkt, err = sec.out.ProtectRTCP(pkt); err != nil {
			return
		}
	} else if to.secureOnly.Load() {
		return // no plain RTCP to a WebRTC leg before its keys
	}
	if _, err := conn.WriteToUDPAddrPort(pkt, dst); err == nil {
		to.rtcpTx.Add(1)
	}
}

// rtcpOut is the socket and address the leg sends RTCP from and to: the
// RTP socket and address on a WebRTC leg (rtcp-mux), else the RTCP socket
// and rtcpDest.
func (l *Leg) rtcpOut() (*net.UDPConn, netip.AddrPort, bool) {
	if l.rtc.Load() != nil {
		dst, ok := l.dest()
		return l.rtp, dst, ok
	}
	dst, ok := l.rtcpDest()
	return l.rtcp, dst, ok
}

// rtcpDest is where the leg sends RTCP: where its far end's RTCP came
// from, else the RTP destination's port + 1 (RFC 3550 §11).
func (l *Leg) rtcpDest() (netip.AddrPort, bool) {
	if k := l.rtcpFrom.Load(); k != 0 {
		return keyAddr(k), true
	}
	dst, ok := l.dest()
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(dst.Addr(), dst.Port()+1), true
}

// addrKey packs an IPv4 address and port into one word for an atomic
// store (0 = none); RTCP from IPv6 far ends falls back to port + 1.
func addrKey(ap netip.AddrPort) uint64 {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return uint64(binary.BigEndian.Uint32(b[:]))<<16 | uint64(ap.Port())
}

func keyAddr(k uint64) netip.AddrPort {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(k>>16))
	return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(k))
}
