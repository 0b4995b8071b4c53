package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/media"
)

// A call is one member call through the B2BUA: the member's leg (a server
// dialog from the trunk) and, once an agent answers, the agent's leg (a
// client dialog). It runs in the goroutine of sipgo's INVITE handler, which
// must not return before the INVITE has its final response; that goroutine
// owns the call and is the only one to change its legs.
type call struct {
	id      acd.CallID
	s       *Server
	log     zerolog.Logger
	queue   string
	early   bool
	prio    int
	codec   media.Codec
	telPT   int
	started time.Time

	member    *sipgo.DialogServerSession
	memberLeg *media.Leg
	answered  bool // the member's INVITE got its 200

	agent    acd.AgentID
	agentLeg atomic.Pointer[media.Leg] // set once the agent answered; read by onReInvite
	agentDlg atomic.Pointer[sipgo.DialogClientSession]
	transfer chan transferTarget // where the agent transferred the call to (REFER), for talk
	handover chan handover       // a consultation the agent transferred the call into (REFER with Replaces), for talk
	holds    chan hold           // hold and resume from re-INVITEs, for talk
	talking  atomic.Bool         // talk runs: hold changes are taken
	closed   *media.Source       // the number is closed: play this and hang up
	urgent   *Emergency          // the number's emergency announcement was on when the call came
	menu     *Menu               // the number's menu, played before the call queues
	keys     chan byte           // DTMF keys from the member (RTP and INFO) while a menu listens

	cb        *callbackState                            // set once the member asked to be called back and hung up
	hello     *media.Source                             // played to the member called back, before the bridge
	memberOut atomic.Pointer[sipgo.DialogClientSession] // a callback's call to the member

	rings sync.WaitGroup // ring attempts still finishing (CANCEL, late 200)
}

func newCallID() acd.CallID {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return acd.CallID("c-" + hex.EncodeToString(b[:]))
}

// Reasons a call ended, as logged.
var (
	errMemberHangup = errors.New("member hung up")
	errAgentHangup  = errors.New("agent hung up")
	errShutdown     = errors.New("server shutting down")
	errClosed       = errors.New("closed")
	errEmergency    = errors.New("emergency announcement, then hung up")
)

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if !validRequest(req, tx) {
		return
	}
	if _, ok := req.To().Params.Get("tag"); ok {
		s.onReInvite(req, tx)
		return
	}
	respond := func(code int, reason string) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	}
	// 100 at once stops the caller's retransmissions while we decide
	// (sipgo would send it only after 200 ms).
	respond(sip.StatusTrying, "Trying")
	if req.GetHeader(hdrPeerNode) != nil {
		// Even while draining: the call is in progress on another node,
		// and this node's agents stay reachable until it is gone.
		s.onPeerInvite(req, tx)
		return
	}
	if s.draining.Load() {
		refuseRetry(req, tx, "Service Unavailable", RetryAfter)
		return
	}
	if IsFeatureCode(req.Recipient.User) {
		s.onFeature(req, tx)
		return
	}
	if _, hotline := s.cfg.Numbers[req.Recipient.User]; !hotline {
		if _, agent := s.cfg.Agents[req.Recipient.User]; agent {
			s.onConsult(req, tx) // an agent calls a colleague
			return
		}
	}
	if !s.trunkSource(req.Source()) {
		respond(sip.StatusForbidden, "Forbidden: not a trunk")
		return
	}
	if s.cfg.MaxCalls > 0 && s.callCount.Load() >= int64(s.cfg.MaxCalls) || s.newCall != nil && !s.newCall.Allow() {
		refuseRetry(req, tx, "Service Unavailable: too many calls", "1")
		return
	}
	num, ok := s.cfg.Numbers[req.Recipient.User]
	if !ok {
		respond(sip.StatusNotFound, "Not Found")
		return
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		respond(sip.StatusNotAcceptableHere, "Not Acceptable Here: no usable audio offer")
		return
	}
	codec, err := offer.Negotiate()
	if err != nil {
		respond(sip.StatusNotAcceptableHere, "Not Acceptable Here: PCMU or PCMA only")
		return
	}
	remote := netip.AddrPortFrom(offer.Addr, uint16(offer.Port))

	c := &call{
		id: newCallID(), s: s, queue: num.Queue, early: num.Early, prio: num.Priority,
		codec: codec, telPT: offer.TelEventPT, started: time.Now(), menu: num.Menu, keys: make(chan byte, 8), holds: make(chan hold, 4),
		transfer: make(chan transferTarget, 1), handover: make(chan handover, 1),
	}
	lc := s.log.With().
		Str("call_id", string(c.id)).
		Str("sip_call_id", req.CallID().Value())
	if num.Menu != nil {
		lc = lc.Str("menu", num.Menu.Name) // the queue is logged once chosen
	} else {
		lc = lc.Str("queue", c.queue)
	}
	c.log = lc.Str("caller", s.pseudo.Number(req.From().Address.User)).Logger()

	actx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	err = nil
	if num.Emergency != nil && num.Emergency.On() {
		c.urgent = num.Emergency
	}
	if num.Hours != nil {
		if open, why := num.Hours.Open(s.cfg.Clock()); !open {
			c.log.Info().Str("why", why).Msg("closed: the caller hears the closed prompt")
			c.closed = num.Closed
			s.router.Closed(num.Queue)
		}
	}
	if num.Menu == nil && c.closed == nil { // a menu's queue is admitted once chosen
		err = s.router.Admit(actx, num.Queue)
	}
	cancel()
	switch {
	case errors.Is(err, acd.ErrQueueFull):
		c.log.Info().Msg("queue full: call refused")
		respond(sip.StatusBusyHere, "Busy Here: queue full")
		return
	case errors.Is(err, acd.ErrQueueEmpty):
		c.log.Info().Msg("no agent logged in: call refused")
		respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable: no agent logged in")
		return
	case errors.Is(err, acd.ErrUnavailable):
		c.log.Warn().Msg("store unreachable: call refused")
		refuseRetry(req, tx, "Service Unavailable: try again shortly", "5")
		return
	case err != nil:
		c.log.Error().Err(err).Msg("admission failed")
		respond(sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}

	c.member, err = s.dialog.ReadInvite(req, tx)
	if err != nil {
		c.log.Warn().Err(err).Msg("invite refused")
		respond(sip.StatusBadRequest, "Bad Request")
		return
	}
	if c.memberLeg, err = s.relay.NewLeg(codec); err != nil {
		c.log.Error().Err(err).Msg("no media port")
		_ = c.member.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil)
		return
	}
	if err := c.memberLeg.AnswerSRTP(offer); err != nil {
		c.log.Info().Err(err).Msg("srtp offer refused")
		_ = c.member.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here: no usable SRTP key", nil)
		c.memberLeg.Close()
		return
	}
	c.memberLeg.SetRemote(remote)
	c.memberLeg.SetTelephoneEvent(offer.TelEventPT)

	s.callWG.Add(1)
	defer s.callWG.Done()
	s.callCount.Add(1)
	defer s.callCount.Add(-1)
	s.calls.put(req.CallID().Value(), c)
	defer s.calls.drop(req.CallID().Value())
	defer func() {
		if d := c.memberOut.Load(); d != nil {
			s.calls.drop(d.InviteRequest.CallID().Value())
		}
	}()

	reason := c.run(s.callCtx)
	ev := c.log.Info().
		Str("reason", reason.Error()).
		Bool("callback", c.cb != nil).
		Str("agent", string(c.agent)).
		Dur("duration", time.Since(c.started)).
		Object("member_rtp", legStats(c.memberLeg.Stats()))
	if leg := c.agentLeg.Load(); leg != nil {
		ev = ev.Object("agent_rtp", legStats(leg.Stats()))
	}
	ev.Msg("call ended")
}

