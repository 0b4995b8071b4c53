package pseudo

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNumber(t *testing.T) {
	p := New("a secret key of sixteen+")
	a := p.Number("+49 30 1234-5678")
	assert.Equal(t, a, p.Number("+493012345678"), "formatting must not change the pseudonym")
	assert.NotEqual(t, a, p.Number("+493012345679"))
	assert.NotContains(t, a, "12345678")
	assert.True(t, strings.HasPrefix(a, "n-"))
	assert.Len(t, a, 18)
	assert.NotEqual(t, a, New("another key of 16 chars").Number("+493012345678"), "the key must matter")
	assert.Empty(t, p.Number(""))
	r1, r2 := New(""), New("")
	assert.NotEqual(t, r1.Number("100"), r2.Number("100"), "empty key draws a random one")
}
