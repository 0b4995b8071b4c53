package sip

import "sync"

// byCallID maps SIP Call-IDs to what the server keeps for them (calls,
// feature-code dialogs, node legs), for the handlers of in-dialog requests
// to find. It is safe for concurrent use; the zero value is empty.
type byCallID[T any] struct {
	mu sync.Mutex
	m  map[string]T
}

func (b *byCallID[T]) put(id string, v T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[string]T)
	}
	b.m[id] = v
}

func (b *byCallID[T]) drop(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, id)
}

// get returns the entry of id, or T's zero value.
func (b *byCallID[T]) get(id string) T {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[id]
}

// each calls f for every entry, under the lock: f must not call back.
func (b *byCallID[T]) each(f func(T)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, v := range b.m {
		f(v)
	}
}
