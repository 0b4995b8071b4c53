package media

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewToneSource(t *testing.T) {
	cases := []struct {
		name       string
		freqs      []float64
		noteDur    time.Duration
		dur        time.Duration
		wantFrames int
	}{
		{"melody 4 s", []float64{440, 554.37, 659.25, 0}, 500 * time.Millisecond, 4 * time.Second, 200},
		{"rounds up to a frame", []float64{440}, 100 * time.Millisecond, 30 * time.Millisecond, 2},
		{"dur 0 plays each note once", []float64{440, 660}, 300 * time.Millisecond, 0, 30},
		{"no notes is silence", nil, 100 * time.Millisecond, time.Second, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewToneSource("tone", tc.freqs, tc.noteDur, tc.dur)
			require.Equal(t, tc.wantFrames, s.Frames())
			assert.Equal(t, "tone", s.Name())
			for _, c := range []Codec{PCMU, PCMA} {
				assert.Len(t, s.Frame(c, 0), frameSamples)
			}
		})
	}
}

// TestToneSourceIsGentle: the generated music stays quiet (well below full
// scale), is not silent, and starts and ends near silence so the loop does
// not click.
func TestToneSourceIsGentle(t *testing.T) {
	s := NewToneSource("hold", []float64{392, 494, 587, 494}, 400*time.Millisecond, 3200*time.Millisecond)
	pcm := decodeFrames(t, s, PCMU)
	peak, sumSq := 0, 0.0
	for _, v := range pcm {
		peak = max(peak, abs(int(v)))
		sumSq += float64(v) * float64(v)
	}
	rms := math.Sqrt(sumSq / float64(len(pcm)))
	assert.Less(t, peak, 6000, "peak above about -15 dBFS")
	assert.Greater(t, rms, 300.0, "too quiet to hear")
	assert.Less(t, abs(int(pcm[0])), 100, "loop start")
	assert.Less(t, abs(int(pcm[len(pcm)-1])), 100, "loop end")
	// The fade-in of a note: its first millisecond is much quieter than its 50th.
	assert.Less(t, maxAbs(pcm[400*8:400*8+8]), maxAbs(pcm[400*8+400:400*8+480]))
}

func TestSourceFrameLoopsWithoutAllocating(t *testing.T) {
	s := NewToneSource("x", []float64{440}, time.Second, time.Second)
	require.Equal(t, 50, s.Frames())
	assert.Equal(t, s.Frame(PCMU, 3), s.Frame(PCMU, 53))
	assert.Equal(t, s.Frame(PCMA, 49), s.Frame(PCMA, -1))
	assert.NotEqual(t, s.Frame(PCMU, 10), s.Frame(PCMA, 10))
	f := s.Frame(PCMU, 0)
	assert.Equal(t, frameSamples, cap(f), "capacity limited so an append cannot overwrite the next frame")
	var sink byte
	allocs := testing.AllocsPerRun(1000, func() {
		for i := range 100 {
			sink ^= s.Frame(PCMA, i)[0]
		}
	})
	assert.Zero(t, allocs)
	_ = sink
}

// wavSpec describes a WAV file to write.
type wavSpec struct {
	tag      uint16
	channels int
	rate     int
	bits     int
}