// legStats logs a leg's packet counters.
type legStats media.LegStats

func (s legStats) MarshalZerologObject(e *zerolog.Event) {
	e.Uint64("rx", s.RxPackets).Uint64("tx", s.TxPackets).Uint64("dropped", s.Dropped).Uint64("played", s.PlayedFrames)
	if s.Unauthentic > 0 {
		e.Uint64("unauthentic", s.Unauthentic)
	}
	if s.UnauthenticRTCP > 0 {
		e.Uint64("unauthentic_rtcp", s.UnauthenticRTCP)
	}
}

// refuseRetry answers 503 with a Retry-After of retryAfter seconds.
func refuseRetry(req *sip.Request, tx sip.ServerTransaction, reason, retryAfter string) {
	r := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, reason, nil)
	r.AppendHeader(sip.NewHeader("Retry-After", retryAfter))
	_ = tx.Respond(r)
}

// run drives the call from answer to hang-up and returns why it ended. The
// cleanup order is fixed: BYE (or CANCEL) both legs, release relay ports,
// then tell the ACD.
func (c *call) run(ctx context.Context) error {
	defer c.rings.Wait()
	defer func() { c.memberLeg.Close() }() // a callback replaces the leg

	answer := c.sdp(c.memberLeg, "")
	if c.early {
		if err := c.member.Respond(183, "Session Progress", answer, contentTypeSDP()); err != nil {
			return fmt.Errorf("early media: %w", err)
		}
	} else if err := c.answerMember(answer); err != nil {
		return err
	}
	if c.urgent != nil {
		c.log.Info().Bool("hangup", c.urgent.Hangup).Msg("emergency announcement")
		if err := c.hear(ctx, c.urgent.Prompt); err != nil {
			return err
		}
		if c.urgent.Hangup {
			c.release(sip.StatusTemporarilyUnavailable)
			return errEmergency
		}
	}
	if c.closed != nil {
		if err := c.hear(ctx, c.closed); err != nil {
			return err
		}
		c.release(sip.StatusTemporarilyUnavailable)
		return errClosed
	}
	if c.menu != nil {
		q, err := c.runMenu(ctx, c.menu)
		if err != nil {
			if errors.Is(err, errNoChoice) {
				c.release(sip.StatusTemporarilyUnavailable)
			}
			return err
		}
		if err := c.s.router.Admit(ctx, q); err != nil {
			c.log.Info().Err(err).Str("queue", q).Msg("chosen queue refuses the call")
			_ = c.hear(ctx, c.s.prompts.Goodbye)
			c.release(sip.StatusTemporarilyUnavailable)
			return fmt.Errorf("queue %s: %w", q, err)
		}
		c.queue = q
		c.log = c.log.With().Str("queue", q).Logger()
	}
	qm := c.waitMedia()
	var prompt <-chan struct{} // a greeting or announcement playing; the music follows it
	if qm.Greeting != nil {
		prompt = c.memberLeg.PlayOnceThen(qm.Greeting, c.s.hold)
	} else {
		c.memberLeg.Play(c.s.hold)
	}
	c.log.Info().Bool("early", c.early).Msg("call queued")

	offers, err := c.s.router.Enqueue(ctx, acd.Call{ID: c.id, Queue: c.queue, Priority: c.prio})
	if err != nil {
		c.release(sip.StatusServiceUnavailable)
		return fmt.Errorf("enqueue: %w", err)
	}
	ann := newAnnouncer(qm)
	defer func() { ann.stop() }()
	keys := c.callbackKeys(qm) // the callback key, while the queue offers callbacks
	defer c.memberLeg.OnDTMF(nil)
	pending := make(chan acd.Offer, 1) // an offer that came during the callback dialogue
	for {
		var off acd.Offer
		select {
		case <-prompt: // over; the music goes on by itself
			prompt = nil
			continue
		case <-ann.C():
			if prompt != nil { // the greeting (or an announcement) first
				ann.retry(time.Second)
				continue
			}
			w, ok := c.s.router.Waiting(c.id)
			if say := ann.due(w, ok, c.s.cfg.Announcements); say != nil {
				c.log.Debug().Int("position", w.Position).Dur("estimated_wait", w.Wait).Bool("has_estimate", w.HasWait).Msg("announcement")
				prompt = c.memberLeg.PlayOnceThen(say, c.s.hold)
			}
			continue
		case k := <-keys:
			if k != qm.Callback.Key {
				continue
			}
			c.log.Info().Msg("callback: the member pressed the key")
			number, err := c.askCallback(ctx, qm.Callback, c.member.InviteRequest.From().Address.User)
			if err != nil {
				c.abandon()
				if errors.Is(err, errShutdown) {
					c.release(sip.StatusServiceUnavailable)
				}
				return err
			}
			select {
			case off := <-offers: // an agent is free now: no need to call back
				c.log.Info().Msg("callback: an agent became free meanwhile; connecting directly")
				pending <- off
				number = ""
			default:
			}
			if number == "" {
				c.memberLeg.Play(c.s.hold)
				prompt = nil
				continue
			}
			if err := c.takeCallback(ctx, qm.Callback, number); err != nil {
				c.abandon()
				c.release(sip.StatusServiceUnavailable)
				return err
			}
			keys, prompt = nil, nil
			ann.stop()
			continue
		case <-ctx.Done():
			if c.awaitingCallback() {
				c.log.Warn().Msg("callback lost: the node is shutting down")
			}
			c.abandon()
			c.release(sip.StatusServiceUnavailable)
			return errShutdown
		case <-c.memberCtx().Done():
			c.abandon()
			return errMemberHangup
		case off = <-offers:
		case off = <-pending:
		}
		if off.Queue != "" && off.Queue != c.queue {
			c.log.Info().Str("to", off.Queue).Msg("call overflowed")
			c.queue = off.Queue
		}
		if off.Leave != "" {
			c.release(sip.StatusTemporarilyUnavailable)
			return fmt.Errorf("left the queue: %s", off.Leave)
		}
		connected, err := c.ring(ctx, off)
		if err != nil {
			c.log.Warn().Err(err).Str("agent", string(off.Agent)).Msg("agent not reached")
		}
		if !connected {
			continue
		}
		if c.awaitingCallback() {
			answered, err := c.callBack(ctx)
			if errors.Is(err, errShutdown) {
				c.log.Warn().Msg("callback lost: the node is shutting down")
				c.abandon()
				return err
			}
			if errors.Is(err, errCallbackFailed) {
				return err
			}
			if err != nil {
				c.log.Error().Err(err).Msg("callback")
			}
			if !answered {
				continue
			}
		}
		err = c.talk(ctx)
		var tr transferred
		if !errors.As(err, &tr) {
			return err
		}
		// The member waits again, in the target queue, as a new call.
		old := c.id
		c.id, c.queue, c.agent = newCallID(), tr.queue, ""
		c.agentLeg.Store(nil)
		c.agentDlg.Store(nil)
		c.log = c.log.With().Str("call_id", string(c.id)).Str("queue", c.queue).Logger()
		c.memberLeg.Play(c.s.hold)
		prompt = nil
		ann.stop()
		qm = c.waitMedia()
		ann = newAnnouncer(qm)
		keys = c.callbackKeys(qm)
		c.log.Info().Str("from_call_id", string(old)).Msg("call transferred")
		if offers, err = c.s.router.Enqueue(ctx, acd.Call{ID: c.id, Queue: c.queue, Priority: c.prio}); err != nil {
			c.release(sip.StatusServiceUnavailable)
			return fmt.Errorf("enqueue after transfer: %w", err)
		}
	}
}

