package sip

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TLS and WebSocket transports.
//
// tls is framed like tcp (stream.go), with the TLS layer between the
// socket and the framing. ws and wss carry one SIP message per WebSocket
// message, so sipgo frames them; the edge checks each message in
// readFilter instead (Sanity, flood limits, received stamping), and the
// listener applies the same per-address cap and first-message timeout.
//
// sipgo upgrades WebSocket connections one at a time in its accept loop: a
// client that opens a connection and sends nothing would hold every other
// browser back until the timeout. So the listener accepts in its own
// goroutine and hands a connection to sipgo only once its TLS handshake is
// done and its HTTP upgrade request has arrived whole.

// maxUpgradeRequest caps the HTTP upgrade request of a WebSocket client.
const maxUpgradeRequest = 8 << 10

// TLSConfig returns the server TLS configuration of the tls and wss
// listeners: TLS 1.2 and 1.3 only, and for TLS 1.2 only the ECDHE suites
// with AES-GCM that BSI TR-02102-2 recommends, over the NIST curves it
// lists (Go offers no Brainpool curves). Go does not let TLS 1.3 suites be
// chosen; it offers the three of RFC 8446, of which BSI lists the two
// AES-GCM ones, and prefers AES-GCM where the CPU has AES instructions.
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS13,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.CurveP256, tls.CurveP384, tls.CurveP521},
	}
}

// secure reports whether transport (as sipgo names it, any case) encrypts.
func secure(transport string) bool {
	return strings.EqualFold(transport, "tls") || strings.EqualFold(transport, "wss")
}

// offersSRTP reports whether calls to a phone registered over transport
// are offered SRTP (RTP/SAVP, SDES keys). Over TLS the keys in the SDP are
// as safe as the signalling. Over WSS a browser needs DTLS-SRTP, which the
// relay does not speak yet; over the plain transports SDES would give the
// keys away.
func offersSRTP(transport string) bool { return strings.EqualFold(transport, "tls") }

// contactFor returns the Contact for a dialog with a phone that talks over
// transport: this node's listener of that transport, with a transport
// parameter, so that the phone's in-dialog requests come back over it. nil
// for udp (the dialog UA's default Contact) or a transport not listened on.
func (s *Server) contactFor(transport string) *sip.ContactHeader {
	network := strings.ToLower(transport)
	if network == "udp" {
		return nil
	}
	for _, l := range s.addrs {
		if l.Network == network {
			host, port := splitHostPort(l.Addr)
			if ap, err := netip.ParseAddrPort(l.Addr); err == nil && ap.Addr().IsUnspecified() {
				host = s.dialog.ContactHDR.Address.Host
			}
			u := sip.Uri{Scheme: "sip", User: "callwerk", Host: host, Port: port, UriParams: sip.NewParams()}
			u.UriParams.Add("transport", network)
			return &sip.ContactHeader{Address: u}
		}
	}
	return nil
}

// wsListener serves ws or wss: it accepts, applies the stream limits,
// completes the TLS handshake (wss) and waits for the upgrade request in a
// goroutine per connection, and returns ready connections from Accept.
type wsListener struct {
	*streamListener
	tls   *tls.Config // nil for ws
	ready chan net.Conn
	done  chan struct{}
	once  sync.Once

	mu    sync.Mutex
	conns map[string]*msgConn // by remote address, from accept to the first SIP message
}

func newWSListener(ln net.Listener, s *Server, l StreamLimits, network string, conf *tls.Config) *wsListener {
	w := &wsListener{
		streamListener: newStreamListener(ln, s, l, network, nil),
		tls:            conf,
		ready:          make(chan net.Conn),
		done:           make(chan struct{}),
		conns:          make(map[string]*msgConn),
	}
	go w.acceptLoop()
	return w
}

func (w *wsListener) acceptLoop() {
	for {
		c, src, err := w.streamListener.accept()
		if err != nil {
			w.Close()
			return
		}
		go w.prepare(c, src)
	}
}

