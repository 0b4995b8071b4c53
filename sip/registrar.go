package sip

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Status codes sipgo has no constants for (RFC 3261 §21).
const (
	statusIntervalTooBrief = 423
	statusBusyEverywhere   = 600
	statusDecline          = 603
)

// authenticate checks a request's digest credentials. Without usable ones
// it answers 401 with fresh challenges (stale=true for an expired nonce);
// with wrong ones 403 (the same for unknown users), logging the source and
// realm, never the credentials. It returns the user when they are right.
func (s *Server) authenticate(req *sip.Request, tx sip.ServerTransaction, what string) (string, bool) {
	src := sourceAddr(req)
	if s.lockout.Blocked(src) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
		return "", false
	}
	var cred string
	if h := req.GetHeader("Authorization"); h != nil {
		cred = h.Value()
	}
	user, res := s.auth.Check(string(req.Method), cred)
	switch res {
	case AuthMissing, AuthStale:
		r := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
		for _, v := range s.auth.Challenges(res == AuthStale) {
			r.AppendHeader(sip.NewHeader("WWW-Authenticate", v))
		}
		_ = tx.Respond(r)
		return "", false
	case AuthFailed:
		s.log.Warn().Str("source", req.Source()).Str("realm", s.cfg.Realm).Msg(what + " refused: bad credentials")
		if s.lockout.Fail(src) {
			s.log.Warn().Str("security", "digest-brute-force").Str("source", src.String()).Str("realm", s.cfg.Realm).
				Dur("blocked_for", s.lockout.Limits().Block).Msg("address blocked after repeated authentication failures")
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
		return "", false
	}
	return user, true
}

// sourceAddr is the IP a request came from (the zero Addr if unknown).
func sourceAddr(req *sip.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// onRegister is the registrar (RFC 3261 §10.3): digest authentication, then
// the agent's bindings are added, refreshed or removed. The To user must be
// the authenticated user: an agent registers only themselves.
func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if !validRequest(req, tx) {
		return
	}
	switch {
	case s.trustedSource(req.Source()):
	case !secure(req.Transport()):
		s.refuseUntrusted(req, tx, sip.StatusForbidden, "Forbidden: TLS required outside the trusted networks")
		return
	case !offersSRTP(req.Transport()) && !(strings.EqualFold(req.Transport(), "wss") && iceContact(req)):
		// Over WSS only a browser (+sip.ice) gets encrypted media
		// (DTLS-SRTP); another phone's calls would carry plain RTP.
		s.refuseUntrusted(req, tx, sip.StatusForbidden, "Forbidden: DTLS-SRTP required outside the trusted networks: register as a WebRTC phone (+sip.ice)")
		return
	}
	user, ok := s.authenticate(req, tx, "registration")
	if !ok {
		return
	}
	if req.To().Address.User != user {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden: To is not the authenticated user", nil))
		return
	}

	defaultExp := DefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(h.Value())
		if err != nil || n < 0 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request: Expires", nil))
			return
		}
		defaultExp = time.Duration(n) * time.Second
	}
	var contacts []*sip.ContactHeader
	for _, h := range req.GetHeaders("Contact") {
		if c, ok := h.(*sip.ContactHeader); ok {
			contacts = append(contacts, c)
		}
	}
	if len(contacts) == 1 && contacts[0].Address.Wildcard {
		if defaultExp != 0 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request: Contact * needs Expires: 0", nil))
			return
		}
		s.loc.RemoveAll(user)
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
		return
	}

	callID := req.CallID().Value()
	if max := s.cfg.MaxRegistrations; max > 0 {
		known := map[string]bool{}
		for _, b := range s.loc.Lookup(user) {
			known[b.Contact.String()] = true
		}
		n := len(known)
		for _, c := range contacts {
			exp, ok := c.Params.Get("expires")
			removing := exp == "0" || !ok && defaultExp == 0
			if !known[c.Address.String()] && !removing {
				n++
			}
		}
		if n > max {
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden: too many registrations", nil))
			return
		}
	}
	for _, c := range contacts {
		exp := defaultExp
		if v, ok := c.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request: Contact expires", nil))
				return
			}
			exp = time.Duration(n) * time.Second
		}
		if exp > 0 && exp < MinExpires {
			r := sip.NewResponseFromRequest(req, statusIntervalTooBrief, "Interval Too Brief", nil)
			r.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(MinExpires/time.Second))))
			_ = tx.Respond(r)
			return
		}
		exp = min(exp, MaxExpires)
		s.loc.Update(user, Binding{
			Contact:   *c.Address.Clone(),
			Source:    req.Source(),
			Transport: req.Transport(),
			CallID:    callID,
			ICE:       hasICE(c),
		}, exp)
	}

	r := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	now := time.Now()
	for _, b := range s.loc.Lookup(user) {
		c := &sip.ContactHeader{Address: b.Contact}
		c.Params = sip.NewParams()
		c.Params.Add("expires", strconv.Itoa(int(b.Expires.Sub(now).Round(time.Second)/time.Second)))
		r.AppendHeader(c)
	}
	r.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	_ = tx.Respond(r)
	s.log.Debug().Str("agent", user).Int("contacts", len(contacts)).Msg("registered")
}

// hasICE reports whether a Contact has the +sip.ice feature tag (RFC 5768),
// as browser phones (JsSIP, SIP.js) send it: their media is WebRTC.
func hasICE(c *sip.ContactHeader) bool {
	if c == nil || c.Params == nil {
		return false
	}
	_, ok := c.Params.Get("+sip.ice")
	return ok
}

// iceContact reports whether the REGISTER's Contacts all have +sip.ice.
func iceContact(req *sip.Request) bool {
	cs := req.GetHeaders("Contact")
	if len(cs) == 0 {
		return false
	}
	for _, h := range cs {
		c, ok := h.(*sip.ContactHeader)
		if !ok || !hasICE(c) {
			return false
		}
	}
	return true
}
