package media

import (
	"encoding/binary"
	"errors"
)

// TelephoneEvent is the payload of one RFC 4733 telephone-event packet
// (§2.3):
//
//	byte 0: event            byte 1: E(1) R(1) volume(6)
//	bytes 2-3: duration (in timestamp units, from the event's start)
//
// A sender repeats the packet while the key is down, with the same RTP
// timestamp and a growing duration, then sends the final packet (E set)
// three times.
type TelephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8 // 0..63, -dBm0
	Duration uint16
}

// ErrShortEvent is returned for a telephone-event payload under 4 bytes.
var ErrShortEvent = errors.New("telephone-event payload shorter than 4 bytes")

// ParseTelephoneEvent reads the first event of an RFC 4733 payload (a
// payload may carry several only in redundancy, RFC 4733 §2.5, which
// phones do not send for DTMF).
func ParseTelephoneEvent(payload []byte) (TelephoneEvent, error) {
	if len(payload) < 4 {
		return TelephoneEvent{}, ErrShortEvent
	}
	return TelephoneEvent{
		Event:    payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(payload[2:4]),
	}, nil
}

// DTMFKeys are the sixteen DTMF keys in the order of their RFC 4733 §3.2
// event codes: DTMFKeys[e] is the key of event e.
const DTMFKeys = "0123456789*#ABCD"

// Digit is the key of a DTMF event (0-15), or 0 for other events
// (line events, tones).
func (e TelephoneEvent) Digit() byte {
	if int(e.Event) < len(DTMFKeys) {
		return DTMFKeys[e.Event]
	}
	return 0
}

// rtpPayload returns the payload of the valid RTP packet pkt (validRTP
// holds).
func rtpPayload(pkt []byte) []byte {
	off, end, _ := payloadSpan(pkt)
	return pkt[off:end]
}

// dtmfDetector turns a leg's telephone-event packets into key presses: one
// per event, reported at the event's first packet (so a menu reacts while
// the key is still down), whatever the retransmissions. An event is one
// RTP timestamp (§2.5.1.2). It runs on the leg's reader goroutine only.
type dtmfDetector struct {
	last    uint32 // timestamp of the last event reported
	started bool
}

// key returns the key of the telephone-event packet pkt (valid RTP) if it
// starts a new event, else 0.
func (d *dtmfDetector) key(pkt []byte) byte {
	ev, err := ParseTelephoneEvent(rtpPayload(pkt))
	if err != nil {
		return 0
	}
	ts := binary.BigEndian.Uint32(pkt[4:8])
	if d.started && ts == d.last {
		return 0 // the same key press: a repeat or an end packet
	}
	d.started, d.last = true, ts
	return ev.Digit()
}