func contentTypeSDP() sip.Header {
	ct := sip.ContentTypeHeader("application/sdp")
	return &ct
}

// respondSDP answers d's INVITE with 200 and sdp, and a Contact of the
// INVITE's transport, so that the ACK and the phone's later requests come
// back the same way (sipgo's own Contact is the udp listener's).
func (s *Server) respondSDP(d *sipgo.DialogServerSession, sdp []byte) error {
	res := sip.NewSDPResponseFromRequest(d.InviteRequest, sdp)
	if ct := s.contactFor(d.InviteRequest.Transport()); ct != nil {
		res.AppendHeader(ct)
	}
	return d.WriteResponse(res)
}

// answerMember sends the member the 200 OK and waits for its ACK.
func (c *call) answerMember(answer []byte) error {
	if err := c.s.respondSDP(c.member, answer); err != nil {
		return fmt.Errorf("answer member: %w", err)
	}
	c.answered = true
	return nil
}

// release ends the member leg: BYE if answered, otherwise a final error
// response to the INVITE (503 or 480).
func (c *call) release(code int) {
	if c.cb != nil { // the member hung up when asking for the callback
		if d := c.memberOut.Load(); d != nil {
			ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
			defer cancel()
			_ = d.Bye(ctx)
		}
		return
	}
	if c.answered {
		ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
		defer cancel()
		_ = c.member.Bye(ctx)
		return
	}
	reason := "Service Unavailable"
	if code == sip.StatusTemporarilyUnavailable {
		reason = "Temporarily Unavailable"
	}
	_ = c.member.Respond(code, reason, nil)
}

func (c *call) abandon() {
	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	if err := c.s.router.Abandon(ctx, c.id); err != nil {
		c.log.Error().Err(err).Msg("abandon")
	}
}

func (c *call) sdp(leg *media.Leg, direction string) []byte {
	return legSDP(leg, c.codec, c.telPT, direction)
}

// legSDP is the SDP for leg's far end: the leg's address, RTP/SAVP with
// the leg's own key if it speaks SRTP, else RTP/AVP.
func legSDP(leg *media.Leg, codec media.Codec, telPT int, direction string) []byte {
	p := offerSDP(leg, codec, telPT, nil)
	p.Direction = direction
	if ice, ok := leg.WebRTC(); ok {
		ice.Setup = "passive" // an answer in a dialog whose DTLS server the leg is
		p.WebRTC = &ice
	} else if key, ok := leg.SRTP(); ok {
		p.Crypto = &key
	}
	return media.BuildSDP(p)
}

