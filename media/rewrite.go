package media

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"time"
)

// RTP fixed header (RFC 3550 §5.1):
//
//	byte 0: V(2) P(1) X(1) CC(4)    byte 1: M(1) PT(7)
//	bytes 2-3: sequence number      bytes 4-7: timestamp     bytes 8-11: SSRC
const rtpHeaderLen = 12

// validRTP reports whether pkt is an RTP packet the relay forwards: version
// 2, at least the fixed header, CSRC list, header extension and padding
// within the packet, and not RTCP sent to the RTP port (RFC 5761 §4: the
// payload types 72-76 collide with RTCP packet types 200-204).
func validRTP(pkt []byte) bool {
	if len(pkt) < rtpHeaderLen || pkt[0]>>6 != 2 {
		return false
	}
	if pt := pkt[1] & 0x7F; pt >= 72 && pt <= 76 {
		return false
	}
	_, _, ok := payloadSpan(pkt)
	return ok
}

// payloadSpan returns where the payload of the RTP packet pkt (at least
// the fixed header) begins and ends: after the CSRC list and header
// extension, before the padding; false if those do not fit in pkt.
func payloadSpan(pkt []byte) (off, end int, ok bool) {
	off = rtpHeaderLen + 4*int(pkt[0]&0x0F)
	if pkt[0]&0x10 != 0 { // header extension: 16-bit profile, 16-bit length in words
		if len(pkt) < off+4 {
			return 0, 0, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	}
	end = len(pkt)
	if pkt[0]&0x20 != 0 { // padding: the last byte counts the padding bytes
		end -= int(pkt[len(pkt)-1])
		if pkt[len(pkt)-1] == 0 {
			return 0, 0, false
		}
	}
	return off, end, off <= end
}

// outStream is the one RTP stream a leg sends to its far end. Whatever feeds
// it (the leg's player, then the bridged peer's packets), the far end sees
// one SSRC, chosen at random per leg, and continuous sequence numbers and
// timestamps (RFC 3550 §5.1, RFC 7160 on timestamp continuity).
//
// Inputs are told apart by an id: each Play and each Bridge gets a fresh
// one from the relay. Only the active input may write; packets of any other
// input (a player tick or a forwarded packet already under way when control
// switched the source) are refused. When the input changes, or the bridged
// peer's SSRC changes, the sequence continues at last+1, the timestamp at
// last + the samples elapsed since the last packet (at least one frame), and
// the marker bit is set. Within one input the input's own seq/timestamp
// deltas are kept, so RFC 4733 events (several packets with one timestamp)
// and silence gaps survive.
type outStream struct {
	// mu guards the state below. Two goroutines can write one leg's stream:
	// the relay clock (the leg's player) and the bridged peer's RTP reader.
	// Around a switch (Bridge, StopPlay) both can be inside rewrite at once,
	// and the active check, the offsets and last seq/timestamp must change
	// together. In steady state only one goroutine takes mu, so it is
	// uncontended; it never allocates and is never held across a syscall.
	mu      sync.Mutex
	ssrc    uint32
	active  uint64 // input allowed to write; 0 = none
	cur     uint64 // input of the last packet sent; 0 = none yet
	curSSRC uint32 // that input's SSRC
	seqOff  uint16 // out seq = in seq + seqOff
	tsOff   uint32 // out ts = in ts + tsOff
	lastSeq uint16 // highest seq sent (the random initial seq before the first packet)
	lastTS  uint32 // highest timestamp sent (random initial value before the first packet)
	lastAt  time.Time
}

func (s *outStream) init() {
	s.ssrc = rand.Uint32()
	s.lastSeq = uint16(rand.Uint32()) // RFC 3550 §5.1: random initial seq and timestamp
	s.lastTS = rand.Uint32()
}

// setActive makes id the input allowed to write (0: none).
func (s *outStream) setActive(id uint64) {
	s.mu.Lock()
	s.active = id
	s.mu.Unlock()
}

// swapActive makes id the active input if old is; it reports whether it did.
func (s *outStream) swapActive(old, id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != old {
		return false
	}
	s.active = id
	return true
}

// rewrite rewrites the header of the valid RTP packet pkt, read from input
// id, in place for this stream: marker, payload type pt, sequence number,
// timestamp and SSRC (bytes 1-11). It returns false, leaving pkt alone, if
// id is not the active input.
func (s *outStream) rewrite(pkt []byte, id uint64, pt uint8, now time.Time) bool {
	inSeq := binary.BigEndian.Uint16(pkt[2:4])
	inTS := binary.BigEndian.Uint32(pkt[4:8])
	inSSRC := binary.BigEndian.Uint32(pkt[8:12])
	marker := pkt[1] & 0x80

	s.mu.Lock()
	if id != s.active || id == 0 {
		s.mu.Unlock()
		return false
	}
	var seq uint16
	var ts uint32
	if id != s.cur || inSSRC != s.curSSRC {
		// New input: continue our stream where it stopped.
		seq, ts = s.lastSeq, s.lastTS
		if s.cur != 0 {
			seq++
			ts += elapsedSamples(now.Sub(s.lastAt))
		}
		s.cur, s.curSSRC = id, inSSRC
		s.seqOff, s.tsOff = seq-inSeq, ts-inTS
		s.lastSeq, s.lastTS = seq, ts
		marker = 0x80
	} else {
		seq, ts = inSeq+s.seqOff, inTS+s.tsOff
		if int16(seq-s.lastSeq) > 0 { // not a reordered or repeated packet
			s.lastSeq = seq
		}
		if int32(ts-s.lastTS) > 0 {
			s.lastTS = ts
		}
	}
	s.lastAt = now
	ssrc := s.ssrc
	s.mu.Unlock()

	pkt[1] = marker | pt&0x7F
	binary.BigEndian.PutUint16(pkt[2:4], seq)
	binary.BigEndian.PutUint32(pkt[4:8], ts)
	binary.BigEndian.PutUint32(pkt[8:12], ssrc)
	return true
}

// elapsedSamples is the timestamp advance for a gap of d between two
// packets of different inputs: 8 samples per ms, at least one frame.
func elapsedSamples(d time.Duration) uint32 {
	const maxGap = time.Hour   // keep the product far from overflow
	d = max(0, min(d, maxGap)) // d < 0: the other writer stamped its packet a moment later
	return max(frameSamples, uint32(d*sampleRate/time.Second))
}
