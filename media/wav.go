package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// maxWAVSize bounds what LoadWAV reads into memory: ten minutes of 48 kHz
// stereo 32-bit audio is about 230 MB; hold music is far shorter.
const maxWAVSize = 256 << 20

// WAVE format tags (RFC 2361, mmreg.h).
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavULaw       = 0x0007
	wavExtensible = 0xFFFE
)

// LoadWAV reads a RIFF/WAVE file into a Source: linear PCM of 8, 16, 24 or
// 32 bits, 32- or 64-bit float, or G.711 A-law/µ-law; any number of
// channels (mixed down to mono) and any sample rate (resampled to 8 kHz,
// low-pass filtered first when downsampling). Errors name the file and the
// problem and wrap ErrBadWAV (or the os error).
func LoadWAV(path string) (*Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load wav: %w", err)
	}
	if fi.Size() > maxWAVSize {
		return nil, fmt.Errorf("load wav %q: %w: file is %d bytes (limit %d)", path, ErrBadWAV, fi.Size(), maxWAVSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load wav: %w", err)
	}
	return DecodeWAV(path, b)
}

// DecodeWAV is LoadWAV for a file's contents b; name names the Source and
// the errors.
func DecodeWAV(name string, b []byte) (*Source, error) {
	samples, rate, err := decodeWAV(b)
	if err != nil {
		return nil, fmt.Errorf("load wav %q: %w: %w", name, ErrBadWAV, err)
	}
	return newSource(name, toPCM16(resample(samples, rate, sampleRate))), nil
}

type wavFormat struct {
	tag      uint16
	channels int
	rate     int
	bits     int
}

// decodeWAV returns the audio of a WAVE file mixed down to mono, as floats
// in [-1, 1], and its sample rate.
func decodeWAV(b []byte) ([]float64, int, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("not a WAV file (no RIFF/WAVE header)")
	}
	var (
		format  *wavFormat
		data    []byte
		hasData bool
	)
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		size := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := b[off+8:]
		if size <= len(body) {
			body = body[:size]
		} else if id != "data" {
			return nil, 0, fmt.Errorf("chunk %q is truncated", id)
		} // a streamed file may give the data chunk size as 0xFFFFFFFF: take what is there
		switch id {
		case "fmt ":
			f, err := parseWAVFormat(body)
			if err != nil {
				return nil, 0, err
			}
			format = f
		case "data":
			data, hasData = body, true
		}
		off += 8 + size + size&1 // chunks are padded to even length
		if off < 0 {
			break
		}
	}
	switch {
	case format == nil:
		return nil, 0, errors.New("no fmt chunk")
	case !hasData:
		return nil, 0, errors.New("no data chunk")
	}
	frameSize := format.channels * format.bits / 8
	n := len(data) / frameSize
	if n == 0 {
		return nil, 0, errors.New("no audio data (empty data chunk)")
	}
	decode := sampleDecoder(format)
	out := make([]float64, n)
	bps := format.bits / 8
	for i := range out {
		frame := data[i*frameSize : (i+1)*frameSize]
		var sum float64
		for c := range format.channels {
			sum += decode(frame[c*bps : (c+1)*bps])
		}
		out[i] = sum / float64(format.channels)
	}
	return out, format.rate, nil
}

func parseWAVFormat(b []byte) (*wavFormat, error) {
	if len(b) < 16 {
		return nil, errors.New("fmt chunk too short")
	}
	f := &wavFormat{
		tag:      binary.LittleEndian.Uint16(b[0:2]),
		channels: int(binary.LittleEndian.Uint16(b[2:4])),
		rate:     int(binary.LittleEndian.Uint32(b[4:8])),
		bits:     int(binary.LittleEndian.Uint16(b[14:16])),
	}
	if f.tag == wavExtensible {
		// WAVEFORMATEXTENSIBLE: the real format is the first two bytes of the
		// SubFormat GUID at offset 24.
		if len(b) < 26 {
			return nil, errors.New("extensible fmt chunk too short")
		}
		f.tag = binary.LittleEndian.Uint16(b[24:26])
	}
	ok := false
	switch f.tag {
	case wavPCM:
		ok = f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32
	case wavFloat:
		ok = f.bits == 32 || f.bits == 64
	case wavALaw, wavULaw:
		ok = f.bits == 8
	default:
		return nil, fmt.Errorf("compressed format 0x%04x%s not supported (want PCM, float, A-law or µ-law)", f.tag, wavFormatName(f.tag))
	}
	switch {
	case !ok:
		return nil, fmt.Errorf("%d bits per sample not supported for format 0x%04x", f.bits, f.tag)
	case f.channels < 1 || f.channels > 32:
		return nil, fmt.Errorf("bad channel count %d", f.channels)
	case f.rate < 1000 || f.rate > 384000:
		return nil, fmt.Errorf("bad sample rate %d Hz", f.rate)
	}
	return f, nil
}

