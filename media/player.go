package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// player sends a Source to one leg's far end, one frame per tick of the
// relay's clock. Everything but stopped is owned by the clock goroutine.
type player struct {
	leg     *Leg
	src     *Source
	id      uint64      // input id in leg.out
	stopped atomic.Bool // set by control (StopPlay, Bridge, Close); the clock skips stopped players
	once    bool        // play src once, not looped
	then    *Source     // after a once, loop this (nil: stop)
	done    chan struct{}
	ended   sync.Once

	frame int
	pkt   rtp.Packet                                       // reused: only SequenceNumber, Timestamp and Payload change
	buf   [rtpHeaderLen + frameSamples + srtpOverhead]byte // room to encrypt in place
}

func newPlayer(l *Leg, src *Source, id uint64) *player {
	p := &player{leg: l, src: src, id: id}
	// The player's own seq/timestamp start at 0; leg.out maps them onto the
	// leg's stream. SSRC is written by leg.out too.
	p.pkt.Header = rtp.Header{Version: 2, PayloadType: l.codec.PT}
	p.done = make(chan struct{})
	return p
}

// finish stops the player and closes done, once.
func (p *player) finish() {
	p.stopped.Store(true)
	p.signal()
}

// signal closes done, once.
func (p *player) signal() { p.ended.Do(func() { close(p.done) }) }

// tick sends the next frame. It does not allocate.
func (p *player) tick(now time.Time) {
	if p.once && p.frame >= p.src.Frames() {
		if p.then == nil {
			p.finish() // the leg stays silent until control plays something else
			return
		}
		// The clip is over: the music goes on in the same stream, at once.
		p.src, p.then, p.once, p.frame = p.then, nil, false, 0
		p.signal()
	}
	p.pkt.Payload = p.src.Frame(p.leg.codec, p.frame)
	n, err := p.pkt.MarshalTo(p.buf[:])
	if err != nil {
		return // cannot happen: fixed 12-byte header and 160-byte payload fit buf
	}
	p.frame++
	p.pkt.SequenceNumber++
	p.pkt.Timestamp += frameSamples
	pkt := p.buf[:n]
	if !p.leg.out.rewrite(pkt, p.id, p.leg.codec.PT, now) {
		return // control has switched the leg to another input since this tick began
	}
	p.leg.played.Add(1)
	p.leg.send(pkt)
}
