package sip

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFrame(t *testing.T) {
	msg := "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 4\r\n\r\nbody"
	cases := []struct {
		name, in  string
		n, status int
	}{
		{"complete", msg, len(msg), 0},
		{"pipelined", msg + msg, len(msg), 0},
		{"headers incomplete", msg[:20], 0, 0},
		{"body incomplete", msg[:len(msg)-1], 0, 0},
		{"compact form", strings.Replace(msg, "Content-Length: 4", "l:4", 1), len(msg) - len("Content-Length: 4") + len("l:4"), 0},
		{"lower case, spaces", strings.Replace(msg, "Content-Length: 4", "content-length :  4", 1), len(msg) + 2, 0},
		{"missing", strings.Replace(msg, "Content-Length: 4\r\n", "", 1), 0, 400},
		{"two", strings.Replace(msg, "Content-Length: 4\r\n", "Content-Length: 4\r\nl: 4\r\n", 1), 0, 400},
		{"negative", strings.Replace(msg, "Content-Length: 4", "Content-Length: -4", 1), 0, 400},
		{"too large body", strings.Replace(msg, "Content-Length: 4", "Content-Length: 99999999999999999999", 1), 0, 400},
		{"over the limit", strings.Replace(msg, "Content-Length: 4", "Content-Length: 20000", 1), 0, 513},
		{"headers over the limit", "OPTIONS sip:a@b SIP/2.0\r\nX: " + strings.Repeat("a", 17000), 0, 513},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, v := frame([]byte(c.in), DefaultMaxMessageSize)
			assert.Equal(t, c.n, n)
			assert.Equal(t, c.status, v.Status, v.Reason)
		})
	}
}

func TestKeepAlive(t *testing.T) {
	assert.Equal(t, 4, keepAlive([]byte("\r\n\r\nOPTIONS")))
	assert.Equal(t, 2, keepAlive([]byte("\r\n")))
	assert.Equal(t, 2, keepAlive([]byte("\r\nOPTIONS")))
	assert.Equal(t, 0, keepAlive([]byte("\r\n\r")), "undecided until the next byte")
	assert.Equal(t, 0, keepAlive([]byte("OPTIONS")))
}

func TestStampReceived(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.7")
	cases := []struct{ in, want string }{
		{"Via: SIP/2.0/TCP evil.example:5060;branch=z9hG4bK1\r\n", "Via: SIP/2.0/TCP evil.example:5060;branch=z9hG4bK1;received=192.0.2.7\r\n"},
		{"v: SIP/2.0/TCP h\r\n", "v: SIP/2.0/TCP h;received=192.0.2.7\r\n"},
		{"Via: SIP/2.0/TCP h;received=10.0.0.1;branch=z9hG4bK1;RECEIVED = 8.8.8.8\r\n", "Via: SIP/2.0/TCP h;branch=z9hG4bK1;received=192.0.2.7\r\n"},
		{"Via: SIP/2.0/TCP a;branch=z9hG4bK1, SIP/2.0/UDP b;received=1.2.3.4\r\n", "Via: SIP/2.0/TCP a;branch=z9hG4bK1;received=192.0.2.7, SIP/2.0/UDP b;received=1.2.3.4\r\n"},
		// A folded Via cannot smuggle its own received past the stamp.
		{"Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n ;received=203.0.113.9\r\n", "Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n ;received=192.0.2.7\r\n"},
	}
	for _, c := range cases {
		in := "OPTIONS sip:a@b SIP/2.0\r\nFrom: <sip:x@y>;tag=1\r\n" + c.in + "Via: SIP/2.0/TCP second\r\nContent-Length: 0\r\n\r\n"
		want := "OPTIONS sip:a@b SIP/2.0\r\nFrom: <sip:x@y>;tag=1\r\n" + c.want + "Via: SIP/2.0/TCP second\r\nContent-Length: 0\r\n\r\n"
		assert.Equal(t, want, string(stampReceived(nil, []byte(in), src)))
	}
	resp := "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h\r\nContent-Length: 0\r\n\r\n"
	assert.Equal(t, resp, string(stampReceived(nil, []byte(resp), src)), "responses pass unchanged")
}
