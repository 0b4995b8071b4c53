package loadtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callwerk/callwerk/media"
)

// Phone is a SIP user agent: on its own UDP port on a loopback address, or
// over a connection it opens to the server (NewPhoneOver).
type Phone struct {
	User    string
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	dialog  *sipgo.DialogUA
	conn    net.PacketConn // nil for a phone over a stream
	addr    netip.AddrPort
	network string // "udp", or the stream transport of NewPhoneOver

	mu      sync.Mutex
	servers map[string]*sipgo.DialogServerSession // incoming calls by Call-ID
	clients map[string]*sipgo.DialogClientSession // outgoing calls by Call-ID

	wg sync.WaitGroup
}

// NewPhone starts a user agent for user on 127.0.0.1.
func NewPhone(user string) (*Phone, error) { return NewPhoneAt(user, "127.0.0.1") }

// NewPhoneAt starts a user agent for user on a loopback IP of choice.
func NewPhoneAt(user, ip string) (*Phone, error) {
	conn, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return nil, err
	}
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	p, err := newPhone(user, addr, "udp", nil, sipgo.WithClientConnectionAddr(addr.String()))
	if err != nil {
		conn.Close()
		return nil, err
	}
	p.conn = conn
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.srv.ServeUDP(conn)
	}()
	// Requests must leave from the listening socket (the client is bound to
	// it): wait until sipgo has put the listener into its connection pool.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		if c, _ := p.ua.TransportLayer().GetConnection("udp", p.addr.String()); c != nil {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.Close()
			return nil, errors.New("sip listener did not start")
		}
	}
}

// NewPhoneOver starts a user agent for user that talks over a connection
// it opens to the server: network is "tcp", "tls", "ws" or "wss"; conf,
// for tls and wss, says which server certificates to trust. The phone
// listens on no port of its own, like a browser or a phone behind NAT:
// the server's requests come back over the connection.
func NewPhoneOver(user, network string, conf *tls.Config) (*Phone, error) {
	if conf == nil {
		conf = &tls.Config{}
	}
	// An invalid host, as browser phones use (RFC 7118 §5.2): only the
	// connection leads to the phone.
	return newPhone(user, netip.AddrPortFrom(netip.IPv4Unspecified(), 0), network, conf)
}

func newPhone(user string, addr netip.AddrPort, network string, conf *tls.Config, opts ...sipgo.ClientOption) (*Phone, error) {
	p := &Phone{User: user, addr: addr, network: network,
		servers: make(map[string]*sipgo.DialogServerSession), clients: make(map[string]*sipgo.DialogClientSession)}
	host, port := addr.Addr().String(), int(addr.Port())
	uaOpts := []sipgo.UserAgentOption{sipgo.WithUserAgent("callwerk-loadtest"), sipgo.WithUserAgentHostname(host)}
	contact := sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
	if network != "udp" {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(conf))
		contact = sip.Uri{Scheme: "sip", User: user, Host: sip.GenerateTagN(8) + ".invalid", UriParams: sip.NewParams()}
		contact.UriParams.Add("transport", network)
	}
	var err error
	if p.ua, err = sipgo.NewUA(uaOpts...); err != nil {
		return nil, err
	}
	if p.srv, err = sipgo.NewServer(p.ua); err != nil {
		return nil, err
	}
	opts = append([]sipgo.ClientOption{sipgo.WithClientHostname(host), sipgo.WithClientPort(port)}, opts...)
	if p.client, err = sipgo.NewClient(p.ua, opts...); err != nil {
		return nil, err
	}
	p.dialog = &sipgo.DialogUA{Client: p.client, ContactHDR: sip.ContactHeader{Address: contact}}
	p.srv.OnBye(p.onBye)
	p.srv.OnAck(p.onAck)
	p.srv.OnNotify(p.onNotify)
	p.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	return p, nil
}

// Addr is the phone's SIP address.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// Close stops the phone.
func (p *Phone) Close() {
	_ = p.ua.Close()
	if p.conn != nil {
		_ = p.conn.Close()
	}
	p.wg.Wait()
}

