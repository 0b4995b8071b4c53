package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/media"
)

// Attended transfer (RFC 5589). A clerk on a call puts the member on hold
// and calls a colleague by their agent id: a consultation call, which the
// node carries like a member call (a relay leg for each phone, bridged)
// but outside the ACD. When the clerk's phone then transfers (REFER in the
// member call with Refer-To: <sip:COLLEAGUE?Replaces=CONSULTATION-CALL-ID>),
// the ACD hands the member's call to the colleague (acd.Handover), the
// member's leg is bridged to the colleague's leg of the consultation, and
// both of the clerk's calls end. The colleague's phone sees no new call:
// the member simply takes the clerk's place.

// ConsultRingTimeout is how long a consultation call rings the colleague.
const ConsultRingTimeout = 30 * time.Second

// consult is a consultation call between two agents.
type consult struct {
	caller, target acd.AgentID
	in             *sipgo.DialogServerSession // from the caller's phone
	inLeg          *media.Leg
	codec          media.Codec

	mu     sync.Mutex
	out    *sipgo.DialogClientSession // to the colleague's phone, once it answered
	outLeg *media.Leg
	taken  bool          // handed over: out and outLeg belong to a member call now
	done   chan struct{} // closed when the consultation ends or is handed over
	once   sync.Once
}

// answered records the colleague's answered side.
func (cs *consult) answered(out *sipgo.DialogClientSession, leg *media.Leg) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.out, cs.outLeg = out, leg
}

// colleague returns the colleague's side, nil before it answered or once
// handed over.
func (cs *consult) colleague() (*sipgo.DialogClientSession, *media.Leg) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.taken {
		return nil, nil
	}
	return cs.out, cs.outLeg
}

// take hands the colleague's side over; nil if the consultation is over.
func (cs *consult) take() (*sipgo.DialogClientSession, *media.Leg) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	select {
	case <-cs.done:
		return nil, nil
	default:
	}
	if cs.out == nil {
		return nil, nil
	}
	cs.taken = true
	cs.once.Do(func() { close(cs.done) })
	return cs.out, cs.outLeg
}

// end marks the consultation over; it reports whether it was handed over.
func (cs *consult) end() (taken bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.once.Do(func() { close(cs.done) })
	return cs.taken
}

