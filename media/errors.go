package media

import "errors"

// Errors returned by this package. Callers test them with errors.Is; the
// returned errors wrap them with detail.
var (
	// ErrBadSDP: the session description is malformed (no m=audio, no c=,
	// bad port or address). The SIP layer answers 400.
	ErrBadSDP = errors.New("bad sdp")
	// ErrNoCommonCodec: the offer has no PCMU/PCMA on RTP/AVP or RTP/SAVP.
	// The SIP layer answers 488 Not Acceptable Here.
	ErrNoCommonCodec = errors.New("no common codec (want PCMU or PCMA over RTP/AVP or RTP/SAVP)")
	// ErrSRTPRequired: a leg that speaks SRTP was offered or answered plain
	// RTP, or SRTP came without a usable key. The SIP layer answers 488.
	ErrSRTPRequired = errors.New("srtp required")
	// ErrNoPorts: every RTP/RTCP port pair of the pool is in use, quarantined,
	// or refused by the operating system. The SIP layer answers 503.
	ErrNoPorts = errors.New("no free rtp port pair")
	// ErrRelayClosed: the relay's Run has returned; no new legs.
	ErrRelayClosed = errors.New("relay closed")
	// ErrLegClosed: the leg has been closed.
	ErrLegClosed = errors.New("leg closed")
	// ErrAlreadyBridged: a leg can be bridged to one other leg at a time.
	ErrAlreadyBridged = errors.New("leg already bridged")
	// ErrCodecMismatch: the two legs of a bridge use different codecs. The
	// relay does not transcode; offer the agent the member's codec.
	ErrCodecMismatch = errors.New("legs use different codecs")
	// ErrBadWAV: the file is not a WAV file this package can play.
	ErrBadWAV = errors.New("unsupported or malformed wav file")
)
