package comune

import (
	"strings"
	"time"
)

// Day is what an office does on one calendar day.
type Day struct {
	// Periods are the opening hours; empty when closed.
	Periods []Period
	// Closure is set when a closure in the file closes the office.
	Closure *Closure
	// Holiday names a public holiday that closes the office ("" if none):
	// one of the keys of Holidays, or "patron".
	Holiday string
	// Extraordinary is true on an extraordinary opening.
	Extraordinary bool
}

// Open reports whether the office opens that day.
func (d Day) Open() bool { return len(d.Periods) > 0 }

// Day returns the office's hours on the calendar day of t (read in the
// Comune's time zone). Closures win over everything; an extraordinary opening
// wins over weekday hours and holidays.
func (c *Comune) Day(o *Office, t time.Time) Day {
	day := civil(t.In(c.loc))
	for _, cs := range [][]Closure{o.Closures, c.Closures} {
		for i := range cs {
			if cs[i].Contains(day) {
				return Day{Closure: &cs[i]}
			}
		}
	}
	for _, op := range o.Openings {
		if op.Date.Equal(day) {
			return Day{Periods: op.Hours, Extraordinary: true}
		}
	}
	if h := c.Holiday(day); h != "" {
		return Day{Holiday: h}
	}
	return Day{Periods: o.Hours[strings.ToLower(day.Weekday().String())]}
}

// Slots returns the start times of the office's appointment slots on the
// calendar day of t, in the Comune's time zone. A slot must end by the end of
// its opening period. Times are wall-clock times in the Comune's zone: daylight
// saving never shifts them, and a time the clocks skip has no slot.
func (c *Comune) Slots(o *Office, t time.Time) []time.Time {
	d := c.Day(o, t)
	if !d.Open() {
		return nil
	}
	day := t.In(c.loc)
	var out []time.Time
	for _, p := range d.Periods {
		for m := p.Start; m+o.SlotMinutes <= p.End; m += o.SlotMinutes {
			s := time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, c.loc)
			if s.Hour() != m/60 || s.Minute() != m%60 {
				continue // a wall-clock time the spring-forward change skips
			}
			out = append(out, s)
		}
	}
	return out
}

// Holiday returns which public holiday day is ("" for none), when the Comune
// closes on them: the Italian national holidays and the patron saint's day.
func (c *Comune) Holiday(day time.Time) string {
	if c.NationalHolidays == nil || !*c.NationalHolidays {
		return ""
	}
	m, d := day.Month(), day.Day()
	if c.PatronDay.Month != 0 && m == c.PatronDay.Month && d == c.PatronDay.Day {
		return "patron"
	}
	for _, h := range fixedHolidays() {
		if h.Month == m && h.Day == d {
			return h.key
		}
	}
	easter := Easter(day.Year())
	switch {
	case civil(day).Equal(easter):
		return "easter"
	case civil(day).Equal(easter.AddDate(0, 0, 1)):
		return "easter_monday"
	}
	return ""
}

// Holidays lists the keys Holiday may return, for the texts naming them.
func Holidays() []string {
	keys := []string{"easter", "easter_monday", "patron"}
	for _, h := range fixedHolidays() {
		keys = append(keys, h.key)
	}
	return keys
}

type holiday struct {
	key string
	MonthDay
}

// fixedHolidays are the Italian national holidays on fixed dates.
func fixedHolidays() []holiday {
	return []holiday{
		{"new_year", MonthDay{time.January, 1}},
		{"epiphany", MonthDay{time.January, 6}},
		{"liberation", MonthDay{time.April, 25}},
		{"labour", MonthDay{time.May, 1}},
		{"republic", MonthDay{time.June, 2}},
		{"assumption", MonthDay{time.August, 15}},
		{"all_saints", MonthDay{time.November, 1}},
		{"immaculate", MonthDay{time.December, 8}},
		{"christmas", MonthDay{time.December, 25}},
		{"saint_stephen", MonthDay{time.December, 26}},
	}
}

// Easter returns Easter Sunday of year (Gregorian calendar, anonymous
// algorithm), as a UTC calendar day.
func Easter(year int) time.Time {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}

// civil returns the calendar day of t as midnight UTC, to compare days
// without time zones getting in the way.
func civil(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
