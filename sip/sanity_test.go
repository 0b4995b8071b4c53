package sip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const pass = 0 // Status of a message handed to sipgo

// dropped is the Status column for a silent discard.
const dropped = -1

// TestSanityRFC4475 runs every torture message of RFC 4475 (byte for byte
// from its archive, in testdata/rfc4475) through Sanity.
func TestSanityRFC4475(t *testing.T) {
	cases := []struct {
		file   string
		status int    // pass, dropped or the answer
		reason string // substring of Verdict.Reason, if set
	}{
		// §3.1.1 valid messages: all must be accepted by the parser.
		{"valid/wsinv.dat", pass, ""},      // §3.1.1.1 short tortuous INVITE
		{"valid/intmeth.dat", 501, ""},     // §3.1.1.2 valid, but an unknown method (RFC 3261 §21.5.2); its quoted NUL is legal
		{"valid/esc01.dat", pass, ""},      // §3.1.1.3 valid % escaping
		{"valid/escnull.dat", pass, ""},    // §3.1.1.4 escaped NULs in URIs
		{"valid/esc02.dat", 501, ""},       // §3.1.1.5 RE%47IST%45R is not REGISTER: unknown method, 501
		{"valid/lwsdisp.dat", pass, ""},    // §3.1.1.6 no LWS between display name and <
		{"valid/longreq.dat", pass, ""},    // §3.1.1.7 long values
		{"valid/dblreq.dat", pass, ""},     // §3.1.1.8 extra octets after Content-Length in a datagram are ignored
		{"valid/semiuri.dat", pass, ""},    // §3.1.1.9 ; in the user part
		{"valid/transports.dat", pass, ""}, // §3.1.1.10 unknown transports in Via
		{"valid/mpart01.dat", pass, ""},    // §3.1.1.11 multipart MESSAGE (sipgo answers 405)
		{"valid/unreason.dat", pass, ""},   // §3.1.1.12 unusual reason phrase (response)
		{"valid/noreason.dat", pass, ""},   // §3.1.1.13 empty reason phrase (response)
		// §3.1.2 invalid messages.
		{"invalid/badinv01.dat", 400, ""},                             // §3.1.2.1 extraneous separators
		{"invalid/clerr.dat", 400, "Content-Length larger"},           // §3.1.2.2 Content-Length larger than message
		{"invalid/ncl.dat", 400, "Content-Length"},                    // §3.1.2.3 negative Content-Length
		{"invalid/scalar02.dat", 400, "CSeq"},                         // §3.1.2.4 overlarge request scalars: 400 for CSeq
		{"invalid/scalarlg.dat", dropped, ""},                         // §3.1.2.5 overlarge response scalars: discard
		{"invalid/quotbal.dat", 400, "quoted"},                        // §3.1.2.6 unterminated quoted string
		{"invalid/ltgtruri.dat", 400, "Request-URI"},                  // §3.1.2.7 <> around Request-URI
		{"invalid/lwsruri.dat", 400, "Request-Line"},                  // §3.1.2.8 LWS in Request-URI
		{"invalid/lwsstart.dat", 400, "Request-Line"},                 // §3.1.2.9 multiple SP in Request-Line
		{"invalid/trws.dat", 400, "Request-Line"},                     // §3.1.2.10 SP at end of Request-Line
		{"invalid/escruri.dat", 400, "headers in Request-URI"},        // §3.1.2.11 escaped headers in Request-URI
		{"invalid/baddate.dat", pass, ""},                             // §3.1.2.12 non-GMT Date: RFC allows ignoring it; Callwerk does not use Date
		{"invalid/regbadct.dat", 400, "not in <>"},                    // §3.1.2.13 URI with headers not in <>
		{"invalid/badaspec.dat", 400, "address"},                      // §3.1.2.14 spaces inside <addr-spec>
		{"invalid/baddn.dat", 400, ""},                                // §3.1.2.15 non-token display name unquoted
		{"invalid/badvers.dat", 505, ""},                              // §3.1.2.16 SIP/7.0
		{"invalid/mismatch01.dat", 400, "CSeq method does not match"}, // §3.1.2.17
		{"invalid/mismatch02.dat", 501, ""},                           // §3.1.2.18 unknown method: 501 preferred to 400
		{"invalid/bigcode.dat", dropped, ""},                          // §3.1.2.19 response code > 699: discard
		{"invalid/badbranch.dat", 400, "branch"},                      // §3.2.1 bare z9hG4bK: 400 allowed
		{"invalid/insuf.dat", 400, "missing"},                         // §3.3.1 no Call-ID, From, To
		{"invalid/unkscm.dat", 416, ""},                               // §3.3.2 unknown scheme
		{"invalid/novelsc.dat", 416, ""},                              // §3.3.3 soap.beep never meaningful here: 416
		{"invalid/unksm2.dat", 400, "REGISTER"},                       // §3.3.4 registrar: To must be sip/sips
		{"invalid/bext01.dat", 420, ""},                               // §3.3.5 Require: 420 with Unsupported
		{"invalid/invut.dat", 415, ""},                                // §3.3.6 endpoint: unknown body type
		{"invalid/regaut01.dat", pass, ""},                            // §3.3.7 unknown auth scheme: the registrar challenges (401)
		{"invalid/multi01.dat", 400, "more than one"},                 // §3.3.8 repeated single-value headers
		{"invalid/mcl01.dat", 400, "more than one Content-Length"},    // §3.3.9
		{"invalid/bcast.dat", dropped, "Via"},                         // §3.3.10 endpoint discards (two Vias)
		{"invalid/zeromf.dat", pass, ""},                              // §3.3.11 endpoint processes Max-Forwards 0
		{"invalid/cparam01.dat", pass, ""},                            // §3.3.12 REGISTER should succeed
		{"invalid/cparam02.dat", pass, ""},                            // §3.3.13 REGISTER should succeed
		{"invalid/regescrt.dat", pass, ""},                            // §3.3.14 REGISTER should succeed
		{"invalid/sdp01.dat", 406, ""},                                // §3.3.15 Accept without application/sdp
		{"invalid/inv2543.dat", pass, ""},                             // §3.4.1 RFC 2543 syntax accepted
		{"invalid/test.dat", dropped, ""},                             // not in RFC 4475 §3: no SIP-Version, no Via
	}
	files, err := filepath.Glob("testdata/rfc4475/*/*.dat")
	require.NoError(t, err)
	require.Len(t, cases, len(files), "every torture file has a case")
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/rfc4475", c.file))
			require.NoError(t, err)
			v := Sanity(data, DefaultMaxMessageSize)
			if c.status == dropped {
				assert.True(t, v.Drop, "want Drop, got %+v", v)
				assert.Zero(t, v.Status)
			} else {
				assert.False(t, v.Drop, "got %+v", v)
				assert.Equal(t, c.status, v.Status, "got %+v", v)
			}
			assert.Contains(t, v.Reason, c.reason)
			assertNoCRLF(t, v)
		})
	}
}