// offerSDP is the SDP parameters for an offer on leg, with key for SRTP
// (nil: plain RTP).
func offerSDP(leg *media.Leg, codec media.Codec, telPT int, key *media.Crypto) media.SDPParams {
	ap := leg.LocalAddr()
	return media.SDPParams{
		SessionID: uint64(time.Now().UnixNano()), Version: 1,
		Addr: ap.Addr(), Port: int(ap.Port()),
		Codec: codec, TelEventPT: telPT, Crypto: key,
	}
}

// ring offers the call to the offer's agents: INVITE each one's phone (at
// once, or after its delay with ring-progressively), wait up to the ring
// timeout, CANCEL the phones still ringing. The first to answer takes the
// call: the others are cancelled and withdrawn, and ring returns true once
// the media is bridged. Otherwise each agent's outcome is told to the ACD
// (no answer, declined), or nothing if the member left meanwhile (run's
// loop abandons the call).
func (c *call) ring(ctx context.Context, off acd.Offer) (bool, error) {
	targets := off.Targets()
	leg, err := c.s.relay.NewLeg(c.codec)
	if err != nil {
		for _, tg := range targets {
			c.offerFailed(tg.Agent, acd.Withdrawn)
		}
		return false, fmt.Errorf("media: %w", err)
	}
	begin := time.Now()
	ringCtx, cancelRing := context.WithTimeout(ctx, off.RingTimeout)
	defer cancelRing()
	memberGone := context.AfterFunc(c.memberCtx(), cancelRing)
	defer memberGone()

	// The forks and this goroutine race when a phone answers just as the
	// ring time ends; claim decides once: the index of the fork that takes
	// the call, or gaveUp. Whoever loses hangs up the late answer.
	var claim atomic.Int32
	claim.Store(unclaimed)
	type result struct {
		i    int
		dlg  *sipgo.DialogClientSession
		kind mediaKind    // what the phone was offered
		key  media.Crypto // its own SDES key, if kind is sdesSRTP
		err  error
	}
	results := make(chan result, len(targets)) // forks never block on it
	cancels := make([]context.CancelFunc, len(targets))
	for i, tg := range targets {
		fctx, cancel := context.WithCancel(ringCtx)
		cancels[i] = cancel
		c.rings.Add(1)
		go func() {
			defer c.rings.Done()
			dlg, kind, key, err := c.fork(fctx, int32(i), tg, leg, &claim)
			results <- result{i, dlg, kind, key, err}
		}()
	}
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()

	reported := make([]bool, len(targets))
	report := func(i int, err error) {
		if reported[i] {
			return
		}
		reported[i] = true
		if targets[i].Peer != "" && nodeRefused(err) {
			c.s.router.PeerGone(targets[i].Peer)
		}
		var de *sipgo.ErrDialogResponse
		if targets[i].Peer != "" && errors.As(err, &de) && de.Res.StatusCode == sip.StatusNotAcceptableHere {
			// The agent's node cannot relay plain RTP to this phone: not the agent's miss.
			c.offerFailed(targets[i].Agent, acd.Withdrawn)
			return
		}
		c.endOffer(targets[i].Agent, err)
	}
	var win *result
	done := ringCtx.Done()
	for pending := len(targets); pending > 0 && win == nil; {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				win = &r
			} else {
				report(r.i, r.err)
			}
		case <-done:
			if claim.CompareAndSwap(unclaimed, gaveUp) {
				pending = 0 // the forks still ringing CANCEL in the background (c.rings)
			} else {
				done = nil // a fork took the call: its result is on the way
			}
		}
	}
	if win == nil {
		cause := context.Cause(ringCtx)
		for i, tg := range targets {
			if time.Since(begin) < tg.After {
				report(i, errNotRung) // its turn never came
			} else {
				report(i, cause)
			}
		}
		leg.Close()
		if cause == nil {
			return false, errors.New("not answered")
		}
		return false, fmt.Errorf("not answered: %w", cause)
	}
	for i := range targets {
		if i != win.i {
			cancels[i]()
			if !reported[i] {
				reported[i] = true
				c.offerFailed(targets[i].Agent, acd.Withdrawn)
			}
		}
	}

	agent, dlg := targets[win.i].Agent, win.dlg
	ans, err := media.ParseSDP(dlg.InviteResponse.Body())
	if err == nil {
		err = acceptAnswer(leg, win.kind, ans, win.key)
	}
	if err == nil {
		leg.SetRemote(netip.AddrPortFrom(ans.Addr, uint16(ans.Port)))
		leg.SetTelephoneEvent(ans.TelEventPT) // DTMF between the legs keeps each side's payload type
	}
	if aerr := dlg.Ack(ctx); aerr != nil && err == nil {
		err = aerr
	}
	if err != nil {
		c.hangupAgent(dlg)
		c.dropAgent(dlg, leg)
		c.endOffer(agent, nil)
		return false, fmt.Errorf("agent %s answer: %w", agent, err)
	}
	c.agent = agent
	c.agentLeg.Store(leg)
	return true, nil
}

// panelHeaders tell an agent's phone or desktop what a call is about
// before it is answered: the queue, how long the member has waited, and
// the number's last digits.
func (c *call) panelHeaders() []sip.Header {
	hs := []sip.Header{
		sip.NewHeader("X-Callwerk-Queue", c.queue),
		sip.NewHeader("X-Callwerk-Waited", strconv.Itoa(int(time.Since(c.started)/time.Second))),
	}
	if c.member != nil {
		hs = append(hs, sip.NewHeader("X-Callwerk-Caller", maskNumber(c.member.InviteRequest.From().Address.User)))
	}
	return hs
}

