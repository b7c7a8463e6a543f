package expiry

import (
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestExpiry applies the rules of cie.md: validity by age at issue (under 3:
// 3 years, 3 to 18: 5 years, adults: 10 years). The card expires on a
// birthday (DL 5/2012 art. 7): minors on the first birthday on or after the
// term; adults likewise if the card was issued before 2 August 2021, and on
// the last birthday on or before the 10 years if it was issued from that
// day, when Reg. (EU) 2019/1157 started to cap validity at 10 years.
func TestExpiry(t *testing.T) {
	tests := []struct {
		name         string
		birth, issue string
		want         string
		validity     Validity
	}{
		{"adult, birthday earlier in the year", "1980-03-12", "2026-11-26", "2036-03-12", Adult},
		{"adult, birthday later in the year: 9 years and some", "1980-12-20", "2026-11-26", "2035-12-20", Adult},
		{"adult issued on the birthday: exactly 10 years", "1980-11-26", "2026-11-26", "2036-11-26", Adult},
		{"adult issued the day after the birthday", "1980-11-25", "2026-11-26", "2036-11-25", Adult},
		{"adult issued the day before the birthday", "1980-11-27", "2026-11-26", "2035-11-27", Adult},
		{"18th birthday on the issue day: adult", "2008-11-26", "2026-11-26", "2036-11-26", Adult},
		{"day before 18: minor, 5 years", "2008-11-27", "2026-11-26", "2031-11-27", Minor},
		{"minor of 8", "2018-05-10", "2026-11-26", "2032-05-10", Minor},
		{"minor, birthday later in the year", "2018-12-10", "2026-11-26", "2031-12-10", Minor},
		{"minor issued on the birthday: exactly 5 years", "2016-11-26", "2026-11-26", "2031-11-26", Minor},
		{"3rd birthday on the issue day: 5 years", "2023-11-26", "2026-11-26", "2031-11-26", Minor},
		{"day before 3: 3 years", "2023-11-27", "2026-11-26", "2029-11-27", Under3},
		{"baby of one", "2025-06-01", "2026-11-26", "2030-06-01", Under3},
		{"newborn", "2026-11-20", "2026-11-26", "2030-11-20", Under3},
		// Leap-day birthdays fall on 28 February in other years.
		{"adult born 29 Feb, term ends in a leap year", "2000-02-29", "2026-11-26", "2036-02-29", Adult},
		{"adult born 29 Feb, term ends in a common year", "2000-02-29", "2025-11-26", "2035-02-28", Adult},
		{"adult born 29 Feb issued 28 Feb of a common year", "1992-02-29", "2027-02-28", "2037-02-28", Adult},
		{"minor born 29 Feb", "2016-02-29", "2026-01-10", "2031-02-28", Minor},
		{"minor born 29 Feb, term ends in a leap year", "2019-02-28", "2027-03-01", "2033-02-28", Minor},
		{"baby born 29 Feb: first birthday after the term", "2024-02-29", "2026-03-01", "2030-02-28", Under3},
		{"18 on 28 Feb for a 29 Feb birthday; 29 Feb 2036 is after the term", "2008-02-29", "2026-02-28", "2035-02-28", Adult},
		{"issued on 29 Feb", "1990-05-05", "2024-02-29", "2033-05-05", Adult},
		// Adult cards issued before 2 August 2021: the first birthday on or
		// after the 10 years.
		{"adult issued the day before the cap applies", "1980-11-27", "2021-08-01", "2031-11-27", Adult},
		{"adult issued the day the cap applies", "1980-11-27", "2021-08-02", "2030-11-27", Adult},
		{"adult issued the day before the cap, birthday on the term", "1980-08-01", "2021-08-01", "2031-08-01", Adult},
		{"adult issued the day the cap applies, birthday the day before", "1980-08-01", "2021-08-02", "2031-08-01", Adult},
		{"adult before the cap, birthday earlier in the year", "1980-03-12", "2019-05-05", "2030-03-12", Adult},
		{"adult before the cap, issued on the birthday: exactly 10 years", "1971-06-15", "2016-06-15", "2026-06-15", Adult},
		{"adult before the cap, issued the day after the birthday", "1971-06-14", "2016-06-15", "2027-06-14", Adult},
		{"adult before the cap, issued the day before the birthday", "1971-06-16", "2016-06-15", "2026-06-16", Adult},
		{"adult born 29 Feb before the cap, term in a common year", "1988-02-29", "2019-03-01", "2030-02-28", Adult},
		{"adult born 29 Feb before the cap, expiry in a leap year", "1988-02-29", "2017-12-01", "2028-02-29", Adult},
		{"adult born 29 Feb before the cap, issued on 28 Feb of a common year", "2000-02-29", "2021-02-28", "2031-02-28", Adult},
		{"adult before the cap, issued on 29 Feb", "1990-03-01", "2020-02-29", "2030-03-01", Adult},
		{"18th birthday the day before the cap", "2003-08-01", "2021-08-01", "2031-08-01", Adult},
		{"minor before the cap: same rule as now", "2010-05-10", "2019-01-10", "2024-05-10", Minor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, v := Expiry(day(tc.birth), day(tc.issue))
			if !got.Equal(day(tc.want)) || v != tc.validity {
				t.Errorf("Got(Expiry(%s, %s)) = %s, %d years, want %s, %d years",
					tc.birth, tc.issue, got.Format(time.DateOnly), v.Years(), tc.want, tc.validity.Years())
			}
			// Whatever the case, never on another day than the birthday,
			// and never more than 10 years under the cap.
			if Capped(day(tc.birth), day(tc.issue)) && got.After(AddYears(day(tc.issue), 10)) {
				t.Errorf("Got(Expiry(%s, %s)) = %s, more than 10 years", tc.birth, tc.issue, got.Format(time.DateOnly))
			}
			if b := Birthday(day(tc.birth), got.Year()); !b.Equal(got) {
				t.Errorf("Got(Expiry(%s, %s)) = %s, not a birthday (%s)", tc.birth, tc.issue, got.Format(time.DateOnly), b.Format(time.DateOnly))
			}
		})
	}
}

func TestCapped(t *testing.T) {
	tests := []struct {
		birth, issue string
		want         bool
	}{
		{"1980-03-12", "2021-08-01", false},
		{"1980-03-12", "2021-08-02", true},
		{"2010-03-12", "2026-11-26", false}, // a minor: no cap
		{"2003-08-02", "2021-08-02", true},  // 18 on the day the cap applies
	}
	for _, tc := range tests {
		if got := Capped(day(tc.birth), day(tc.issue)); got != tc.want {
			t.Errorf("Got(Capped(%s, %s)) = %v, want %v", tc.birth, tc.issue, got, tc.want)
		}
	}
}

func TestRenewFrom(t *testing.T) {
	tests := []struct{ expiry, want string }{
		{"2036-03-12", "2035-09-14"},
		{"2027-01-01", "2026-07-05"},
		{"2028-08-28", "2028-03-01"}, // across 29 February
	}
	for _, tc := range tests {
		if got := RenewFrom(day(tc.expiry), 180); !got.Equal(day(tc.want)) {
			t.Errorf("Got(RenewFrom(%s, 180)) = %s, want %s", tc.expiry, got.Format(time.DateOnly), tc.want)
		}
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		birth, on string
		want      int
	}{
		{"1980-03-12", "2026-03-11", 45},
		{"1980-03-12", "2026-03-12", 46},
		{"2000-02-29", "2026-02-27", 25},
		{"2000-02-29", "2026-02-28", 26}, // the birthday is 28 February in 2026
		{"2000-02-29", "2028-02-28", 27},
		{"2000-02-29", "2028-02-29", 28},
	}
	for _, tc := range tests {
		if got := Age(day(tc.birth), day(tc.on)); got != tc.want {
			t.Errorf("Got(Age(%s, %s)) = %d, want %d", tc.birth, tc.on, got, tc.want)
		}
	}
}

// FuzzExpiry checks the rule's invariants on any pair of dates.
func FuzzExpiry(f *testing.F) {
	f.Add(int64(0), int64(365*40))
	f.Add(int64(11016), int64(20688)) // 2000-02-29, 2026-08-23
	f.Add(int64(-3000), int64(9000))
	f.Add(int64(3865), int64(14975)) // 1980-08-01, 2021-08-01: the day before the cap applies
	f.Add(int64(3865), int64(14976)) // 1980-08-01, 2021-08-02: the day it applies
	f.Fuzz(func(t *testing.T, b, i int64) {
		birth := time.Unix(0, 0).UTC().AddDate(0, 0, int(b%80000))
		issue := birth.AddDate(0, 0, int(abs(i)%(120*366)))
		exp, v := Expiry(birth, issue)
		term := AddYears(issue, v.Years())
		if exp.After(term.AddDate(1, 0, 0)) || exp.Before(term.AddDate(-1, 0, 0)) {
			t.Fatalf("Expiry(%s, %s) = %s, more than a year from the term %s", birth, issue, exp, term)
		}
		capped := Capped(birth, issue)
		if capped != (v == Adult && !issue.Before(CapFrom())) {
			t.Fatalf("Capped(%s, %s) = %v for %d years", birth, issue, capped, v.Years())
		}
		if capped && exp.After(term) {
			t.Fatalf("adult Expiry(%s, %s) = %s after the 10 year term %s", birth, issue, exp, term)
		}
		if !capped && exp.Before(term) {
			t.Fatalf("Expiry(%s, %s) = %s before the term %s", birth, issue, exp, term)
		}
		if !Birthday(birth, exp.Year()).Equal(exp) {
			t.Fatalf("Expiry(%s, %s) = %s is not a birthday", birth, issue, exp)
		}
	})
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