func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	d := p.servers[req.CallID().Value()]
	p.mu.Unlock()
	if d != nil {
		_ = d.ReadAck(req, tx)
	}
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	id := req.CallID().Value()
	p.mu.Lock()
	sd, cd := p.servers[id], p.clients[id]
	p.mu.Unlock()
	switch {
	case sd != nil:
		_ = sd.ReadBye(req, tx)
	case cd != nil:
		_ = cd.ReadBye(req, tx)
	default:
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}
}

// onNotify answers a NOTIFY; one that reports a transfer of an incoming
// call as done (sipfrag 200) makes the phone hang that call up, as desk
// phones do.
func (p *Phone) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	if ev := req.GetHeader("Event"); ev == nil || !strings.HasPrefix(ev.Value(), "refer") ||
		!strings.HasPrefix(string(req.Body()), "SIP/2.0 200") {
		return
	}
	p.mu.Lock()
	d := p.servers[req.CallID().Value()]
	p.mu.Unlock()
	if d != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = d.Bye(ctx)
		}()
	}
}

// Register registers the phone as user at server (host:port) with digest
// authentication, for expires.
func (p *Phone) Register(ctx context.Context, server, password string, expires time.Duration) (*sip.Response, error) {
	host, portStr, err := net.SplitHostPort(server)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: port})
	aor := sip.Uri{Scheme: "sip", User: p.User, Host: host}
	req.AppendHeader(&sip.ToHeader{Address: aor})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(sip.HeaderClone(&p.dialog.ContactHDR))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	if p.network != "udp" {
		req.SetTransport(strings.ToUpper(p.network))
	}
	res, err := p.client.Do(ctx, req, sipgo.ClientRequestRegisterBuild)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == 401 {
		res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.User, Password: password})
	}
	return res, err
}

// AgentOptions say how a simulated agent takes calls.
type AgentOptions struct {
	AnswerAfter time.Duration // ring this long, then answer
	NeverAnswer bool          // let it ring until cancelled
	Decline     bool          // answer every call with 486 Busy Here after AnswerAfter
	Delays      *Histogram    // if set, records the one-way delay of every tagged packet received
	// OnInvite, if set, sees each INVITE that rings the phone (a member's
	// phone called back checks the number dialled).
	OnInvite func(*sip.Request)
}

// AgentCall is a call a simulated agent answered.
type AgentCall struct {
	RTP    *RTPPeer
	SRTP   bool // the call's media is SRTP (the offer was RTP/SAVP)
	key    media.Crypto
	dialog *sipgo.DialogServerSession
}

// Done is closed when the call ended.
func (c *AgentCall) Done() <-chan struct{} { return c.dialog.Context().Done() }

// Hangup sends BYE.
func (c *AgentCall) Hangup(ctx context.Context) error { return c.dialog.Bye(ctx) }

// Transfer asks for a blind transfer of the call to number (REFER with
// Refer-To sip:number@server) and returns the response to the REFER. The
// phone hangs up when the server's NOTIFY reports the transfer done.
func (c *AgentCall) Transfer(ctx context.Context, number string) (*sip.Response, error) {
	inv := c.dialog.InviteRequest
	target := inv.Contact().Address // the server, as the caller of this leg
	req := sip.NewRequest(sip.REFER, *target.Clone())
	req.SetDestination(inv.Source())
	req.SetTransport(inv.Transport())
	req.AppendHeader(sip.NewHeader("Refer-To", fmt.Sprintf("<sip:%s@%s>", number, target.Host)))
	req.AppendHeader(sip.NewHeader("Referred-By", fmt.Sprintf("<sip:%s@%s>", inv.To().Address.User, target.Host)))
	return c.dialog.Do(ctx, req)
}

// TransferTo makes an attended transfer (RFC 5589) of this call to the
// colleague the phone consulted in consult: a REFER whose Refer-To names
// the colleague and replaces the consultation's dialog (RFC 3891). The
// server hangs up both of the phone's calls when it is done.
func (c *AgentCall) TransferTo(ctx context.Context, colleague string, consult *MemberCall) (*sip.Response, error) {
	inv := c.dialog.InviteRequest
	target := inv.Contact().Address
	cd := consult.dialog
	toTag, _ := cd.InviteResponse.To().Params.Get("tag")
	fromTag, _ := cd.InviteRequest.From().Params.Get("tag")
	replaces := url.QueryEscape(fmt.Sprintf("%s;to-tag=%s;from-tag=%s", cd.InviteRequest.CallID().Value(), toTag, fromTag))
	req := sip.NewRequest(sip.REFER, *target.Clone())
	req.SetDestination(inv.Source())
	req.SetTransport(inv.Transport())
	req.AppendHeader(sip.NewHeader("Refer-To", fmt.Sprintf("<sip:%s@%s?Replaces=%s>", colleague, target.Host, replaces)))
	req.AppendHeader(sip.NewHeader("Referred-By", fmt.Sprintf("<sip:%s@%s>", inv.To().Address.User, target.Host)))
	return c.dialog.Do(ctx, req)
}

