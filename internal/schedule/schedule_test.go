package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return v
}

func TestOpen(t *testing.T) {
	week := map[string]string{"mon": "08:00-18:00", "tue": "08:00-18:00", "wed": "08:00-18:00", "thu": "08:00-18:00", "fri": "08:00-12:00, 13:00-16:00"}
	except := map[string]string{"2026-12-24": "08:00-12:00", "2026-12-31": ""}
	by, err := New("Europe/Berlin", "BY", week, except)
	require.NoError(t, err)
	be, err := New("Europe/Berlin", "BE", week, except)
	require.NoError(t, err)
	cases := []struct {
		when   string
		by, be bool
		why    string // Bavaria's reason when closed
	}{
		{"2026-11-23 10:00", true, true, ""},                              // a Monday
		{"2026-11-23 07:59", false, false, "outside opening hours"},       // before opening
		{"2026-11-23 18:00", false, false, "outside opening hours"},       // the end is exclusive
		{"2026-11-27 12:30", false, false, "outside opening hours"},       // Friday's lunch break
		{"2026-11-28 10:00", false, false, "outside opening hours"},       // Saturday
		{"2026-01-06 10:00", false, true, "holiday: Heilige Drei Könige"}, // Bavaria only
		{"2027-03-08 10:00", true, false, ""},                             // Frauentag: Berlin only (a Monday)
		{"2026-06-04 10:00", false, true, "holiday: Fronleichnam"},        // Corpus Christi: Bavaria, not Berlin
		{"2026-10-03 10:00", false, false, "holiday: Tag der Deutschen Einheit"},
		{"2026-12-24 11:59", true, true, ""},            // Christmas Eve (Thursday) until noon
		{"2026-12-24 12:00", false, false, "exception"}, // from noon
		{"2026-12-31 10:00", false, false, "exception"}, // closed all day
	}
	for _, c := range cases {
		open, why := by.Open(at(t, c.when))
		assert.Equal(t, c.by, open, "Bavaria %s", c.when)
		assert.Equal(t, c.why, why, "Bavaria %s", c.when)
		open, _ = be.Open(at(t, c.when))
		assert.Equal(t, c.be, open, "Berlin %s", c.when)
	}
	// Times in other zones are judged in the entry point's.
	open, _ := by.Open(at(t, "2026-11-23 10:00").UTC())
	assert.True(t, open)
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		zone, land string
		week, exc  map[string]string
		want       string
	}{
		{"Mars/Olympus", "", nil, nil, `timezone "Mars/Olympus"`},
		{"Europe/Berlin", "XX", nil, nil, `land "XX": want one of BB, BE`},
		{"Europe/Berlin", "", map[string]string{"monday": "08:00-18:00"}, nil, `"monday" is not a weekday`},
		{"Europe/Berlin", "", map[string]string{"mon": "18:00-08:00"}, nil, "week.mon: \"18:00-08:00\": ends before it begins"},
		{"Europe/Berlin", "", map[string]string{"mon": "8-18"}, nil, `"8" is not a time`},
		{"Europe/Berlin", "", map[string]string{"mon": "08:00-12:00, 11:00-13:00"}, nil, "overlaps"},
		{"Europe/Berlin", "", nil, map[string]string{"24.12.2026": ""}, `"24.12.2026" is not a date`},
		{"Europe/Berlin", "", nil, map[string]string{"2026-12-24": "08:00-25:00"}, `"25:00" is not a time`},
	} {
		_, err := New(c.zone, c.land, c.week, c.exc)
		assert.ErrorContains(t, err, c.want)
	}
	s, err := ParseSpans("00:00-24:00")
	require.NoError(t, err)
	assert.Equal(t, []Span{{0, 1440}}, s)
}
