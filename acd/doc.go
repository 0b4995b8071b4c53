// Package acd decides who takes which call: agent states, waiting calls and
// the routing decision between them.
//
// The decisions are pure functions over state (Route, reserve and friends),
// tested without sockets. The ACD type wraps them with a dispatcher loop that
// reads state from a Store, reserves (agent, call) pairs atomically there, and
// hands each reservation to the node-local call that waits for it. acd never
// touches SIP or sockets: the sip package calls it, and reports back what
// happened to each offer.
package acd
