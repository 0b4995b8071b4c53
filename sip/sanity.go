package sip

import (
	"bytes"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Sanity checks a raw SIP message before sipgo parses it (Kamailio's sanity
// module is the model). sipgo is a parser, not a validator: it accepts
// SIP/7.0, duplicate Call-ID/CSeq/From/To, two Content-Lengths, a CSeq method
// that differs from the request method, and it upper-cases method names.
// The expected answers are those of RFC 4475 for a UAS (Callwerk is a
// B2BUA: it ends every request it receives, it never proxies one).
//
// Choices, in the order they are checked:
//   - len(data) > maxSize: 513 Message Too Large for a request, Drop
//     for a response. maxSize <= 0 means DefaultMaxMessageSize.
//   - Responses (data starting with "SIP/") are never answered: a malformed
//     status line, status code outside 100..699, missing or unparsable
//     required headers, or more than one Via (RFC 3261 §8.1.3.3, RFC 4475
//     §3.3.10 bcast) mean Drop. Anything else passes; sipgo discards stray
//     responses that match no transaction.
//   - A request whose method is not a token is garbage: Drop. A request
//     without any Via cannot be answered (the response is routed by the top
//     Via, RFC 3261 §18.2.2): Drop. An ACK is never answered (RFC 3261
//     §17.1.1.3): every failure of an ACK is a Drop.
//   - Request-Line: exactly METHOD SP Request-URI SP SIP-Version (extra or
//     trailing SP: 400); SIP-Version other than SIP/2.0: 505.
//   - Header section: every line ends in CRLF (bare CR or LF: 400), every
//     header has a token name and a colon, a NUL byte is allowed only as a
//     quoted-pair inside a quoted string (RFC 4475 §3.1.1.2 intmeth is
//     valid with one), the empty line is present.
//   - Call-ID, CSeq, From, To exactly once, Via at least once, Max-Forwards
//     and Content-Length at most once (RFC 3261 §8.1.1, §20.14): 400.
//     Max-Forwards is optional (RFC 4475 §3.4.1 inv2543).
//   - CSeq: digits below 2**31 (RFC 3261 §8.1.1.5; sipgo enforces the same),
//     LWS, method token; Max-Forwards: 0..255; else 400. Max-Forwards 0 is
//     accepted: an endpoint processes it (RFC 4475 §3.3.11 zeromf).
//   - Content-Length: digits; larger than the body present: 400 (RFC 4475
//     §3.1.2.2 clerr). The message is taken as one UDP datagram (sipgo's
//     stream parser frames TCP): octets after Content-Length are discarded
//     as RFC 3261 §18.3 says (RFC 4475 §3.1.1.8 dblreq), and without
//     Content-Length the body is the rest of the datagram (inv2543). A
//     non-empty body needs a Content-Type (RFC 3261 §20.15).
//   - From, To, Contact, Route, Record-Route: quotes balanced, display name
//     quoted or tokens, no LWS inside <>, addr-spec form without '?'
//     (RFC 3261 §20), no empty parameters; single values in From and To.
//     Via: SIP/x/transport sent-by, no empty elements or parameters, a top
//     branch that is not the bare magic cookie "z9hG4bK" (RFC 4475 §3.2.1).
//   - Methods are case-sensitive: a method that is not an exact registered
//     SIP method gets 501 (RFC 3261 §21.5.2; RFC 4475 §3.1.2.18 prefers 501
//     to 400 for mismatch02). Registered methods Callwerk does not handle
//     pass and sipgo answers 405.
//   - Request-URI: scheme sip, sips or tel, else 416 (RFC 4475 §3.3.2,
//     §3.3.3: Callwerk never routes soap.beep); '<', LWS or, for sip/sips,
//     escaped headers ('?') in it: 400 (RFC 4475 §3.1.2.7, §3.1.2.11).
//   - CSeq method differs from the request method: 400 (RFC 4475 §3.1.2.17).
//   - REGISTER whose To is not a sip/sips URI: 400 (RFC 4475 §3.3.4).
//   - Require option-tags (not in ACK or CANCEL; Proxy-Require is for
//     proxies): 420 listing them in Verdict.Unsupported (RFC 4475 §3.3.5).
//   - INVITE with a body that is not application/sdp: 415 with
//     Verdict.Accept; INVITE whose Accept excludes application/sdp: 406
//     (RFC 4475 §3.3.6, §3.3.15).
//   - Last, sipgo's own parser must accept the message (400 or Drop if
//     not), so Sanity never passes what sipgo cannot parse.
//
// Sanity is safe for concurrent use; it allocates nothing of its own except
// the Unsupported list of a 420 (sipgo's parser allocates in the last step).
func Sanity(data []byte, maxSize int) Verdict {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	if len(data) >= 4 && string(data[:4]) == "SIP/" {
		return sanityResponse(data, maxSize)
	}
	v := sanityRequest(data, maxSize)
	if v.Status != 0 && v.ack {
		v.Drop, v.Status = true, 0
	}
	v.ack = false
	return v
}

// Verdict is the outcome of checking a raw SIP message before sipgo parses it.
type Verdict struct {
	Drop   bool   // discard silently (stray or unusable responses, garbage without a request line, ACK)
	Status int    // 0 = pass to sipgo; else answer this status
	Reason string // reason phrase with detail for the answer, or why it was dropped (for logs)

	// Unsupported lists the option-tags of a 420, for its Unsupported header.
	Unsupported string
	// Accept is the value of the Accept header a 415 or 406 should carry.
	Accept string

	ack bool // the request is an ACK: never answered
}

// DefaultMaxMessageSize is Sanity's size cap when maxSize <= 0 (Kamailio's default).
const DefaultMaxMessageSize = 16 << 10

// acceptSDP is the only body type Callwerk understands in an INVITE.
const acceptSDP = "application/sdp"

// sanityParser is read-only once built, so shared by all goroutines.
var sanityParser = sip.NewParser()

// supportedOptionTags are the RFC 3261 §8.2.2.3 option-tags Callwerk
// implements: none yet (no 100rel, no session timers).
var supportedOptionTags = []string{}

// knownMethods are the SIP methods registered with IANA; case-sensitive.
var knownMethods = []string{
	"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
	"NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
}

// bad is a 400; reason is the whole phrase, "Bad Request: ...", so that
// constant reasons cost no allocation.
func bad(reason string) Verdict              { return Verdict{Status: 400, Reason: reason} }
func drop(reason string) Verdict             { return Verdict{Drop: true, Reason: reason} }
func status(code int, reason string) Verdict { return Verdict{Status: code, Reason: reason} }

// required are the headers a request has exactly once (RFC 3261 §8.1.1, §20).
var required = [...]struct {
	kind           int
	missing, twice string
}{
	{hCallID, "Bad Request: missing Call-ID", "Bad Request: more than one Call-ID"},
	{hCSeq, "Bad Request: missing CSeq", "Bad Request: more than one CSeq"},
	{hFrom, "Bad Request: missing From", "Bad Request: more than one From"},
	{hTo, "Bad Request: missing To", "Bad Request: more than one To"},
}

// Header kinds Sanity looks at.
const (
	hOther = iota
	hCallID
	hCSeq
	hFrom
	hTo
	hVia
	hMaxForwards
	hContentLength
	hContentType
	hContact
	hRoute
	hRecordRoute
	hRequire
	hAccept
	hCount
)

// msgInfo is what the header scan collects; values alias data.
type msgInfo struct {
	count      [hCount]int
	first      [hCount][]byte // first value of each kind
	vias       int            // Via values (comma-separated ones counted)
	topBranch  []byte
	hasBranch  bool
	body       []byte // octets after the empty line
	accept     bool   // an Accept header allows application/sdp
	requireTag bool   // some Require header has a tag
}

// scanHeaders walks the header section that starts at data[pos]. It returns
// a non-empty reason on the first syntax error.
func scanHeaders(data []byte, pos int, m *msgInfo) string {
	for {
		if pos >= len(data) {
			return "no empty line after the headers"
		}
		end, reason := lineEnd(data, pos)
		if reason != "" {
			return reason
		}
		if end == pos { // the empty line
			m.body = data[end+2:]
			return ""
		}
		if data[pos] == ' ' || data[pos] == '\t' {
			return "continuation line without a header"
		}
		// Fold continuation lines into this header.
		for end+2 < len(data) && (data[end+2] == ' ' || data[end+2] == '\t') {
			e, reason := lineEnd(data, end+2)
			if reason != "" {
				return reason
			}
			end = e
		}
		line := data[pos:end]
		pos = end + 2
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return "header without colon"
		}
		name := trimLWS(line[:colon])
		if len(name) == 0 || !isToken(name) || len(name) != len(trimRightLWS(line[:colon])) {
			return "malformed header name"
		}
		value := trimLWS(line[colon+1:])
		if bytes.IndexByte(value, 0) >= 0 && !nulQuoted(value) {
			return "NUL in header value"
		}
		kind := headerKind(name)
		m.count[kind]++
		if m.first[kind] == nil {
			m.first[kind] = value
		}
		var r string
		switch kind {
		case hFrom, hTo:
			r = checkAddrs(value, false, false)
		case hContact:
			r = checkAddrs(value, true, true)
		case hRoute, hRecordRoute:
			r = checkAddrs(value, true, false)
		case hVia:
			r = checkVia(value, m)
		case hAccept:
			if acceptsSDP(value) {
				m.accept = true
			}
		case hRequire:
			if len(value) > 0 {
				m.requireTag = true
			}
		}
		if r != "" {
			return r
		}
	}
}

// lineEnd returns the index of the CR of the CRLF ending the line at pos.
func lineEnd(data []byte, pos int) (int, string) {
	i := bytes.IndexByte(data[pos:], '\n')
	if i < 0 {
		return 0, "line without CRLF"
	}
	i += pos
	if i == pos || data[i-1] != '\r' {
		return 0, "bare LF"
	}
	if bytes.IndexByte(data[pos:i-1], '\r') >= 0 {
		return 0, "bare CR"
	}
	return i - 1, ""
}

func sanityRequest(data []byte, maxSize int) Verdict {
	// Request-Line.
	sp := bytes.IndexByte(data, ' ')
	if sp <= 0 || !isToken(data[:sp]) {
		return drop("no request line")
	}
	method := data[:sp]
	ack := string(method) == "ACK"
	if len(data) > maxSize {
		return Verdict{Status: 513, Reason: "Message Too Large", ack: ack}
	}
	end, reason := lineEnd(data, 0)
	if reason != "" {
		return drop("no request line")
	}
	if !hasVia(data, end+2) {
		return drop("request without Via")
	}
	v := checkRequest(data, method, end)
	v.ack = ack
	return v
}

func checkRequest(data, method []byte, end int) Verdict {
	rest := data[len(method)+1 : end]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return bad("Bad Request: malformed Request-Line")
	}
	ruri, version := rest[:sp], rest[sp+1:]
	if len(version) == 0 || bytes.IndexByte(version, ' ') >= 0 || bytes.IndexByte(version, '\t') >= 0 {
		return bad("Bad Request: malformed Request-Line")
	}
	if string(version) != "SIP/2.0" && !bytes.EqualFold(version, []byte("SIP/2.0")) {
		if len(version) > 4 && bytes.EqualFold(version[:4], []byte("SIP/")) {
			return status(505, "Version Not Supported")
		}
		return bad("Bad Request: malformed Request-Line")
	}
	scheme, r := uriScheme(ruri)
	if r != "" {
		return bad("Bad Request: malformed Request-URI")
	}

	var m msgInfo
	if r := scanHeaders(data, end+2, &m); r != "" {
		return bad("Bad Request: " + r)
	}
	for _, h := range required {
		switch {
		case m.count[h.kind] == 0:
			return bad(h.missing)
		case m.count[h.kind] > 1:
			return bad(h.twice)
		}
	}
	if m.count[hMaxForwards] > 1 {
		return bad("Bad Request: more than one Max-Forwards")
	}
	if m.count[hContentLength] > 1 {
		return bad("Bad Request: more than one Content-Length")
	}
	seq, cseqMethod, ok := parseCSeq(m.first[hCSeq])
	if !ok || seq > 1<<31-1 {
		return bad("Bad Request: malformed CSeq")
	}
	if m.count[hMaxForwards] == 1 {
		if n, ok := parseUint(m.first[hMaxForwards]); !ok || n > 255 {
			return bad("Bad Request: malformed Max-Forwards")
		}
	}
	body := m.body
	if m.count[hContentLength] == 1 {
		n, ok := parseUint(m.first[hContentLength])
		if !ok {
			return bad("Bad Request: malformed Content-Length")
		}
		if n > uint64(len(body)) {
			return bad("Bad Request: Content-Length larger than the body")
		}
		body = body[:n] // RFC 3261 §18.3: the rest of a datagram is discarded
	} else if len(bytes.Trim(body, "\r\n")) == 0 {
		body = nil
	}
	if len(body) > 0 && m.count[hContentType] == 0 {
		return bad("Bad Request: body without Content-Type")
	}

	if !known(method) {
		return status(501, "Not Implemented")
	}
	switch {
	case strings.EqualFold(scheme, "sip"), strings.EqualFold(scheme, "sips"):
		if bytes.IndexByte(ruri, '?') >= 0 {
			return bad("Bad Request: headers in Request-URI")
		}
	case strings.EqualFold(scheme, "tel"):
	default:
		return status(416, "Unsupported URI Scheme")
	}
	if !bytes.Equal(cseqMethod, method) {
		return bad("Bad Request: CSeq method does not match")
	}
	if string(method) == "REGISTER" {
		if s := addrScheme(m.first[hTo]); !strings.EqualFold(s, "sip") && !strings.EqualFold(s, "sips") {
			return bad("Bad Request: To of a REGISTER must be a sip or sips URI")
		}
	}
	if m.hasBranch && string(m.topBranch) == "z9hG4bK" {
		return bad("Bad Request: branch without transaction identifier")
	}
	if m.requireTag && string(method) != "ACK" && string(method) != "CANCEL" {
		if u := unsupported(data, end+2); u != "" {
			return Verdict{Status: 420, Reason: "Bad Extension", Unsupported: u}
		}
	}
	if string(method) == "INVITE" {
		if len(body) > 0 && !isSDP(m.first[hContentType]) {
			return Verdict{Status: 415, Reason: "Unsupported Media Type", Accept: acceptSDP}
		}
		if m.count[hAccept] > 0 && !m.accept {
			return Verdict{Status: 406, Reason: "Not Acceptable: " + acceptSDP + " only", Accept: acceptSDP}
		}
	}
	if _, err := sanityParser.ParseSIP(data); err != nil {
		return bad("Bad Request: malformed message")
	}
	return Verdict{}
}