// Hold puts the call on hold (re-INVITE with a=sendonly), or resumes it
// (a=sendrecv), and acknowledges the answer; it returns the answer's status.
func (c *AgentCall) Hold(ctx context.Context, on bool) (int, error) {
	inv := c.dialog.InviteRequest
	target := inv.Contact().Address
	dir := media.DirSendRecv
	if on {
		dir = media.DirSendOnly
	}
	addr := c.RTP.Addr()
	req := sip.NewRequest(sip.INVITE, *target.Clone())
	req.SetDestination(inv.Source())
	req.SetTransport(inv.Transport())
	sdp := media.SDPParams{SessionID: 3, Version: uint64(time.Now().UnixNano()), Addr: addr.Addr(),
		Port: int(addr.Port()), Codec: media.PCMU, TelEventPT: -1, Direction: dir}
	if c.SRTP {
		sdp.Crypto = &c.key // the same key: the stream goes on
	}
	req.SetBody(media.BuildSDP(sdp))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := c.dialog.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("hold: %w", err)
	}
	if res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, *target.Clone())
		ack.SetDestination(inv.Source())
		ack.SetTransport(inv.Transport())
		if err := c.dialog.WriteRequest(ack); err != nil {
			return res.StatusCode, fmt.Errorf("hold: ack: %w", err)
		}
	}
	return res.StatusCode, nil
}

// Agent is a phone that answers incoming calls.
type Agent struct {
	*Phone
	opts    AgentOptions
	Rings   atomic.Int64 // INVITEs received
	Cancels atomic.Int64 // rings cancelled by the caller
	Calls   atomic.Int64 // calls answered
	// MaxActive is the most answered calls the phone had at once: an ACD
	// must never give an agent a second call.
	MaxActive atomic.Int64
	active    atomic.Int64
	Answered  chan *AgentCall
}

// NewAgent starts a simulated agent phone.
func NewAgent(user string, opts AgentOptions) (*Agent, error) {
	return NewAgentAt(user, "127.0.0.1", opts)
}

// NewAgentAt starts a simulated agent phone on a loopback IP of choice.
func NewAgentAt(user, ip string, opts AgentOptions) (*Agent, error) {
	p, err := NewPhoneAt(user, ip)
	if err != nil {
		return nil, err
	}
	return newAgent(p, opts), nil
}

// NewAgentOver starts a simulated agent phone that talks over a connection
// it opens to the server, as NewPhoneOver.
func NewAgentOver(user, network string, conf *tls.Config, opts AgentOptions) (*Agent, error) {
	p, err := NewPhoneOver(user, network, conf)
	if err != nil {
		return nil, err
	}
	return newAgent(p, opts), nil
}

func newAgent(p *Phone, opts AgentOptions) *Agent {
	a := &Agent{Phone: p, opts: opts, Answered: make(chan *AgentCall, 16)}
	p.srv.OnInvite(a.onInvite)
	return a
}

// StartAgent starts a simulated agent phone on loopback IP ip and
// registers it as user at server (host:port) for expires. On error the
// phone is closed again.
func StartAgent(ctx context.Context, user, ip, server, password string, expires time.Duration, opts AgentOptions) (*Agent, error) {
	a, err := NewAgentAt(user, ip, opts)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", user, err)
	}
	res, err := a.Register(ctx, server, password, expires)
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("%d %s", res.StatusCode, res.Reason)
	}
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("register agent %s: %w", user, err)
	}
	return a, nil
}

