// Package expiry is the expiry calculator: "when does my card expire, and
// from when can I renew it?". It asks the citizen's date of birth and the
// card's issue date (or reads the expiry date printed on the card), applies
// the validity rules of the CIE and says the expiry date and the first day
// renewal can be requested.
package expiry

import "time"

// Validity is how long a card is valid, decided by the holder's age on the
// day it was issued.
type Validity int

// Validity classes (cartaidentita.interno.gov.it).
const (
	Under3 Validity = 3  // issued before the 3rd birthday: 3 years
	Minor  Validity = 5  // from 3 to 18: 5 years
	Adult  Validity = 10 // from 18: 10 years
)

// Years is the validity term in years.
func (v Validity) Years() int { return int(v) }

// ValidityAt returns the validity class of a card issued on issue to
// someone born on birth.
func ValidityAt(birth, issue time.Time) Validity {
	switch age := Age(birth, issue); {
	case age < 3:
		return Under3
	case age < 18:
		return Minor
	default:
		return Adult
	}
}

// CapFrom is the day Reg. (EU) 2019/1157 started to apply (art. 16): an
// adult card issued from this day on is valid for at most 10 years.
func CapFrom() time.Time { return time.Date(2021, time.August, 2, 0, 0, 0, 0, time.UTC) }

// Capped reports whether a card issued on issue to someone born on birth is
// under the 10-year cap: an adult's card issued from CapFrom on.
func Capped(birth, issue time.Time) bool {
	return ValidityAt(birth, issue) == Adult && !civil(issue).Before(CapFrom())
}

// Expiry returns the expiry date of a card issued on issue to someone born
// on birth. The card expires on the holder's birthday (art. 7 DL 5/2012):
// the first birthday on or after the end of the 3, 5 or 10 year term. An
// adult card issued from CapFrom on expires instead on the last birthday on
// or before the end of the 10 years, since Reg. (EU) 2019/1157 art. 4 caps
// validity at 10 years: it never lasts longer. A birthday on 29 February
// falls on 28 February in other years. Dates are calendar days; the time of
// day is ignored.
func Expiry(birth, issue time.Time) (time.Time, Validity) {
	birth, issue = civil(birth), civil(issue)
	v := ValidityAt(birth, issue)
	term := AddYears(issue, v.Years())
	b := Birthday(birth, term.Year())
	if Capped(birth, issue) {
		if b.After(term) {
			b = Birthday(birth, term.Year()-1)
		}
		return b, v
	}
	if b.Before(term) {
		b = Birthday(birth, term.Year()+1)
	}
	return b, v
}

// RenewFrom is the first day renewal can be requested: days before expiry.
func RenewFrom(expiry time.Time, days int) time.Time {
	return civil(expiry).AddDate(0, 0, -days)
}

// Birthday returns the birthday of someone born on birth in year; a 29
// February birthday is 28 February in years without one.
func Birthday(birth time.Time, year int) time.Time {
	m, d := birth.Month(), birth.Day()
	if m == time.February && d == 29 && !leap(year) {
		d = 28
	}
	return time.Date(year, m, d, 0, 0, 0, 0, time.UTC)
}

// Age is the number of birthdays someone born on birth has had by on.
func Age(birth, on time.Time) int {
	birth, on = civil(birth), civil(on)
	age := on.Year() - birth.Year()
	if on.Before(Birthday(birth, on.Year())) {
		age--
	}
	return age
}

// AddYears moves t by n years keeping the calendar day; 29 February becomes
// 28 February in a year without it (time.AddDate would give 1 March).
func AddYears(t time.Time, n int) time.Time {
	return Birthday(t, t.Year()+n)
}

func leap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// civil is the calendar day of t as midnight UTC.
func civil(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