// writeWAV writes a WAV file with samples (already in the file's sample
// format, interleaved) into a temp dir and returns its path.
func writeWAV(t *testing.T, name string, w wavSpec, data []byte) string {
	t.Helper()
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	fmtChunk := make([]byte, 16)
	binary.LittleEndian.PutUint16(fmtChunk[0:], w.tag)
	binary.LittleEndian.PutUint16(fmtChunk[2:], uint16(w.channels))
	binary.LittleEndian.PutUint32(fmtChunk[4:], uint32(w.rate))
	binary.LittleEndian.PutUint32(fmtChunk[8:], uint32(w.rate*w.channels*w.bits/8))
	binary.LittleEndian.PutUint16(fmtChunk[12:], uint16(w.channels*w.bits/8))
	binary.LittleEndian.PutUint16(fmtChunk[14:], uint16(w.bits))
	b = appendChunk(b, "fmt ", fmtChunk)
	b = appendChunk(b, "LIST", []byte("INFOsome metadata")) // odd length: padded
	b = appendChunk(b, "data", data)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

func appendChunk(b []byte, id string, body []byte) []byte {
	b = append(b, id...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// sine16 returns n samples of a sine at freq Hz and rate, amplitude amp.
func sine16(n, rate int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

func pcm16Bytes(s []int16) []byte {
	b := make([]byte, 0, 2*len(s))
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

// decodeFrames decodes all frames of s in codec c to linear samples.
func decodeFrames(t *testing.T, s *Source, c Codec) []int16 {
	t.Helper()
	dec := ULawToLinear
	if c.PT == PCMA.PT {
		dec = ALawToLinear
	}
	var out []int16
	for i := range s.Frames() {
		for _, b := range s.Frame(c, i) {
			out = append(out, dec(b))
		}
	}
	return out
}

func maxAbs(s []int16) int {
	m := 0
	for _, v := range s {
		m = max(m, abs(int(v)))
	}
	return m
}

// sineAmplitude estimates the amplitude of the freq component of x (8 kHz).
func sineAmplitude(x []int16, freq float64) float64 {
	var re, im float64
	for i, v := range x {
		ph := 2 * math.Pi * freq * float64(i) / sampleRate
		re += float64(v) * math.Cos(ph)
		im += float64(v) * math.Sin(ph)
	}
	return 2 * math.Hypot(re, im) / float64(len(x))
}

func TestLoadWAV(t *testing.T) {
	const amp = 10000.0
	mono8k := pcm16Bytes(sine16(8000, 8000, 1000, amp)) // 1 s
	// 16 kHz stereo: the tone in the left channel, silence in the right, so
	// the mix-down is the tone at half level.
	left := sine16(16000, 16000, 1000, amp)
	var stereo []int16
	for _, v := range left {
		stereo = append(stereo, v, 0)
	}
	// 44.1 kHz mono with a 1 kHz tone and a 6 kHz tone that must not alias
	// into the band (6 kHz would fold to 2 kHz at 8 kHz).
	mix := sine16(44100, 44100, 1000, amp)
	alias := sine16(44100, 44100, 6000, amp)
	for i := range mix {
		mix[i] += alias[i]
	}
	u8 := make([]byte, 4000)
	for i := range u8 {
		u8[i] = byte(128 + 100*math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	ulaw := make([]byte, 8000)
	for i, v := range sine16(8000, 8000, 1000, amp) {
		ulaw[i] = LinearToULaw(v)
	}

	cases := []struct {
		name       string
		spec       wavSpec
		data       []byte
		wantFrames int
		wantAmp    float64 // of the 1 kHz tone after loading
	}{
		{"8 kHz mono 16-bit", wavSpec{wavPCM, 1, 8000, 16}, mono8k, 50, amp},
		{"16 kHz stereo 16-bit", wavSpec{wavPCM, 2, 16000, 16}, pcm16Bytes(stereo), 50, amp / 2},
		{"44.1 kHz mono with out-of-band tone", wavSpec{wavPCM, 1, 44100, 16}, pcm16Bytes(mix), 50, amp},
		{"8 kHz 8-bit unsigned", wavSpec{wavPCM, 1, 8000, 8}, u8, 25, 100.0 / 128 * 32767},
		{"8 kHz µ-law", wavSpec{wavULaw, 1, 8000, 8}, ulaw, 50, amp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeWAV(t, "clip.wav", tc.spec, tc.data)
			s, err := LoadWAV(path)
			require.NoError(t, err)
			assert.Equal(t, tc.wantFrames, s.Frames())
			pcm := decodeFrames(t, s, PCMA)
			got := sineAmplitude(pcm, 1000)
			assert.InDelta(t, tc.wantAmp, got, tc.wantAmp*0.06, "1 kHz amplitude")
			assert.Less(t, sineAmplitude(pcm, 2000), tc.wantAmp*0.02, "energy at 2 kHz (aliasing)")
		})
	}
}

func TestLoadWAVErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	cases := []struct {
		name string
		path string
		want string
	}{
		{"not a wav", write("notes.txt", []byte("hello, this is not audio")), "not a WAV file"},
		{"empty file", write("empty.wav", nil), "not a WAV file"},
		{"adpcm", writeWAV(t, "adpcm.wav", wavSpec{0x0002, 1, 8000, 4}, make([]byte, 100)), "compressed format 0x0002 (MS ADPCM)"},
		{"mp3", writeWAV(t, "mp3.wav", wavSpec{0x0055, 1, 8000, 16}, make([]byte, 100)), "compressed format 0x0055 (MP3)"},
		{"12-bit pcm", writeWAV(t, "odd.wav", wavSpec{wavPCM, 1, 8000, 12}, make([]byte, 100)), "12 bits per sample"},
		{"empty data", writeWAV(t, "nodata.wav", wavSpec{wavPCM, 1, 8000, 16}, nil), "no audio data"},
		{"no data chunk", write("nochunk.wav", appendChunk([]byte("RIFF\x00\x00\x00\x00WAVE"), "fmt ", []byte{1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0})), "no data chunk"},
		{"no fmt chunk", write("nofmt.wav", appendChunk([]byte("RIFF\x00\x00\x00\x00WAVE"), "data", make([]byte, 320))), "no fmt chunk"},
		{"zero channels", writeWAV(t, "zero.wav", wavSpec{wavPCM, 0, 8000, 16}, make([]byte, 100)), "bad channel count 0"},
		{"missing file", filepath.Join(dir, "missing.wav"), "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadWAV(tc.path)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tc.path, "error names the file")
			assert.Contains(t, err.Error(), tc.want)
			if tc.name != "missing file" {
				assert.ErrorIs(t, err, ErrBadWAV)
			}
		})
	}
}

// FuzzDecodeWAV: the WAV reader must not panic on any file.
func FuzzDecodeWAV(f *testing.F) {
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x04\x00\x00\x00\x01\x00\xff\xff"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff\x01\x02fmt \x28\x00\x00\x00\xfe\xff\x02\x00\x44\xac\x00\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		samples, rate, err := decodeWAV(b)
		if err != nil {
			return
		}
		if len(samples) == 0 || rate < 1000 {
			t.Fatalf("accepted %d samples at %d Hz", len(samples), rate)
		}
		for _, v := range samples {
			if math.IsNaN(v) || v < -1 || v > 1 {
				t.Fatalf("sample %v out of range", v)
			}
		}
	})
}