func sanityResponse(data []byte, maxSize int) Verdict {
	if len(data) > maxSize {
		return drop("response too large")
	}
	end, reason := lineEnd(data, 0)
	if reason != "" {
		return drop("malformed status line")
	}
	line := data[:end]
	// "SIP/2.0" SP 3DIGIT SP Reason-Phrase
	if len(line) < 12 || string(line[:8]) != "SIP/2.0 " || line[11] != ' ' ||
		line[8] < '1' || line[8] > '6' || !isDigit(line[9]) || !isDigit(line[10]) {
		return drop("malformed status line")
	}
	if bytes.IndexByte(line, 0) >= 0 {
		return drop("NUL in status line")
	}
	var m msgInfo
	if r := scanHeaders(data, end+2, &m); r != "" {
		return drop("malformed response: " + r)
	}
	if m.vias != 1 {
		return drop("response without exactly one Via")
	}
	for _, k := range [...]int{hCallID, hCSeq, hFrom, hTo} {
		if m.count[k] != 1 {
			return drop("response without a required header")
		}
	}
	if seq, _, ok := parseCSeq(m.first[hCSeq]); !ok || seq > 1<<31-1 {
		return drop("malformed CSeq")
	}
	if m.count[hContentLength] > 1 {
		return drop("more than one Content-Length")
	}
	if _, err := sanityParser.ParseSIP(data); err != nil {
		return drop("unparsable response")
	}
	return Verdict{}
}

