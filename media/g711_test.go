package media

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type law struct {
	name   string
	encode func(int16) byte
	decode func(byte) int16
}

var laws = []law{
	{"ulaw", LinearToULaw, ULawToLinear},
	{"alaw", LinearToALaw, ALawToLinear},
}

func TestG711KnownValues(t *testing.T) {
	cases := []struct {
		name string
		got  any
		want any
	}{
		{"ulaw encode 0", LinearToULaw(0), byte(0xFF)},
		{"alaw encode 0", LinearToALaw(0), byte(0xD5)},
		{"ulaw decode 0xFF", ULawToLinear(0xFF), int16(0)},
		{"ulaw decode 0x7F (negative zero)", ULawToLinear(0x7F), int16(0)},
		{"alaw decode 0xD5", ALawToLinear(0xD5), int16(8)},
		{"alaw decode 0x55", ALawToLinear(0x55), int16(-8)},
		{"ulaw encode max", LinearToULaw(math.MaxInt16), byte(0x80)},
		{"ulaw encode min", LinearToULaw(math.MinInt16), byte(0x00)},
		{"ulaw decode 0x80", ULawToLinear(0x80), int16(32124)},
		{"ulaw decode 0x00", ULawToLinear(0x00), int16(-32124)},
		{"alaw encode max", LinearToALaw(math.MaxInt16), byte(0xAA)},
		{"alaw encode min", LinearToALaw(math.MinInt16), byte(0x2A)},
		{"alaw decode 0xAA", ALawToLinear(0xAA), int16(32256)},
		{"alaw decode 0x2A", ALawToLinear(0x2A), int16(-32256)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.got)
		})
	}
}

// TestG711RoundTripError checks every int16: the quantisation error of
// encode+decode is at most half a step of the segment, which is within 8 or
// 1/16 of the magnitude.
func TestG711RoundTripError(t *testing.T) {
	for _, l := range laws {
		t.Run(l.name, func(t *testing.T) {
			worst := 0
			for s := math.MinInt16; s <= math.MaxInt16; s++ {
				got := int(l.decode(l.encode(int16(s))))
				errAbs := abs(s - got)
				bound := max(8, abs(s)/16)
				if errAbs > bound {
					require.LessOrEqualf(t, errAbs, bound, "sample %d decoded as %d", s, got)
				}
				worst = max(worst, errAbs)
			}
			assert.LessOrEqual(t, worst, 644)
		})
	}
}

// TestG711Codewords checks that every codeword decodes to a value that
// encodes back to the same codeword (µ-law's negative zero aside) and that
// decoding is monotonic in the sample order.
func TestG711Codewords(t *testing.T) {
	for _, l := range laws {
		t.Run(l.name, func(t *testing.T) {
			for b := range 256 {
				if l.name == "ulaw" && b == 0x7F {
					continue // -0 encodes as +0 (0xFF)
				}
				assert.Equalf(t, byte(b), l.encode(l.decode(byte(b))), "codeword %#02x", b)
			}
			prev := l.decode(l.encode(math.MinInt16))
			for s := math.MinInt16 + 1; s <= math.MaxInt16; s++ {
				cur := l.decode(l.encode(int16(s)))
				require.GreaterOrEqualf(t, cur, prev, "not monotonic at %d", s)
				prev = cur
			}
		})
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func BenchmarkLinearToULaw(b *testing.B) {
	var sink byte
	for i := 0; b.Loop(); i++ {
		sink ^= LinearToULaw(int16(i))
	}
	_ = sink
}
