package media

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Codec is a G.711 payload format. ClockRate is always 8000 Hz.
type Codec struct {
	PT   uint8  // RTP payload type (RFC 3551 static: 0 or 8)
	Name string // "PCMU" or "PCMA", as in a=rtpmap
}

var (
	PCMU = Codec{PT: 0, Name: "PCMU"} // G.711 µ-law, RFC 3551 §6 PT 0
	PCMA = Codec{PT: 8, Name: "PCMA"} // G.711 A-law, RFC 3551 §6 PT 8
)

// The SDP media directions (RFC 3264 §5.1).
const (
	DirSendRecv = "sendrecv"
	DirSendOnly = "sendonly"
	DirRecvOnly = "recvonly"
	DirInactive = "inactive"
)

const (
	protoRTPAVP  = "RTP/AVP"
	protoRTPSAVP = "RTP/SAVP"          // SRTP keyed by SDES (RFC 4568)
	protoWebRTC  = "UDP/TLS/RTP/SAVPF" // DTLS-SRTP with ICE (RFC 5764, RFC 8827)
)

// SDP is what the relay needs from a session description (RFC 8866): the
// first m=audio stream, its connection address and its payload types.
type SDP struct {
	Addr       netip.Addr // c= address; media-level overrides session-level; IPv4 or IPv6
	Port       int        // port of the first m=audio line; 0 = stream rejected or disabled
	Proto      string     // transport of that line: "RTP/AVP" or "RTP/SAVP" are negotiable
	Formats    []uint8    // payload types of that line, in order of preference
	TelEventPT int        // payload type of telephone-event/8000 (RFC 4733), -1 if absent
	Direction  string     // "sendrecv" (default), "sendonly", "recvonly" or "inactive"
	Ptime      int        // a=ptime in ms, 0 if absent
	Crypto     []Crypto   // the usable a=crypto lines of the stream, in the offer's order
	ICE        ICEParams  // a=ice-ufrag, a=ice-pwd, a=fingerprint, a=setup (media level over session level)
}

// WebRTC reports whether the stream is DTLS-SRTP with ICE, as browsers
// speak it (UDP/TLS/RTP/SAVPF).
func (s *SDP) WebRTC() bool { return strings.EqualFold(s.Proto, protoWebRTC) }

// Secure reports whether the stream is SRTP keyed by SDES (RTP/SAVP).
func (s *SDP) Secure() bool { return strings.EqualFold(s.Proto, protoRTPSAVP) }

type sdpSection int

const (
	sectionSession sdpSection = iota
	sectionAudio              // the first m=audio
	sectionOther              // any later media section: ignored
)

// ParseSDP parses a session description. It accepts CRLF or LF line ends,
// ignores lines and attributes it does not know, and returns an error
// wrapping ErrBadSDP when there is no m=audio line, no connection address
// for it, or a malformed port, address or payload type.
func ParseSDP(b []byte) (*SDP, error) {
	s := &SDP{TelEventPT: -1, Direction: DirSendRecv}
	var (
		section             = sectionSession
		audioSeen           bool
		sessAddr, mediaAddr netip.Addr
		sessDir, mediaDir   string
		sessPtime           int
		telCandidates       []int
	)
	for raw := range strings.SplitSeq(string(b), "\n") {
		line := strings.TrimSuffix(raw, "\r")
		if len(line) < 2 || line[1] != '=' {
			continue // blank or not "<type>=<value>": ignore
		}
		val := line[2:]
		switch line[0] {
		case 'm':
			if audioSeen || !strings.HasPrefix(val, "audio ") {
				section = sectionOther
				continue
			}
			if err := s.parseMedia(val); err != nil {
				return nil, err
			}
			section, audioSeen = sectionAudio, true
		case 'c':
			if section == sectionOther {
				continue
			}
			addr, err := parseConnection(val)
			if err != nil {
				return nil, err
			}
			if section == sectionSession {
				sessAddr = addr
			} else {
				mediaAddr = addr
			}
		case 'a':
			if section == sectionOther {
				continue
			}
			name, arg, _ := strings.Cut(val, ":")
			switch name {
			case DirSendRecv, DirSendOnly, DirRecvOnly, DirInactive:
				if section == sectionSession {
					sessDir = name
				} else {
					mediaDir = name
				}
			case "ptime":
				// RFC 8866 §6.4: a number of milliseconds; some offers send "20.0".
				whole, _, _ := strings.Cut(strings.TrimSpace(arg), ".")
				if ms, err := strconv.Atoi(whole); err == nil && ms > 0 && ms <= 1000 {
					if section == sectionSession {
						sessPtime = ms
					} else {
						s.Ptime = ms
					}
				}
			case "ice-ufrag":
				setAttr(&s.ICE.Ufrag, section, strings.TrimSpace(arg))
			case "ice-pwd":
				setAttr(&s.ICE.Pwd, section, strings.TrimSpace(arg))
			case "fingerprint":
				setAttr(&s.ICE.Fingerprint, section, strings.TrimSpace(arg))
			case "setup":
				setAttr(&s.ICE.Setup, section, strings.TrimSpace(arg))
			case "crypto":
				if c, ok := parseCrypto(arg); ok && section == sectionAudio {
					s.Crypto = append(s.Crypto, c)
				}
			case "rtpmap":
				if section == sectionAudio {
					if pt, ok := parseTelEventRtpmap(arg); ok {
						telCandidates = append(telCandidates, pt)
					}
				}
			}
		}
	}
	if !audioSeen {
		return nil, fmt.Errorf("%w: no m=audio line", ErrBadSDP)
	}
	switch {
	case mediaAddr.IsValid():
		s.Addr = mediaAddr
	case sessAddr.IsValid():
		s.Addr = sessAddr
	default:
		return nil, fmt.Errorf("%w: no c= line for the audio stream", ErrBadSDP)
	}
	switch {
	case mediaDir != "":
		s.Direction = mediaDir
	case sessDir != "":
		s.Direction = sessDir
	}
	if s.Ptime == 0 {
		s.Ptime = sessPtime // ptime is media-level, but some UAs put it at session level
	}
	for _, pt := range telCandidates {
		if s.hasFormat(pt) {
			s.TelEventPT = pt
			break
		}
	}
	return s, nil
}