// hasVia reports whether some header line from pos on is a Via.
func hasVia(data []byte, pos int) bool {
	for pos < len(data) {
		i := bytes.IndexByte(data[pos:], '\n')
		line := data[pos:]
		if i >= 0 {
			line = data[pos : pos+i]
		}
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return false // end of headers
		}
		if c := bytes.IndexByte(line, ':'); c > 0 && headerKind(trimLWS(line[:c])) == hVia {
			return true
		}
		if i < 0 {
			return false
		}
		pos += i + 1
	}
	return false
}

func headerKind(name []byte) int {
	if len(name) == 1 {
		switch name[0] | 0x20 {
		case 'i':
			return hCallID
		case 'f':
			return hFrom
		case 't':
			return hTo
		case 'v':
			return hVia
		case 'l':
			return hContentLength
		case 'c':
			return hContentType
		case 'm':
			return hContact
		}
		return hOther
	}
	for _, h := range headerNames {
		if equalFoldASCII(name, h.name) {
			return h.kind
		}
	}
	return hOther
}

var headerNames = [...]struct {
	name string
	kind int
}{
	{"via", hVia}, {"from", hFrom}, {"to", hTo}, {"call-id", hCallID}, {"cseq", hCSeq},
	{"max-forwards", hMaxForwards}, {"content-length", hContentLength},
	{"content-type", hContentType}, {"contact", hContact}, {"route", hRoute},
	{"record-route", hRecordRoute}, {"require", hRequire}, {"accept", hAccept},
}

