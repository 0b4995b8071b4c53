// Package schedule decides whether an entry point is open: opening hours
// per weekday, the public holidays of a German Land (from
// github.com/rickar/cal/v2), and exceptions for single dates (24 December
// from noon). It is pure: Open takes the time to judge.
package schedule

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the zone database, also where the OS has none

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/de"
)

// Lands are the German Länder by their two-letter codes, with their public
// holidays; "DE" has the national ones only.
var Lands = map[string][]*cal.Holiday{
	"DE": de.Holidays,
	"BW": de.HolidaysBW, "BY": de.HolidaysBY, "BE": de.HolidaysBE, "BB": de.HolidaysBB,
	"HB": de.HolidaysHB, "HH": de.HolidaysHH, "HE": de.HolidaysHE, "MV": de.HolidaysMV,
	"NI": de.HolidaysNI, "NW": de.HolidaysNW, "RP": de.HolidaysRP, "SL": de.HolidaysSL,
	"SN": de.HolidaysSN, "ST": de.HolidaysST, "SH": de.HolidaysSH, "TH": de.HolidaysTH,
}

// Weekdays are the keys of a week's hours, Sunday first (time.Weekday).
var Weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Span is an opening time within a day: from From to To, in minutes after
// midnight (To may be 1440, midnight at the end of the day).
type Span struct{ From, To int }

// Hours are an entry point's opening hours.
type Hours struct {
	loc      *time.Location
	week     [7][]Span
	except   map[string][]Span // by date "2006-01-02"; an empty list: closed all day
	holidays []*cal.Holiday
}

// New builds Hours in time zone zone (an IANA name) for Land land (a key of
// Lands; "" = no holidays), with week's hours (weekday name -> spans as
// ParseSpans reads them; a day not listed is closed) and exceptions (date
// "2006-01-02" -> spans, "" = closed all day), which win over weekdays and
// holidays.
func New(zone, land string, week, exceptions map[string]string) (*Hours, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", zone, err)
	}
	h := &Hours{loc: loc, except: make(map[string][]Span)}
	if land != "" {
		hs, ok := Lands[land]
		if !ok {
			return nil, fmt.Errorf("land %q: want one of %s", land, strings.Join(landCodes(), ", "))
		}
		h.holidays = hs
	}
	var errs []error
	for day, spans := range week {
		i := slices.Index(Weekdays, day)
		if i < 0 {
			errs = append(errs, fmt.Errorf("week: %q is not a weekday (want one of %s)", day, strings.Join(Weekdays, ", ")))
			continue
		}
		s, err := ParseSpans(spans)
		if err != nil {
			errs = append(errs, fmt.Errorf("week.%s: %w", day, err))
		}
		h.week[i] = s
	}
	for date, spans := range exceptions {
		if _, err := time.Parse(time.DateOnly, date); err != nil {
			errs = append(errs, fmt.Errorf("exceptions: %q is not a date (want 2006-01-02)", date))
			continue
		}
		s, err := ParseSpans(spans)
		if err != nil {
			errs = append(errs, fmt.Errorf("exceptions.%s: %w", date, err))
		}
		h.except[date] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}

func landCodes() []string { return slices.Sorted(maps.Keys(Lands)) }

// ParseSpans reads "08:00-12:00, 13:00-17:30" ("" = none). Spans must be
// in order and must not overlap; "24:00" ends a span at midnight.
func ParseSpans(s string) ([]Span, error) {
	var out []Span
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("%q: want HH:MM-HH:MM", strings.TrimSpace(part))
		}
		f, err1 := clock(from)
		t, err2 := clock(to)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		if t <= f {
			return nil, fmt.Errorf("%q: ends before it begins", strings.TrimSpace(part))
		}
		if len(out) > 0 && f < out[len(out)-1].To {
			return nil, fmt.Errorf("%q: overlaps or precedes the span before", strings.TrimSpace(part))
		}
		out = append(out, Span{f, t})
	}
	return out, nil
}

func clock(s string) (int, error) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(mm) != 2 || h < 0 || m < 0 || m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a time (want HH:MM, 00:00 to 24:00)", strings.TrimSpace(s))
	}
	return h*60 + m, nil
}

// Open reports whether the entry point is open at t, and if not, why:
// "holiday: <name>", "exception" or "outside opening hours".
func (h *Hours) Open(t time.Time) (bool, string) {
	t = t.In(h.loc)
	minute := t.Hour()*60 + t.Minute()
	if spans, ok := h.except[t.Format(time.DateOnly)]; ok {
		if within(spans, minute) {
			return true, ""
		}
		return false, "exception"
	}
	for _, hol := range h.holidays {
		actual, _ := hol.Calc(t.Year())
		if actual.Month() == t.Month() && actual.Day() == t.Day() {
			return false, "holiday: " + hol.Name
		}
	}
	if within(h.week[t.Weekday()], minute) {
		return true, ""
	}
	return false, "outside opening hours"
}

func within(spans []Span, minute int) bool {
	for _, s := range spans {
		if minute >= s.From && minute < s.To {
			return true
		}
	}
	return false
}
