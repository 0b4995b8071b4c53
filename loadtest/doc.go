// Package loadtest simulates members and agents with real SIP (sipgo user
// agents on UDP) and real G.711 RTP, for the end-to-end tests and the load
// tool. Every RTP payload it sends carries a tag (who sent it), the send
// time and a counter, so the far end can tell the hold player from the
// agent and measure loss and delay through the relay.
package loadtest