// setAttr sets *dst to val: always at media level, at session level only
// if the media level has not set it (a=ice-* and a=fingerprint may be
// either, the media level winning; the session level comes first).
func setAttr(dst *string, section sdpSection, val string) {
	if section == sectionAudio || *dst == "" {
		*dst = val
	}
}

// parseMedia parses the value of "m=audio <port>[/<count>] <proto> <fmt> ...".
func (s *SDP) parseMedia(val string) error {
	f := strings.Fields(val)
	if len(f) < 4 {
		return fmt.Errorf("%w: m=audio line needs a port, a transport and payload types: %q", ErrBadSDP, val)
	}
	portStr, _, _ := strings.Cut(f[1], "/")
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("%w: bad port %q in m=audio", ErrBadSDP, f[1])
	}
	s.Port = port
	s.Proto = f[2]
	s.Formats = make([]uint8, 0, len(f)-3)
	for _, ft := range f[3:] {
		pt, err := strconv.Atoi(ft)
		if err != nil || pt < 0 || pt > 127 {
			return fmt.Errorf("%w: bad payload type %q in m=audio", ErrBadSDP, ft)
		}
		s.Formats = append(s.Formats, uint8(pt))
	}
	return nil
}

// parseConnection parses the value of "c=IN IP4 <addr>[/ttl[/n]]" (RFC 8866 §5.7).
func parseConnection(val string) (netip.Addr, error) {
	f := strings.Fields(val)
	if len(f) != 3 || f[0] != "IN" {
		return netip.Addr{}, fmt.Errorf("%w: bad c= line %q", ErrBadSDP, val)
	}
	host, _, _ := strings.Cut(f[2], "/") // drop multicast TTL / count
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: bad address %q in c= (want an IP literal)", ErrBadSDP, f[2])
	}
	switch f[1] {
	case "IP4":
		addr = addr.Unmap()
		if !addr.Is4() {
			return netip.Addr{}, fmt.Errorf("%w: bad address %q in c= (not IPv4)", ErrBadSDP, f[2])
		}
	case "IP6":
		if !addr.Is6() || addr.Is4In6() {
			return netip.Addr{}, fmt.Errorf("%w: bad address %q in c= (not IPv6)", ErrBadSDP, f[2])
		}
	default:
		return netip.Addr{}, fmt.Errorf("%w: bad address type %q in c=", ErrBadSDP, f[1])
	}
	return addr, nil
}

// parseTelEventRtpmap reports the payload type of "<pt> telephone-event/8000[/1]".
func parseTelEventRtpmap(arg string) (int, bool) {
	ptStr, enc, ok := strings.Cut(strings.TrimSpace(arg), " ")
	if !ok {
		return 0, false
	}
	pt, err := strconv.Atoi(ptStr)
	if err != nil || pt < 0 || pt > 127 {
		return 0, false
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(enc), "/")
	rate, _, _ := strings.Cut(rest, "/")
	if !strings.EqualFold(name, "telephone-event") || rate != "8000" {
		return 0, false
	}
	return pt, true
}

func (s *SDP) hasFormat(pt int) bool {
	for _, f := range s.Formats {
		if int(f) == pt {
			return true
		}
	}
	return false
}

