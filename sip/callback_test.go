package sip

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCallbackNumber(t *testing.T) {
	cases := []struct {
		in, want      string
		international bool
	}{
		{"+4930123456789", "+4930123456789", false},
		{"004930123456789", "+4930123456789", false},
		{"030123456789", "+4930123456789", false},
		{"01711234567", "+491711234567", false},
		{"+43123456789", "", false}, // Austria: outside the country code
		{"+43123456789", "+43123456789", true},
		{"0043123456789", "+43123456789", true},
		{"4930123456789", "", false},      // no prefix: national or international?
		{"anonymous", "", false},          // withheld
		{"030", "", false},                // too short
		{"+49301234567890123", "", false}, // over 15 digits
		{"+0301234567", "", false},        // no country starts with 0
		{"0301234*567", "", false},
		{"09001234567", "", false}, // premium rate
		{"+49900123456", "", true},
		{"01371234567", "", false}, // mass traffic
		{"01180123", "", false},    // directory enquiries
		{"0180512345", "", false},  // shared cost
		{"0190123456", "", false},  // old premium rate
		{"", "", false},
	}
	for _, tc := range cases {
		got, err := callbackNumber(tc.in, "49", tc.international)
		if tc.want == "" {
			assert.Error(t, err, "%q (international %v) must be refused, got %q", tc.in, tc.international, got)
			continue
		}
		if assert.NoError(t, err, tc.in) {
			assert.Equal(t, tc.want, got, tc.in)
		}
	}
}
