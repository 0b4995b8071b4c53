package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/callwerk/callwerk/media"
)

// Callback is a queue's callback offer (config queues[].callback): a
// waiting member presses Key, gives a number and hangs up; the call keeps
// its place, and when an agent takes it the member is called over Trunk.
type Callback struct {
	Key           byte
	Offer         *media.Source // "press <Key> for a callback", said after each announcement
	Attempts      int           // calls to the member in all
	RetryAfter    time.Duration // between an unanswered attempt and the next
	RingTimeout   time.Duration // per attempt
	CountryCode   string        // for national numbers: "49"
	International bool          // numbers outside CountryCode allowed
	Trunk         *Outbound
}

// Outbound is a trunk that calls go out over (config trunks[].outbound).
type Outbound struct {
	Name      string
	Addr      netip.AddrPort // the carrier's SIP server; credentials go nowhere else
	Transport string         // "udp" or "tcp"
	From      string         // the number the member sees (E.164)
	Username  string         // digest credentials, if the carrier challenges
	Password  string
}

// CallbackPrompts are what the callback dialogue says.
type CallbackPrompts struct {
	CallerID  *media.Source // we call back the number you call from: 1 confirms, or key another and #
	Enter     *media.Source // key in the number, then #
	Confirmed *media.Source // your place is kept; goodbye
	Hello     *media.Source // to the member who answers the callback
	Agent     *media.Source // to the agent, while the member is called
}

// Timeouts of the callback dialogue.
const (
	callbackKeyTimeout   = 8 * time.Second // after a prompt, for the first key
	callbackDigitTimeout = 5 * time.Second // between the digits of a number
	callbackMaxDigits    = 20
	callbackEntries      = 2 // tries at keying a valid number
)

// errCallbackFailed ends a callback whose member never answered.
var errCallbackFailed = errors.New("callback given up: the member did not answer")

// callbackState is a call whose member asked to be called back.
type callbackState struct {
	cfg      *Callback
	number   string // E.164; in memory only, never logged or stored
	attempts int    // calls to the member so far
}

// memberCtx is the member leg's context: the member's INVITE dialog, or
// for a callback the outbound dialog once placed; while a callback waits
// nothing ends it.
func (c *call) memberCtx() context.Context {
	if c.cb == nil {
		return c.member.Context()
	}
	if d := c.memberOut.Load(); d != nil {
		return d.Context()
	}
	return context.Background()
}

// awaitingCallback reports whether the member hung up for a callback that
// has not reached them yet.
func (c *call) awaitingCallback() bool { return c.cb != nil && c.memberOut.Load() == nil }

// waitMedia is what the member hears while waiting in the call's queue; a
// member called back already is not offered another callback.
func (c *call) waitMedia() QueueMedia {
	qm := c.s.cfg.Queues[c.queue]
	if c.cb != nil {
		qm.Callback = nil
	}
	return qm
}

// callbackKeys starts listening for the member's keys if qm offers
// callbacks and returns where they arrive; nil otherwise.
func (c *call) callbackKeys(qm QueueMedia) <-chan byte {
	if qm.Callback == nil {
		c.memberLeg.OnDTMF(nil)
		return nil
	}
	c.memberLeg.OnDTMF(c.keys)
	return c.keys
}

// callbackNumber makes number (the caller's From user part, or digits the
// member keyed in) an international number: "+" kept, "00" becomes "+",
// a national "0" gets the country code. Anything else is refused: a number
// without a prefix is ambiguous. Outside the country code (unless
// international) and to premium-rate or mass-traffic services, no
// callback is made: it would cost the insurer, or pay someone.
func callbackNumber(number, country string, international bool) (string, error) {
	var digits string
	switch {
	case strings.HasPrefix(number, "+"):
		digits = number[1:]
	case strings.HasPrefix(number, "00"):
		digits = number[2:]
	case strings.HasPrefix(number, "0"):
		digits = country + number[1:]
	default:
		return "", errors.New("not a phone number with a prefix (+, 00 or 0)")
	}
	if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return "", errors.New("not a valid international number")
	}
	e164 := "+" + digits
	if !international && !strings.HasPrefix(digits, country) {
		return "", errors.New("outside the country code")
	}
	for _, p := range chargedPrefixes {
		if strings.HasPrefix(e164, p) {
			return "", errors.New("a premium-rate or service number")
		}
	}
	return e164, nil
}