// equalFoldASCII compares b with a lower-case ASCII string, ignoring case.
func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func known(method []byte) bool {
	for _, k := range knownMethods {
		if string(method) == k {
			return true
		}
	}
	return false
}

// parseCSeq splits "digits LWS method".
func parseCSeq(v []byte) (uint64, []byte, bool) {
	i := 0
	for i < len(v) && isDigit(v[i]) {
		i++
	}
	if i == 0 || i == len(v) || !isLWS(v[i]) {
		return 0, nil, false
	}
	n, ok := parseUint(v[:i])
	method := trimLWS(v[i:])
	if !ok || len(method) == 0 || !isToken(method) {
		return 0, nil, false
	}
	return n, method, true
}

// parseUint parses 1..10 digits (so the value fits; larger is an error).
func parseUint(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// uriScheme returns the scheme of a Request-URI, or why it is malformed.
func uriScheme(u []byte) (string, string) {
	c := bytes.IndexByte(u, ':')
	if c <= 0 || !isAlpha(u[0]) {
		return "", "no URI scheme"
	}
	for _, b := range u[:c] {
		if !isAlpha(b) && !isDigit(b) && b != '+' && b != '-' && b != '.' {
			return "", "malformed URI scheme"
		}
	}
	if c == len(u)-1 {
		return "", "empty URI"
	}
	for _, b := range u {
		if b <= ' ' || b == '<' || b == '>' || b == '"' || b >= 0x7f {
			return "", "invalid character"
		}
	}
	return schemeString(u[:c]), ""
}

// schemeString avoids an allocation for the common schemes.
func schemeString(s []byte) string {
	switch {
	case equalFoldASCII(s, "sip"):
		return "sip"
	case equalFoldASCII(s, "sips"):
		return "sips"
	case equalFoldASCII(s, "tel"):
		return "tel"
	}
	return "other"
}

// addrScheme returns the URI scheme of a checked From/To value.
func addrScheme(v []byte) string {
	i := skipLWS(v, 0)
	if i < len(v) && v[i] == '"' {
		i, _ = skipQuoted(v, i)
	}
	if j := bytes.IndexByte(v[i:], '<'); j >= 0 {
		i += j + 1
	}
	c := bytes.IndexByte(v[i:], ':')
	if c <= 0 {
		return ""
	}
	return schemeString(v[i : i+c])
}

// checkAddrs checks a From, To, Contact, Route or Record-Route value.
func checkAddrs(v []byte, multi, star bool) string {
	i := 0
	for {
		i = skipLWS(v, i)
		if i >= len(v) {
			return "empty address"
		}
		if star && v[i] == '*' {
			i = skipLWS(v, i+1)
		} else {
			var r string
			if i, r = checkAddr(v, i); r != "" {
				return r
			}
		}
		var r string
		if i, r = checkParams(v, i); r != "" {
			return r
		}
		if i >= len(v) {
			return ""
		}
		// v[i] == ','
		if !multi {
			return "more than one address in a single-value header"
		}
		i++
	}
}

// checkAddr checks one name-addr or addr-spec from v[i] and returns the
// index after it.
func checkAddr(v []byte, i int) (int, string) {
	nameAddr := false
	if v[i] == '"' {
		j, ok := skipQuoted(v, i)
		if !ok {
			return 0, "unterminated quoted string"
		}
		i = skipLWS(v, j)
		if i >= len(v) || v[i] != '<' {
			return 0, "display name without <URI>"
		}
		nameAddr = true
	} else {
		j := i
		for j < len(v) && v[j] != '<' && v[j] != ',' && v[j] != ';' && v[j] != '"' && v[j] != '?' {
			j++
		}
		if j < len(v) && v[j] == '<' {
			for _, c := range v[i:j] {
				if !isTokenChar(c) && !isLWS(c) {
					return 0, "unquoted display name with special characters"
				}
			}
			i = j
			nameAddr = true
		}
	}
	if nameAddr {
		j := bytes.IndexByte(v[i:], '>')
		if j < 0 {
			return 0, "< without >"
		}
		u := v[i+1 : i+j]
		if _, r := uriScheme(u); r != "" {
			return 0, r + " in address"
		}
		return i + j + 1, ""
	}
	j := i
	for j < len(v) && v[j] != ';' && v[j] != ',' && !isLWS(v[j]) {
		j++
	}
	u := v[i:j]
	if _, r := uriScheme(u); r != "" {
		return 0, r + " in address"
	}
	if bytes.IndexByte(u, '?') >= 0 {
		return 0, "URI with headers not in <>"
	}
	return j, ""
}

// checkParams checks *( SWS ";" SWS name [ SWS "=" SWS value ] ) from v[i]
// up to the end or a ','; it returns the index of the ',' or len(v).
func checkParams(v []byte, i int) (int, string) {
	for {
		i = skipLWS(v, i)
		if i >= len(v) || v[i] == ',' {
			return i, ""
		}
		if v[i] != ';' {
			return 0, "unexpected character after address"
		}
		i = skipLWS(v, i+1)
		j := i
		for j < len(v) && isTokenChar(v[j]) {
			j++
		}
		if j == i {
			return 0, "empty parameter"
		}
		i = skipLWS(v, j)
		if i < len(v) && v[i] == '=' {
			i = skipLWS(v, i+1)
			if i < len(v) && v[i] == '"' {
				j, ok := skipQuoted(v, i)
				if !ok {
					return 0, "unterminated quoted string"
				}
				i = j
				continue
			}
			j = i
			for j < len(v) && v[j] != ';' && v[j] != ',' && !isLWS(v[j]) && v[j] != '"' {
				j++
			}
			if j == i {
				return 0, "empty parameter value"
			}
			i = j
		}
	}
}

// checkVia checks the comma-separated values of a Via header and records
// the count and the top branch in m.
func checkVia(v []byte, m *msgInfo) string {
	i := 0
	for {
		i = skipLWS(v, i)
		// sent-protocol: name / version / transport, LWS allowed around "/".
		for k := 0; k < 3; k++ {
			j := i
			for j < len(v) && isTokenChar(v[j]) {
				j++
			}
			if j == i || (k == 0 && !equalFoldASCII(v[i:j], "sip")) || (k == 0 && j-i != 3) {
				return "malformed Via"
			}
			i = skipLWS(v, j)
			if k < 2 {
				if i >= len(v) || v[i] != '/' {
					return "malformed Via"
				}
				i = skipLWS(v, i+1)
			}
		}
		j := i
		for j < len(v) && v[j] != ';' && v[j] != ',' && v[j] != ':' && !isLWS(v[j]) {
			j++
		}
		if j == i {
			return "Via without sent-by"
		}
		i = skipLWS(v, j)
		if i < len(v) && v[i] == ':' {
			i = skipLWS(v, i+1)
			j = i
			for j < len(v) && isDigit(v[j]) {
				j++
			}
			if j == i || j-i > 5 {
				return "malformed Via port"
			}
			i = j
		}
		start := i
		var r string
		if i, r = checkParams(v, i); r != "" {
			return "malformed Via: " + r
		}
		if m.vias == 0 {
			m.topBranch, m.hasBranch = viaBranch(v[start:i])
		}
		m.vias++
		if i >= len(v) {
			return ""
		}
		i++ // ','
	}
}

// viaBranch finds the branch parameter among checked Via parameters.
func viaBranch(p []byte) ([]byte, bool) {
	i := 0
	for i < len(p) {
		i = skipLWS(p, i)
		if i >= len(p) || p[i] != ';' {
			return nil, false
		}
		i = skipLWS(p, i+1)
		j := i
		for j < len(p) && isTokenChar(p[j]) {
			j++
		}
		name := p[i:j]
		i = skipLWS(p, j)
		var val []byte
		if i < len(p) && p[i] == '=' {
			i = skipLWS(p, i+1)
			j = i
			if j < len(p) && p[j] == '"' {
				j, _ = skipQuoted(p, j)
			} else {
				for j < len(p) && p[j] != ';' && !isLWS(p[j]) {
					j++
				}
			}
			val = p[i:j]
			i = j
		}
		if len(name) == 6 && equalFoldASCII(name, "branch") {
			return val, true
		}
	}
	return nil, false
}

// unsupported lists the Require option-tags Callwerk does not implement.
func unsupported(data []byte, pos int) string {
	var b strings.Builder
	for pos < len(data) {
		end, _ := lineEnd(data, pos)
		if end == pos {
			break
		}
		for end+2 < len(data) && (data[end+2] == ' ' || data[end+2] == '\t') {
			end, _ = lineEnd(data, end+2)
		}
		line := data[pos:end]
		pos = end + 2
		c := bytes.IndexByte(line, ':')
		if c < 0 || headerKind(trimLWS(line[:c])) != hRequire {
			continue
		}
		for _, tag := range bytes.Split(line[c+1:], []byte(",")) {
			tag = trimLWS(tag)
			if len(tag) == 0 || supported(tag) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			for _, ch := range tag { // keep the header clean: token characters only
				if isTokenChar(ch) {
					b.WriteByte(ch)
				}
			}
		}
	}
	return b.String()
}

func supported(tag []byte) bool {
	for _, s := range supportedOptionTags {
		if len(s) == len(tag) && equalFoldASCII(tag, strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// isSDP reports whether a Content-Type is application/sdp (parameters ignored).
func isSDP(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = trimLWS(ct)
	return len(ct) == len(acceptSDP) && equalFoldASCII(ct, acceptSDP)
}

// acceptsSDP reports whether an Accept value admits application/sdp.
func acceptsSDP(v []byte) bool {
	for len(v) > 0 {
		item := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if i := bytes.IndexByte(item, ';'); i >= 0 {
			item = item[:i]
		}
		item = trimLWS(item)
		if isSDP(item) || string(item) == "*/*" || (len(item) == 13 && equalFoldASCII(item, "application/*")) {
			return true
		}
	}
	return false
}

// nulQuoted reports whether every NUL in v is a quoted-pair inside a quoted string.
func nulQuoted(v []byte) bool {
	inQuote := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == 0:
			return false
		case c == '"':
			inQuote = !inQuote
		case c == '\\' && inQuote:
			i++ // the escaped octet, NUL included
		}
	}
	return true
}

// skipQuoted returns the index after the quoted string starting at v[i].
func skipQuoted(v []byte, i int) (int, bool) {
	for j := i + 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

func skipLWS(v []byte, i int) int {
	for i < len(v) && isLWS(v[i]) {
		i++
	}
	return i
}

func trimLWS(v []byte) []byte {
	i := skipLWS(v, 0)
	return trimRightLWS(v[i:])
}

func trimRightLWS(v []byte) []byte {
	j := len(v)
	for j > 0 && isLWS(v[j-1]) {
		j--
	}
	return v[:j]
}

// isLWS: folded lines keep their CRLF, so CR and LF count as whitespace here.
func isLWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func isToken(b []byte) bool {
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return len(b) > 0
}

// isTokenChar: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" (RFC 3261 §25.1).
func isTokenChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}
