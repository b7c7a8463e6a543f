package booking

import (
	"testing"
	"time"

	core "sportello/bot/booking"
	"sportello/bot/locale"
	"sportello/locales"
)

func testWords(t testing.TB) *words {
	t.Helper()
	cat, err := locale.Load(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	return loadWords(cat)
}

func TestDay(t *testing.T) {
	w := testWords(t)
	loc, _ := time.LoadLocation("Europe/Rome")
	// Thursday 26 November 2026.
	today := time.Date(2026, 11, 26, 10, 0, 0, 0, loc)
	tests := []struct {
		in   string
		want string // "" = not a day
	}{
		{"15/12", "2026-12-15"},
		{"15-12", "2026-12-15"},
		{"15.12", "2026-12-15"},
		{"il 15/12", "2026-12-15"},
		{"15/12/2026", "2026-12-15"},
		{"15/12/26", "2026-12-15"},
		{"2026-12-15", "2026-12-15"},
		{"1/2", "2027-02-01"},   // before today: next year
		{"26/11", "2026-11-26"}, // today
		{"25/11", "2027-11-25"}, // yesterday: next year
		{"31/02", ""},           // no such day
		{"29/02", "2028-02-29"}, // next 29 February
		{"15 dicembre", "2026-12-15"},
		{"15 dic", "2026-12-15"},
		{"martedì 15 dicembre", "2026-12-15"},
		{"December 15th", "2026-12-15"},
		{"dec 15", "2026-12-15"},
		{"on the 1st of December", "2026-12-01"},
		{"1 dicembre 2026", "2026-12-01"},
		{"3 mar", "2027-03-03"}, // "mar" with a day is March
		{"mar", "2026-12-01"},   // alone, Tuesday
		{"lunedì", "2026-11-30"},
		{"lunedi prossimo", "2026-11-30"},
		{"Monday", "2026-11-30"},
		{"next monday", "2026-11-30"},
		{"giovedì", "2026-12-03"}, // said on a Thursday: the next one
		{"sabato", "2026-11-28"},
		{"sat", "2026-11-28"},
		{"oggi", "2026-11-26"},
		{"today", "2026-11-26"},
		{"domani", "2026-11-27"},
		{"Tomorrow", "2026-11-27"},
		{"domani mattina", "2026-11-27"},
		{"tomorrow please", "2026-11-27"},
		{"dopodomani", "2026-11-28"},
		{"the day after tomorrow", "2026-11-28"},
		{"il 3", "2026-12-03"},
		{"il 30", "2026-11-30"},
		{"the 26th", "2026-11-26"},
		{"quanto costa la carta?", ""},
		{"quanto costa il 2?", ""},
		{"dicembre", ""},
		{"", ""},
		{"15 16", ""},
		{"32/12", ""},
		{"12/13", ""},
		{"ciao", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := w.day(tc.in, today)
			switch {
			case tc.want == "" && ok:
				t.Errorf("Got(day(%q)) = %s, want no day", tc.in, got.Format(time.DateOnly))
			case tc.want != "" && !ok:
				t.Errorf("Got(day(%q)) = no day, want %s", tc.in, tc.want)
			case ok && got.Format(time.DateOnly) != tc.want:
				t.Errorf("Got(day(%q)) = %s, want %s", tc.in, got.Format(time.DateOnly), tc.want)
			case ok && (got.Location() != loc || got.Hour() != 0):
				t.Errorf("Got(day(%q)) = %s, want midnight in Europe/Rome", tc.in, got)
			}
		})
	}
}

func TestClock(t *testing.T) {
	w := testWords(t)
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"9:30", 9*60 + 30, true},
		{"09.30", 9*60 + 30, true},
		{"alle 10", 10 * 60, true},
		{"10h15", 10*60 + 15, true},
		{"at 14:00 please", 14 * 60, true},
		{"25:00", 0, false},
		{"9:75", 0, false},
		{"mattina", 0, false},
		{"15 dicembre", 0, false},
		{"15/12", 0, false},
		{"10", 10 * 60, true},
		{"ore 9", 9 * 60, true},
	}
	for _, tc := range tests {
		got, ok := w.clock(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Got(clock(%q)) = %d, %v, want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReasonIn(t *testing.T) {
	w := testWords(t)
	tests := map[string]core.Reason{
		"mi hanno rubato il portafoglio": core.ReasonTheft,
		"I lost my card":                 core.ReasonLoss,
		"la carta è scaduta":             core.ReasonRenewal,
		"rinnovo per mio figlio":         core.ReasonMinor,
		"my card is broken":              core.ReasonDamaged,
		"è la prima carta":               core.ReasonFirstIssue,
		"renewal":                        core.ReasonRenewal,
		"ho ancora la carta cartacea":    core.ReasonRenewal,
		"boh":                            "",
	}
	for in, want := range tests {
		if got := w.reasonIn(in); got != want {
			t.Errorf("Got(reasonIn(%q)) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDay checks the day reader never panics and only returns real days in
// the Comune's zone at midnight.
func FuzzDay(f *testing.F) {
	w := testWords(f)
	loc, _ := time.LoadLocation("Europe/Rome")
	today := time.Date(2026, 11, 26, 10, 0, 0, 0, loc)
	for _, s := range []string{"15/12", "2026-02-30", "lunedì 15 dicembre", "day after tomorrow", "99/99/9999", "il 31", "mar 3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := w.day(s, today)
		if !ok {
			return
		}
		if d.Location() != loc || d.Hour() != 0 || d.Minute() != 0 {
			t.Fatalf("Got(day(%q)) = %s, not midnight in the Comune's zone", s, d)
		}
		if m, ok := w.clock(s); ok && (m < 0 || m >= 24*60) {
			t.Fatalf("Got(clock(%q)) = %d, not a time of day", s, m)
		}
	})
}
