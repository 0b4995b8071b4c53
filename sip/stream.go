package sip

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Stream transports (TCP and TLS; WebSocket in transport.go) get the same checks as
// UDP datagrams, but a stream has no datagram boundary: sipgo's stream
// parser frames it, logs a message it cannot parse whole (caller numbers
// included) and closes the connection without an answer. So the edge
// frames the stream itself, in front of sipgo: each complete message runs
// through Sanity and is answered as on UDP, and only checked messages reach
// sipgo. A stream that cannot be framed (no or a bad Content-Length, a
// message larger than the limit, bytes left when the peer closes) gets one
// answer and is closed, since there is no boundary to resynchronise on.
//
// The listener also caps connections per address and closes a connection
// that sends no complete message within the first-message timeout, so idle
// sockets cannot exhaust the node's file descriptors.

// Default stream limits.
const (
	ConnsPerIP          = 32
	FirstMessageTimeout = 10 * time.Second
)

// StreamLimits configure the stream listeners; zero fields take the
// defaults above.
type StreamLimits struct {
	PerIP        int           // connections one address may hold at once
	FirstMessage time.Duration // time a new connection has to send one complete message
}

func (l StreamLimits) withDefaults() StreamLimits {
	if l.PerIP <= 0 {
		l.PerIP = ConnsPerIP
	}
	if l.FirstMessage <= 0 {
		l.FirstMessage = FirstMessageTimeout
	}
	return l
}

// streamListener wraps a stream listener: it refuses banned sources and
// connections over the per-address cap, and frames what it accepts.
type streamListener struct {
	net.Listener
	s       *Server
	limits  StreamLimits
	network string      // "tcp", "tls", "ws" or "wss", for the logs
	tls     *tls.Config // set: TLS runs between the socket and the framing

	mu    sync.Mutex
	perIP map[netip.Addr]int
}

func newStreamListener(ln net.Listener, s *Server, l StreamLimits, network string, conf *tls.Config) *streamListener {
	return &streamListener{Listener: ln, s: s, limits: l.withDefaults(), network: network, tls: conf, perIP: make(map[netip.Addr]int)}
}

// Accept returns the next connection the limits allow, framed.
func (l *streamListener) Accept() (net.Conn, error) {
	c, src, err := l.accept()
	if err != nil {
		return nil, err
	}
	if l.tls != nil {
		c = tls.Server(c, l.tls) // the handshake runs at the first read, in sipgo's reader for the connection
	}
	return &streamConn{Conn: c, l: l, src: src, max: l.s.maxMessage()}, nil
}

// accept returns the next connection the limits allow, with the
// first-message deadline set; others are closed at once.
func (l *streamListener) accept() (net.Conn, netip.Addr, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, netip.Addr{}, err
		}
		src := netAddr(c.RemoteAddr())
		if l.s.flood.Banned(src) {
			_ = c.Close()
			continue
		}
		if !l.take(src) {
			l.s.parseLog.Warn().Str("security", "connections").Str("source", src.String()).Int("limit", l.limits.PerIP).
				Msg("connection refused: too many from one address")
			_ = c.Close()
			continue
		}
		if err := c.SetReadDeadline(time.Now().Add(l.limits.FirstMessage)); err != nil {
			l.give(src)
			_ = c.Close()
			continue
		}
		return c, src, nil
	}
}