func wavFormatName(tag uint16) string {
	switch tag {
	case 0x0002:
		return " (MS ADPCM)"
	case 0x0011:
		return " (IMA ADPCM)"
	case 0x0031:
		return " (GSM 6.10)"
	case 0x0055:
		return " (MP3)"
	default:
		return ""
	}
}

// sampleDecoder returns a function that decodes one sample to [-1, 1].
func sampleDecoder(f *wavFormat) func([]byte) float64 {
	switch {
	case f.tag == wavALaw:
		return func(b []byte) float64 { return float64(ALawToLinear(b[0])) / 32768 }
	case f.tag == wavULaw:
		return func(b []byte) float64 { return float64(ULawToLinear(b[0])) / 32768 }
	case f.tag == wavFloat && f.bits == 32:
		return func(b []byte) float64 {
			return clampUnit(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
		}
	case f.tag == wavFloat:
		return func(b []byte) float64 { return clampUnit(math.Float64frombits(binary.LittleEndian.Uint64(b))) }
	case f.bits == 8: // 8-bit PCM is unsigned
		return func(b []byte) float64 { return (float64(b[0]) - 128) / 128 }
	case f.bits == 16:
		return func(b []byte) float64 { return float64(int16(binary.LittleEndian.Uint16(b))) / 32768 }
	case f.bits == 24:
		return func(b []byte) float64 {
			v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
			return float64(v) / (1 << 23)
		}
	default: // 32-bit PCM
		return func(b []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31) }
	}
}

func clampUnit(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return max(-1, min(1, v))
}

// resample converts x from rate `from` to rate `to` by linear
// interpolation. When downsampling, the input is first low-passed (a
// Blackman-windowed sinc FIR, cut-off at 42 % of the new rate, 3.36 kHz at
// 8 kHz) so that music at 44.1 kHz does not alias into the telephone band.
// The filter wraps around the clip's ends because the clip is played looped.
func resample(x []float64, from, to int) []float64 {
	if from == to || len(x) == 0 {
		return x
	}
	at := func(k int) float64 { return x[k] }
	if from > to {
		fc := 0.42 * float64(to) / float64(from) // cycles per input sample
		half := int(math.Ceil(8 / fc))           // ~16/fc taps: transition about 0.15*to wide
		taps := make([]float64, 2*half+1)
		var sum float64
		for m := -half; m <= half; m++ {
			w := sinc(2*fc*float64(m)) * blackman(float64(m)/float64(half+1))
			taps[m+half] = w
			sum += w
		}
		n := len(x)
		at = func(k int) float64 {
			var acc float64
			for i, w := range taps {
				acc += w * x[((k+i-half)%n+n)%n]
			}
			return acc / sum
		}
	}
	step := float64(from) / float64(to) // input samples per output sample
	out := make([]float64, max(1, int(float64(len(x))/step)))
	for j := range out {
		t := float64(j) * step
		k := min(int(t), len(x)-1)
		frac := t - float64(k)
		next := k + 1
		if next == len(x) {
			next = 0 // looped clip
		}
		out[j] = at(k)*(1-frac) + at(next)*frac
	}
	return out
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// blackman is the Blackman window on [-1, 1].
func blackman(x float64) float64 {
	if x <= -1 || x >= 1 {
		return 0
	}
	return 0.42 + 0.5*math.Cos(math.Pi*x) + 0.08*math.Cos(2*math.Pi*x)
}

func toPCM16(x []float64) []int16 {
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = int16(math.Round(clampUnit(v) * math.MaxInt16))
	}
	return out
}

// WAV returns the clip as a WAV file: 8 kHz mono µ-law (G.711), the form
// the relay sends, at 8,000 bytes a second; DecodeWAV reads it back
// unchanged. Silence that pads the last frame is included.
func (s *Source) WAV() []byte {
	const fmtLen, factLen = 18, 4
	n := len(s.ulaw)
	b := make([]byte, 0, 12+8+fmtLen+8+factLen+8+n)
	le32 := func(v int) { b = binary.LittleEndian.AppendUint32(b, uint32(v)) }
	le16 := func(v int) { b = binary.LittleEndian.AppendUint16(b, uint16(v)) }
	b = append(b, "RIFF"...)
	le32(4 + 8 + fmtLen + 8 + factLen + 8 + n)
	b = append(b, "WAVEfmt "...)
	le32(fmtLen)
	le16(wavULaw)
	le16(1)                  // channels
	le32(sampleRate)         // samples per second
	le32(sampleRate)         // bytes per second
	le16(1)                  // block align
	le16(8)                  // bits per sample
	le16(0)                  // no extra format bytes
	b = append(b, "fact"...) // required for non-PCM formats
	le32(factLen)
	le32(n)
	b = append(b, "data"...)
	le32(n)
	return append(b, s.ulaw...)
}