func (a *Agent) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	d, err := a.dialog.ReadInvite(req, tx)
	if err != nil {
		return
	}
	id := req.CallID().Value()
	a.mu.Lock()
	a.servers[id] = d
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.servers, id)
		a.mu.Unlock()
	}()
	a.Rings.Add(1)
	if a.opts.OnInvite != nil {
		a.opts.OnInvite(req)
	}
	_ = d.Respond(180, "Ringing", nil)
	wait := time.After(a.opts.AnswerAfter)
	if a.opts.NeverAnswer {
		wait = nil
	}
	select {
	case <-d.Context().Done():
		a.Cancels.Add(1)
		return
	case <-wait:
	}
	if a.opts.Decline {
		_ = d.Respond(486, "Busy Here", nil)
		return
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		_ = d.Respond(488, "Not Acceptable Here", nil)
		return
	}
	codec, err := offer.Negotiate()
	if err != nil {
		_ = d.Respond(488, "Not Acceptable Here", nil)
		return
	}
	peer, err := NewRTPPeer(TagAgent, codec.PT, a.opts.Delays)
	if err != nil {
		_ = d.Respond(500, "Server Internal Error", nil)
		return
	}
	defer peer.Close()
	c := &AgentCall{RTP: peer, dialog: d}
	sdp := media.SDPParams{SessionID: 1, Version: 1, Addr: peer.Addr().Addr(), Port: int(peer.Addr().Port()),
		Codec: codec, TelEventPT: offer.TelEventPT}
	if offer.Secure() {
		far := offer.Crypto[0] // Negotiate made sure there is one
		if c.key, err = media.NewCrypto(far.Tag, far.Suite); err == nil {
			err = peer.UseSRTP(c.key, far)
		}
		if err != nil {
			_ = d.Respond(488, "Not Acceptable Here", nil)
			return
		}
		c.SRTP, sdp.Crypto = true, &c.key
	}
	if err := d.RespondSDP(media.BuildSDP(sdp)); err != nil {
		return
	}
	a.Calls.Add(1)
	n := a.active.Add(1)
	defer a.active.Add(-1)
	for m := a.MaxActive.Load(); n > m && !a.MaxActive.CompareAndSwap(m, n); m = a.MaxActive.Load() {
	}
	peer.Send(netip.AddrPortFrom(offer.Addr, uint16(offer.Port)))
	select {
	case a.Answered <- c:
	default:
	}
	<-d.Context().Done()
}

// MemberCall is a call a simulated member placed.
type MemberCall struct {
	RTP    *RTPPeer
	Answer *sip.Response
	dialog *sipgo.DialogClientSession
	phone  *Phone
}

// Done is closed when the call ended.
func (c *MemberCall) Done() <-chan struct{} { return c.dialog.Context().Done() }

// TelephoneEventPT is the payload type the member offers for RFC 4733 DTMF.
const TelephoneEventPT = 101

// SendDTMF presses key (0-9, *, #, A-D) as RFC 4733 telephone-events in
// the call's RTP.
func (c *MemberCall) SendDTMF(key byte) error { return c.RTP.SendKey(key, TelephoneEventPT) }

