package media

// G.711 (ITU-T G.711, 1988) companding for 16-bit linear PCM.
//
// The encoders follow the segment search of the ITU reference (as in Sun's
// public-domain g711.c); the decoders are 256-entry tables built once at
// start-up, so decoding a payload costs one load per byte.

const (
	ulawBias = 0x84  // µ-law bias added before the segment search (16-bit domain)
	ulawClip = 32635 // largest magnitude µ-law can represent once biased
)

var (
	ulawDecode [256]int16
	alawDecode [256]int16
)

func init() {
	for i := range 256 {
		ulawDecode[i] = decodeULaw(byte(i))
		alawDecode[i] = decodeALaw(byte(i))
	}
}

// LinearToULaw encodes one 16-bit linear sample as G.711 µ-law.
// Silence (0) encodes as 0xFF.
func LinearToULaw(s int16) byte {
	v := int32(s)
	var sign byte
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	// v is now in [0x84, 0x7FFF]; the segment (exponent) is the position of the
	// highest set bit above bit 7.
	exp := byte(0)
	for t := v >> 8; t != 0; t >>= 1 {
		exp++
	}
	mant := byte(v>>(exp+3)) & 0x0F
	return ^(sign | exp<<4 | mant)
}

// ULawToLinear decodes one G.711 µ-law byte to a 16-bit linear sample.
func ULawToLinear(b byte) int16 { return ulawDecode[b] }

func decodeULaw(b byte) int16 {
	b = ^b
	t := (int32(b&0x0F) << 3) + ulawBias
	t <<= (b & 0x70) >> 4
	if b&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// LinearToALaw encodes one 16-bit linear sample as G.711 A-law.
// Silence (0) encodes as 0xD5.
func LinearToALaw(s int16) byte {
	v := int32(s) >> 3 // A-law works on 13 bits
	mask := byte(0xD5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := byte(0)
	for t := v >> 5; t != 0; t >>= 1 {
		seg++
	}
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := seg << 4
	if seg < 2 {
		a |= byte(v>>1) & 0x0F
	} else {
		a |= byte(v>>seg) & 0x0F
	}
	return a ^ mask
}

// ALawToLinear decodes one G.711 A-law byte to a 16-bit linear sample.
func ALawToLinear(b byte) int16 { return alawDecode[b] }

func decodeALaw(b byte) int16 {
	b ^= 0x55
	t := int32(b&0x0F) << 4
	seg := (b & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if b&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
