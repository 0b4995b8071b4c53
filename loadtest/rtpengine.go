package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callwerk/callwerk/media"
)

// The relay scenario can measure rtpengine (Sipwise's media proxy, the
// userspace relay most SIP platforms put beside Kamailio or OpenSIPS) with
// the same phones, pacing and delay measurement as a Callwerk node, for a
// side-by-side figure. Calls are set up over rtpengine's ng control
// protocol (bencoded dictionaries over UDP) instead of SIP: offer with the
// member's SDP, answer with the agent's, delete at the end. There is no
// queue and no agent registration; only the relay is measured.

// ngTimeout bounds one ng request and its answer.
const ngTimeout = 2 * time.Second

// ngClient sends ng commands to one rtpengine and matches the answers by
// cookie; it is safe for concurrent calls.
type ngClient struct {
	conn    *net.UDPConn
	next    atomic.Uint64
	mu      sync.Mutex
	waiting map[string]chan map[string]any
	done    chan struct{}
}

func dialNG(addr netip.AddrPort) (*ngClient, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	ng := &ngClient{conn: c, waiting: make(map[string]chan map[string]any), done: make(chan struct{})}
	go ng.read()
	return ng, nil
}

func (c *ngClient) read() {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		n, err := c.conn.Read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // e.g. ICMP refused while rtpengine starts
		}
		cookie, body, ok := bytes.Cut(buf[:n], []byte(" "))
		if !ok {
			continue
		}
		v, rest, err := bdecode(body)
		m, isDict := v.(map[string]any)
		if err != nil || len(rest) != 0 || !isDict {
			continue
		}
		c.mu.Lock()
		ch := c.waiting[string(cookie)]
		delete(c.waiting, string(cookie))
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// do sends one command and returns rtpengine's answer; a result other than
// "ok" (or "pong" to a ping) is an error carrying rtpengine's reason.
func (c *ngClient) do(ctx context.Context, cmd map[string]any) (map[string]any, error) {
	cookie := strconv.FormatUint(c.next.Add(1), 10)
	ch := make(chan map[string]any, 1)
	c.mu.Lock()
	c.waiting[cookie] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, cookie)
		c.mu.Unlock()
	}()
	msg := append([]byte(cookie+" "), bencode(cmd)...)
	if _, err := c.conn.Write(msg); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, ngTimeout)
	defer cancel()
	select {
	case m := <-ch:
		if res, _ := m["result"].(string); res != "ok" && res != "pong" {
			reason, _ := m["error-reason"].(string)
			return nil, fmt.Errorf("rtpengine %v: %s %s", cmd["command"], res, reason)
		}
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("rtpengine %v: no answer: %w", cmd["command"], ctx.Err())
	}
}

func (c *ngClient) close() {
	_ = c.conn.Close()
	<-c.done
}

// bencode encodes strings, ints, lists and string-keyed dictionaries
// (keys sorted, as bencoding requires).
func bencode(v any) []byte {
	var b bytes.Buffer
	var enc func(any)
	enc = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(strconv.Itoa(len(v)) + ":" + v)
		case int:
			b.WriteString("i" + strconv.Itoa(v) + "e")
		case []string:
			b.WriteByte('l')
			for _, s := range v {
				enc(s)
			}
			b.WriteByte('e')
		case map[string]any:
			b.WriteByte('d')
			for _, k := range slices.Sorted(maps.Keys(v)) {
				enc(k)
				enc(v[k])
			}
			b.WriteByte('e')
		default:
			panic(fmt.Sprintf("bencode: %T", v))
		}
	}
	enc(v)
	return b.Bytes()
}

// bdecode decodes one bencoded value from the front of b: strings, ints,
// lists ([]any) and dictionaries (map[string]any).
func bdecode(b []byte) (any, []byte, error) {
	errBad := errors.New("bencode: malformed")
	if len(b) == 0 {
		return nil, nil, errBad
	}
	switch c := b[0]; {
	case c == 'i':
		end := bytes.IndexByte(b, 'e')
		if end < 0 {
			return nil, nil, errBad
		}
		n, err := strconv.Atoi(string(b[1:end]))
		if err != nil {
			return nil, nil, errBad
		}
		return n, b[end+1:], nil
	case c >= '0' && c <= '9':
		colon := bytes.IndexByte(b, ':')
		if colon < 0 {
			return nil, nil, errBad
		}
		n, err := strconv.Atoi(string(b[:colon]))
		if err != nil || n < 0 || colon+1+n > len(b) {
			return nil, nil, errBad
		}
		return string(b[colon+1 : colon+1+n]), b[colon+1+n:], nil
	case c == 'l' || c == 'd':
		var list []any
		rest := b[1:]
		for len(rest) > 0 && rest[0] != 'e' {
			var v any
			var err error
			if v, rest, err = bdecode(rest); err != nil {
				return nil, nil, err
			}
			list = append(list, v)
		}
		if len(rest) == 0 {
			return nil, nil, errBad
		}
		rest = rest[1:]
		if c == 'l' {
			return list, rest, nil
		}
		if len(list)%2 != 0 {
			return nil, nil, errBad
		}
		m := make(map[string]any, len(list)/2)
		for i := 0; i < len(list); i += 2 {
			k, ok := list[i].(string)
			if !ok {
				return nil, nil, errBad
			}
			m[k] = list[i+1]
		}
		return m, rest, nil
	}
	return nil, nil, errBad
}

