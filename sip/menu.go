package sip

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callwerk/callwerk/media"
)

// Menu is a voice menu a number leads to (config menus[]): the member
// hears Prompt and presses a key; Options maps keys to queues.
type Menu struct {
	Name     string
	Prompt   *media.Source
	Options  map[byte]string
	Timeout  time.Duration // silence after the prompt before it is played again
	Attempts int           // prompts in all
	Default  string        // queue after the last attempt; "" = goodbye and hang up
}

// Prompts are the built-in prompts a menu plays besides its own.
type Prompts struct {
	Invalid  *media.Source // after a key the menu does not offer
	Goodbye  *media.Source // before hanging up a call that chose nothing
	Callback CallbackPrompts
}

// errNoChoice ends a call whose member chose nothing in a menu without a
// default.
var errNoChoice = errors.New("no choice in the menu")

// runMenu plays the call's menu until the member picks a queue, and returns
// it. Keys come from the member's RTP (RFC 4733) and from SIP INFO (the
// call's keys channel, fed by onInfo). A key may cut the prompt short.
func (c *call) runMenu(ctx context.Context, m *Menu) (string, error) {
	c.memberLeg.OnDTMF(c.keys)
	defer c.memberLeg.OnDTMF(nil)
	for attempt := 1; attempt <= m.Attempts; attempt++ {
		c.log.Debug().Int("attempt", attempt).Msg("menu prompt")
		key, err := c.collectKey(ctx, c.memberLeg.PlayOnce(m.Prompt), m.Timeout)
		if err != nil {
			return "", err
		}
		if key == 0 {
			c.log.Info().Int("attempt", attempt).Msg("menu: no key")
			continue
		}
		if q, ok := m.Options[key]; ok {
			c.memberLeg.StopPlay()
			c.log.Info().Str("key", string(key)).Str("to", q).Msg("menu choice")
			return q, nil
		}
		c.log.Info().Str("key", string(key)).Msg("menu: key not offered")
		if err := c.hear(ctx, c.s.prompts.Invalid); err != nil {
			return "", err
		}
	}
	if m.Default != "" {
		c.log.Info().Str("to", m.Default).Msg("menu: default")
		return m.Default, nil
	}
	if err := c.hear(ctx, c.s.prompts.Goodbye); err != nil {
		return "", err
	}
	return "", errNoChoice
}

// collectKey waits for a key while the prompt plays (done) and for timeout
// after it; 0 if none came.
func (c *call) collectKey(ctx context.Context, done <-chan struct{}, timeout time.Duration) (byte, error) {
	var silence <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return 0, errShutdown
		case <-c.memberCtx().Done():
			return 0, errMemberHangup
		case k := <-c.keys:
			return k, nil
		case <-done:
			done = nil
			t := time.NewTimer(timeout)
			defer t.Stop()
			silence = t.C
		case <-silence:
			return 0, nil
		}
	}
}

// hear plays src once and waits until it has been played; keys pressed
// meanwhile are dropped.
func (c *call) hear(ctx context.Context, src *media.Source) error {
	done := c.memberLeg.PlayOnce(src)
	for {
		select {
		case <-ctx.Done():
			return errShutdown
		case <-c.memberCtx().Done():
			return errMemberHangup
		case <-c.keys:
		case <-done:
			return nil
		}
	}
}

// onInfo takes DTMF sent as SIP INFO by phones that do not send RFC 4733
// (application/dtmf-relay "Signal=5", or application/dtmf "5"); other INFO
// bodies get 415. The key goes to the member call of the dialog, if it is
// listening for keys.
func (s *Server) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	if !validRequest(req, tx) {
		return
	}
	c := s.calls.get(req.CallID().Value())
	if c == nil || !c.memberDialog(req) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	key, ok := byte(0), false
	switch ct {
	case "application/dtmf-relay":
		key, ok = dtmfRelayKey(string(req.Body()))
	case "application/dtmf":
		key, ok = dtmfKey(strings.TrimSpace(string(req.Body())))
	default:
		r := sip.NewResponseFromRequest(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil)
		r.AppendHeader(sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		_ = tx.Respond(r)
		return
	}
	if !ok {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request: no DTMF key in the body", nil))
		return
	}
	select {
	case c.keys <- key:
	default: // nobody listening (or keys piling up): the key is dropped, as on RTP
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

// dtmfRelayKey reads the Signal line of an application/dtmf-relay body.
func dtmfRelayKey(body string) (byte, bool) {
	for line := range strings.Lines(body) {
		name, value, found := strings.Cut(line, "=")
		if found && strings.EqualFold(strings.TrimSpace(name), "signal") {
			return dtmfKey(strings.TrimSpace(value))
		}
	}
	return 0, false
}

// dtmfKey accepts one of the sixteen DTMF keys (a-d in either case).
func dtmfKey(s string) (byte, bool) {
	if len(s) != 1 {
		return 0, false
	}
	k := s[0]
	if k >= 'a' && k <= 'd' {
		k -= 'a' - 'A'
	}
	if strings.IndexByte(media.DTMFKeys, k) < 0 {
		return 0, false
	}
	return k, true
}

// memberDialog reports whether req belongs to the member's dialog: its
// From tag is the member's and its To tag ours, not just its Call-ID.
func (c *call) memberDialog(req *sip.Request) bool {
	inv, res := c.member.InviteRequest, c.member.InviteResponse
	if inv == nil || res == nil || req.From() == nil || req.To() == nil {
		return false
	}
	from, _ := req.From().Params.Get("tag")
	to, _ := req.To().Params.Get("tag")
	theirs, _ := inv.From().Params.Get("tag")
	ours, _ := res.To().Params.Get("tag")
	return from != "" && from == theirs && to == ours
}