// prepare hands c to Accept once its upgrade request is in, or closes it.
func (w *wsListener) prepare(raw net.Conn, src netip.Addr) {
	c := raw
	if w.tls != nil {
		c = tls.Server(raw, w.tls)
	}
	m := &msgConn{Conn: c, l: w, src: src, key: raw.RemoteAddr().String()}
	w.mu.Lock()
	w.conns[m.key] = m // Close may close it from now on
	w.mu.Unlock()
	if tc, ok := c.(*tls.Conn); ok {
		if err := tc.HandshakeContext(context.Background()); err != nil { // bounded by the first-message deadline
			w.s.parseLog.Info().Str("source", src.String()).Str("transport", w.network).Err(err).Msg("connection closed: TLS handshake failed")
			_ = m.Close()
			return
		}
	}
	buf := make([]byte, 0, 1024)
	for !bytes.Contains(buf, []byte("\r\n\r\n")) {
		if len(buf) >= maxUpgradeRequest {
			w.s.parseLog.Info().Str("source", src.String()).Str("transport", w.network).Msg("connection closed: WebSocket upgrade request too large")
			_ = m.Close()
			return
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := m.Conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			w.s.parseLog.Info().Str("source", src.String()).Str("transport", w.network).Err(err).Msg("connection closed: no WebSocket upgrade request")
			_ = m.Close()
			return
		}
	}
	m.pending = buf
	select {
	case w.ready <- m:
	case <-w.done:
		_ = m.Close()
	}
}

// Accept returns the next connection whose upgrade request has arrived.
func (w *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-w.ready:
		return c, nil
	case <-w.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the connections that have sent no SIP
// message yet, which ends the goroutines preparing them.
func (w *wsListener) Close() error {
	var err error
	w.once.Do(func() {
		close(w.done)
		err = w.streamListener.Close()
		w.mu.Lock()
		pending := slices.Collect(maps.Values(w.conns))
		w.mu.Unlock()
		for _, m := range pending {
			_ = m.Close()
		}
	})
	return err
}

// started marks the connection from raddr as past its first SIP message:
// its first-message deadline is lifted.
func (w *wsListener) started(raddr string) {
	w.mu.Lock()
	m := w.conns[raddr]
	delete(w.conns, raddr)
	w.mu.Unlock()
	if m != nil {
		_ = m.Conn.SetReadDeadline(time.Time{})
	}
}

// msgConn is a ws or wss connection: it replays the upgrade request read
// by prepare, and frees its place under the cap when closed.
type msgConn struct {
	net.Conn
	l         *wsListener
	src       netip.Addr
	key       string
	pending   []byte
	closeOnce sync.Once
}

func (c *msgConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// Write counts the SIP messages sipgo writes (the WebSocket frame header
// comes in a write of its own and is not counted).
func (c *msgConn) Write(p []byte) (int, error) {
	c.l.s.counters.count(p, true)
	return c.Conn.Write(p)
}

func (c *msgConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.l.give(c.src)
		c.l.s.loc.DropFlow(c.l.network, c.key)
		c.l.mu.Lock()
		if c.l.conns[c.key] == c {
			delete(c.l.conns, c.key)
		}
		c.l.mu.Unlock()
	})
	return err
}

// wsFilter checks one WebSocket message before sipgo parses it, like a
// UDP datagram: the flood limits, scanners, Sanity (a refused message is
// answered over the connection), and received= stamped on requests.
func (s *Server) wsFilter(info sip.TransportReadProps, data []byte) []byte {
	network := strings.ToLower(info.Transport)
	raddr := info.RemoteAddr.String()
	src := netAddr(info.RemoteAddr)
	if !s.admitted(src, data) {
		if c, _ := s.ua.TransportLayer().GetConnection(network, raddr); c != nil {
			_ = c.Close()
		}
		return nil
	}
	if l := s.ws[info.LocalAddr.String()]; l != nil {
		l.started(raddr)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil // keep-alive
	}
	if v := Sanity(data, s.maxMessage()); v.Status != 0 || v.Drop {
		s.logRefused(raddr, network, v)
		if !v.Drop {
			s.answerRaw(network, raddr, rejectResponse(data, v))
		}
		return nil
	}
	return stampReceived(nil, data, src)
}

// answerRaw sends a response built outside sipgo over the WebSocket
// connection to raddr, as one message. It goes through the connection's
// own Write, which frames and serialises writes; a refused message may be
// one sipgo could not parse, so the response cannot go through WriteMsg.
func (s *Server) answerRaw(network, raddr string, raw []byte) {
	c, err := s.ua.TransportLayer().GetConnection(network, raddr)
	if err != nil || c == nil {
		return
	}
	if w, ok := c.(io.Writer); ok {
		_, _ = w.Write(raw)
	}
}