func (l *streamListener) take(src netip.Addr) bool {
	if l.s.flood.exempted(src) {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[src] >= l.limits.PerIP {
		return false
	}
	l.perIP[src]++
	return true
}

func (l *streamListener) give(src netip.Addr) {
	if l.s.flood.exempted(src) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[src]--; l.perIP[src] <= 0 {
		delete(l.perIP, src)
	}
}

// streamConn frames one accepted connection. Read is called by sipgo's one
// reader goroutine for the connection; Write by any goroutine that answers
// or sends on it, so writes are serialised with the edge's own answers.
type streamConn struct {
	net.Conn
	l   *streamListener
	src netip.Addr
	max int

	in      []byte // read, not yet framed
	out     []byte // checked messages not yet handed to sipgo
	started bool   // a complete message arrived: the first-message deadline is off
	err     error  // the stream is over: returned once out is drained

	wmu       sync.Mutex
	closeOnce sync.Once
}

// errStreamClosed ends a stream the edge closes after logging why; sipgo
// takes io.EOF as a quiet close.
var errStreamClosed = io.EOF

// Read hands sipgo checked, complete messages.
func (c *streamConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		c.fill()
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	if len(c.out) == 0 {
		c.out = c.out[:0:0] // drop the reference to a large buffer
	}
	return n, nil
}

// fill reads once from the connection and frames what it can.
func (c *streamConn) fill() {
	var buf [4096]byte
	n, err := c.Conn.Read(buf[:])
	c.in = append(c.in, buf[:n]...)
	c.frameAll()
	if err == nil || c.err != nil {
		return
	}
	if len(c.in) > 0 && !bytes.Equal(c.in, []byte("\r\n")) {
		// The peer closed, or went quiet too long, in the middle of a message.
		v := Sanity(c.in, c.max)
		if v.Status == 0 && !v.Drop {
			v = bad("Bad Request: incomplete message (Content-Length larger than what was sent)")
		}
		c.refuse(c.in, v)
		c.in = nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !c.started {
		c.l.s.parseLog.Info().Str("source", c.src.String()).Dur("timeout", c.l.limits.FirstMessage).
			Msg("connection closed: no SIP message within the first-message timeout")
		err = errStreamClosed
	}
	c.err = err
}

// frameAll takes every complete message off c.in.
func (c *streamConn) frameAll() {
	for c.err == nil && len(c.in) > 0 {
		if k := keepAlive(c.in); k > 0 {
			if k == 4 { // RFC 5626 §3.5.1: a double-CRLF ping gets a CRLF pong
				_, _ = c.write([]byte("\r\n"))
			}
			c.in = c.in[k:]
			continue
		}
		n, v := frame(c.in, c.max)
		if n == 0 && v.Status == 0 {
			return // incomplete: read more
		}
		if v.Status != 0 { // no boundary to go on from
			c.refuse(c.in, v)
			c.in = nil
			c.err = errStreamClosed
			return
		}
		msg := c.in[:n]
		c.in = c.in[n:]
		if !c.admit(msg) {
			c.err = errStreamClosed
			return
		}
		if !c.started {
			c.started = true
			_ = c.Conn.SetReadDeadline(time.Time{})
		}
	}
	if len(c.in) == 0 {
		c.in = c.in[:0:0]
	}
}

// admit checks one framed message: it goes on to sipgo, is answered or
// dropped like a UDP datagram, or (flood, scanner) ends the connection.
func (c *streamConn) admit(msg []byte) bool {
	if !c.l.s.admitted(c.src, msg) {
		return false
	}
	if v := Sanity(msg, c.max); v.Status != 0 || v.Drop {
		c.refuse(msg, v)
		return true
	}
	c.out = stampReceived(c.out, msg, c.src)
	return true
}

// stampReceived appends msg to out with received=src as the only received
// parameter of its top Via (RFC 3261 §18.2.1). sipgo answers a request
// whose connection has closed by dialling the Via's sent-by host, resolved
// by DNS: any client could make the node open connections to hosts of its
// choosing. With received set to the address the request came from, the
// answer can only go back there. msg is a request Sanity passed; responses
// pass unchanged.
func stampReceived(out, msg []byte, src netip.Addr) []byte {
	if bytes.HasPrefix(msg, []byte("SIP/")) {
		return append(out, msg...)
	}
	start, end := topVia(msg)
	if start < 0 {
		return append(out, msg...)
	}
	out = append(out, msg[:start]...)
	params := msg[start:end]
	for len(params) > 0 {
		i := bytes.IndexByte(params[1:], ';') + 1
		if i == 0 {
			i = len(params)
		}
		name, _, _ := bytes.Cut(params[1:i], []byte("="))
		if !equalFoldASCII(trimLWS(name), "received") { // trimLWS also takes the CRLF of a continuation
			out = append(out, params[:i]...)
		}
		params = params[i:]
	}
	out = append(out, ";received="...)
	out = src.AppendTo(out)
	return append(out, msg[end:]...)
}

// topVia returns the span of the top Via value's parameters in msg: from
// its first ';' (or its end, if it has none) to the end of the value (a
// comma or the end of the header, continuation lines included); -1 if msg
// has no Via.
func topVia(msg []byte) (start, end int) {
	pos := bytes.Index(msg, []byte("\r\n"))
	for pos >= 0 && pos+2 < len(msg) {
		line := pos + 2
		eol := headerEnd(msg, line)
		if eol <= line {
			return -1, -1 // the empty line: no Via
		}
		name, _, ok := bytes.Cut(msg[line:eol], []byte(":"))
		if ok && headerKind(trimLWS(name)) == hVia {
			vstart := line + len(name) + 1
			vend := eol
			if comma := bytes.IndexByte(msg[vstart:vend], ','); comma >= 0 {
				vend = vstart + comma
			}
			if semi := bytes.IndexByte(msg[vstart:vend], ';'); semi >= 0 {
				return vstart + semi, vend
			}
			return vend, vend
		}
		pos = eol
	}
	return -1, -1
}

// headerEnd returns the index of the CRLF that ends the header starting at
// line, after any continuation lines (RFC 3261 §7.3.1).
func headerEnd(msg []byte, line int) int {
	i := line
	for {
		eol := bytes.Index(msg[i:], []byte("\r\n"))
		if eol < 0 {
			return len(msg)
		}
		i += eol
		if i+2 >= len(msg) || (msg[i+2] != ' ' && msg[i+2] != '\t') || i == line {
			return i
		}
		i += 2
	}
}

// refuse logs a refused message (without its content) and answers it
// unless the verdict is to drop it.
func (c *streamConn) refuse(msg []byte, v Verdict) {
	c.l.s.logRefused(c.RemoteAddr().String(), c.l.network, v)
	if !v.Drop && v.Status != 0 {
		_, _ = c.write(rejectResponse(msg, v))
	}
}

func (c *streamConn) write(p []byte) (int, error) {
	c.l.s.counters.count(p, true)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(p)
}

// Write sends p whole before any other write on the connection.
func (c *streamConn) Write(p []byte) (int, error) { return c.write(p) }

// Close closes the connection and frees its place under the cap.
func (c *streamConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.l.give(c.src)
		c.l.s.loc.DropFlow(c.l.network, c.RemoteAddr().String())
	})
	return err
}