// onConsult carries an agent's call to a colleague (user is an agent id):
// authenticated as a feature code, the colleague's phone rung over its
// registration, the two bridged through the relay until either hangs up
// or the call is handed over to a member call.
func (s *Server) onConsult(req *sip.Request, tx sip.ServerTransaction) {
	respond := func(code int, reason string) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	}
	if !s.encryptedEnough(req) {
		s.refuseUntrusted(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here: SRTP required outside the trusted networks")
		return
	}
	caller, ok := s.authenticate(req, tx, "agent call")
	if !ok {
		return
	}
	target := req.Recipient.User
	log := s.log.With().Str("agent", caller).Str("colleague", target).Str("sip_call_id", req.CallID().Value()).Logger()
	if target == caller {
		respond(sip.StatusBusyHere, "Busy Here: that is you")
		return
	}
	bindings := s.loc.Lookup(target)
	if len(bindings) == 0 {
		respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable: colleague not registered on this node")
		return
	}
	offer, err := media.ParseSDP(req.Body())
	var codec media.Codec
	if err == nil {
		codec, err = offer.Negotiate()
	}
	if err != nil {
		respond(sip.StatusNotAcceptableHere, "Not Acceptable Here: PCMU or PCMA over RTP/AVP or RTP/SAVP")
		return
	}
	in, err := s.dialog.ReadInvite(req, tx)
	if err != nil {
		respond(sip.StatusBadRequest, "Bad Request")
		return
	}
	s.callWG.Add(1)
	defer s.callWG.Done()
	cs := &consult{caller: acd.AgentID(caller), target: acd.AgentID(target), in: in, codec: codec, done: make(chan struct{})}
	if cs.inLeg, err = s.relay.NewLeg(codec); err != nil {
		_ = in.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil)
		return
	}
	if err := cs.inLeg.AnswerSRTP(offer); err != nil {
		cs.inLeg.Close()
		_ = in.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		return
	}
	cs.inLeg.SetRemote(netip.AddrPortFrom(offer.Addr, uint16(offer.Port)))
	inID := req.CallID().Value()
	s.consults.put(inID, cs)
	defer s.consults.drop(inID)

	ctx, cancel := context.WithTimeout(in.Context(), ConsultRingTimeout)
	var outID string
	req0, kind := s.bindingInvite(bindings[0])
	out, outLeg, err := s.ringPhone(ctx, phoneCall{req: req0, kind: kind, codec: codec,
		from: caller, display: "Colleague " + caller, to: target,
		sent:    func(id string) { outID = id; s.consults.put(id, cs) },
		ringing: func() { _ = in.Respond(sip.StatusRinging, "Ringing", nil) }})
	cancel()
	if outID != "" {
		defer s.consults.drop(outID)
	}
	if err != nil {
		log.Info().Err(err).Msg("consultation not answered")
		cs.inLeg.Close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			_ = in.Respond(de.Res.StatusCode, de.Res.Reason, nil)
		} else if in.Context().Err() == nil {
			_ = in.Respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
		}
		return
	}
	cs.answered(out, outLeg)
	if err := s.respondSDP(in, legSDP(cs.inLeg, codec, -1, "")); err != nil {
		s.endConsult(cs)
		return
	}
	if err := media.Bridge(cs.inLeg, outLeg); err != nil {
		log.Error().Err(err).Msg("consultation bridge")
	}
	log.Info().Msg("consultation call connected")

	select {
	case <-in.Context().Done():
	case <-out.Context().Done():
	case <-cs.done:
	case <-s.callCtx.Done():
	}
	s.endConsult(cs)
}

// phoneCall is an INVITE for ringPhone: to a registered phone
// (bindingInvite) or a number over a trunk (forwardRequest).
type phoneCall struct {
	req       *sip.Request
	kind      mediaKind // what to offer
	username  string    // digest credentials, for a carrier that asks
	password  string
	codec     media.Codec
	from      string              // From user
	display   string              // From display name
	to        string              // To user: the agent's id
	sent      func(callID string) // the INVITE is out: register its Call-ID
	ringing   func()              // the phone rings (180)
	extraHdrs []sip.Header
}

// ringPhone rings a phone with a fresh relay leg, offering pc.kind, and
// returns the answered dialog and the leg, set up from the answer and
// acknowledged; on error the leg is closed and an answer that came is
// hung up.
func (s *Server) ringPhone(ctx context.Context, pc phoneCall) (*sipgo.DialogClientSession, *media.Leg, error) {
	leg, err := s.relay.NewLeg(pc.codec)
	if err != nil {
		return nil, nil, err
	}
	req, kind := pc.req, pc.kind
	p := offerSDP(leg, pc.codec, -1, nil)
	var key media.Crypto
	switch kind {
	case sdesSRTP:
		if key, err = media.NewCrypto(1, media.DefaultSuite); err != nil {
			leg.Close()
			return nil, nil, err
		}
		p.Crypto = &key
	case webRTC:
		ice, err := leg.StartWebRTC(s.dtls)
		if err != nil {
			leg.Close()
			return nil, nil, err
		}
		p.WebRTC = &ice
	}
	req.SetBody(media.BuildSDP(p))
	req.AppendHeader(contentTypeSDP())
	from := &sip.FromHeader{DisplayName: pc.display,
		Address: sip.Uri{Scheme: "sip", User: pc.from, Host: s.dialog.ContactHDR.Address.Host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: pc.to, Host: req.Recipient.Host, Port: req.Recipient.Port}})
	for _, h := range pc.extraHdrs {
		req.AppendHeader(h)
	}
	dlg, err := s.dialog.WriteInvite(ctx, req)
	if err != nil {
		leg.Close()
		return nil, nil, err
	}
	if pc.sent != nil {
		pc.sent(req.CallID().Value())
	}
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: pc.username, Password: pc.password, OnResponse: func(r *sip.Response) error {
		if r.StatusCode == sip.StatusRinging && pc.ringing != nil {
			pc.ringing()
		}
		return nil
	}})
	var ans *media.SDP
	if err == nil {
		if ans, err = media.ParseSDP(dlg.InviteResponse.Body()); err == nil {
			err = acceptAnswer(leg, kind, ans, key)
		}
		if aerr := dlg.Ack(ctx); err == nil {
			err = aerr
		}
		if err != nil {
			bctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
			_ = dlg.Bye(bctx)
			cancel()
		}
	} else if dlg.InviteResponse != nil && dlg.InviteResponse.IsSuccess() { // answered as we gave up
		bctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
		_ = dlg.Ack(bctx)
		_ = dlg.Bye(bctx)
		cancel()
	}
	if err != nil {
		leg.Close()
		return nil, nil, err
	}
	leg.SetRemote(netip.AddrPortFrom(ans.Addr, uint16(ans.Port)))
	return dlg, leg, nil
}

