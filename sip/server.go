package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/internal/pseudo"
	"github.com/callwerk/callwerk/media"
)

// Router is what the SIP edge needs of the ACD.
type Router interface {
	Admit(ctx context.Context, queue string) error
	Enqueue(ctx context.Context, c acd.Call) (<-chan acd.Offer, error)
	OfferFailed(ctx context.Context, call acd.CallID, agent acd.AgentID, o acd.Outcome) error
	Connect(ctx context.Context, call acd.CallID, agent acd.AgentID) error
	Abandon(ctx context.Context, call acd.CallID) error
	Complete(ctx context.Context, call acd.CallID, queue string, agent acd.AgentID, by string) error
	Transfer(ctx context.Context, call acd.CallID, queue string, agent acd.AgentID, target string) error
	Handover(ctx context.Context, call acd.CallID, queue string, from, to acd.AgentID) error
	PeerGone(addr string)
	// Closed counts a call that found its number closed.
	Closed(queue string)
	// Waiting says where a waiting call stands, for announcements.
	Waiting(call acd.CallID) (acd.WaitInfo, bool)
	// Callbacks: the member asked for one; an attempt was not answered;
	// the last one was not.
	Callback(ctx context.Context, call acd.CallID) error
	RetryCallback(ctx context.Context, call acd.CallID, agent acd.AgentID, at time.Time) error
	GiveUpCallback(ctx context.Context, call acd.CallID) error
	SetPresence(ctx context.Context, agent acd.AgentID, p acd.Presence) error
	// For feature codes dialled by agents, and the state they ask for.
	Agents(ctx context.Context) ([]acd.Agent, error)
	SetPause(ctx context.Context, agent acd.AgentID, reason string) error
	EndWrapUp(ctx context.Context, agent acd.AgentID) error
}

// Schedule says whether an entry point is open at a time, and if not, why.
type Schedule interface {
	Open(t time.Time) (bool, string)
}

// Relay allocates media legs.
type Relay interface {
	NewLeg(codec media.Codec) (*media.Leg, error)
}

// Listener is one SIP listen address.
type Listener struct {
	Network string // "udp", "tcp", "tls", "ws" or "wss"
	Addr    string // host:port; port 0 picks a free port
}

// Number is a dialled number that leads to a queue.
type Number struct {
	Queue string
	Menu  *Menu // if set, the member picks the queue in this menu
	// Hours, if set, are the number's opening hours: while closed, callers
	// hear Closed and are hung up.
	Hours  Schedule
	Closed *media.Source
	// Emergency, if set, is the number's emergency announcement switch.
	Emergency *Emergency
	Early     bool // answer with 183 early media and send 200 only when an agent answers
	Priority  int  // calls to this number are served before lower priorities
}

// Config is the SIP edge's configuration.
type Config struct {
	Listeners []Listener
	// TLS is the server configuration of the tls and wss listeners
	// (TLSConfig); required if there are any.
	TLS     *tls.Config
	Realm   string
	Digest  []string          // challenge algorithms, most preferred first; empty: DefaultAlgorithms
	Trunks  []netip.Prefix    // sources whose INVITEs are member calls
	Numbers map[string]Number // by dialled number (Request-URI user part)
	Agents  map[string]string // agent ID -> digest password
	// Forwards are the agents reached at a phone number over a trunk
	// instead of a registered phone: always present while the node runs.
	Forwards map[string]Forward
	// Transfer, if set, lets agents transfer calls to outside numbers.
	Transfer *OutsideTransfer
	NonceKey []byte // signs digest nonces; empty = random
	// PauseReasons are the reasons *22N picks from (N from 1).
	PauseReasons []string

	// NodeName names this node in the INVITEs it sends other nodes;
	// PeerSecret signs them and checks theirs (empty: no node INVITEs).
	NodeName   string
	PeerSecret []byte

	// DrainTimeout is how long calls in progress may go on after Serve's
	// context ends, before they are hung up; 0 = DrainTimeout.
	DrainTimeout time.Duration
	// Withdraw, if set, is called when a draining node stops taking node
	// legs, so that the other nodes stop offering its agents.
	Withdraw func()

	MaxCalls         int // member calls at once; 0 = no limit
	MaxCallRate      int // new member calls per second; 0 = no limit
	MaxRegistrations int // devices per agent; 0 = no limit
	// Keepalive is how often every registered device gets an OPTIONS;
	// one that answers none of two in a row is dropped. 0: none.
	Keepalive time.Duration
	Flood     FloodLimits
	Lockout   LockoutLimits
	Streams   StreamLimits
	// MaxMessageSize is the largest SIP message taken, in bytes; 0 =
	// DefaultMaxMessageSize.
	MaxMessageSize int
	// Nonces, if set, keeps digest nonce counts for all nodes.
	Nonces NonceCounter
	// Trusted are the networks whose phones may use plain UDP/TCP and RTP;
	// agents elsewhere must use TLS. nil: every address is trusted (tests,
	// embedding); the app always sets it from networks.trusted.
	Trusted []netip.Prefix
	// MediaTimeout ends a connected call after one side sent no RTP for
	// this long, while neither holds it; 0 = never.
	MediaTimeout time.Duration
	// Clock is the time opening hours are judged at; nil = time.Now.
	Clock func() time.Time
	// Prompts are the built-in prompts menus need.
	Prompts Prompts
	// Queues are the queues' greetings and announcement settings;
	// Announcements the clips announcements are made of.
	Queues        map[string]QueueMedia
	Announcements Announcements
}

