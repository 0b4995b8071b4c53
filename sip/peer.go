package sip

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callwerk/callwerk/media"
)

// Calls cross nodes as SIP. A member call stays on the node that answered
// it (its media relay, its queue place, its ACD reservation); when the ACD
// offers it to an agent whose phone registered with another node, the
// call's node sends the INVITE to that node (Offer.Peer), signed with the
// cluster's node.secret, and that node rings the agent's phone through the
// registration's NAT binding or connection, passing responses, ACK, BYE and
// CANCEL through. The SDP is passed through unchanged: the agent's media
// flows to and from the call's node's relay, which latches onto it as usual.
//
// Headers of a node-to-node INVITE:
//
//	X-Callwerk-Node: <name of the calling node>
//	X-Callwerk-Auth: <unix seconds>:<hex HMAC-SHA-256(secret, "v1|node|Call-ID|agent|seconds")>
//
// A signature older or newer than PeerAuthWindow is refused (403), as is
// any node INVITE when this node has no secret.

// Node-to-node INVITE headers.
const (
	hdrPeerNode = "X-Callwerk-Node"
	hdrPeerAuth = "X-Callwerk-Auth"
)

// PeerAuthWindow bounds the clock difference and delay a node INVITE's
// signature tolerates.
const PeerAuthWindow = 30 * time.Second

// peerMAC signs a node INVITE.
func peerMAC(secret []byte, node, callID, agent string, at int64) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "v1|%s|%s|%s|%d", node, callID, agent, at)
	return hex.EncodeToString(m.Sum(nil))
}

// signPeer adds the node headers to an INVITE for agent.
func (s *Server) signPeer(req *sip.Request, agent string) {
	at := s.now().Unix()
	req.AppendHeader(sip.NewHeader(hdrPeerNode, s.cfg.NodeName))
	req.AppendHeader(sip.NewHeader(hdrPeerAuth, strconv.FormatInt(at, 10)+":"+
		peerMAC(s.cfg.PeerSecret, s.cfg.NodeName, req.CallID().Value(), agent, at)))
}

// verifyPeer checks a node INVITE's signature and returns the calling node.
func (s *Server) verifyPeer(req *sip.Request) (string, error) {
	if len(s.cfg.PeerSecret) == 0 {
		return "", errors.New("this node takes no calls from other nodes (no node.secret)")
	}
	nh, ah := req.GetHeader(hdrPeerNode), req.GetHeader(hdrPeerAuth)
	if nh == nil || ah == nil || req.CallID() == nil {
		return "", errors.New("node headers missing")
	}
	ts, mac, ok := strings.Cut(ah.Value(), ":")
	at, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil {
		return "", errors.New("malformed signature")
	}
	if d := s.now().Sub(time.Unix(at, 0)); d > PeerAuthWindow || d < -PeerAuthWindow {
		return "", fmt.Errorf("signature %s old", d.Round(time.Second))
	}
	want := peerMAC(s.cfg.PeerSecret, nh.Value(), req.CallID().Value(), req.Recipient.User, at)
	if !hmac.Equal([]byte(mac), []byte(want)) {
		return "", errors.New("bad signature")
	}
	return nh.Value(), nil
}

// peerRequest builds the INVITE that rings agent through the node at peer
// ("udp:HOST:PORT").
func (s *Server) peerRequest(peer, agent string) (*sip.Request, error) {
	network, hostport, ok := strings.Cut(peer, ":")
	host, port, err := net.SplitHostPort(hostport)
	p, perr := strconv.Atoi(port)
	if !ok || err != nil || perr != nil {
		return nil, fmt.Errorf("bad peer address %q", peer)
	}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: agent, Host: host, Port: p})
	req.SetTransport(strings.ToUpper(network))
	req.SetDestination(hostport)
	cid := sip.CallIDHeader(string(newCallID()))
	req.AppendHeader(&cid)
	s.signPeer(req, agent)
	return req, nil
}

// peerLeg is an agent leg this node carries for a call on another node.
type peerLeg struct {
	node string
	in   *sipgo.DialogServerSession // from the call's node
	mu   sync.Mutex
	out  *sipgo.DialogClientSession // to the agent's phone, once sent
	down chan struct{}              // closed when the call's node is found dead
	once sync.Once
}