// endConsult hangs up what is left of a consultation: both sides, or only
// the caller's if the colleague's side was handed over to a member call.
func (s *Server) endConsult(cs *consult) {
	taken := cs.end()
	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	if cs.in.Context().Err() == nil {
		_ = cs.in.Bye(ctx)
	}
	cs.inLeg.Close()
	out, leg := cs.colleague()
	if taken || out == nil {
		return
	}
	if out.Context().Err() == nil {
		_ = out.Bye(ctx)
	}
	leg.Close()
}

// consultReInvite answers a re-INVITE in a consultation (hold, a new
// address) from the new offer, like one in a member call but without
// music: the consultation is between two clerks.
func (s *Server) consultReInvite(cs *consult, req *sip.Request, tx sip.ServerTransaction) {
	leg := cs.inLeg
	if out, outLeg := cs.colleague(); out != nil && req.CallID().Value() == out.InviteRequest.CallID().Value() {
		leg = outLeg
	}
	offer, err := media.ParseSDP(req.Body())
	if err == nil {
		err = leg.AnswerSRTP(offer)
	}
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
		return
	}
	leg.SetRemote(netip.AddrPortFrom(offer.Addr, uint16(offer.Port)))
	res := sip.NewSDPResponseFromRequest(req, legSDP(leg, cs.codec, -1, media.AnswerDirection(offer.Direction)))
	if ct := s.contactFor(req.Transport()); ct != nil {
		res.AppendHeader(ct)
	}
	_ = tx.Respond(res)
}

// transferTarget is where a blind transfer (REFER without Replaces) goes:
// a queue (a configured number), an agent, or an outside number.
type transferTarget struct {
	queue  string
	agent  acd.AgentID
	number string // E.164, over Config.Transfer's trunk
}

// OutsideTransfer lets agents transfer calls to numbers outside: over
// Trunk, national numbers of CountryCode only unless International, never
// premium-rate or service numbers (callbackNumber's rules).
type OutsideTransfer struct {
	Trunk         *Outbound
	CountryCode   string // "49"
	International bool
}