// Timeouts of the edge.
const (
	ByeTimeout     = 5 * time.Second  // waiting for the 200 to a BYE we send
	DrainTimeout   = 30 * time.Second // default Config.DrainTimeout
	DefaultExpires = 3600 * time.Second
	MinExpires     = 30 * time.Second
	MaxExpires     = 3600 * time.Second
	RetryAfter     = "30" // seconds, sent with 503 while draining
)

// Server is the SIP edge.
type Server struct {
	cfg      Config
	log      zerolog.Logger
	pseudo   *pseudo.Pseudonymizer
	dtls     *media.DTLSIdentity // the certificate of this node's WebRTC legs
	counters messageCounters     // SIP messages in and out, for /metrics
	consults byCallID[*consult]  // consultation calls between agents, by both Call-IDs
	router   Router
	relay    Relay
	hold     *media.Source
	prompts  Prompts

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	dialog  *sipgo.DialogUA
	auth    *Authenticator
	lockout *Lockout
	flood   *FloodLimiter
	newCall *rate.Limiter // nil: no limit on new calls per second
	loc     *Location

	conns     []bound // bound sockets, served by Serve
	udp       map[string]net.PacketConn
	ws        map[string]*wsListener // ws and wss listeners by local address
	addrs     []Listener             // bound addresses
	callCtx   context.Context        // ends the calls in progress: at the end of the drain
	hangUp    context.CancelFunc
	draining  atomic.Bool
	parseLog  zerolog.Logger
	callWG    sync.WaitGroup                       // member calls and feature-code calls
	peerWG    sync.WaitGroup                       // agent legs carried for other nodes
	peersShut atomic.Bool                          // no new node legs: the drain's second phase
	calls     byCallID[*call]                      // member calls, by the SIP Call-ID of either leg
	features  byCallID[*sipgo.DialogServerSession] // feature-code calls
	peers     byCallID[*peerLeg]                   // agent legs carried for other nodes, by the Call-ID of either side
	callCount atomic.Int64
}

func (s *Server) now() time.Time { return time.Now() }