// Negotiate picks the codec for the answer: the first of s.Formats that is
// PCMU (0) or PCMA (8). It returns an error wrapping ErrNoCommonCodec when
// there is none, or when the stream is neither RTP/AVP nor RTP/SAVP (the
// WebRTC profiles are answered 488 until the relay supports them), and
// ErrSRTPRequired for RTP/SAVP without a crypto attribute the relay can use.
// Negotiate does not look at Port: a rejected stream (port 0) is the
// caller's decision.
func (s *SDP) Negotiate() (Codec, error) {
	switch {
	case s.Secure():
		if len(s.Crypto) == 0 {
			return Codec{}, fmt.Errorf("%w: RTP/SAVP without a usable a=crypto", ErrSRTPRequired)
		}
	case !strings.EqualFold(s.Proto, protoRTPAVP):
		return Codec{}, fmt.Errorf("%w: transport %q", ErrNoCommonCodec, s.Proto)
	}
	for _, pt := range s.Formats {
		switch pt {
		case PCMU.PT:
			return PCMU, nil
		case PCMA.PT:
			return PCMA, nil
		}
	}
	return Codec{}, fmt.Errorf("%w: offered %v", ErrNoCommonCodec, s.Formats)
}

// AnswerDirection returns the direction to answer an offer with.
// RFC 3264 §6.1: a sendonly offer is answered recvonly, a recvonly offer
// sendonly, an inactive offer inactive, and anything else sendrecv. Build
// every answer from the new offer: answering a hold (sendonly) re-INVITE
// with sendrecv makes carriers hang up.
func AnswerDirection(offer string) string {
	switch offer {
	case DirSendOnly:
		return DirRecvOnly
	case DirRecvOnly:
		return DirSendOnly
	case DirInactive:
		return DirInactive
	default:
		return DirSendRecv
	}
}

// SDPParams are the inputs of BuildSDP.
type SDPParams struct {
	SessionID  uint64     // o= sess-id, stable for the dialog
	Version    uint64     // o= sess-version, incremented on every new offer/answer
	Addr       netip.Addr // our relay address (Leg.LocalAddr().Addr())
	Port       int        // our RTP port (Leg.LocalAddr().Port())
	Codec      Codec      // PCMU or PCMA
	TelEventPT int        // telephone-event payload type; -1 omits it
	Direction  string     // "" = sendrecv
	Crypto     *Crypto    // SRTP: RTP/SAVP with this a=crypto; nil: plain RTP/AVP
	WebRTC     *ICEParams // WebRTC: UDP/TLS/RTP/SAVPF, ICE-lite, rtcp-mux, these credentials; wins over Crypto
}

// BuildSDP writes a one-stream G.711 session description with CRLF line
// ends. Values that could break the SDP (an unknown direction, a codec name
// with spaces or line breaks, a payload type out of range) are replaced by
// safe defaults rather than written.
func BuildSDP(p SDPParams) []byte {
	addr := p.Addr.Unmap()
	ipType := "IP4"
	if addr.Is6() {
		ipType = "IP6"
	}
	addrStr := addr.WithZone("").String()
	codec := p.Codec
	if codec.PT > 127 || !isToken(codec.Name) {
		codec = PCMU
	}
	dir := p.Direction
	switch dir {
	case DirSendOnly, DirRecvOnly, DirInactive:
	default:
		dir = DirSendRecv
	}
	tel := p.TelEventPT
	if tel < 0 || tel > 127 || tel == int(codec.PT) {
		tel = -1
	}

	var b strings.Builder
	b.Grow(256)
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	line("v=0")
	line("o=callwerk %d %d IN %s %s", p.SessionID, p.Version, ipType, addrStr)
	line("s=callwerk")
	line("c=IN %s %s", ipType, addrStr)
	line("t=0 0")
	if p.WebRTC != nil {
		line("a=ice-lite")
		line("a=group:BUNDLE 0")
	}
	proto := protoRTPAVP
	switch {
	case p.WebRTC != nil:
		proto = protoWebRTC
	case p.Crypto != nil:
		proto = protoRTPSAVP
	}
	if tel >= 0 {
		line("m=audio %d %s %d %d", p.Port, proto, codec.PT, tel)
	} else {
		line("m=audio %d %s %d", p.Port, proto, codec.PT)
	}
	line("a=rtpmap:%d %s/8000", codec.PT, codec.Name)
	if tel >= 0 {
		line("a=rtpmap:%d telephone-event/8000", tel)
		line("a=fmtp:%d 0-16", tel)
	}
	line("a=ptime:20")
	line("a=%s", dir)
	switch ice := p.WebRTC; {
	case ice != nil:
		if isToken(ice.Ufrag) && isToken(ice.Pwd) && !strings.ContainsAny(ice.Fingerprint, "\r\n") {
			line("a=mid:0")
			line("a=rtcp-mux")
			line("a=ice-ufrag:%s", ice.Ufrag)
			line("a=ice-pwd:%s", ice.Pwd)
			line("a=fingerprint:%s", ice.Fingerprint)
			setup := ice.Setup
			if setup != "passive" && setup != "active" {
				setup = "actpass"
			}
			line("a=setup:%s", setup)
			line("a=candidate:1 1 udp 2130706431 %s %d typ host", addrStr, p.Port)
			line("a=end-of-candidates")
		}
	case p.Crypto != nil:
		line("a=crypto:%s", p.Crypto.attribute())
	}
	return []byte(b.String())
}

// isToken reports whether s is a non-empty run of visible ASCII without "/".
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c <= ' ' || c >= 0x7F || c == '/' {
			return false
		}
	}
	return true
}
