package sip

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/media"
)

// Feature codes an agent dials from their phone to change their state:
//
//	*21   available (ends a pause)
//	*22   pause with the first configured pause reason
//	*22N  pause with the N-th configured pause reason (1-based)
//	*23   end wrap-up now
//
// The INVITE must carry digest credentials of the agent (it is challenged
// like a REGISTER). Callwerk answers, plays a short rising confirmation or a
// low error tone, and hangs up.
const (
	FeatureAvailable = "*21"
	FeaturePause     = "*22"
	FeatureEndWrapUp = "*23"
	// FeatureState, as a MESSAGE only, asks for the agent's state: the
	// 200's text/plain body is "available", "paused: REASON", "wrap-up",
	// "on-call", "reserved", "unreachable" or "logged-out".
	FeatureState      = "*20"
	featureToneLength = 700 * time.Millisecond
)

var (
	confirmTone = media.NewToneSource("confirm", []float64{1046.5, 1318.5, 0}, 200*time.Millisecond, featureToneLength)
	errorTone   = media.NewToneSource("error", []float64{392, 0, 392}, 200*time.Millisecond, featureToneLength)
)

// IsFeatureCode reports whether a dialled number is one of the feature codes
// (config validation keeps hotline numbers apart from them).
func IsFeatureCode(user string) bool {
	switch {
	case user == FeatureAvailable, user == FeatureEndWrapUp:
		return true
	case strings.HasPrefix(user, FeaturePause):
		for _, r := range user[len(FeaturePause):] {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	return false
}

// onFeature handles an INVITE to a feature code.
func (s *Server) onFeature(req *sip.Request, tx sip.ServerTransaction) {
	if !s.encryptedEnough(req) {
		s.refuseUntrusted(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here: SRTP required outside the trusted networks")
		return
	}
	user, ok := s.authenticate(req, tx, "feature code")
	if !ok {
		return
	}
	s.callWG.Add(1) // Serve's drain waits for the tone and the BYE
	defer s.callWG.Done()
	code := req.Recipient.User
	log := s.log.With().Str("agent", user).Str("feature", code).Logger()

	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	err := s.applyFeature(ctx, acd.AgentID(user), code)
	cancel()
	if errors.Is(err, errUnknownFeature) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotFound, "Not Found: unknown feature code", nil))
		return
	}
	tone := confirmTone
	if err != nil {
		log.Info().Err(err).Msg("feature code not applied")
		tone = errorTone
	} else {
		log.Info().Msg("feature code applied")
	}
	s.playAndHangUp(req, tx, tone)
}

var errUnknownFeature = errors.New("unknown feature code")

// onMessage applies a feature code sent as a SIP MESSAGE (RFC 3428) to
// sip:CODE@domain: how the browser desktop changes its agent's state
// without a call. It is authenticated like the INVITE form; the answer is
// 200, 404 for an unknown code, or 500 if the ACD refused (the reason
// phrase says why). MESSAGEs to anything else get 404.
func (s *Server) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	if !validRequest(req, tx) {
		return
	}
	code := req.Recipient.User
	if !IsFeatureCode(code) && code != FeatureState {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotFound, "Not Found", nil))
		return
	}
	if !s.trustedSource(req.Source()) && !secure(req.Transport()) {
		s.refuseUntrusted(req, tx, sip.StatusForbidden, "Forbidden: TLS required outside the trusted networks")
		return
	}
	user, ok := s.authenticate(req, tx, "feature code")
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	if code == FeatureState {
		state, err := s.agentState(ctx, acd.AgentID(user))
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Server Internal Error: "+reasonPhrase(err), nil))
			return
		}
		res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", []byte(state))
		res.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
		_ = tx.Respond(res)
		return
	}
	err := s.applyFeature(ctx, acd.AgentID(user), code)
	log := s.log.With().Str("agent", user).Str("feature", code).Logger()
	switch {
	case errors.Is(err, errUnknownFeature):
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotFound, "Not Found: unknown feature code", nil))
	case err != nil:
		log.Info().Err(err).Msg("feature code not applied")
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Not Applied: "+reasonPhrase(err), nil))
	default:
		log.Info().Msg("feature code applied")
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	}
}

// agentState is what FeatureState answers.
func (s *Server) agentState(ctx context.Context, id acd.AgentID) (string, error) {
	agents, err := s.router.Agents(ctx)
	if err != nil {
		return "", err
	}
	for _, a := range agents {
		if a.ID != id {
			continue
		}
		if a.State == acd.Paused {
			return "paused: " + a.Pause, nil
		}
		return a.State.String(), nil
	}
	return "", acd.ErrNotFound
}

// reasonPhrase makes err fit a reason phrase: one line, printable ASCII.
func reasonPhrase(err error) string {
	b := []byte(err.Error())
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = ' '
		}
	}
	return string(b[:min(len(b), 120)])
}

func (s *Server) applyFeature(ctx context.Context, agent acd.AgentID, code string) error {
	switch {
	case code == FeatureAvailable:
		return s.router.SetPause(ctx, agent, "")
	case code == FeatureEndWrapUp:
		return s.router.EndWrapUp(ctx, agent)
	case strings.HasPrefix(code, FeaturePause):
		if len(s.cfg.PauseReasons) == 0 {
			return errors.New("no pause reasons configured")
		}
		n := 1
		if rest := code[len(FeaturePause):]; rest != "" {
			var err error
			if n, err = strconv.Atoi(rest); err != nil || n < 1 || n > len(s.cfg.PauseReasons) {
				return errUnknownFeature
			}
		}
		return s.router.SetPause(ctx, agent, s.cfg.PauseReasons[n-1])
	}
	return errUnknownFeature
}

// playAndHangUp answers req, plays tone once and hangs up.
func (s *Server) playAndHangUp(req *sip.Request, tx sip.ServerTransaction, tone *media.Source) {
	offer, err := media.ParseSDP(req.Body())
	var codec media.Codec
	if err == nil {
		codec, err = offer.Negotiate()
	}
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
		return
	}
	d, err := s.dialog.ReadInvite(req, tx)
	if err != nil {
		return
	}
	leg, err := s.relay.NewLeg(codec)
	if err != nil {
		_ = d.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil)
		return
	}
	defer leg.Close()
	if err := leg.AnswerSRTP(offer); err != nil {
		_ = d.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		return
	}
	leg.SetRemote(netip.AddrPortFrom(offer.Addr, uint16(offer.Port)))
	answer := legSDP(leg, codec, -1, "")
	id := req.CallID().Value()
	s.features.put(id, d)
	defer s.features.drop(id)
	if err := s.respondSDP(d, answer); err != nil {
		return
	}
	leg.Play(tone)
	select {
	case <-time.After(featureToneLength):
	case <-d.Context().Done():
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	_ = d.Bye(ctx)
}