// New builds the edge and binds its listeners, so Addrs is known before Serve.
func New(cfg Config, router Router, relay Relay, hold *media.Source, p *pseudo.Pseudonymizer, log zerolog.Logger) (*Server, error) {
	if len(cfg.Listeners) == 0 {
		return nil, errors.New("sip: no listeners")
	}
	s := &Server{
		cfg: cfg, log: log, pseudo: p, router: router, relay: relay, hold: hold, prompts: cfg.Prompts,
		udp:      make(map[string]net.PacketConn),
		ws:       make(map[string]*wsListener),
		parseLog: log.Sample(&zerolog.BurstSampler{Burst: 1, Period: time.Second}),
	}
	if s.cfg.Clock == nil {
		s.cfg.Clock = time.Now
	}
	var err error
	if s.dtls, err = media.NewDTLSIdentity(); err != nil {
		return nil, err
	}
	s.callCtx, s.hangUp = context.WithCancel(context.Background())
	s.lockout = NewLockout(cfg.Lockout)
	if cfg.MaxCallRate > 0 {
		s.newCall = rate.NewLimiter(rate.Limit(cfg.MaxCallRate), cfg.MaxCallRate)
	}
	s.flood = NewFloodLimiter(cfg.Flood, s.trunkAddr)
	s.auth = NewAuthenticator(cfg.Realm, cfg.Digest, cfg.NonceKey, func(u string) (string, bool) {
		p, ok := cfg.Agents[u]
		return p, ok
	})
	if cfg.Nonces != nil {
		s.auth.ShareNonceCounts(cfg.Nonces)
	}
	s.loc = NewLocation(func(agent string, p acd.Presence) {
		ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
		defer cancel()
		if err := router.SetPresence(ctx, acd.AgentID(agent), p); err != nil {
			s.log.Error().Err(err).Str("agent", agent).Msg("presence update failed")
		}
		s.log.Info().Str("agent", agent).Str("presence", presenceNames[p]).Msg("agent presence")
	})
	if err := s.bind(); err != nil {
		s.closeConns()
		return nil, err
	}
	host, port := splitHostPort(s.addrs[0].Addr)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("Callwerk"),
		sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(s.readFilter)),
	)
	if err != nil {
		s.closeConns()
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua); err != nil {
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	if s.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(port)); err != nil {
		return nil, fmt.Errorf("sip: client: %w", err)
	}
	s.dialog = &sipgo.DialogUA{
		Client:         s.client,
		ContactHDR:     sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "callwerk", Host: host, Port: port}},
		RewriteContact: true, // send in-dialog requests to where the peer's requests came from (NAT)
	}
	s.srv.OnRegister(s.onRegister)
	s.srv.OnInvite(s.onInvite)
	s.srv.OnAck(s.onAck)
	s.srv.OnBye(s.onBye)
	s.srv.OnCancel(s.onCancel)
	s.srv.OnRefer(s.onRefer)
	s.srv.OnOptions(s.onOptions)
	s.srv.OnInfo(s.onInfo)
	s.srv.OnMessage(s.onMessage)
	return s, nil
}

// bound is a bound socket and the sipgo transport that serves it.
type bound struct {
	network string
	c       io.Closer // net.PacketConn for udp, net.Listener else
}

func (s *Server) bind() error {
	for _, l := range s.cfg.Listeners {
		if l.Network == "udp" {
			raw, err := net.ListenPacket("udp", l.Addr)
			if err != nil {
				return fmt.Errorf("sip: listen udp %s: %w", l.Addr, err)
			}
			c := countingPacketConn{raw, &s.counters}
			s.conns = append(s.conns, bound{"udp", c})
			s.udp[c.LocalAddr().String()] = c
			s.addrs = append(s.addrs, Listener{"udp", c.LocalAddr().String()})
			continue
		}
		var conf *tls.Config
		switch l.Network {
		case "tcp", "ws":
		case "tls", "wss":
			if conf = s.cfg.TLS; conf == nil {
				return fmt.Errorf("sip: listen %s %s: no TLS certificate", l.Network, l.Addr)
			}
		default:
			return fmt.Errorf("sip: listen %s:%s: unsupported network", l.Network, l.Addr)
		}
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return fmt.Errorf("sip: listen %s %s: %w", l.Network, l.Addr, err)
		}
		var served net.Listener
		if l.Network == "ws" || l.Network == "wss" {
			w := newWSListener(ln, s, s.cfg.Streams, l.Network, conf)
			s.ws[ln.Addr().String()] = w
			served = w
		} else {
			served = newStreamListener(ln, s, s.cfg.Streams, l.Network, conf)
		}
		s.conns = append(s.conns, bound{l.Network, served})
		s.addrs = append(s.addrs, Listener{l.Network, ln.Addr().String()})
	}
	return nil
}

func (s *Server) closeConns() {
	for _, b := range s.conns {
		_ = b.c.Close()
	}
}

// Addrs returns the bound listen addresses.
func (s *Server) Addrs() []Listener { return s.addrs }