// blindTransfer carries out a blind transfer to an agent or an outside
// number in talk: the transferring agent's call ends at once (NOTIFY 200,
// BYE), the member hears hold music while the target rings, and when it
// answers the member is bridged to it. An agent takes the call over in the
// ACD (Handover); for an outside number the agent's part of the call is
// complete and the call leaves the ACD. On error (no answer within
// ConsultRingTimeout, the member hung up, the colleague not available in
// the ACD) the caller puts the call back into its queue.
func (c *call) blindTransfer(tt transferTarget, dlg **sipgo.DialogClientSession, leg **media.Leg) error {
	var sentID string
	pc := phoneCall{codec: c.codec, sent: func(id string) { sentID = id; c.s.calls.put(id, c) }}
	if tt.agent != "" {
		bindings := c.s.loc.Lookup(string(tt.agent))
		if len(bindings) == 0 {
			return errors.New("no phone registered")
		}
		pc.req, pc.kind = c.s.bindingInvite(bindings[0])
		pc.from, pc.display, pc.to, pc.extraHdrs = "callwerk", "Callwerk "+c.queue, string(tt.agent), c.panelHeaders()
	} else {
		t := c.s.cfg.Transfer.Trunk
		pc.req, pc.kind = c.s.forwardRequest(Forward{Number: tt.number, Trunk: t}), plainRTP
		pc.from, pc.to, pc.username, pc.password = t.From, tt.number, t.Username, t.Password
	}
	old, oldLeg := *dlg, *leg
	oldLeg.Close()
	c.memberLeg.Play(c.s.hold)
	c.rings.Add(1)
	go func() {
		defer c.rings.Done()
		c.endTransferredLeg(old)
		c.s.calls.drop(old.InviteRequest.CallID().Value())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), ConsultRingTimeout)
	defer cancel()
	stop := context.AfterFunc(c.memberCtx(), cancel)
	defer stop()
	out, outLeg, err := c.s.ringPhone(ctx, pc)
	if err != nil {
		if sentID != "" {
			c.s.calls.drop(sentID)
		}
		return err
	}
	hctx, hcancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer hcancel()
	if tt.agent != "" {
		err = c.s.router.Handover(hctx, c.id, c.queue, c.agent, tt.agent)
	} else {
		err = c.s.router.Complete(hctx, c.id, c.queue, c.agent, "")
	}
	if err != nil {
		_ = out.Bye(hctx)
		outLeg.Close()
		c.s.calls.drop(out.InviteRequest.CallID().Value())
		return err
	}
	c.agentDlg.Store(out)
	c.agentLeg.Store(outLeg)
	if tt.agent != "" {
		c.log.Info().Str("agent", string(c.agent)).Str("to", string(tt.agent)).Msg("call handed over (blind transfer)")
	} else {
		c.log.Info().Str("agent", string(c.agent)).Msg("call transferred to an outside number")
	}
	c.agent = tt.agent // "" for an outside number: no agent's call in the ACD any more
	*dlg, *leg = out, outLeg
	if err := media.Bridge(c.memberLeg, outLeg); err != nil {
		c.log.Error().Err(err).Msg("bridge after transfer")
	}
	return nil
}

// replacesCallID returns the Call-ID of the Replaces header that a
// Refer-To URI carries (RFC 3891: "?Replaces=CALLID%3Bto-tag%3D...").
func replacesCallID(referTo string) (string, bool) {
	_, q, ok := strings.Cut(referTo, "?")
	if !ok {
		return "", false
	}
	q = strings.TrimRight(q, ">")
	for part := range strings.SplitSeq(q, "&") {
		name, val, _ := strings.Cut(part, "=")
		if !strings.EqualFold(name, "Replaces") {
			continue
		}
		v, err := url.QueryUnescape(val)
		if err != nil {
			return "", false
		}
		id, _, _ := strings.Cut(v, ";")
		id = strings.TrimSpace(id)
		return id, id != ""
	}
	return "", false
}

// handover is an attended transfer for talk to carry out; talk answers on
// result. Whoever moves state from pending first decides: talk (carried
// out) or the REFER's handler (given up after its wait, 503 sent).
type handover struct {
	cs     *consult
	result chan error // buffered
	state  *atomic.Int32
}

const (
	handoverPending = iota
	handoverTaken
	handoverAbandoned
)