func (l *peerLeg) outDialog() *sipgo.DialogClientSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out
}

// PeerDown ends the agent legs this node carries for node, which died:
// nobody will send their BYE.
func (s *Server) PeerDown(node string) {
	s.peers.each(func(l *peerLeg) {
		if l.node == node {
			l.once.Do(func() { close(l.down) })
		}
	})
}

// onPeerInvite rings a local agent for a call on another node and relays
// the dialog until either side hangs up.
func (s *Server) onPeerInvite(req *sip.Request, tx sip.ServerTransaction) {
	respond := func(code int, reason string) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
	}
	node, err := s.verifyPeer(req)
	if err != nil {
		s.log.Warn().Err(err).Str("source", req.Source()).Msg("node INVITE refused")
		respond(sip.StatusForbidden, "Forbidden: not a Callwerk node")
		return
	}
	if s.peersShut.Load() {
		refuseRetry(req, tx, "Service Unavailable: node shutting down", RetryAfter)
		return
	}
	agent := req.Recipient.User
	log := s.log.With().Str("sip_call_id", req.CallID().Value()).Str("agent", agent).Str("for_node", node).Logger()
	bindings := s.loc.Lookup(agent)
	if len(bindings) == 0 {
		respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable: agent not registered here")
		return
	}
	b := bindings[0]
	body := req.Body()
	var an *anchor
	if kind := mediaFor(b); kind != plainRTP {
		// The call's node offers plain RTP; this phone needs SRTP or
		// WebRTC: this node relays the media itself, plain towards the
		// call's node and encrypted towards the phone.
		if an, err = s.newAnchor(req.Body(), kind); err != nil {
			log.Info().Err(err).Msg("node leg: no media for an encrypted phone")
			respond(sip.StatusNotAcceptableHere, "Not Acceptable Here")
			return
		}
		defer an.close()
		body = an.offer
	}
	in, err := s.dialog.ReadInvite(req, tx)
	if err != nil {
		respond(sip.StatusBadRequest, "Bad Request")
		return
	}
	s.peerWG.Add(1)
	defer s.peerWG.Done()
	leg := &peerLeg{node: node, in: in, down: make(chan struct{})}
	s.peers.put(req.CallID().Value(), leg)
	defer s.peers.drop(req.CallID().Value())

	out, _ := s.bindingInvite(b)
	out.SetBody(body)
	out.AppendHeader(contentTypeSDP())
	from := &sip.FromHeader{
		DisplayName: req.From().DisplayName,
		Address:     sip.Uri{Scheme: "sip", User: "callwerk", Host: s.dialog.ContactHDR.Address.Host},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	out.AppendHeader(from)
	out.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: agent, Host: b.Contact.Host, Port: b.Contact.Port}})

	ringCtx, cancel := context.WithCancel(in.Context())
	defer cancel()
	stopDown := context.AfterFunc(s.callCtx, cancel)
	defer stopDown()
	go func() {
		select {
		case <-leg.down:
			cancel()
		case <-ringCtx.Done():
		}
	}()
	dlg, err := s.dialog.WriteInvite(ringCtx, out)
	if err != nil {
		_ = in.Respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
		return
	}
	leg.mu.Lock()
	leg.out = dlg
	leg.mu.Unlock()
	s.peers.put(out.CallID().Value(), leg)
	defer s.peers.drop(out.CallID().Value())

	err = dlg.WaitAnswer(ringCtx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode == sip.StatusRinging || res.StatusCode == 183 {
			_ = in.Respond(sip.StatusRinging, "Ringing", nil)
		}
		return nil
	}})
	if err != nil {
		bctx, bcancel := context.WithTimeout(context.Background(), ByeTimeout)
		defer bcancel()
		if dlg.InviteResponse != nil && dlg.InviteResponse.IsSuccess() { // answered as we gave up
			_ = dlg.Ack(bctx)
			_ = dlg.Bye(bctx)
		}
		var de *sipgo.ErrDialogResponse
		switch {
		case in.Context().Err() != nil: // the call's node cancelled: sipgo answered 487
		case errors.As(err, &de):
			_ = in.Respond(de.Res.StatusCode, de.Res.Reason, nil)
		default:
			_ = in.Respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
		}
		log.Debug().Err(err).Msg("node leg not answered")
		return
	}
	if err := dlg.Ack(ringCtx); err != nil {
		log.Warn().Err(err).Msg("ACK to agent failed")
	}
	answer := dlg.InviteResponse.Body()
	if an != nil {
		if answer, err = an.answer(answer); err != nil {
			log.Warn().Err(err).Msg("node leg: the phone's answer is unusable")
			bctx, bcancel := context.WithTimeout(context.Background(), ByeTimeout)
			_ = dlg.Bye(bctx)
			bcancel()
			_ = in.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
			return
		}
	}
	if err := in.RespondSDP(answer); err != nil {
		bctx, bcancel := context.WithTimeout(context.Background(), ByeTimeout)
		_ = dlg.Bye(bctx)
		bcancel()
		return
	}
	log.Info().Msg("node leg connected")

	bctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), ByeTimeout)
	}
	select {
	case <-in.Context().Done(): // the call's node hung up
		ctx, c := bctx()
		_ = dlg.Bye(ctx)
		c()
	case <-dlg.Context().Done(): // the agent hung up
		ctx, c := bctx()
		_ = in.Bye(ctx)
		c()
	case <-leg.down: // the call's node died: its member is gone
		ctx, c := bctx()
		_ = dlg.Bye(ctx)
		c()
	case <-s.callCtx.Done():
		ctx, c := bctx()
		_ = dlg.Bye(ctx)
		_ = in.Bye(ctx)
		c()
	}
	log.Info().Msg("node leg ended")
}

