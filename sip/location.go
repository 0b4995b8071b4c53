package sip

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/callwerk/callwerk/acd"
)

// Binding is one registered device of an agent.
type Binding struct {
	Contact   sip.Uri   // the device's Contact URI: the Request-URI of requests to it
	Source    string    // host:port the REGISTER came from; requests go there (NAT)
	Transport string    // transport the REGISTER came over: requests to the device use it
	CallID    string    // the REGISTER's Call-ID: one per device and registration flow
	ICE       bool      // the Contact has +sip.ice (RFC 5768): a browser, offered WebRTC media
	Expires   time.Time // the binding is dropped after this
}

// Location maps agents to their registered devices and expires them. It
// tells onChange when an agent gets a first device or loses the last one,
// and whether the last one unregistered or expired.
type Location struct {
	now      func() time.Time
	onChange func(agent string, p acd.Presence)

	mu       sync.Mutex
	bindings map[string][]Binding

	notifyMu sync.Mutex // serialises onChange calls; taken before mu
}

// NewLocation returns an empty location store.
func NewLocation(onChange func(agent string, p acd.Presence)) *Location {
	return &Location{now: time.Now, onChange: onChange, bindings: make(map[string][]Binding)}
}

// Update adds or refreshes b for agent (matched by Contact URI); a zero
// expiry duration removes it. It returns the agent's bindings afterwards.
func (l *Location) Update(agent string, b Binding, expires time.Duration) []Binding {
	l.mu.Lock()
	old := l.bindings[agent]
	list := slices.DeleteFunc(slices.Clone(old), func(x Binding) bool { return x.Contact.String() == b.Contact.String() })
	if expires > 0 {
		b.Expires = l.now().Add(expires)
		list = append(list, b)
	}
	l.set(agent, list)
	out := slices.Clone(list)
	l.mu.Unlock()
	l.notify(agent, len(old) > 0, len(list) > 0, acd.Unregistered)
	return out
}

// RemoveAll drops all of an agent's bindings (REGISTER with "Contact: *").
func (l *Location) RemoveAll(agent string) {
	l.mu.Lock()
	had := len(l.bindings[agent]) > 0
	delete(l.bindings, agent)
	l.mu.Unlock()
	l.notify(agent, had, false, acd.Unregistered)
}

// Lookup returns an agent's current bindings, newest first.
func (l *Location) Lookup(agent string) []Binding {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var out []Binding
	for i := len(l.bindings[agent]) - 1; i >= 0; i-- {
		if b := l.bindings[agent][i]; b.Expires.After(now) {
			out = append(out, b)
		}
	}
	return out
}

// Count returns the number of agents with bindings and of bindings.
func (l *Location) Count() (agents, bindings int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, bs := range l.bindings {
		agents++
		bindings += len(bs)
	}
	return agents, bindings
}

// AgentBinding is a binding with its agent.
type AgentBinding struct {
	Agent string
	Binding
}

// All returns every binding of every agent.
func (l *Location) All() []AgentBinding {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []AgentBinding
	for agent, bs := range l.bindings {
		for _, b := range bs {
			all = append(all, AgentBinding{agent, b})
		}
	}
	return all
}

// Sweep drops expired bindings.
func (l *Location) Sweep() {
	now := l.now()
	l.dropWhere(func(b Binding) bool { return !b.Expires.After(now) })
}

// DropFlow drops the bindings registered over the connection from source
// over transport (tcp, tls, ws, wss), which has closed: requests to them
// could only go over that connection. An agent left without a device is
// Lost, as when its registration expires.
func (l *Location) DropFlow(transport, source string) {
	l.dropWhere(func(b Binding) bool { return b.Source == source && strings.EqualFold(b.Transport, transport) })
}

// dropWhere drops the bindings drop picks and reports agents left
// without one as Lost.
func (l *Location) dropWhere(drop func(Binding) bool) {
	var gone []string
	l.mu.Lock()
	for agent, bs := range l.bindings {
		kept := slices.DeleteFunc(slices.Clone(bs), drop)
		if len(kept) != len(bs) {
			l.set(agent, kept)
			if len(kept) == 0 {
				gone = append(gone, agent)
			}
		}
	}
	l.mu.Unlock()
	for _, agent := range gone {
		l.notify(agent, true, false, acd.Lost)
	}
}

// SweepInterval is how often expired bindings are dropped.
const SweepInterval = time.Second

// Run sweeps expired bindings until ctx ends.
func (l *Location) Run(ctx context.Context) {
	t := time.NewTicker(SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Sweep()
		}
	}
}

// set stores list for agent; l.mu must be held.
func (l *Location) set(agent string, list []Binding) {
	if len(list) == 0 {
		delete(l.bindings, agent)
		return
	}
	l.bindings[agent] = list
}

// notify reports a change of an agent's presence; gone says how the last
// binding went. It re-reads the current presence under notifyMu, so
// concurrent changes are reported in order and the last report is always
// the true state.
func (l *Location) notify(agent string, was, is bool, gone acd.Presence) {
	if was == is || l.onChange == nil {
		return
	}
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	l.mu.Lock()
	p := gone
	if len(l.bindings[agent]) > 0 {
		p = acd.Registered
	}
	l.mu.Unlock()
	l.onChange(agent, p)
}