// chargedPrefixes are German numbers a callback never calls: premium rate
// (0900, 019x), mass traffic (0137, 0138), directory enquiries (118xy),
// shared-cost service numbers (0180).
var chargedPrefixes = []string{"+49900", "+4919", "+49137", "+49138", "+49118", "+49180"}

// askCallback runs the callback dialogue with a waiting member who pressed
// the callback key: confirm the number they call from (if it is one we may
// call) or key in another. It returns the number, or "" if the member gave
// no valid one (they go on waiting).
func (c *call) askCallback(ctx context.Context, cb *Callback, from string) (string, error) {
	own, ownErr := callbackNumber(from, cb.CountryCode, cb.International)
	p := c.s.prompts.Callback
	for try := 1; try <= callbackEntries; try++ {
		prompt := p.Enter
		if ownErr == nil {
			prompt = p.CallerID
		}
		c.log.Debug().Int("try", try).Bool("caller_id", ownErr == nil).Msg("callback prompt")
		key, err := c.collectKey(ctx, c.memberLeg.PlayOnce(prompt), callbackKeyTimeout)
		if err != nil {
			return "", err
		}
		c.memberLeg.StopPlay()
		if key == 0 {
			c.log.Info().Int("try", try).Msg("callback: no key")
			continue
		}
		if key == '1' && ownErr == nil {
			return own, nil
		}
		keyed, err := c.collectDigits(ctx, key)
		if err != nil {
			return "", err
		}
		n, verr := callbackNumber(keyed, cb.CountryCode, cb.International)
		if verr == nil {
			return n, nil
		}
		c.log.Info().Int("try", try).Str("why", verr.Error()).Msg("callback: number refused")
		if err := c.hear(ctx, c.s.prompts.Invalid); err != nil {
			return "", err
		}
	}
	return "", nil
}

// collectDigits reads a number keyed in, first digit first, up to '#' or a
// pause of callbackDigitTimeout; '*' starts again.
func (c *call) collectDigits(ctx context.Context, first byte) (string, error) {
	var b strings.Builder
	for k := first; ; {
		switch {
		case k == '#' || k == 0:
			return b.String(), nil
		case k == '*':
			b.Reset()
		case k >= '0' && k <= '9' && b.Len() < callbackMaxDigits:
			b.WriteByte(k)
		}
		var err error
		if k, err = c.collectKey(ctx, noPrompt, callbackDigitTimeout); err != nil {
			return "", err
		}
	}
}

// noPrompt is collectKey's done when nothing plays.
var noPrompt = func() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// takeCallback turns the call into a callback to number: the ACD marks it,
// the member hears that their place is kept, and is hung up.
func (c *call) takeCallback(ctx context.Context, cb *Callback, number string) error {
	if err := c.s.router.Callback(ctx, c.id); err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	c.log.Info().Str("callback_to", c.s.pseudo.Number(number)).Msg("callback requested")
	_ = c.hear(ctx, c.s.prompts.Callback.Confirmed) // hanging up early is fine
	c.memberLeg.OnDTMF(nil)
	c.release(sip.StatusTemporarilyUnavailable)
	c.s.calls.drop(c.member.InviteRequest.CallID().Value()) // that dialog is over: nothing more comes to this call
	c.memberLeg.StopPlay()
	c.cb = &callbackState{cfg: cb, number: number}
	c.early = false // the callback's answer is the 200 that matters
	return nil
}