// maskNumber shows only the last three digits of a caller's number, as
// the clerk may see it before answering: "+4930123456789" -> "***789".
// Anything that is not a number shows as "unknown".
func maskNumber(n string) string {
	digits := 0
	for _, r := range n {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && digits == 0:
		default:
			return "unknown"
		}
	}
	if digits < 6 {
		return "unknown"
	}
	return "***" + n[len(n)-3:]
}

// mediaKind is the media a phone is offered.
type mediaKind int

const (
	plainRTP mediaKind = iota
	sdesSRTP           // RTP/SAVP with an SDES key: phones over TLS
	webRTC             // ICE-lite and DTLS-SRTP: browsers (+sip.ice) over WS or WSS
)

// mediaFor is what a phone registered with b is offered: WebRTC for a
// browser, SDES-SRTP over TLS, else plain RTP.
func mediaFor(b Binding) mediaKind {
	switch {
	case b.ICE && (strings.EqualFold(b.Transport, "ws") || strings.EqualFold(b.Transport, "wss")):
		return webRTC
	case offersSRTP(b.Transport):
		return sdesSRTP
	}
	return plainRTP
}

// acceptAnswer sets leg up from the answer of the phone that took the call,
// which was offered kind (with key for SDES).
func acceptAnswer(leg *media.Leg, kind mediaKind, ans *media.SDP, key media.Crypto) error {
	switch kind {
	case webRTC:
		if !ans.WebRTC() {
			return fmt.Errorf("%s answered to a WebRTC offer", ans.Proto)
		}
		return leg.AcceptWebRTC(ans.ICE)
	case sdesSRTP:
		leg.EndWebRTC()
		return leg.AcceptSRTP(ans, key)
	}
	leg.EndWebRTC() // a browser was rung too, but a plain phone answered
	if ans.Secure() || ans.WebRTC() {
		return fmt.Errorf("%s answered to a plain RTP offer", ans.Proto)
	}
	return nil
}

// Values of ring's claim besides a fork's index.
const (
	unclaimed = -1
	gaveUp    = -2
)

// nodeRefused reports whether a node leg failed because of the node, not
// the agent: it is shutting down (503) or did not answer at all.
func nodeRefused(err error) bool {
	var de *sipgo.ErrDialogResponse
	return errors.Is(err, errPeerSilent) || errors.As(err, &de) && de.Res.StatusCode == sip.StatusServiceUnavailable
}

// PeerSilence is how long a node leg may stay without any response before
// the node is taken for gone.
const PeerSilence = 2 * time.Second

// errPeerSilent ends a fork whose node did not respond within PeerSilence.
var errPeerSilent = errors.New("node did not respond")

// errNotRung ends a fork whose phone was never rung (ring-progressively:
// the call was answered or given up before its turn).
var errNotRung = errors.New("not rung")

// fork rings one agent's phone for ring: after tg.After, INVITE, wait for
// the answer until ctx ends. It returns the dialog if its answer took the
// call (claim), else why not; an answer that came too late is hung up. It
// also reports what media the phone was offered, and the SDES key made for
// it alone (phones that lose the race must not know the winner's key).
func (c *call) fork(ctx context.Context, i int32, tg acd.Target, leg *media.Leg, claim *atomic.Int32) (*sipgo.DialogClientSession, mediaKind, media.Crypto, error) {
	var key media.Crypto
	if tg.After > 0 {
		t := time.NewTimer(tg.After)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, plainRTP, key, errNotRung
		case <-t.C:
		}
	}
	req, kind, fwd, err := c.agentRequest(tg)
	if err != nil {
		return nil, kind, key, err
	}
	p := offerSDP(leg, c.codec, c.telPT, nil)
	switch kind {
	case sdesSRTP:
		if key, err = media.NewCrypto(1, media.DefaultSuite); err != nil {
			return nil, kind, key, err
		}
		p.Crypto = &key
	case webRTC:
		ice, err := leg.StartWebRTC(c.s.dtls)
		if err != nil {
			return nil, kind, key, err
		}
		p.WebRTC = &ice
	}
	req.SetBody(media.BuildSDP(p))
	req.AppendHeader(contentTypeSDP())
	fromUser, toUser, display := "callwerk", string(tg.Agent), "Callwerk "+c.queue
	var opts sipgo.AnswerOptions
	if fwd != nil { // the carrier sees the hotline calling the number, and nothing of the queue
		fromUser, toUser, display = fwd.Trunk.From, fwd.Number, ""
		opts.Username, opts.Password = fwd.Trunk.Username, fwd.Trunk.Password
	}
	from := &sip.FromHeader{
		DisplayName: display,
		Address:     sip.Uri{Scheme: "sip", User: fromUser, Host: c.s.dialog.ContactHDR.Address.Host},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	to := req.Recipient
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: toUser, Host: to.Host, Port: to.Port}})

	// What the clerk's phone or desktop shows before answering: the queue,
	// how long the member has waited, and the number's last digits.
	// Not to a carrier: what the call is about stays in the house.
	if fwd == nil {
		for _, h := range c.panelHeaders() {
			req.AppendHeader(h)
		}
	}
	c.log.Info().Str("agent", string(tg.Agent)).Str("via_node", tg.Peer).Msg("ringing agent")
	dlg, err := c.s.dialog.WriteInvite(ctx, req)
	if err != nil {
		return nil, kind, key, fmt.Errorf("invite: %w", err)
	}
	sipCallID := req.CallID().Value()
	c.s.calls.put(sipCallID, c)
	if tg.Peer != "" {
		// A node answers 100 at once; one that does not is gone: do not
		// let the offer ring into nothing for the whole ring timeout.
		var heard atomic.Bool
		opts.OnResponse = func(*sip.Response) error { heard.Store(true); return nil }
		pctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		stop := time.AfterFunc(PeerSilence, func() {
			if !heard.Load() {
				cancel(errPeerSilent)
			}
		})
		defer stop.Stop()
		ctx = pctx
	}
	err = dlg.WaitAnswer(ctx, opts)
	if err == nil && claim.CompareAndSwap(unclaimed, i) {
		// Publish the dialog before the ACK: the agent may hang up right
		// after it, and onBye must find the dialog to end it.
		c.agentDlg.Store(dlg)
		return dlg, kind, key, nil
	}
	if dlg.InviteResponse != nil && dlg.InviteResponse.IsSuccess() { // too late, or another phone was first
		bctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
		_ = dlg.Ack(bctx)
		_ = dlg.Bye(bctx)
		cancel()
	}
	c.s.calls.drop(sipCallID)
	if err == nil {
		err = errors.New("answered after the call was taken or given up")
	}
	if cause := context.Cause(ctx); errors.Is(cause, errPeerSilent) {
		err = cause
	}
	return nil, kind, key, err
}