// anchor is the media a node relays itself for a node leg to a phone that
// needs encryption: a plain leg towards the call's node, an SRTP or WebRTC
// leg towards the phone, bridged once the phone answers.
type anchor struct {
	kind          mediaKind
	codec         media.Codec
	tel           int
	key           media.Crypto
	toNode, phone *media.Leg
	offer         []byte // the SDP offered to the phone
}

// newAnchor opens the two legs for the call node's offer and makes the
// offer for the phone.
func (s *Server) newAnchor(nodeOffer []byte, kind mediaKind) (*anchor, error) {
	offer, err := media.ParseSDP(nodeOffer)
	if err != nil {
		return nil, err
	}
	codec, err := offer.Negotiate()
	if err != nil {
		return nil, err
	}
	an := &anchor{kind: kind, codec: codec, tel: offer.TelEventPT}
	if an.toNode, err = s.relay.NewLeg(codec); err != nil {
		return nil, err
	}
	if err = an.toNode.AnswerSRTP(offer); err != nil { // plain, from a node
		an.close()
		return nil, err
	}
	an.toNode.SetRemote(netip.AddrPortFrom(offer.Addr, uint16(offer.Port)))
	an.toNode.SetTelephoneEvent(offer.TelEventPT)
	if an.phone, err = s.relay.NewLeg(codec); err != nil {
		an.close()
		return nil, err
	}
	p := offerSDP(an.phone, codec, an.tel, nil)
	switch kind {
	case sdesSRTP:
		if an.key, err = media.NewCrypto(1, media.DefaultSuite); err != nil {
			an.close()
			return nil, err
		}
		p.Crypto = &an.key
	case webRTC:
		ice, err := an.phone.StartWebRTC(s.dtls)
		if err != nil {
			an.close()
			return nil, err
		}
		p.WebRTC = &ice
	}
	an.offer = media.BuildSDP(p)
	return an, nil
}

// answer takes the phone's answer, bridges the legs and returns the
// answer for the call's node.
func (an *anchor) answer(phoneAnswer []byte) ([]byte, error) {
	ans, err := media.ParseSDP(phoneAnswer)
	if err != nil {
		return nil, err
	}
	if err := acceptAnswer(an.phone, an.kind, ans, an.key); err != nil {
		return nil, err
	}
	an.phone.SetRemote(netip.AddrPortFrom(ans.Addr, uint16(ans.Port)))
	an.phone.SetTelephoneEvent(ans.TelEventPT)
	if err := media.Bridge(an.toNode, an.phone); err != nil {
		return nil, err
	}
	return legSDP(an.toNode, an.codec, an.tel, ""), nil
}

func (an *anchor) close() {
	if an.toNode != nil {
		an.toNode.Close()
	}
	if an.phone != nil {
		an.phone.Close()
	}
}
