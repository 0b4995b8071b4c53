package sip

import (
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
)

func TestMaskNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+4930123456789": "***789",
		"030123456":      "***456",
		"12345":          "unknown", // too short to mask
		"member1":        "unknown",
		"+49+30123456":   "unknown",
		"":               "unknown",
	} {
		assert.Equal(t, want, maskNumber(in), in)
	}
}

func TestMediaFor(t *testing.T) {
	for _, tc := range []struct {
		b    Binding
		want mediaKind
	}{
		{Binding{Transport: "UDP"}, plainRTP},
		{Binding{Transport: "TCP"}, plainRTP},
		{Binding{Transport: "WS"}, plainRTP}, // a phone over WebSocket that is no browser
		{Binding{Transport: "TLS"}, sdesSRTP},
		{Binding{Transport: "WSS", ICE: true}, webRTC},
		{Binding{Transport: "WS", ICE: true}, webRTC},
		{Binding{Transport: "UDP", ICE: true}, plainRTP},
	} {
		assert.Equal(t, tc.want, mediaFor(tc.b), "%+v", tc.b)
	}
}

func TestHasICE(t *testing.T) {
	c := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "x.invalid"}, Params: sip.NewParams()}
	assert.False(t, hasICE(c))
	c.Params.Add("+sip.ice", "")
	assert.True(t, hasICE(c))
	assert.False(t, hasICE(nil))
}
