// Package media anchors the RTP of Callwerk's calls: it parses and builds
// the SDP of G.711 audio streams, plays hold music, and relays RTP between a
// member's leg and a clerk's leg.
//
// # Pieces
//
//   - SDP (sdp.go): ParseSDP reads the first m=audio stream of an offer or
//     answer (RFC 8866), Negotiate picks PCMU or PCMA (RFC 3551), and
//     AnswerDirection answers hold offers per RFC 3264 §6.1. BuildSDP writes
//     our side. telephone-event (RFC 4733) is negotiated and forwarded, not
//     interpreted.
//   - G.711 (g711.go): µ-law and A-law companding.
//   - Sources (source.go, wav.go): looped 8 kHz clips pre-encoded to both
//     laws, generated (NewToneSource) or loaded from WAV files (LoadWAV).
//   - PortPool (portpool.go): RTP/RTCP port pairs on the advertised address;
//     released pairs are quarantined so a late packet of an old call cannot
//     reach a new one.
//   - Relay, Leg, Bridge (relay.go, leg.go, player.go, rewrite.go).
//
// # Goroutines and their owners
//
// Each Leg owns two reader goroutines, one per socket, started by NewLeg
// and ended by Leg.Close, which closes the sockets and waits for them. A
// socket is read from the moment it is bound: packets that arrive before the
// leg is bridged are discarded and counted, not left in the kernel queue.
// Relay.Run owns the one pacing clock: every 20 ms it sends the next frame
// of every playing leg, with no timer or goroutine per call; when its
// context is done it closes all legs and returns.
//
// # The hot path
//
// A reader uses one preallocated buffer, validates the RTP header (version
// 2, lengths), checks the source, rewrites the 12-byte header in place for
// the bridged leg's outgoing stream and writes it from that leg's socket.
// Nothing is allocated per packet (see TestForwardAllocs, BenchmarkForward)
// and nothing blocks but the sockets: counters are atomics, the remote
// address and the bridge are atomic pointers, and the rewrite state takes a
// small mutex that only the clock and one reader can ever contend for.
//
// # Symmetric RTP and latching
//
// A leg sends to the address signalled in the peer's SDP (Leg.SetRemote)
// until it accepts its first valid RTP packet; it then latches onto that
// packet's source, sends there (RFC 4961 symmetric RTP, which gets through
// NAT) and drops packets from any other source (counted, logged at most 5
// times a second). By default a packet may latch only if it comes from the
// signalled IP address (the port may differ), so a stranger who guesses a
// fresh port cannot take over the leg (RTP bleed and injection,
// CVE-2025-53399 in rtpengine). The exception is a signalled address that
// is private, CGNAT or link-local: the phone is behind NAT, its SDP cannot
// name where its packets come from, and without ICE the first packet from
// anywhere latches. WithLatchAnySource applies that to every leg. A
// SetRemote with a new address (a re-INVITE) forgets the latch.
//
// # One outgoing stream per leg
//
// Whatever feeds a leg (its player, then the bridged peer), its far end sees
// one SSRC, chosen at random per leg, and continuous sequence numbers and
// timestamps: on a switch the sequence continues at last+1 and the timestamp
// by the time elapsed (at least one frame), with the marker bit set; within
// one source the source's own deltas are kept, so DTMF events stay intact.
//
// # Not yet done
//
// RTCP is read and discarded (counted in LegStats.RTCPPackets): reports are
// neither forwarded between legs nor generated for player streams. There is
// no SRTP, DTLS-SRTP or ICE, no media timeout, no jitter handling and no
// transcoding (Bridge refuses legs with different codecs).
package media