func TestSanityRFC4475Details(t *testing.T) {
	data, err := os.ReadFile("testdata/rfc4475/invalid/bext01.dat")
	require.NoError(t, err)
	v := Sanity(data, 0)
	assert.Equal(t, "nothingSupportsThis, nothingSupportsThisEither", v.Unsupported, "Proxy-Require is ignored by a UAS")

	data, err = os.ReadFile("testdata/rfc4475/invalid/invut.dat")
	require.NoError(t, err)
	assert.Equal(t, "application/sdp", Sanity(data, 0).Accept)
}

func assertNoCRLF(t *testing.T, v Verdict) {
	t.Helper()
	for _, s := range []string{v.Reason, v.Unsupported, v.Accept} {
		assert.NotContains(t, s, "\r")
		assert.NotContains(t, s, "\n")
		assert.NotContains(t, s, "\x00")
	}
}

// base is a minimal valid OPTIONS; tests edit it with strings.Replace.
const base = "OPTIONS sip:user@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: \"Caller\" <sip:caller@example.net>;tag=1\r\n" +
	"To: <sip:user@example.com>\r\n" +
	"Call-ID: abc@192.0.2.1\r\n" +
	"CSeq: 1 OPTIONS\r\n" +
	"Content-Length: 0\r\n\r\n"

const invite = "INVITE sip:100@example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-2\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: <sip:caller@example.net>;tag=1\r\n" +
	"To: <sip:100@example.com>\r\n" +
	"Call-ID: inv@192.0.2.1\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Contact: <sip:caller@192.0.2.1>\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 10\r\n\r\n" +
	"v=0\r\ns=-\r\n"

