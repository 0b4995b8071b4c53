package media

import (
	"math"
	"time"
)

const (
	sampleRate    = 8000                  // G.711 clock rate, Hz
	frameDuration = 20 * time.Millisecond // one RTP packet of audio (a=ptime:20)
	frameSamples  = 160                   // samples (= bytes of G.711) per frame
)

// Source is a looped 8 kHz mono audio clip (hold music, a prompt),
// pre-encoded to both G.711 laws when it is created. It is immutable after
// construction, so one Source is shared by all the players that play it.
type Source struct {
	name   string
	frames int
	ulaw   []byte // frames*frameSamples bytes
	alaw   []byte // frames*frameSamples bytes
}

// newSource encodes 8 kHz linear samples, padding the last frame with
// silence. An empty clip becomes one frame of silence.
func newSource(name string, pcm []int16) *Source {
	frames := max(1, (len(pcm)+frameSamples-1)/frameSamples)
	s := &Source{
		name:   name,
		frames: frames,
		ulaw:   make([]byte, frames*frameSamples),
		alaw:   make([]byte, frames*frameSamples),
	}
	for i := range s.ulaw {
		var v int16
		if i < len(pcm) {
			v = pcm[i]
		}
		s.ulaw[i] = LinearToULaw(v)
		s.alaw[i] = LinearToALaw(v)
	}
	return s
}

// Name is the name given at construction (the file path for LoadWAV).
func (s *Source) Name() string { return s.name }

// Frames is the number of 20 ms frames in one pass of the clip.
func (s *Source) Frames() int { return s.frames }

// Frame returns the 160-byte payload of frame i in codec c, looping: frame
// Frames() is frame 0 again. The slice aliases the Source: do not modify it.
// Frame does not allocate.
func (s *Source) Frame(c Codec, i int) []byte {
	i %= s.frames
	if i < 0 {
		i += s.frames
	}
	off := i * frameSamples
	if c.PT == PCMA.PT {
		return s.alaw[off : off+frameSamples : off+frameSamples]
	}
	return s.ulaw[off : off+frameSamples : off+frameSamples]
}

// Tone generator settings: a soft, decaying tone (fundamental plus two quiet
// harmonics) rather than a beep.
const (
	toneLevel   = 0.12                  // peak level, about -18 dBFS: quiet, so the prompts stand out
	toneAttack  = 12 * time.Millisecond // fade-in of each note
	toneRelease = 40 * time.Millisecond // fade-out at the end of each note (and of the clip)
)

// NewToneSource generates hold music: the notes freqs (Hz; 0 is a rest) are
// played in turn, each noteDur long, at a gentle level with short fades,
// repeating until the clip is dur long (rounded up to whole 20 ms frames).
// The clip ends with a fade, so it loops without a click. dur <= 0 plays
// each note once; noteDur <= 0 plays one note for the whole clip.
func NewToneSource(name string, freqs []float64, noteDur time.Duration, dur time.Duration) *Source {
	if dur <= 0 {
		dur = noteDur * time.Duration(max(1, len(freqs)))
	}
	if noteDur <= 0 {
		noteDur = dur
	}
	total := durSamples(dur)
	total = max(frameSamples, (total+frameSamples-1)/frameSamples*frameSamples)
	noteLen := max(1, durSamples(noteDur))
	attack := min(durSamples(toneAttack), noteLen/4)
	release := min(durSamples(toneRelease), noteLen/3)
	decay := float64(noteLen) / 2.5 // time constant of the note's decay, in samples

	pcm := make([]int16, total)
	if len(freqs) == 0 {
		return newSource(name, pcm)
	}
	for i := range pcm {
		note, pos := i/noteLen, i%noteLen
		f := freqs[note%len(freqs)]
		if f <= 0 || f >= sampleRate/2 {
			continue // rest (or unplayable at 8 kHz)
		}
		// The last note may be cut short by dur: fade out before the clip ends.
		left := min(noteLen-pos, total-i)
		env := math.Exp(-float64(pos) / decay)
		if pos < attack {
			env *= raisedCosine(float64(pos) / float64(attack))
		}
		if left < release {
			env *= raisedCosine(float64(left) / float64(release))
		}
		ph := 2 * math.Pi * f * float64(pos) / sampleRate
		v := math.Sin(ph) + 0.25*math.Sin(2*ph) + 0.08*math.Sin(3*ph)
		pcm[i] = int16(toneLevel / 1.33 * env * v * math.MaxInt16)
	}
	return newSource(name, pcm)
}

// raisedCosine rises smoothly from 0 (x=0) to 1 (x=1).
func raisedCosine(x float64) float64 { return 0.5 - 0.5*math.Cos(math.Pi*x) }

func durSamples(d time.Duration) int {
	return int(d * sampleRate / time.Second)
}

// Concat joins clips into one, each starting on a frame boundary (the
// padding of a clip's last frame stays: at most 20 ms of silence between
// clips). Nil clips are skipped; no clips give nil.
func Concat(name string, clips ...*Source) *Source {
	var out *Source
	for _, c := range clips {
		if c == nil {
			continue
		}
		if out == nil {
			out = &Source{name: name}
		}
		out.frames += c.frames
		out.ulaw = append(out.ulaw, c.ulaw...)
		out.alaw = append(out.alaw, c.alaw...)
	}
	return out
}