// agentRequest starts the INVITE that rings an agent: to the newest
// registered device, or through the node it registered with, or to the
// number a forwarded agent is reached at (with the Forward). It reports
// the media the device is to be offered (mediaFor); through a node the
// offer is plain, and that node refuses it for an agent outside the
// trusted networks.
func (c *call) agentRequest(tg acd.Target) (*sip.Request, mediaKind, *Forward, error) {
	if f, ok := c.s.cfg.Forwards[string(tg.Agent)]; ok {
		return c.s.forwardRequest(f), plainRTP, &f, nil
	}
	if tg.Peer != "" {
		req, err := c.s.peerRequest(tg.Peer, string(tg.Agent))
		return req, plainRTP, nil, err
	}
	bindings := c.s.loc.Lookup(string(tg.Agent))
	if len(bindings) == 0 {
		return nil, plainRTP, nil, errors.New("no registered device")
	}
	req, kind := c.s.bindingInvite(bindings[0])
	return req, kind, nil, nil
}

// endOffer reports a failed offer: nothing if the member left meanwhile
// (run's loop abandons the call), rejected if the agent's phone declined
// (486 Busy Here, 600 Busy Everywhere, 603 Decline), withdrawn on 503 (the
// node that carries the agent's leg is shutting down), else no answer.
func (c *call) endOffer(agent acd.AgentID, err error) {
	if c.memberCtx().Err() != nil {
		return
	}
	if errors.Is(err, errNotRung) || errors.Is(err, errPeerSilent) {
		c.offerFailed(agent, acd.Withdrawn)
		return
	}
	o := acd.NoAnswer
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) {
		switch de.Res.StatusCode {
		case sip.StatusBusyHere, statusBusyEverywhere, statusDecline:
			o = acd.Rejected
		case sip.StatusServiceUnavailable: // a node shutting down, not the agent
			o = acd.Withdrawn
		}
	}
	c.offerFailed(agent, o)
}

func (c *call) offerFailed(agent acd.AgentID, o acd.Outcome) {
	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	if err := c.s.router.OfferFailed(ctx, c.id, agent, o); err != nil {
		c.log.Error().Err(err).Msg("offer failed")
	}
}

// talk connects member and agent and waits for either to hang up.
func (c *call) talk(ctx context.Context) error {
	dlg := c.agentDlg.Load() // the agent's, until a handover makes it the colleague's
	defer func() { c.s.calls.drop(dlg.InviteRequest.CallID().Value()) }()
	agentLeg := c.agentLeg.Load()
	defer func() { agentLeg.Close() }()
	bg, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	err := c.s.router.Connect(bg, c.id, c.agent)
	cancel()
	if err != nil {
		c.log.Error().Err(err).Msg("connect")
	}
	if c.early {
		if err := c.answerMember(c.sdp(c.memberLeg, "")); err != nil {
			c.hangupAgent(dlg)
			c.complete("")
			return err
		}
	}
	if hello := c.hello; hello != nil {
		c.hello = nil
		if err := c.hear(ctx, hello); err != nil {
			c.hangupAgent(dlg)
			by := ""
			if errors.Is(err, errMemberHangup) {
				by = acd.HangupCaller
			} else {
				c.release(sip.StatusServiceUnavailable)
			}
			c.complete(by)
			return err
		}
	}
	if err := media.Bridge(c.memberLeg, agentLeg); err != nil {
		c.log.Error().Err(err).Msg("bridge")
	}
	c.log.Info().Str("agent", string(c.agent)).Msg("call connected")

	var reason error
	by := ""
	var held [2]bool    // by the member, by the agent
	armed := time.Now() // silence counts from the bridge or the last resume
	c.talking.Store(true)
	defer c.talking.Store(false)
	var check <-chan time.Time
	if t := c.s.cfg.MediaTimeout; t > 0 {
		tick := time.NewTicker(min(t/4, time.Second))
		defer tick.Stop()
		check = tick.C
	}
	for { // until the call ends; hold changes and quiet checks go round again
		select {
		case h := <-c.holds:
			c.hold(h, &held, agentLeg)
			if !h.on {
				armed = time.Now()
			}
			continue
		case now := <-check:
			if held[0] || held[1] {
				continue // a held call may be silent
			}
			side, silent := "member", c.memberLeg.Silent(now)
			if a := agentLeg.Silent(now); a > silent {
				side, silent = "agent", a
			}
			silent = min(silent, now.Sub(armed))
			if silent < c.s.cfg.MediaTimeout {
				continue
			}
			reason = fmt.Errorf("media timeout: no RTP from the %s for %s", side, silent.Round(time.Second))
			c.hangupAgent(dlg)
			c.release(sip.StatusServiceUnavailable)
		case <-ctx.Done():
			reason = errShutdown
			c.hangupAgent(dlg)
			c.release(sip.StatusServiceUnavailable)
		case <-c.memberCtx().Done():
			reason, by = errMemberHangup, acd.HangupCaller
			c.hangupAgent(dlg)
		case <-dlg.Context().Done():
			reason, by = errAgentHangup, acd.HangupAgent
			c.release(sip.StatusServiceUnavailable)
		case h := <-c.handover:
			err := c.handOver(h, &dlg, &agentLeg)
			h.result <- err
			if err != nil {
				c.log.Info().Err(err).Msg("attended transfer refused")
			} else {
				held, armed = [2]bool{}, time.Now() // the bridge replaced the music
			}
			continue
		case tt := <-c.transfer:
			target := tt.queue
			if tt.agent != "" || tt.number != "" {
				err := c.blindTransfer(tt, &dlg, &agentLeg)
				if err == nil {
					held, armed = [2]bool{}, time.Now()
					continue
				}
				if c.memberCtx().Err() != nil {
					reason, by = errMemberHangup, acd.HangupCaller
					break
				}
				c.log.Info().Err(err).Msg("blind transfer failed: the call goes back to its queue")
				target = c.queue
			} else {
				c.endTransferredLeg(dlg)
			}
			bg, cancel := context.WithTimeout(context.Background(), ByeTimeout)
			defer cancel()
			if err := c.s.router.Transfer(bg, c.id, c.queue, c.agent, target); err != nil {
				c.log.Error().Err(err).Msg("transfer")
			}
			return transferred{queue: target}
		}
		break
	}
	c.complete(by)
	return reason
}