// attendedTransfer is the REFER with Replaces in member call c: it finds
// the consultation the Refer-To names and passes it to c's talk loop.
func (s *Server) attendedTransfer(c *call, referTo string) (int, string) {
	id, ok := replacesCallID(referTo)
	if !ok {
		return sip.StatusBadRequest, "Bad Request: Replaces without a Call-ID"
	}
	cs := s.consults.get(id)
	if cs == nil {
		return sip.StatusNotFound, "Not Found: no consultation call with that Call-ID"
	}
	if out, _ := cs.colleague(); out == nil {
		return sip.StatusNotFound, "Not Found: the consultation call is not connected"
	}
	if cs.codec.PT != c.codec.PT { // the relay does not transcode
		return sip.StatusNotAcceptableHere, fmt.Sprintf("Not Acceptable Here: the consultation uses %s, the member %s", cs.codec.Name, c.codec.Name)
	}
	h := handover{cs: cs, result: make(chan error, 1), state: new(atomic.Int32)}
	select {
	case c.handover <- h:
	default:
		return sip.StatusRequestPending, "Request Pending: a transfer is under way"
	}
	select {
	case err := <-h.result:
		switch {
		case err == nil:
			return sip.StatusAccepted, "Accepted"
		case errors.Is(err, acd.ErrConflict):
			return sip.StatusTemporarilyUnavailable, "Temporarily Unavailable: the colleague cannot take the call now"
		default:
			return sip.StatusServiceUnavailable, "Service Unavailable: " + reasonPhrase(err)
		}
	case <-time.After(ByeTimeout):
		if h.state.CompareAndSwap(handoverPending, handoverAbandoned) {
			return sip.StatusServiceUnavailable, "Service Unavailable: the call is busy, try again"
		}
		// talk is carrying it out: its answer decides.
		if err := <-h.result; err != nil {
			return sip.StatusServiceUnavailable, "Service Unavailable: the transfer failed"
		}
		return sip.StatusAccepted, "Accepted"
	}
}

// handOver carries out an attended transfer in talk: the ACD gives the
// call to the colleague, the member's leg is bridged to the colleague's leg
// of the consultation, and the clerk's two calls end (NOTIFY 200 and BYE
// on the member call, BYE on the consultation). *dlg and *leg become the
// colleague's.
func (c *call) handOver(h handover, dlg **sipgo.DialogClientSession, leg **media.Leg) error {
	cs := h.cs
	if !h.state.CompareAndSwap(handoverPending, handoverTaken) {
		return errors.New("the REFER gave up waiting")
	}
	if cs.caller != c.agent {
		return fmt.Errorf("the consultation is %s's, the call %s's", cs.caller, c.agent)
	}
	out, outLeg := cs.take() // the consultation's colleague side is ours from now
	if out == nil {
		return errors.New("the consultation call has ended")
	}
	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	outID := out.InviteRequest.CallID().Value()
	if err := c.s.router.Handover(ctx, c.id, c.queue, c.agent, cs.target); err != nil {
		// The clerk keeps the member; the consultation is over.
		_ = out.Bye(ctx)
		outLeg.Close()
		return err
	}
	old, oldLeg := *dlg, *leg
	c.s.calls.put(outID, c)
	c.s.consults.drop(outID) // the colleague's requests go to the member call now
	c.agentDlg.Store(out)
	c.agentLeg.Store(outLeg)
	c.log.Info().Str("agent", string(c.agent)).Str("to", string(cs.target)).Msg("call handed over (attended transfer)")
	c.agent = cs.target
	*dlg, *leg = out, outLeg
	oldLeg.Close()   // the member's bridge to the clerk
	cs.inLeg.Close() // the colleague's bridge to the clerk
	if err := media.Bridge(c.memberLeg, outLeg); err != nil {
		c.log.Error().Err(err).Msg("bridge after handover")
	}
	c.rings.Add(1)
	go func() { // the clerk's member call: NOTIFY 200, then BYE unless they hung up
		defer c.rings.Done()
		c.endTransferredLeg(old)
		c.s.calls.drop(old.InviteRequest.CallID().Value())
	}()
	return nil
}

// bindingInvite starts an INVITE to a registered device: over its
// registration's transport and source, with a Contact of that transport.
// It reports what media to offer the device.
func (s *Server) bindingInvite(b Binding) (*sip.Request, mediaKind) {
	req := sip.NewRequest(sip.INVITE, *b.Contact.Clone())
	req.SetTransport(b.Transport)
	req.SetDestination(b.Source)
	if ct := s.contactFor(b.Transport); ct != nil {
		req.AppendHeader(ct)
	}
	return req, mediaFor(b)
}