// Location returns the registrar's location store.
func (s *Server) Location() *Location { return s.loc }

// Draining reports whether Serve is draining: new calls are refused.
func (s *Server) Draining() bool { return s.draining.Load() }

// ActiveCalls returns the number of member calls in progress.
func (s *Server) ActiveCalls() int { return int(s.callCount.Load()) }

// Serve handles SIP until ctx ends. Then it drains: new member calls get
// 503 with Retry-After, while the calls in progress (waiting, ringing,
// talking, and agent legs carried for other nodes) go on until they end or
// Config.DrainTimeout passes; then the rest are hung up (BYE on both
// legs), and the listeners close.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, len(s.conns))
	var wg sync.WaitGroup
	for _, b := range s.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch b.network {
			case "udp":
				err = s.srv.ServeUDP(b.c.(net.PacketConn))
			case "tcp":
				err = s.srv.ServeTCP(b.c.(net.Listener))
			case "tls":
				err = s.srv.ServeTLS(b.c.(net.Listener))
			case "ws":
				err = s.srv.ServeWS(b.c.(net.Listener))
			case "wss":
				err = s.srv.ServeWSS(b.c.(net.Listener))
			}
			if err != nil && !errors.Is(err, net.ErrClosed) {
				errc <- err
			}
		}()
	}
	actx, cancel := context.WithTimeout(ctx, ByeTimeout)
	s.announceForwards(actx)
	cancel()
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	wg.Add(1)
	go func() { defer wg.Done(); s.loc.Run(sweepCtx) }()
	if s.cfg.Keepalive > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); s.runKeepalive(sweepCtx, s.cfg.Keepalive) }()
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.draining.Store(true)
	drain := s.cfg.DrainTimeout
	if drain <= 0 {
		drain = DrainTimeout
	}
	deadline := time.After(drain)
	if n := s.callCount.Load(); n > 0 {
		s.log.Info().Int64("calls", n).Dur("drain_timeout", drain).Msg("draining: new calls refused, calls in progress go on")
	}
	// First this node's own calls end; meanwhile its agents still take
	// other nodes' calls (node legs), so clerks keep working. Then it stops
	// taking node legs and waits for those in progress.
	if s.waitDrain(&s.callWG, deadline) {
		s.peersShut.Store(true)
		if s.cfg.Withdraw != nil {
			s.cfg.Withdraw()
		}
		s.waitDrain(&s.peerWG, deadline)
	}
	s.hangUp()
	stopSweep()
	s.closeConns()
	_ = s.ua.Close()
	wg.Wait()
	return err
}

// waitDrain waits for wg, or hangs up every call at deadline and waits a
// little for the BYEs. It reports whether wg finished before the deadline.
func (s *Server) waitDrain(wg *sync.WaitGroup, deadline <-chan time.Time) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-deadline:
	}
	s.log.Warn().Int64("calls", s.callCount.Load()).Msg("calls still up after drain timeout: hanging up")
	s.hangUp()
	all := make(chan struct{})
	go func() { s.callWG.Wait(); s.peerWG.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(2 * ByeTimeout):
		s.log.Warn().Int64("calls", s.callCount.Load()).Msg("calls did not end after hang-up")
	}
	return false
}

func (s *Server) maxMessage() int {
	if s.cfg.MaxMessageSize > 0 {
		return s.cfg.MaxMessageSize
	}
	return DefaultMaxMessageSize
}

