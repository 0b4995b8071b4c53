// Package queues holds the ACD's state and carries its events: the
// acd.Store implementations and the NATS event publisher. It decides
// nothing: every state change applies a transition function of package acd.
package queues