// phoneSDP is a phone's offer or answer to rtpengine: PCMU on addr, no
// telephone-event.
func phoneSDP(addr netip.AddrPort, id int) string {
	return string(media.BuildSDP(media.SDPParams{SessionID: uint64(id), Version: 1, Addr: addr.Addr(),
		Port: int(addr.Port()), Codec: media.PCMU, TelEventPT: -1}))
}

// sdpMedia reads the audio address of the SDP rtpengine returned.
func sdpMedia(body any) (netip.AddrPort, error) {
	b, _ := body.(string)
	s, err := media.ParseSDP([]byte(b))
	if err != nil {
		return netip.AddrPort{}, err
	}
	if s.Port == 0 {
		return netip.AddrPort{}, fmt.Errorf("sdp without an audio port: %q", b)
	}
	return netip.AddrPortFrom(s.Addr, uint16(s.Port)), nil
}

// rtpengineTalk runs call i through rtpengine: offer and answer over ng,
// both phones send, wait for the agent's audio at the member, talk, delete.
// It returns why the call failed, or "".
func (r *runner) rtpengineTalk(ctx context.Context, start time.Time, i int, talkFor time.Duration) string {
	m, err := NewRTPPeer(TagMember, 0, &r.toMember)
	if err != nil {
		return "rtp: " + err.Error()
	}
	defer m.Close()
	a, err := NewRTPPeer(TagAgent, 0, &r.toAgent)
	if err != nil {
		return "rtp: " + err.Error()
	}
	defer a.Close()
	callID := fmt.Sprintf("loadtest-%d-%d", start.UnixNano(), i)
	fromTag, toTag := "member-"+strconv.Itoa(i), "agent-"+strconv.Itoa(i)
	offer, err := r.ng.do(ctx, map[string]any{"command": "offer", "call-id": callID, "from-tag": fromTag,
		"sdp": phoneSDP(m.Addr(), i)})
	if err != nil {
		return err.Error()
	}
	answer, err := r.ng.do(ctx, map[string]any{"command": "answer", "call-id": callID, "from-tag": fromTag,
		"to-tag": toTag, "sdp": phoneSDP(a.Addr(), i)})
	if err != nil {
		return err.Error()
	}
	defer func() {
		_, _ = r.ng.do(context.WithoutCancel(ctx), map[string]any{"command": "delete", "call-id": callID, "from-tag": fromTag})
	}()
	toAgent, err1 := sdpMedia(offer["sdp"])   // the relay's side facing the agent
	toMember, err2 := sdpMedia(answer["sdp"]) // and facing the member
	if err := errors.Join(err1, err2); err != nil {
		return err.Error()
	}
	okAt := time.Now()
	r.mu.Lock()
	r.setupOK = append(r.setupOK, okAt.Sub(start))
	r.rep.answered200++
	if okAt.After(r.rep.lastAnswered) {
		r.rep.lastAnswered = okAt
	}
	r.mu.Unlock()
	a.Send(toAgent)
	m.Send(toMember)

	t := time.NewTicker(pollEvery)
	defer t.Stop()
	setup, cancel := context.WithTimeout(ctx, r.s.Timeout)
	defer cancel()
	var m0, a0 RTPStats
	for m0.ByTag[TagAgent] == 0 {
		select {
		case <-setup.Done():
			return "no agent audio within timeout"
		case <-t.C:
			m0, a0 = m.Stats(), a.Stats()
		}
	}
	r.mu.Lock()
	r.rep.Answered++
	r.rep.AgentCalls++
	r.setupAgent = append(r.setupAgent, time.Since(start))
	r.secAgent = append(r.secAgent, time.Since(start))
	r.mu.Unlock()
	select {
	case <-time.After(talkFor):
	case <-ctx.Done():
		return "interrupted"
	}
	m.Close()
	a.Close()
	m1, a1 := m.Stats(), a.Stats()
	r.mu.Lock()
	r.rep.ToMember.add(m1, TagAgent)
	r.rep.ToMember.Sent += a1.Sent - a0.Sent
	r.rep.ToAgent.add(a1, TagMember)
	r.rep.ToAgent.Sent += m1.Sent - m0.Sent
	r.mu.Unlock()
	return ""
}
