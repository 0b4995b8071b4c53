package sip

import (
	"context"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callwerk/callwerk/acd"
)

// Forward reaches an agent at a phone number over a trunk instead of a
// registered phone: "forwarding to the home office" for a clerk who works
// on their own landline or mobile. The agent counts as present while the
// node runs; their calls ring the number with plain RTP over the carrier,
// and answering takes the call.
type Forward struct {
	Number string    // E.164
	Trunk  *Outbound // with digest credentials for the carrier, if any
}

// announceForwards makes the forwarded agents present, as a registration
// would.
func (s *Server) announceForwards(ctx context.Context) {
	for agent := range s.cfg.Forwards {
		if err := s.router.SetPresence(ctx, acd.AgentID(agent), acd.Registered); err != nil {
			s.log.Warn().Err(err).Str("agent", agent).Msg("forwarded agent not made present")
		}
	}
}

// forwardRequest starts the INVITE that rings a forwarded agent's number
// over the trunk.
func (s *Server) forwardRequest(f Forward) *sip.Request {
	t := f.Trunk
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: f.Number, Host: t.Addr.Addr().String(), Port: int(t.Addr.Port())})
	req.SetTransport(strings.ToUpper(t.Transport))
	req.SetDestination(t.Addr.String())
	if ct := s.contactFor(t.Transport); ct != nil {
		req.AppendHeader(ct)
	}
	return req
}

// carrierLeg reports whether dlg goes to a carrier (a forwarded agent, or
// a call transferred to an outside number): its far end is no agent's
// phone and may not transfer the call on.
func (s *Server) carrierLeg(dlg *sipgo.DialogClientSession) bool {
	dst := dlg.InviteRequest.Destination()
	for _, f := range s.cfg.Forwards {
		if f.Trunk != nil && dst == f.Trunk.Addr.String() {
			return true
		}
	}
	return s.cfg.Transfer != nil && s.cfg.Transfer.Trunk != nil && dst == s.cfg.Transfer.Trunk.Addr.String()
}
