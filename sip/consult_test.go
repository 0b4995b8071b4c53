package sip

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReplacesCallID(t *testing.T) {
	for in, want := range map[string]string{
		"<sip:1002@10.0.0.5?Replaces=abc-123%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>": "abc-123@host",
		"<sip:1002@10.0.0.5?Replaces=abc>":                                        "abc",
		"<sip:1002@h?X=1&replaces=id-9%3Bto-tag%3Da>":                             "id-9",
		"<sip:1002@10.0.0.5>":                                                     "",
		"<sip:1002@h?Replaces=>":                                                  "",
		"<sip:1002@h?Replaces=%zz>":                                               "",
	} {
		got, ok := replacesCallID(in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, want != "", ok, in)
	}
}
