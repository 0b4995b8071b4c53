// Package sip is Callwerk's SIP edge on top of github.com/emiago/sipgo: the
// listeners and their read filter, the registrar with digest authentication
// and the location store, and the B2BUA that answers members' calls from
// trunks and rings agents. It knows no queue rules: it asks package acd whom
// to ring and reports what happened.
//
// sipgo is imported unaliased as "sip" in files that need only it, as
// livekit's pkg/sip does; this package's own name is also sip.
package sip