const response = "SIP/2.0 200 OK\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n" +
	"From: <sip:caller@example.net>;tag=1\r\n" +
	"To: <sip:user@example.com>;tag=2\r\n" +
	"Call-ID: abc@192.0.2.1\r\n" +
	"CSeq: 1 OPTIONS\r\n" +
	"Content-Length: 0\r\n\r\n"

func edit(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic("edit: " + old + " not in message")
	}
	return strings.Replace(s, old, new, 1)
}

func TestSanityRules(t *testing.T) {
	cases := []struct {
		name   string
		msg    string
		max    int
		status int // pass, dropped or the answer
		reason string
	}{
		{"base passes", base, 0, pass, ""},
		{"invite passes", invite, 0, pass, ""},
		{"response passes", response, 0, pass, ""},
		// size
		{"too large request", base, 100, 513, "Too Large"},
		{"too large response", response, 100, dropped, ""},
		{"size at the cap passes", base, len(base), pass, ""},
		{"too large ACK dropped", edit(edit(base, "OPTIONS sip", "ACK sip"), "1 OPTIONS", "1 ACK"), 100, dropped, ""},
		// request line
		{"garbage", "hello world\r\n\r\n", 0, dropped, ""},
		{"empty", "", 0, dropped, ""},
		{"keep-alive", "\r\n\r\n", 0, dropped, ""},
		{"no CRLF at all", "OPTIONS sip:a@b SIP/2.0", 0, dropped, ""},
		{"lower-case method is unknown", edit(edit(base, "OPTIONS sip", "options sip"), "1 OPTIONS", "1 options"), 0, 501, ""},
		{"unknown method", edit(edit(base, "OPTIONS sip", "FOO sip"), "1 OPTIONS", "1 FOO"), 0, 501, ""},
		{"registered method not handled passes", edit(edit(base, "OPTIONS sip", "SUBSCRIBE sip"), "1 OPTIONS", "1 SUBSCRIBE"), 0, pass, ""},
		{"SIP/2.1", edit(base, "SIP/2.0\r\n", "SIP/2.1\r\n"), 0, 505, "Version"},
		{"HTTP version", edit(base, "SIP/2.0\r\n", "HTTP/1.1\r\n"), 0, 400, "Request-Line"},
		{"no version", edit(base, " SIP/2.0\r\n", "\r\n"), 0, 400, "Request-Line"},
		{"tab in request line", edit(base, "SIP/2.0\r\n", "SIP/2.0\t\r\n"), 0, 400, "Request-Line"},
		{"tel URI passes", edit(base, "sip:user@example.com SIP", "tel:+4930123 SIP"), 0, pass, ""},
		{"sips URI passes", edit(base, "sip:user@example.com SIP", "sips:user@example.com SIP"), 0, pass, ""},
		{"http URI", edit(base, "sip:user@example.com SIP", "http://example.com/ SIP"), 0, 416, "Scheme"},
		{"URI without scheme", edit(base, "sip:user@example.com SIP", "user@example.com SIP"), 0, 400, "Request-URI"},
		{"sip URI with headers", edit(base, "sip:user@example.com SIP", "sip:user@example.com?Subject=x SIP"), 0, 400, "headers"},
		// header section
		{"missing empty line", strings.TrimSuffix(base, "\r\n"), 0, 400, "empty line"},
		{"bare LF", edit(base, "Max-Forwards: 70\r\n", "Max-Forwards: 70\n"), 0, 400, "bare LF"},
		{"bare CR", edit(base, "Max-Forwards: 70\r\n", "Max-Forwards: 7\r0\r\n"), 0, 400, "bare CR"},
		{"header without colon", edit(base, "Max-Forwards: 70\r\n", "Max-Forwards 70\r\n"), 0, 400, "colon"},
		{"space in header name", edit(base, "Max-Forwards: 70\r\n", "Max Forwards: 70\r\n"), 0, 400, "header name"},
		{"continuation first", edit(base, "SIP/2.0\r\nVia", "SIP/2.0\r\n X: y\r\nVia"), 0, 400, "continuation"},
		{"NUL in value", edit(base, "Call-ID: abc", "Call-ID: a\x00bc"), 0, 400, "NUL"},
		{"NUL in display name unquoted", edit(base, "\"Caller\"", "\"Cal\"\x00"), 0, 400, "NUL"},
		{"quoted NUL passes", edit(base, "\"Caller\"", "\"Cal\\\x00ler\""), 0, pass, ""},
		{"folded header passes", edit(base, "CSeq: 1 OPTIONS", "CSeq: 1\r\n OPTIONS"), 0, pass, ""},
		{"compact forms pass", edit(edit(base, "Call-ID:", "i:"), "Content-Length:", "l:"), 0, pass, ""},
		// required headers
		{"no Via dropped", edit(base, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n", ""), 0, dropped, "Via"},
		{"no Call-ID", edit(base, "Call-ID: abc@192.0.2.1\r\n", ""), 0, 400, "missing Call-ID"},
		{"no CSeq", edit(base, "CSeq: 1 OPTIONS\r\n", ""), 0, 400, "missing CSeq"},
		{"no From", edit(base, "From: \"Caller\" <sip:caller@example.net>;tag=1\r\n", ""), 0, 400, "missing From"},
		{"no To", edit(base, "To: <sip:user@example.com>\r\n", ""), 0, 400, "missing To"},
		{"two Call-IDs", edit(base, "CSeq:", "i: other\r\nCSeq:"), 0, 400, "more than one Call-ID"},
		{"two To", edit(base, "CSeq:", "t: <sip:x@y>\r\nCSeq:"), 0, 400, "more than one To"},
		{"To with two values", edit(base, "To: <sip:user@example.com>", "To: <sip:user@example.com>, <sip:x@y>"), 0, 400, "more than one address"},
		{"no Max-Forwards passes", edit(base, "Max-Forwards: 70\r\n", ""), 0, pass, ""},
		{"two Max-Forwards", edit(base, "CSeq:", "Max-Forwards: 1\r\nCSeq:"), 0, 400, "Max-Forwards"},
		// CSeq
		{"CSeq mismatch", edit(base, "1 OPTIONS", "1 INVITE"), 0, 400, "CSeq method does not match"},
		{"CSeq method case", edit(base, "1 OPTIONS", "1 options"), 0, 400, "CSeq method does not match"},
		{"CSeq 2**31-1 passes", edit(base, "CSeq: 1 ", "CSeq: 2147483647 "), 0, pass, ""},
		{"CSeq 2**31", edit(base, "CSeq: 1 ", "CSeq: 2147483648 "), 0, 400, "CSeq"},
		{"CSeq 2**32", edit(base, "CSeq: 1 ", "CSeq: 4294967296 "), 0, 400, "CSeq"},
		{"CSeq negative", edit(base, "CSeq: 1 ", "CSeq: -1 "), 0, 400, "CSeq"},
		{"CSeq without method", edit(base, "CSeq: 1 OPTIONS", "CSeq: 1"), 0, 400, "CSeq"},
		{"CSeq trailing junk", edit(base, "CSeq: 1 OPTIONS", "CSeq: 1 OPTIONS x"), 0, 400, "CSeq"},
		// Max-Forwards
		{"Max-Forwards 0 passes", edit(base, "Max-Forwards: 70", "Max-Forwards: 0"), 0, pass, ""},
		{"Max-Forwards 255 passes", edit(base, "Max-Forwards: 70", "Max-Forwards: 255"), 0, pass, ""},
		{"Max-Forwards 256", edit(base, "Max-Forwards: 70", "Max-Forwards: 256"), 0, 400, "Max-Forwards"},
		{"Max-Forwards text", edit(base, "Max-Forwards: 70", "Max-Forwards: many"), 0, 400, "Max-Forwards"},
		// Content-Length and body
		{"two Content-Lengths", edit(base, "CSeq:", "l: 0\r\nCSeq:"), 0, 400, "more than one Content-Length"},
		{"Content-Length too big", edit(invite, "Content-Length: 10", "Content-Length: 11"), 0, 400, "Content-Length larger"},
		{"Content-Length huge", edit(invite, "Content-Length: 10", "Content-Length: 99999999999"), 0, 400, "Content-Length"},
		{"Content-Length shorter: datagram truncated", edit(invite, "Content-Length: 10", "Content-Length: 5"), 0, pass, ""},
		{"Content-Length hex", edit(base, "Content-Length: 0", "Content-Length: 0x0"), 0, 400, "Content-Length"},
		{"no Content-Length: body is the datagram", edit(invite, "Content-Length: 10\r\n", ""), 0, pass, ""},
		{"body without Content-Type", edit(invite, "Content-Type: application/sdp\r\n", ""), 0, 400, "Content-Type"},
		{"trailing CRLF without Content-Length passes", edit(base, "Content-Length: 0\r\n", "") + "\r\n", 0, pass, ""},
		// name-addr syntax
		{"unterminated quote", edit(base, "\"Caller\"", "\"Caller"), 0, 400, "quoted"},
		{"unquoted comma in display name", edit(base, "\"Caller\"", "Caller, Jr."), 0, 400, ""},
		{"space inside <>", edit(base, "<sip:user@example.com>", "< sip:user@example.com>"), 0, 400, "address"},
		{"missing >", edit(base, "<sip:user@example.com>", "<sip:user@example.com"), 0, 400, "<"},
		{"addr-spec with ?", edit(base, "To: <sip:user@example.com>", "To: sip:user@example.com?x=y"), 0, 400, "not in <>"},
		{"empty parameter", edit(base, ";tag=1", ";;tag=1"), 0, 400, "empty parameter"},
		{"quoted parameter passes", edit(base, ";tag=1", ";tag=1;x=\"a;b,c\""), 0, pass, ""},
		{"contact star passes", edit(base, "Content-Length", "Contact: *\r\nContent-Length"), 0, pass, ""},
		{"two contacts pass", edit(base, "Content-Length", "Contact: <sip:a@b>;q=0.5, <sip:c@d>\r\nContent-Length"), 0, pass, ""},
		// Legal, but sipgo v1.7.2 cannot parse an addr-spec after a comma: the last gate answers 400.
		{"addr-spec after comma (sipgo limit)", edit(base, "Content-Length", "Contact: <sip:a@b>, sip:c@d\r\nContent-Length"), 0, 400, "malformed message"},
		// Via
		{"empty Via element", edit(base, "branch=z9hG4bK-1", "branch=z9hG4bK-1,"), 0, 400, "Via"},
		{"Via not SIP", edit(base, "Via: SIP/2.0/UDP", "Via: XIP/2.0/UDP"), 0, 400, "Via"},
		{"Via without host", edit(base, "Via: SIP/2.0/UDP 192.0.2.1:5060", "Via: SIP/2.0/UDP"), 0, 400, "Via"},
		{"bare magic cookie", edit(base, "branch=z9hG4bK-1", "branch=z9hG4bK"), 0, 400, "branch"},
		{"no branch passes (RFC 2543)", edit(base, ";branch=z9hG4bK-1", ""), 0, pass, ""},
		{"two Vias in a request pass", edit(base, "Max-Forwards", "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-9\r\nMax-Forwards"), 0, pass, ""},
		// Require
		{"Require", edit(base, "Content-Length", "Require: 100rel, timer\r\nContent-Length"), 0, 420, "Bad Extension"},
		{"Proxy-Require ignored", edit(base, "Content-Length", "Proxy-Require: foo\r\nContent-Length"), 0, pass, ""},
		{"Require in CANCEL ignored", edit(edit(base, "OPTIONS sip", "CANCEL sip"), "1 OPTIONS", "1 CANCEL") + "", 0, pass, ""},
		// INVITE content
		{"INVITE with text body", edit(invite, "application/sdp", "text/plain"), 0, 415, "Media Type"},
		{"INVITE with SDP parameters passes", edit(invite, "application/sdp", "Application/SDP;charset=utf-8"), 0, pass, ""},
		{"INVITE Accept without sdp", edit(invite, "Contact", "Accept: text/html\r\nContact"), 0, 406, "Not Acceptable"},
		{"INVITE empty Accept", edit(invite, "Contact", "Accept:\r\nContact"), 0, 406, "Not Acceptable"},
		{"INVITE Accept wildcard passes", edit(invite, "Contact", "Accept: text/html, application/*\r\nContact"), 0, pass, ""},
		{"INVITE Accept sdp passes", edit(invite, "Contact", "Accept: text/html\r\nAccept: application/sdp;level=1\r\nContact"), 0, pass, ""},
		// ACK is never answered
		{"bad ACK dropped", edit(edit(base, "OPTIONS sip", "ACK sip"), "1 OPTIONS", "1 INVITE"), 0, dropped, "CSeq"},
		{"good ACK passes", edit(edit(base, "OPTIONS sip", "ACK sip"), "1 OPTIONS", "1 ACK"), 0, pass, ""},
		// responses
		{"response bad version", edit(response, "SIP/2.0 200", "SIP/3.0 200"), 0, dropped, "status line"},
		{"response code 700", edit(response, "200 OK", "700 OK"), 0, dropped, "status line"},
		{"response code 99", edit(response, "200 OK", "099 OK"), 0, dropped, "status line"},
		{"response code too long", edit(response, "200 OK", "2000 OK"), 0, dropped, "status line"},
		{"response without reason space", edit(response, "200 OK", "200"), 0, dropped, "status line"},
		{"response with two Vias", edit(response, "From", "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-x\r\nFrom"), 0, dropped, "Via"},
		{"response without Call-ID", edit(response, "Call-ID: abc@192.0.2.1\r\n", ""), 0, dropped, "required"},
		{"response with bad CSeq", edit(response, "CSeq: 1", "CSeq: 99999999999"), 0, dropped, "CSeq"},
		{"response with Content-Length too big", edit(response, "Content-Length: 0", "Content-Length: 5"), 0, dropped, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Sanity([]byte(c.msg), c.max)
			if c.status == dropped {
				assert.True(t, v.Drop, "want Drop, got %+v", v)
				assert.Zero(t, v.Status)
			} else {
				assert.False(t, v.Drop, "got %+v", v)
				assert.Equal(t, c.status, v.Status, "got %+v", v)
			}
			assert.Contains(t, v.Reason, c.reason)
			assertNoCRLF(t, v)
			if !v.Drop && v.Status == 0 {
				_, err := sip.NewParser().ParseSIP([]byte(c.msg))
				assert.NoError(t, err, "passed messages parse")
			}
		})
	}
}

func TestSanityRequire420(t *testing.T) {
	msg := edit(base, "Content-Length", "Require: 100rel,\r\n timer\r\nRequire: x\r\nContent-Length")
	v := Sanity([]byte(msg), 0)
	assert.Equal(t, 420, v.Status)
	assert.Equal(t, "100rel, timer, x", v.Unsupported)
}

func TestSanityNoAllocsOnChecks(t *testing.T) {
	// Rejections before sipgo's parser allocate nothing.
	data := []byte(edit(base, "1 OPTIONS", "1 INVITE"))
	allocs := testing.AllocsPerRun(100, func() { _ = Sanity(data, 0) })
	assert.Zero(t, allocs)
}

func FuzzSanity(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzSanity holds the 50 torture files; add the rule messages.
	for _, s := range []string{base, invite, response} {
		f.Add([]byte(s))
	}
	parser := sip.NewParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		v := Sanity(data, 0)
		if v.Drop && v.Status != 0 {
			t.Fatalf("Drop with status %d", v.Status)
		}
		for _, s := range []string{v.Reason, v.Unsupported, v.Accept} {
			if strings.ContainsAny(s, "\r\n\x00") {
				t.Fatalf("CR, LF or NUL in verdict %q", s)
			}
		}
		if v.Drop || v.Status != 0 {
			return
		}
		if _, err := parser.ParseSIP(data); err != nil {
			t.Fatalf("passed a message sipgo cannot parse: %v", err)
		}
	})
}

func BenchmarkSanity(b *testing.B) {
	for _, name := range []string{"valid/longreq.dat", "valid/wsinv.dat", "invalid/mismatch01.dat"} {
		data, err := os.ReadFile(filepath.Join("testdata/rfc4475", name))
		require.NoError(b, err)
		b.Run(filepath.Base(name), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				_ = Sanity(data, 0)
			}
		})
	}
	data := []byte(invite)
	b.Run("sipgo-parse-only/invite", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = sanityParser.ParseSIP(data)
		}
	})
	b.Run("sanity/invite", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Sanity(data, 0)
		}
	})
}