// readFilter runs before sipgo parses a datagram. It bans flooding sources,
// ignores scanners and runs Sanity (RFC 3261 and RFC 4475 rules sipgo does
// not enforce): refused requests get their status from us (sipgo sends no
// 400 on UDP), are logged at most once a second without their content
// (sipgo logs them whole, caller numbers included), and never reach sipgo.
// Stream transports were checked message by message when they were framed
// (streamConn), so their data passes.
func (s *Server) readFilter(info sip.TransportReadProps, data []byte) ([]byte, error) {
	switch strings.ToLower(info.Transport) {
	case "udp":
	case "ws", "wss":
		return s.wsFilter(info, data), nil
	default:
		return data, nil // tcp and tls: framed and checked by streamConn
	}
	if !s.admitted(netAddr(info.RemoteAddr), data) {
		return nil, nil // drop; an error would stop sipgo's read loop
	}
	if len(data) <= 4 {
		return data, nil // keep-alives
	}
	v := Sanity(data, s.maxMessage())
	if v.Status == 0 && !v.Drop {
		return data, nil
	}
	s.logRefused(info.RemoteAddr.String(), "udp", v)
	if conn := s.udp[info.LocalAddr.String()]; conn != nil && !v.Drop {
		_, _ = conn.WriteTo(rejectResponse(data, v), info.RemoteAddr)
	}
	return nil, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// rejectResponse builds the answer to a request Sanity refused, copying the
// headers a client needs to match it (Via, From, To, Call-ID, CSeq) as
// they were, plus Unsupported (420) or Accept (415, 406).
func rejectResponse(data []byte, v Verdict) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", v.Status, v.Reason)
	head, _, _ := strings.Cut(string(data), "\r\n\r\n")
	for i, line := range strings.Split(head, "\n") {
		line = strings.TrimRight(line, "\r")
		if i == 0 || len(line) > 1024 {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v", "from", "f", "to", "t", "call-id", "i", "cseq":
			b.WriteString(line)
			b.WriteString("\r\n")
		}
	}
	if v.Unsupported != "" {
		b.WriteString("Unsupported: " + v.Unsupported + "\r\n")
	}
	if v.Accept != "" {
		b.WriteString("Accept: " + v.Accept + "\r\n")
	}
	b.WriteString("Server: Callwerk\r\nContent-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// validRequest answers 400 and returns false if a request lacks a header
// every request must have (RFC 3261 §8.1.1); sipgo parses such requests.
func validRequest(req *sip.Request, tx sip.ServerTransaction) bool {
	missing := ""
	switch {
	case req.CallID() == nil:
		missing = "Call-ID"
	case req.From() == nil:
		missing = "From"
	case req.To() == nil:
		missing = "To"
	case req.CSeq() == nil:
		missing = "CSeq"
	case req.Via() == nil:
		missing = "Via"
	case req.CSeq().MethodName != req.Method:
		missing = "matching CSeq method"
	}
	if missing == "" {
		return true
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request: missing "+missing, nil))
	return false
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if !validRequest(req, tx) {
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER"))
	_ = tx.Respond(res)
}

var presenceNames = map[acd.Presence]string{acd.Registered: "registered", acd.Unregistered: "unregistered", acd.Lost: "expired"}

func splitHostPort(hp string) (string, int) {
	ap, err := netip.ParseAddrPort(hp)
	if err != nil {
		return hp, 0
	}
	return ap.Addr().String(), int(ap.Port())
}

func (s *Server) trunkSource(src string) bool {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return false
	}
	return s.trunkAddr(ap.Addr().Unmap())
}

// encryptedEnough reports whether the encryption policy lets an INVITE be
// answered: from the trusted networks any offer, from outside only an
// SRTP offer (RTP/SAVP) over TLS.
func (s *Server) encryptedEnough(req *sip.Request) bool {
	if s.trustedSource(req.Source()) {
		return true
	}
	if !offersSRTP(req.Transport()) {
		return false
	}
	offer, err := media.ParseSDP(req.Body())
	return err == nil && offer.Secure()
}

// trustedSource reports whether src (host:port) is in the trusted
// networks, where phones may use plain RTP (and plain signalling); always
// true without a policy.
func (s *Server) trustedSource(src string) bool {
	if s.cfg.Trusted == nil {
		return true
	}
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range s.cfg.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// refuseUntrusted answers a request from outside the trusted networks over
// a plain transport with status and a reason that says why, and logs it.
func (s *Server) refuseUntrusted(req *sip.Request, tx sip.ServerTransaction, status int, reason string) {
	s.log.Warn().Str("security", "encryption-policy").Str("source", req.Source()).Str("method", string(req.Method)).
		Str("transport", req.Transport()).Msg("request refused: outside the trusted networks without encryption")
	_ = tx.Respond(sip.NewResponseFromRequest(req, status, reason, nil))
}

func (s *Server) trunkAddr(a netip.Addr) bool {
	for _, p := range s.cfg.Trunks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
