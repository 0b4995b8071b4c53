package sip

import (
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"

	"github.com/callwerk/callwerk/acd"
)

func TestLocationReportsHowDevicesWent(t *testing.T) {
	var mu sync.Mutex
	var got []acd.Presence
	l := NewLocation(func(agent string, p acd.Presence) {
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, "1001", agent)
		got = append(got, p)
	})
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	phone := Binding{Contact: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 5070}, Source: "127.0.0.1:5070", Transport: "UDP"}
	desk := phone
	desk.Contact.Port = 5080

	l.Update("1001", phone, time.Minute)
	l.Update("1001", desk, 2*time.Minute)
	l.Update("1001", phone, 0) // one of two devices unregisters: still registered
	assert.Len(t, l.Lookup("1001"), 1)
	l.Update("1001", desk, 0) // the last one unregisters: logged out
	l.Update("1001", phone, time.Minute)
	now = now.Add(61 * time.Second)
	assert.Empty(t, l.Lookup("1001"), "expired bindings are not looked up")
	l.Sweep() // the last binding expired: unreachable
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []acd.Presence{acd.Registered, acd.Unregistered, acd.Registered, acd.Lost}, got)
}
