package sip

import (
	"time"

	"github.com/callwerk/callwerk/acd"
	"github.com/callwerk/callwerk/media"
)

// QueueMedia is what a queue's waiting members hear besides the music.
type QueueMedia struct {
	Greeting *media.Source // once, when the call joins; nil: none
	First    time.Duration // first announcement after joining; 0: none
	Every    time.Duration // then this often; 0: only once
	Position bool          // announcements say the position
	Wait     bool          // and the estimated wait
	// Callback, if set, is offered after each announcement (at the
	// announcements' times even if nothing else is said).
	Callback *Callback
}

// Announcements are the clips announcements are made of.
type Announcements struct {
	Position  *media.Source   // "Sie sind jetzt an Position"
	Numbers   []*media.Source // "eins" ... "zwanzig": Numbers[n-1] says n
	Wait      *media.Source   // "Ihre voraussichtliche Wartezeit beträgt etwa"
	WaitShort *media.Source   // "... weniger als eine Minute."
	WaitLong  *media.Source   // "... mehr als zwanzig Minuten."
	Minute    *media.Source   // "eine Minute."
	Minutes   *media.Source   // "Minuten."
}

// compose builds what a member at w hears, nil if nothing is to be said:
// the position up to the numbers there are clips for, the wait rounded up
// to whole minutes, under a minute and over the numbers said as such.
func (a Announcements) compose(w acd.WaitInfo, q QueueMedia) *media.Source {
	var parts []*media.Source
	if q.Position && w.Position >= 1 && w.Position <= len(a.Numbers) {
		parts = append(parts, a.Position, a.Numbers[w.Position-1])
	}
	if q.Wait && w.HasWait {
		switch m := int((w.Wait + time.Minute - 1) / time.Minute); {
		case m < 1:
			parts = append(parts, a.WaitShort)
		case m == 1:
			parts = append(parts, a.Wait, a.Minute)
		case m <= len(a.Numbers):
			parts = append(parts, a.Wait, a.Numbers[m-1], a.Minutes)
		default:
			parts = append(parts, a.WaitLong)
		}
	}
	return media.Concat("announcement", parts...)
}

// announcer times a waiting call's announcements: the first after q.First,
// then every q.Every, each said only if the position improved since the
// last one said.
type announcer struct {
	q       QueueMedia
	timer   *time.Timer
	lastPos int
}

func newAnnouncer(q QueueMedia) *announcer {
	a := &announcer{q: q}
	if q.First > 0 && (q.Position || q.Wait || q.Callback != nil) {
		a.timer = time.NewTimer(q.First)
	}
	return a
}

// C fires when an announcement is due; nil (never) without announcements.
func (a *announcer) C() <-chan time.Time {
	if a.timer == nil {
		return nil
	}
	return a.timer.C
}

// due returns what to say now that C fired, or nil, and sets the next time.
func (a *announcer) due(w acd.WaitInfo, ok bool, clips Announcements) *media.Source {
	if a.q.Every > 0 {
		a.timer.Reset(a.q.Every)
	}
	if !ok {
		return nil // not waiting any more
	}
	var say *media.Source
	if a.lastPos == 0 || w.Position < a.lastPos { // else no better place than last time
		a.lastPos = w.Position
		say = clips.compose(w, a.q)
	}
	if a.q.Callback != nil {
		say = media.Concat("announcement", say, a.q.Callback.Offer)
	}
	return say
}

// retry makes C fire again after d, for an announcement that had to wait.
func (a *announcer) retry(d time.Duration) { a.timer.Reset(d) }

func (a *announcer) stop() {
	if a.timer != nil {
		a.timer.Stop()
	}
}