// transferred ends talk when the agent transferred the call to queue.
type transferred struct{ queue string }

func (t transferred) Error() string { return "transferred to " + t.queue }

// TransferGrace is how long the transferring phone gets to hang up by
// itself after the NOTIFY that the transfer succeeded; then it gets a BYE.
const TransferGrace = 2 * time.Second

// endTransferredLeg tells the agent's phone that its blind transfer
// succeeded (NOTIFY with a 200 sipfrag, RFC 3515) and ends its leg.
func (c *call) endTransferredLeg(dlg *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	seq := dlg.InviteRequest.CSeq().SeqNo
	notify := inDialog(dlg, sip.NOTIFY, seq+1)
	notify.AppendHeader(sip.NewHeader("Event", "refer"))
	notify.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=noresource"))
	ct := sip.ContentTypeHeader("message/sipfrag;version=2.0")
	notify.AppendHeader(&ct)
	notify.SetBody([]byte("SIP/2.0 200 OK\r\n"))
	if _, err := dlg.Do(ctx, notify); err != nil {
		c.log.Warn().Err(err).Msg("transfer NOTIFY failed")
	}
	select {
	case <-dlg.Context().Done(): // the phone hung up, as phones do after a transfer
		return
	case <-time.After(TransferGrace):
	}
	if err := dlg.WriteBye(ctx, inDialog(dlg, sip.BYE, seq+2)); err != nil {
		c.log.Debug().Err(err).Msg("BYE after transfer")
	}
}