// callBack runs one attempt at a callback whose agent has answered (ring):
// the agent hears that the member is being called, the member's phone
// rings. On answer the call goes on as any connected call (talk), which
// first plays the member the hello. Otherwise the agent is hung up and the
// call waits for the next attempt, or is given up after the last; on
// shutdown the caller abandons it.
func (c *call) callBack(ctx context.Context) (bool, error) {
	agentLeg, agentDlg := c.agentLeg.Load(), c.agentDlg.Load()
	agentLeg.PlayOnceThen(c.s.prompts.Callback.Agent, c.s.hold)
	c.cb.attempts++
	c.log.Info().Int("attempt", c.cb.attempts).Msg("calling the member back")
	err := c.dialMember(ctx, agentDlg)
	if err == nil {
		c.hello = c.s.prompts.Callback.Hello // talk plays it before the bridge
		return true, nil
	}
	agentGone := agentDlg.Context().Err() != nil
	c.hangupAgent(agentDlg)
	c.dropAgent(agentDlg, agentLeg)
	agent := c.agent
	c.agent = ""
	bg, cancel := context.WithTimeout(context.Background(), ByeTimeout)
	defer cancel()
	switch {
	case ctx.Err() != nil:
		return false, errShutdown
	case agentGone: // not the member's fault: next agent at once, same attempt
		c.cb.attempts--
		c.log.Info().Msg("callback: the agent hung up before the member answered")
		return false, c.s.router.RetryCallback(bg, c.id, agent, time.Now())
	case c.cb.attempts >= c.cb.cfg.Attempts:
		c.log.Info().Err(err).Int("attempts", c.cb.attempts).Msg("callback given up")
		if gerr := c.s.router.GiveUpCallback(bg, c.id); gerr != nil {
			c.log.Error().Err(gerr).Msg("give up callback")
		}
		return false, errCallbackFailed
	}
	c.log.Info().Err(err).Dur("retry_after", c.cb.cfg.RetryAfter).Msg("callback not answered: tried again later")
	return false, c.s.router.RetryCallback(bg, c.id, agent, time.Now().Add(c.cb.cfg.RetryAfter))
}

// dialMember calls the member over the callback's trunk and waits up to
// the ring timeout for the answer, or until the agent hangs up.
func (c *call) dialMember(ctx context.Context, agentDlg *sipgo.DialogClientSession) error {
	// A fresh port for each attempt: RTP still coming from the member's
	// first call (or an earlier attempt) reaches a closed, quarantined
	// port instead of latching onto this one. The swap happens before the
	// dialog is published (calls.put), which onReInvite's lookup follows;
	// the first call's dialog was hung up long before.
	leg, err := c.s.relay.NewLeg(c.codec)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	old := c.memberLeg
	c.memberLeg = leg
	old.Close()

	t := c.cb.cfg.Trunk
	host, port := t.Addr.Addr().String(), int(t.Addr.Port())
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: c.cb.number, Host: host, Port: port})
	req.SetTransport(strings.ToUpper(t.Transport))
	req.SetDestination(t.Addr.String())
	from := &sip.FromHeader{
		Address: sip.Uri{Scheme: "sip", User: t.From, Host: c.s.dialog.ContactHDR.Address.Host},
		Params:  sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: c.cb.number, Host: host, Port: port}})
	req.SetBody(c.sdp(c.memberLeg, ""))
	req.AppendHeader(contentTypeSDP())

	rctx, cancel := context.WithTimeout(ctx, c.cb.cfg.RingTimeout)
	defer cancel()
	stop := context.AfterFunc(agentDlg.Context(), cancel)
	defer stop()
	dlg, err := c.s.dialog.WriteInvite(rctx, req)
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	id := req.CallID().Value()
	c.s.calls.put(id, c)
	c.memberOut.Store(dlg)
	err = dlg.WaitAnswer(rctx, sipgo.AnswerOptions{Username: t.Username, Password: t.Password})
	var ans *media.SDP
	if err == nil {
		if ans, err = media.ParseSDP(dlg.InviteResponse.Body()); err != nil {
			err = fmt.Errorf("answer: %w", err)
		} else if err = dlg.Ack(ctx); err != nil {
			err = fmt.Errorf("ack: %w", err)
		}
	}
	if err != nil {
		if dlg.InviteResponse != nil && dlg.InviteResponse.IsSuccess() { // answered, but unusable
			bctx, bcancel := context.WithTimeout(context.Background(), ByeTimeout)
			_ = dlg.Ack(bctx)
			_ = dlg.Bye(bctx)
			bcancel()
		}
		c.memberOut.Store(nil)
		c.s.calls.drop(id)
		return err
	}
	c.memberLeg.SetRemote(netip.AddrPortFrom(ans.Addr, uint16(ans.Port)))
	c.memberLeg.SetTelephoneEvent(ans.TelEventPT)
	return nil
}
