package media

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crlf joins lines with CRLF, as SDP is sent.
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

// Real-world offers.
var (
	// SIPp's built-in uac scenario, with [media_ip] and [media_port] filled in.
	sdpSIPp = crlf(
		"v=0",
		"o=user1 53655765 2353687637 IN IP4 127.0.0.1",
		"s=-",
		"c=IN IP4 127.0.0.1",
		"t=0 0",
		"m=audio 6000 RTP/AVP 0",
		"a=rtpmap:0 PCMU/8000",
	)
	// baresip 3.x offering G.722, PCMU, PCMA and telephone-event.
	sdpBaresip = crlf(
		"v=0",
		"o=- 2890844526 2890844526 IN IP4 192.168.1.50",
		"s=-",
		"c=IN IP4 192.168.1.50",
		"t=0 0",
		"m=audio 10260 RTP/AVP 9 0 8 101",
		"b=AS:64",
		"a=rtpmap:9 G722/8000",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-15",
		"a=sendrecv",
		"a=label:1",
		"a=ssrc:1391839478 cname:4f1a0b1c-52e3-4c42-9c87-3d3e0f9f7b11",
		"a=rtcp-rsize",
		"a=ptime:20",
	)
	// Asterisk putting the call on hold: sendonly, PCMA first.
	sdpHold = crlf(
		"v=0",
		"o=root 1821 1822 IN IP4 203.0.113.5",
		"s=Asterisk PBX 20.5.0",
		"c=IN IP4 203.0.113.5",
		"t=0 0",
		"m=audio 14562 RTP/AVP 8 0 101",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=ptime:20",
		"a=maxptime:150",
		"a=sendonly",
	)
	// IPv6, LF line ends, media-level c= overriding the session's, a video
	// stream after the audio one.
	sdpIPv6 = strings.Join([]string{
		"v=0",
		"o=- 1 1 IN IP6 2001:db8::1",
		"s=-",
		"c=IN IP6 2001:db8::1",
		"t=0 0",
		"a=recvonly",
		"m=audio 49170 RTP/AVP 8 96",
		"c=IN IP6 2001:db8::2",
		"a=rtpmap:96 telephone-event/8000",
		"m=video 51372 RTP/AVP 31",
		"c=IN IP6 2001:db8::3",
		"a=sendonly",
	}, "\n")
)

func TestParseSDP(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want SDP
	}{
		{"sipp default", sdpSIPp, SDP{
			Addr: netip.MustParseAddr("127.0.0.1"), Port: 6000, Proto: "RTP/AVP",
			Formats: []uint8{0}, TelEventPT: -1, Direction: "sendrecv",
		}},
		{"baresip", sdpBaresip, SDP{
			Addr: netip.MustParseAddr("192.168.1.50"), Port: 10260, Proto: "RTP/AVP",
			Formats: []uint8{9, 0, 8, 101}, TelEventPT: 101, Direction: "sendrecv", Ptime: 20,
		}},
		{"sendonly hold", sdpHold, SDP{
			Addr: netip.MustParseAddr("203.0.113.5"), Port: 14562, Proto: "RTP/AVP",
			Formats: []uint8{8, 0, 101}, TelEventPT: 101, Direction: "sendonly", Ptime: 20,
		}},
		{"ipv6 media-level c and session-level direction", sdpIPv6, SDP{
			Addr: netip.MustParseAddr("2001:db8::2"), Port: 49170, Proto: "RTP/AVP",
			Formats: []uint8{8, 96}, TelEventPT: 96, Direction: "recvonly",
		}},
		{"old-style hold c=0.0.0.0", crlf("v=0", "c=IN IP4 0.0.0.0", "m=audio 4000 RTP/AVP 0"), SDP{
			Addr: netip.MustParseAddr("0.0.0.0"), Port: 4000, Proto: "RTP/AVP",
			Formats: []uint8{0}, TelEventPT: -1, Direction: "sendrecv",
		}},
		{"rejected stream, port count, multicast ttl", crlf("c=IN IP4 224.2.1.1/127", "m=audio 0/2 RTP/AVP 0 8"), SDP{
			Addr: netip.MustParseAddr("224.2.1.1"), Port: 0, Proto: "RTP/AVP",
			Formats: []uint8{0, 8}, TelEventPT: -1, Direction: "sendrecv",
		}},
		{"telephone-event not in m= line or at 16 kHz is ignored", crlf(
			"c=IN IP4 10.0.0.1", "m=audio 4000 RTP/AVP 0 97",
			"a=rtpmap:101 telephone-event/8000", "a=rtpmap:97 telephone-event/16000",
		), SDP{
			Addr: netip.MustParseAddr("10.0.0.1"), Port: 4000, Proto: "RTP/AVP",
			Formats: []uint8{0, 97}, TelEventPT: -1, Direction: "sendrecv",
		}},
		{"junk lines ignored, ptime 20.0", crlf(
			"garbage", "", "x", "c=IN IP4 10.0.0.1", "m=audio 4000 RTP/AVP 0", "a=ptime:20.0", "a=", "zz=top",
		), SDP{
			Addr: netip.MustParseAddr("10.0.0.1"), Port: 4000, Proto: "RTP/AVP",
			Formats: []uint8{0}, TelEventPT: -1, Direction: "sendrecv", Ptime: 20,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSDP([]byte(tc.in))
			require.NoError(t, err)
			assert.Equal(t, tc.want, *got)
		})
	}
}

func TestParseSDPErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string // in the message
	}{
		{"empty", "", "no m=audio"},
		{"video only", crlf("v=0", "c=IN IP4 10.0.0.1", "m=video 4000 RTP/AVP 31"), "no m=audio"},
		{"no c=", crlf("v=0", "m=audio 4000 RTP/AVP 0"), "no c="},
		{"c= only in another stream", crlf("m=audio 4000 RTP/AVP 0", "m=video 5000 RTP/AVP 31", "c=IN IP4 10.0.0.1"), "no c="},
		{"bad port", crlf("c=IN IP4 10.0.0.1", "m=audio 70000 RTP/AVP 0"), "bad port"},
		{"port not a number", crlf("c=IN IP4 10.0.0.1", "m=audio abc RTP/AVP 0"), "bad port"},
		{"negative port", crlf("c=IN IP4 10.0.0.1", "m=audio -1 RTP/AVP 0"), "bad port"},
		{"no payload types", crlf("c=IN IP4 10.0.0.1", "m=audio 4000 RTP/AVP"), "needs a port"},
		{"bad payload type", crlf("c=IN IP4 10.0.0.1", "m=audio 4000 RTP/AVP 0 200"), "bad payload type"},
		{"hostname address", crlf("c=IN IP4 pbx.example.com", "m=audio 4000 RTP/AVP 0"), "bad address"},
		{"ipv6 address in IP4", crlf("c=IN IP4 2001:db8::1", "m=audio 4000 RTP/AVP 0"), "bad address"},
		{"ipv4 address in IP6", crlf("c=IN IP6 10.0.0.1", "m=audio 4000 RTP/AVP 0"), "bad address"},
		{"unknown address type", crlf("c=IN IPX 10.0.0.1", "m=audio 4000 RTP/AVP 0"), "bad address type"},
		{"short c=", crlf("c=IN IP4", "m=audio 4000 RTP/AVP 0"), "bad c= line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSDP([]byte(tc.in))
			require.Error(t, err)
			assert.Nil(t, got)
			assert.ErrorIs(t, err, ErrBadSDP)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNegotiate(t *testing.T) {
	cases := []struct {
		name    string
		proto   string
		formats []uint8
		want    Codec
		wantErr error
	}{
		{"pcmu only", "RTP/AVP", []uint8{0}, PCMU, nil},
		{"g722 first, then pcmu", "RTP/AVP", []uint8{9, 0, 8, 101}, PCMU, nil},
		{"pcma preferred", "RTP/AVP", []uint8{8, 0}, PCMA, nil},
		{"telephone-event first", "RTP/AVP", []uint8{101, 8}, PCMA, nil},
		{"no g711", "RTP/AVP", []uint8{9, 18, 101}, Codec{}, ErrNoCommonCodec},
		{"empty", "RTP/AVP", nil, Codec{}, ErrNoCommonCodec},
		{"srtp without a key", "RTP/SAVP", []uint8{0}, Codec{}, ErrSRTPRequired},
		{"srtp with feedback", "RTP/SAVPF", []uint8{0}, Codec{}, ErrNoCommonCodec},
		{"webrtc", "UDP/TLS/RTP/SAVPF", []uint8{0}, Codec{}, ErrNoCommonCodec},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &SDP{Proto: tc.proto, Formats: tc.formats, TelEventPT: -1}
			got, err := s.Negotiate()
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAnswerDirection(t *testing.T) {
	cases := []struct{ offer, want string }{
		{"sendrecv", "sendrecv"},
		{"sendonly", "recvonly"}, // RFC 3264 §6.1: hold is answered recvonly, never sendrecv
		{"recvonly", "sendonly"},
		{"inactive", "inactive"},
		{"", "sendrecv"},
		{"bogus", "sendrecv"},
	}
	for _, tc := range cases {
		t.Run("offer "+tc.offer, func(t *testing.T) {
			assert.Equal(t, tc.want, AnswerDirection(tc.offer))
		})
	}
}

func TestBuildSDP(t *testing.T) {
	got := string(BuildSDP(SDPParams{
		SessionID: 42, Version: 7,
		Addr: netip.MustParseAddr("192.0.2.10"), Port: 30000,
		Codec: PCMA, TelEventPT: 101, Direction: "recvonly",
	}))
	want := crlf(
		"v=0",
		"o=callwerk 42 7 IN IP4 192.0.2.10",
		"s=callwerk",
		"c=IN IP4 192.0.2.10",
		"t=0 0",
		"m=audio 30000 RTP/AVP 8 101",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=ptime:20",
		"a=recvonly",
	)
	assert.Equal(t, want, got)
}

func TestBuildSDPRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		p    SDPParams
		want SDP
	}{
		{"ipv4 pcmu dtmf", SDPParams{Addr: netip.MustParseAddr("10.1.2.3"), Port: 20000, Codec: PCMU, TelEventPT: 101},
			SDP{Addr: netip.MustParseAddr("10.1.2.3"), Port: 20000, Proto: "RTP/AVP", Formats: []uint8{0, 101}, TelEventPT: 101, Direction: "sendrecv", Ptime: 20}},
		{"ipv6 pcma no dtmf sendonly", SDPParams{Addr: netip.MustParseAddr("2001:db8::7"), Port: 20002, Codec: PCMA, TelEventPT: -1, Direction: "sendonly"},
			SDP{Addr: netip.MustParseAddr("2001:db8::7"), Port: 20002, Proto: "RTP/AVP", Formats: []uint8{8}, TelEventPT: -1, Direction: "sendonly", Ptime: 20}},
		{"4in6 address written as ipv4", SDPParams{Addr: netip.MustParseAddr("::ffff:10.0.0.9"), Port: 20004, Codec: PCMU, TelEventPT: -1},
			SDP{Addr: netip.MustParseAddr("10.0.0.9"), Port: 20004, Proto: "RTP/AVP", Formats: []uint8{0}, TelEventPT: -1, Direction: "sendrecv", Ptime: 20}},
		{"unsafe inputs replaced", SDPParams{Addr: netip.MustParseAddr("10.0.0.1"), Port: 20006, Codec: Codec{PT: 0, Name: "PCMU\r\na=evil"}, TelEventPT: 300, Direction: "sendrecv\r\nx=1"},
			SDP{Addr: netip.MustParseAddr("10.0.0.1"), Port: 20006, Proto: "RTP/AVP", Formats: []uint8{0}, TelEventPT: -1, Direction: "sendrecv", Ptime: 20}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := BuildSDP(tc.p)
			assert.NotContains(t, strings.ReplaceAll(string(b), "\r\n", ""), "\n")
			got, err := ParseSDP(b)
			require.NoError(t, err)
			assert.Equal(t, tc.want, *got)
			codec, err := got.Negotiate()
			require.NoError(t, err)
			assert.Equal(t, tc.want.Formats[0], codec.PT)
		})
	}
}

// FuzzParseSDP: ParseSDP must never panic, and what it accepts must be
// usable: a valid address, a port in range, a known direction, and an
// answer built from it must parse again.
func FuzzParseSDP(f *testing.F) {
	for _, s := range []string{sdpSIPp, sdpBaresip, sdpHold, sdpIPv6, "m=audio 1 RTP/AVP 0\nc=IN IP4 1.2.3.4"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSDP(b)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) {
				t.Fatalf("error does not wrap ErrBadSDP: %v", err)
			}
			return
		}
		if !s.Addr.IsValid() || s.Port < 0 || s.Port > 65535 || s.TelEventPT < -1 || s.TelEventPT > 127 {
			t.Fatalf("accepted bad values: %+v", s)
		}
		switch s.Direction {
		case "sendrecv", "sendonly", "recvonly", "inactive":
		default:
			t.Fatalf("bad direction %q", s.Direction)
		}
		codec, err := s.Negotiate()
		if err != nil {
			return
		}
		answer := BuildSDP(SDPParams{Addr: s.Addr, Port: s.Port, Codec: codec, TelEventPT: s.TelEventPT, Direction: AnswerDirection(s.Direction)})
		back, err := ParseSDP(answer)
		if err != nil {
			t.Fatalf("answer does not parse: %v\n%s", err, answer)
		}
		if back.Addr != s.Addr.Unmap() || back.Port != s.Port || back.Direction != AnswerDirection(s.Direction) {
			t.Fatalf("answer round trip: %+v from %+v", back, s)
		}
	})
}