// inDialog builds an in-dialog request of ours on an agent leg, sent where
// the INVITE went (the phone's NAT binding), with CSeq seq.
func inDialog(dlg *sipgo.DialogClientSession, method sip.RequestMethod, seq uint32) *sip.Request {
	target := dlg.InviteRequest.Recipient
	if ct := dlg.InviteResponse.Contact(); ct != nil {
		target = ct.Address
	}
	req := sip.NewRequest(method, *target.Clone())
	req.SetDestination(dlg.InviteRequest.Destination())
	req.SetTransport(dlg.InviteRequest.Transport())
	req.AppendHeader(sip.HeaderClone(dlg.InviteRequest.From()))
	req.AppendHeader(sip.HeaderClone(dlg.InviteResponse.To()))
	req.AppendHeader(sip.HeaderClone(dlg.InviteRequest.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	return req
}

// onRefer takes an agent's blind transfer (REFER, RFC 3515) of a connected
// call to a configured number: 202, then talk ends the agent's leg and the
// member waits in that number's queue. A REFER on a node leg is refused
// (501) for now; so is a target that is not a configured number (404).
func (s *Server) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	if !validRequest(req, tx) {
		return
	}
	respond := func(code int, reason string) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	}
	id := req.CallID().Value()
	if s.peers.get(id) != nil {
		respond(sip.StatusNotImplemented, "Not Implemented: transfer through a node leg")
		return
	}
	c := s.calls.get(id)
	dlg := (*sipgo.DialogClientSession)(nil)
	if c != nil {
		dlg = c.agentDlg.Load()
	}
	if dlg == nil || dlg.InviteRequest.CallID().Value() != id || c.agentLeg.Load() == nil {
		respond(sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if s.carrierLeg(dlg) {
		respond(sip.StatusForbidden, "Forbidden: only an agent's phone transfers calls")
		return
	}
	h := req.GetHeader("Refer-To")
	var to sip.Uri
	if h == nil || sip.ParseUri(strings.Trim(strings.TrimSpace(h.Value()), "<>"), &to) != nil {
		respond(sip.StatusBadRequest, "Bad Request: Refer-To missing or malformed")
		return
	}
	if strings.Contains(h.Value(), "Replaces") {
		respond(s.attendedTransfer(c, h.Value()))
		return
	}
	var tt transferTarget
	if num, ok := s.cfg.Numbers[to.User]; ok {
		tt.queue = num.Queue
	} else if _, ok := s.cfg.Agents[to.User]; ok {
		if len(s.loc.Lookup(to.User)) == 0 {
			respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable: that agent has no phone registered on this node")
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
		state, err := s.agentState(ctx, acd.AgentID(to.User))
		cancel()
		if err != nil || state != acd.Available.String() {
			respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable: that agent is not available")
			return
		}
		tt.agent = acd.AgentID(to.User)
	} else if ot := s.cfg.Transfer; ot != nil {
		n, err := callbackNumber(to.User, ot.CountryCode, ot.International)
		if err != nil {
			respond(sip.StatusForbidden, "Forbidden: transfer target "+err.Error())
			return
		}
		tt.number = n
	} else {
		respond(sip.StatusNotFound, "Not Found: transfer target is neither a configured number nor an agent")
		return
	}
	select {
	case c.transfer <- tt:
		respond(sip.StatusAccepted, "Accepted")
	default:
		respond(sip.StatusRequestPending, "Request Pending: a transfer is under way")
	}
}

// dropAgent forgets an agent leg that never reached talk.
func (c *call) dropAgent(dlg *sipgo.DialogClientSession, leg *media.Leg) {
	c.s.calls.drop(dlg.InviteRequest.CallID().Value())
	c.agentDlg.Store(nil)
	c.agentLeg.Store(nil)
	leg.Close()
}

func (c *call) hangupAgent(dlg *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	_ = dlg.Bye(ctx)
}

func (c *call) complete(by string) {
	if c.agent == "" {
		return // transferred outside: the agent's part was completed then
	}
	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	if err := c.s.router.Complete(ctx, c.id, c.queue, c.agent, by); err != nil {
		c.log.Error().Err(err).Msg("complete")
	}
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if d := s.features.get(req.CallID().Value()); d != nil {
		_ = d.ReadAck(req, tx)
		return
	}
	if l := s.peers.get(req.CallID().Value()); l != nil {
		_ = l.in.ReadAck(req, tx)
		return
	}
	if cs := s.consults.get(req.CallID().Value()); cs != nil && req.CallID().Value() == cs.in.InviteRequest.CallID().Value() {
		_ = cs.in.ReadAck(req, tx)
		return
	}
	c := s.calls.get(req.CallID().Value())
	if c == nil {
		return
	}
	_ = c.member.ReadAck(req, tx) // an ACK of a re-INVITE has another CSeq; nothing to do then
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if !validRequest(req, tx) {
		return
	}
	if d := s.features.get(req.CallID().Value()); d != nil {
		_ = d.ReadBye(req, tx)
		return
	}
	if l := s.peers.get(req.CallID().Value()); l != nil {
		if req.CallID().Value() == l.in.InviteRequest.CallID().Value() {
			_ = l.in.ReadBye(req, tx)
		} else if out := l.outDialog(); out != nil {
			_ = out.ReadBye(req, tx)
		}
		return
	}
	if cs := s.consults.get(req.CallID().Value()); cs != nil {
		if req.CallID().Value() == cs.in.InviteRequest.CallID().Value() {
			_ = cs.in.ReadBye(req, tx)
			return
		}
		if out, _ := cs.colleague(); out != nil && req.CallID().Value() == out.InviteRequest.CallID().Value() {
			_ = out.ReadBye(req, tx)
			return
		}
	}
	c := s.calls.get(req.CallID().Value())
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	if req.CallID().Value() == c.member.InviteRequest.CallID().Value() {
		if err := c.member.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
		}
		return
	}
	if dlg := c.agentDlg.Load(); dlg != nil && req.CallID().Value() == dlg.InviteRequest.CallID().Value() {
		_ = dlg.ReadBye(req, tx)
		return
	}
	if dlg := c.memberOut.Load(); dlg != nil && req.CallID().Value() == dlg.InviteRequest.CallID().Value() {
		_ = dlg.ReadBye(req, tx)
		return
	}
	// BYE for an agent leg that is still ringing or failing: accept it.
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

// onCancel answers a CANCEL that matches no INVITE transaction (a matching
// one is handled by sipgo's transaction layer: 200, then 487 to the INVITE).
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
}

// onReInvite answers an in-dialog INVITE (hold, resume, a new media address)
// from the new offer (RFC 3264 §6.1: sendonly is answered recvonly), and
// points the relay leg at the new address.
func (s *Server) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	if s.peers.get(req.CallID().Value()) != nil {
		// Not relayed yet: the leg keeps the media it was set up with.
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here: re-INVITE through a node leg", nil))
		return
	}
	if cs := s.consults.get(req.CallID().Value()); cs != nil {
		s.consultReInvite(cs, req, tx)
		return
	}
	c := s.calls.get(req.CallID().Value())
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	leg := c.memberLeg
	if dlg := c.agentDlg.Load(); dlg != nil && req.CallID().Value() == dlg.InviteRequest.CallID().Value() {
		leg = c.agentLeg.Load()
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil || leg == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
		return
	}
	if err := leg.AnswerSRTP(offer); err != nil {
		c.log.Info().Err(err).Msg("re-INVITE refused")
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here: SRTP required on this call", nil))
		return
	}
	leg.SetRemote(netip.AddrPortFrom(offer.Addr, uint16(offer.Port)))
	if c.talking.Load() { // waiting or ringing, the legs are not bridged: nothing to hold
		select { // talk plays music to the other side while this one holds
		case c.holds <- hold{agent: leg != c.memberLeg, on: offer.Direction == media.DirSendOnly || offer.Direction == media.DirInactive}:
		default:
		}
	}
	res := sip.NewSDPResponseFromRequest(req, c.sdp(leg, media.AnswerDirection(offer.Direction)))
	if ct := s.contactFor(req.Transport()); ct != nil {
		res.AppendHeader(ct)
	} else {
		res.AppendHeader(sip.HeaderClone(&s.dialog.ContactHDR))
	}
	_ = tx.Respond(res)
}

// hold is a re-INVITE's hold state: on (sendonly or inactive) or off, by
// the agent or the member.
type hold struct{ agent, on bool }

// hold applies a hold change during talk: the other side hears the music
// while one side holds the call, and the bridge again once neither does.
func (c *call) hold(h hold, held *[2]bool, agentLeg *media.Leg) {
	side, other := 0, agentLeg
	if h.agent {
		side, other = 1, c.memberLeg
	}
	if held[side] == h.on {
		return // a session refresh
	}
	held[side] = h.on
	who := "member"
	if h.agent {
		who = "agent"
	}
	if h.on {
		c.log.Info().Str("by", who).Msg("call on hold")
		other.Play(c.s.hold)
		return
	}
	c.log.Info().Str("by", who).Msg("call resumed")
	other.StopPlay()
}
