package sip

import (
	"bytes"
	"net"
	"sync/atomic"
)

// Message counters for /metrics: every SIP message this node reads or
// writes, on every transport, by request method or response status. They
// are counted where the bytes pass (the read gate, and the write side of
// the UDP socket, the stream and WebSocket connections), from the first
// line only, without allocating.

// countedMethods are the methods counted by name; the rest count as other.
var countedMethods = [...]string{"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "INFO",
	"REFER", "NOTIFY", "MESSAGE", "SUBSCRIBE", "UPDATE", "PRACK", "PUBLISH", "other"}

const otherMethod = len(countedMethods) - 1

type messageCounters struct {
	reqIn, reqOut [len(countedMethods)]atomic.Uint64
	resIn, resOut [700]atomic.Uint64 // by status code 100-699
}

var sipVersion = []byte("SIP/2.0 ")

// count counts msg (one SIP message, or the start of one) as read or
// written. Anything else (keep-alives, WebSocket frame headers) is not
// counted.
func (m *messageCounters) count(msg []byte, out bool) {
	if bytes.HasPrefix(msg, sipVersion) {
		if len(msg) < len(sipVersion)+3 {
			return
		}
		code := 0
		for _, c := range msg[len(sipVersion) : len(sipVersion)+3] {
			if c < '0' || c > '9' {
				return
			}
			code = code*10 + int(c-'0')
		}
		if code < 100 || code > 699 {
			return
		}
		if out {
			m.resOut[code].Add(1)
		} else {
			m.resIn[code].Add(1)
		}
		return
	}
	sp := bytes.IndexByte(msg, ' ')
	if sp <= 0 || sp > 16 {
		return
	}
	i := otherMethod
	for j, name := range countedMethods[:otherMethod] {
		if string(msg[:sp]) == name {
			i = j
			break
		}
	}
	if out {
		m.reqOut[i].Add(1)
	} else {
		m.reqIn[i].Add(1)
	}
}

// MessageCounts are the SIP messages read and written since start.
type MessageCounts struct {
	RequestsIn, RequestsOut   map[string]uint64 // by method ("other" for the rest)
	ResponsesIn, ResponsesOut map[int]uint64    // by status code
}

// MessageCounts returns the counters; zero counts are left out.
func (s *Server) MessageCounts() MessageCounts {
	m := &s.counters
	mc := MessageCounts{RequestsIn: map[string]uint64{}, RequestsOut: map[string]uint64{},
		ResponsesIn: map[int]uint64{}, ResponsesOut: map[int]uint64{}}
	for i, name := range countedMethods {
		if n := m.reqIn[i].Load(); n > 0 {
			mc.RequestsIn[name] = n
		}
		if n := m.reqOut[i].Load(); n > 0 {
			mc.RequestsOut[name] = n
		}
	}
	for code := 100; code < 700; code++ {
		if n := m.resIn[code].Load(); n > 0 {
			mc.ResponsesIn[code] = n
		}
		if n := m.resOut[code].Load(); n > 0 {
			mc.ResponsesOut[code] = n
		}
	}
	return mc
}

// countingPacketConn counts what sipgo writes on a UDP socket.
type countingPacketConn struct {
	net.PacketConn
	c *messageCounters
}

func (p countingPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	p.c.count(b, true)
	return p.PacketConn.WriteTo(b, addr)
}
