package sip

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/callwerk/callwerk/media"
)

// Emergency is a number's emergency announcement: while on, every new
// caller hears Prompt first, then is hung up (Hangup) or goes on as usual.
type Emergency struct {
	Prompt *media.Source
	Hangup bool
	on     atomic.Bool
}

// NewEmergency returns a switch for prompt, on or off.
func NewEmergency(prompt *media.Source, hangup, on bool) *Emergency {
	e := &Emergency{Prompt: prompt, Hangup: hangup}
	e.on.Store(on)
	return e
}

// On reports whether the announcement is switched on.
func (e *Emergency) On() bool { return e.on.Load() }

// ErrNoEmergency is returned for a number without an emergency announcement.
var ErrNoEmergency = errors.New("no emergency announcement configured")

// ErrUnknownNumber is returned for a number that is not configured.
var ErrUnknownNumber = errors.New("unknown number")

// SetEmergency switches number's emergency announcement on or off; calls
// that arrive from then on are affected, calls in progress are not.
func (s *Server) SetEmergency(number string, on bool) error {
	n, ok := s.cfg.Numbers[number]
	switch {
	case !ok:
		return fmt.Errorf("number %q: %w", number, ErrUnknownNumber)
	case n.Emergency == nil:
		return fmt.Errorf("number %q: %w", number, ErrNoEmergency)
	}
	if n.Emergency.on.Swap(on) != on {
		s.log.Warn().Str("number", number).Bool("on", on).Msg("emergency announcement switched")
	}
	return nil
}

// NumberInfo is what the API shows of a dialled number.
type NumberInfo struct {
	Number      string `json:"number"`
	Queue       string `json:"queue,omitempty"`
	Menu        string `json:"menu,omitempty"`
	Emergency   bool   `json:"emergency"`    // has an emergency announcement
	EmergencyOn bool   `json:"emergency_on"` // and it is switched on
}

// Numbers lists the configured numbers, sorted.
func (s *Server) Numbers() []NumberInfo {
	out := make([]NumberInfo, 0, len(s.cfg.Numbers))
	for num, n := range s.cfg.Numbers {
		ni := NumberInfo{Number: num, Queue: n.Queue, Emergency: n.Emergency != nil}
		if n.Menu != nil {
			ni.Menu = n.Menu.Name
		}
		if n.Emergency != nil {
			ni.EmergencyOn = n.Emergency.On()
		}
		out = append(out, ni)
	}
	slices.SortFunc(out, func(a, b NumberInfo) int { return strings.Compare(a.Number, b.Number) })
	return out
}
