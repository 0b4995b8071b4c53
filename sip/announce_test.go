package sip

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/media"
)

func TestComposeAnnouncement(t *testing.T) {
	clip := func(name string, frames int) *media.Source {
		return media.NewToneSource(name, []float64{440}, 0, time.Duration(frames)*20*time.Millisecond)
	}
	a := Announcements{Position: clip("pos", 3), Wait: clip("wait", 5), WaitShort: clip("short", 7), WaitLong: clip("long", 11),
		Minute: clip("minute", 13), Minutes: clip("minutes", 17)}
	for n := 1; n <= 20; n++ {
		a.Numbers = append(a.Numbers, clip("n", 100+n))
	}
	both := QueueMedia{Position: true, Wait: true}
	frames := func(s *media.Source) int {
		if s == nil {
			return 0
		}
		return s.Frames()
	}
	cases := []struct {
		name string
		w    acd.WaitInfo
		q    QueueMedia
		want int // frames: which clips were joined
	}{
		{"position 3, 4 min", acd.WaitInfo{Position: 3, Wait: 200 * time.Second, HasWait: true}, both, 3 + 103 + 5 + 104 + 17},
		{"1 min", acd.WaitInfo{Position: 1, Wait: time.Minute, HasWait: true}, both, 3 + 101 + 5 + 13},
		{"under a minute", acd.WaitInfo{Position: 2, Wait: 0, HasWait: true}, both, 3 + 102 + 7},
		{"over 20 min", acd.WaitInfo{Position: 2, Wait: 21 * time.Minute, HasWait: true}, both, 3 + 102 + 11},
		{"no estimate", acd.WaitInfo{Position: 2}, both, 3 + 102},
		{"position over 20 not said", acd.WaitInfo{Position: 21, Wait: 10 * time.Minute, HasWait: true}, both, 5 + 110 + 17},
		{"wait only", acd.WaitInfo{Position: 2, Wait: 90 * time.Second, HasWait: true}, QueueMedia{Wait: true}, 5 + 102 + 17},
		{"nothing to say", acd.WaitInfo{Position: 25}, QueueMedia{Position: true}, 0},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, frames(a.compose(c.w, c.q)), c.name)
	}
}

// An announcement is said only when the position improved.
func TestAnnouncerSaysOnlyBetterPositions(t *testing.T) {
	a := Announcements{Position: media.NewToneSource("p", []float64{440}, 0, 20*time.Millisecond)}
	for range 5 {
		a.Numbers = append(a.Numbers, a.Position)
	}
	an := newAnnouncer(QueueMedia{First: time.Hour, Every: time.Hour, Position: true})
	defer an.stop()
	var said []bool
	for _, pos := range []int{3, 3, 2, 4, 1} {
		said = append(said, an.due(acd.WaitInfo{Position: pos}, true, a) != nil)
	}
	assert.Equal(t, []bool{true, false, true, false, true}, said)
	assert.Nil(t, an.due(acd.WaitInfo{}, false, a), "not waiting: nothing")
	assert.Nil(t, newAnnouncer(QueueMedia{First: 0, Position: true}).C(), "first 0s: no announcements")
}