// keepAlive returns the length of a keep-alive at the start of b: 4 for a
// double-CRLF ping, 2 for a lone CRLF (b holding more than that, or only
// that), 0 for none or not yet decidable.
func keepAlive(b []byte) int {
	switch {
	case bytes.HasPrefix(b, []byte("\r\n\r\n")):
		return 4
	case bytes.HasPrefix(b, []byte("\r\n")) && (len(b) == 2 || b[2] != '\r'):
		return 2
	}
	return 0
}

// frame finds the first message in b. It returns the message's length, 0
// with a zero Verdict if it is not complete yet, or a verdict for a stream
// that cannot be framed: 400 for a missing, repeated or malformed
// Content-Length (RFC 3261 §18.3 requires it on streams), 513 for a message
// over max bytes.
func frame(b []byte, max int) (int, Verdict) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > max {
			return 0, status(513, "Message Too Large")
		}
		return 0, Verdict{}
	}
	head := b[:end+2]
	cl, found := -1, 0
	for line := range bytes.Lines(head) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		if headerKind(trimLWS(name)) != hContentLength {
			continue
		}
		found++
		v, ok := parseUint(trimLWS(value))
		if !ok || v > uint64(max) {
			if ok {
				return 0, status(513, "Message Too Large")
			}
			return 0, bad("Bad Request: Content-Length is not a number")
		}
		cl = int(v)
	}
	switch {
	case found == 0:
		return 0, bad("Bad Request: missing Content-Length (required on TCP)")
	case found > 1:
		return 0, bad("Bad Request: more than one Content-Length")
	}
	n := end + 4 + cl
	if n > max {
		return 0, status(513, "Message Too Large")
	}
	if len(b) < n {
		return 0, Verdict{}
	}
	return n, Verdict{}
}

// logBan logs that src was just banned for flooding.
// admitted is the first check of every message from src, on every
// transport: the flood limit (a new ban is logged), then scanners, which
// get no answer. A message it does not admit is dropped; a stream it came
// on is closed.
func (s *Server) admitted(src netip.Addr, msg []byte) bool {
	s.counters.count(msg, false)
	if ok, banned := s.flood.Allow(src); !ok {
		if banned {
			s.logBan(src)
		}
		return false
	}
	return !fromScanner(msg)
}

// logRefused logs a message refused before parsing, without its content,
// at most once a second.
func (s *Server) logRefused(source, transport string, v Verdict) {
	s.parseLog.Warn().Str("source", source).Str("transport", transport).Int("status", v.Status).
		Str("problem", firstLine(v.Reason)).Msg("SIP message refused before parsing")
}

func (s *Server) logBan(src netip.Addr) {
	s.log.Warn().Str("security", "flood").Str("source", src.String()).Dur("banned_for", s.flood.Limits().Ban).
		Msg("source banned: too many SIP messages")
}