// SendINFO presses key as a SIP INFO in the dialog (application/dtmf-relay,
// the fallback of phones without RFC 4733) and returns the response's status.
func (c *MemberCall) SendINFO(ctx context.Context, key byte) (int, error) {
	contact := c.Answer.Contact()
	if contact == nil {
		return 0, errors.New("send info: the answer has no Contact")
	}
	req := sip.NewRequest(sip.INFO, contact.Address)
	req.SetBody([]byte("Signal=" + string(key) + "\r\nDuration=160\r\n"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	res, err := c.dialog.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("send info: %w", err)
	}
	return res.StatusCode, nil
}

// Hangup sends BYE and stops the media.
func (c *MemberCall) Hangup(ctx context.Context) error {
	defer c.RTP.Close()
	return c.dialog.Bye(ctx)
}

// ErrNoAnswer wraps a final non-2xx response to a member's INVITE.
var ErrNoAnswer = errors.New("call not answered")

// CallOptions describe a member's call.
type CallOptions struct {
	Server   string // host:port of the SIP server
	Number   string // dialled number
	From     string // the member's number
	Password string // answer a digest challenge as From with this password (agents' feature codes)
	// OnProvisional, if set, sees each provisional response (100, 180, 183).
	OnProvisional func(*sip.Response)
	// Delays, if set, records the one-way delay of every tagged packet received.
	Delays *Histogram
	// KeepPayloads keeps every RTP payload the member receives
	// (RTPPeer.Payloads), to tell what they heard in which order.
	KeepPayloads bool
	// SRTP offers RTP/SAVP with an SDES key instead of plain RTP; the
	// answer must accept it.
	SRTP bool
}

// cancelGrace is how long Call waits, once its context ends, for the
// CANCEL of an INVITE to complete.
const cancelGrace = time.Second

// Call places a member call; it returns when the call is answered (then RTP
// flows both ways), refused, or ctx ends (then it is cancelled).
func (p *Phone) Call(ctx context.Context, o CallOptions) (*MemberCall, error) {
	host, portStr, err := net.SplitHostPort(o.Server)
	if err != nil {
		return nil, err
	}
	port, _ := strconv.Atoi(portStr)
	peer, err := NewRTPPeer(TagMember, 0, o.Delays)
	if err != nil {
		return nil, err
	}
	peer.mu.Lock()
	peer.keep = o.KeepPayloads // the receiver already runs: under its lock
	peer.mu.Unlock()
	sdp := media.SDPParams{SessionID: 2, Version: 1, Addr: peer.Addr().Addr(), Port: int(peer.Addr().Port()),
		Codec: media.PCMU, TelEventPT: TelephoneEventPT}
	var key media.Crypto
	if o.SRTP {
		if key, err = media.NewCrypto(1, media.DefaultSuite); err != nil {
			peer.Close()
			return nil, err
		}
		sdp.Crypto = &key
	}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: o.Number, Host: host, Port: port})
	req.SetTransport(strings.ToUpper(p.network))
	req.SetBody(media.BuildSDP(sdp))
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&ct)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: o.From, Host: p.addr.Addr().String()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: o.Number, Host: host}})
	d, err := p.dialog.WriteInvite(ctx, req)
	if err != nil {
		peer.Close()
		return nil, err
	}
	id := req.CallID().Value()
	p.mu.Lock()
	p.clients[id] = d
	p.mu.Unlock()
	fail := func(err error) (*MemberCall, error) {
		peer.Close()
		p.mu.Lock()
		delete(p.clients, id)
		p.mu.Unlock()
		return nil, err
	}
	answered := make(chan error, 1)
	go func() {
		answered <- d.WaitAnswer(ctx, sipgo.AnswerOptions{Username: o.From, Password: o.Password, OnResponse: func(r *sip.Response) error {
			if r.IsProvisional() && o.OnProvisional != nil {
				o.OnProvisional(r)
			}
			return nil
		}})
	}()
	select {
	case err = <-answered:
	case <-ctx.Done():
		select {
		case err = <-answered: // cancelled
		case <-time.After(cancelGrace):
			// Nothing came back, not even 100 Trying, so there is nothing
			// to CANCEL: sipgo waits for the INVITE's 32 s timer. A server
			// that answers after all is hung up.
			go func() {
				if <-answered == nil {
					bctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					defer cancel()
					_ = d.Ack(bctx)
					_ = d.Bye(bctx)
				}
			}()
			return fail(fmt.Errorf("no response: %w", ctx.Err()))
		}
	}
	if err != nil {
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return fail(fmt.Errorf("%w: %d %s", ErrNoAnswer, de.Res.StatusCode, de.Res.Reason))
		}
		return fail(err)
	}
	if err := d.Ack(ctx); err != nil {
		return fail(err)
	}
	ans, err := media.ParseSDP(d.InviteResponse.Body())
	if err != nil {
		return fail(fmt.Errorf("answer sdp: %w", err))
	}
	if o.SRTP != ans.Secure() {
		return fail(fmt.Errorf("answer sdp: %s answered to SRTP=%v", ans.Proto, o.SRTP))
	}
	if o.SRTP {
		i := slices.IndexFunc(ans.Crypto, func(c media.Crypto) bool { return c.Tag == key.Tag && c.Suite == key.Suite })
		if i < 0 {
			return fail(errors.New("answer sdp: the offered key is not accepted"))
		}
		if err := peer.UseSRTP(key, ans.Crypto[i]); err != nil {
			return fail(err)
		}
	}
	peer.Send(netip.AddrPortFrom(ans.Addr, uint16(ans.Port)))
	return &MemberCall{RTP: peer, Answer: d.InviteResponse, dialog: d, phone: p}, nil
}
