package expiry

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"sportello/bot/locale"
	"sportello/locales"
)

func parser(t testing.TB) *Parser {
	t.Helper()
	cat, err := locale.Load(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	return NewParser(cat)
}

var today = day("2026-11-26")

func TestParse(t *testing.T) {
	p := parser(t)
	tests := []struct {
		in   string
		kind Kind
		lang string
		want string
	}{
		{"12/03/1980", Past, "it", "1980-03-12"},
		{"12-3-80", Past, "it", "1980-03-12"},
		{"12.03.1980", Past, "it", "1980-03-12"},
		{"12 marzo 1980", Past, "it", "1980-03-12"},
		{"12 Marzo 1980", Past, "en", "1980-03-12"},
		{"il 12 di marzo del 1980", Past, "it", "1980-03-12"},
		{"sono nato il 12 mar 1980", Past, "it", "1980-03-12"},
		{"12 febbrao 1980", Past, "it", "1980-02-12"}, // a typo in the month
		{"1° gennaio 2000", Past, "it", "2000-01-01"},
		{"March 12 1980", Past, "en", "1980-03-12"},
		{"March 12, 1980", Past, "en", "1980-03-12"},
		{"12th of March 1980", Past, "en", "1980-03-12"},
		{"Mar 12th 1980", Past, "en", "1980-03-12"},
		{"1980-03-12", Past, "en", "1980-03-12"},
		{"12031980", Past, "it", "1980-03-12"},
		{"120380", Past, "it", "1980-03-12"},
		{"19800312", Past, "it", "1980-03-12"},
		{"03/25/1990", Past, "en", "1990-03-25"}, // only the American order makes sense
		{"03/04/1990", Past, "en", "1990-04-03"}, // day first, as in Britain and Italy
		{"5/5/19", Past, "it", "2019-05-05"},
		{"5/5/26", Past, "it", "2026-05-05"},
		{"5/5/27", Past, "it", "1927-05-05"},   // a past date cannot be next year
		{"5/5/31", Future, "it", "2031-05-05"}, // an expiry date can
		{"29/02/2024", Past, "it", "2024-02-29"},
		{"scade il 12 marzo 2031", Future, "it", "2031-03-12"},
		{"il 12/03/1980, ho 46 anni", Past, "it", "1980-03-12"}, // the other number is not a date
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := p.Parse(tc.in, tc.kind, today, tc.lang)
			if err != nil || got.Format(time.DateOnly) != tc.want {
				t.Errorf("Got(Parse(%q)) = %s, %v, want %s", tc.in, got.Format(time.DateOnly), err, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	p := parser(t)
	tests := []struct {
		in   string
		want string
		max  int
	}{
		{"quanto costa la carta?", "none", 0},
		{"", "none", 0},
		{"ho 45 anni", "incomplete", 0},
		{"marzo 1980", "incomplete", 0},
		{"12/03", "incomplete", 0},
		{"31/02/1980", "day", 29},
		{"29/02/2023", "day", 28},
		{"31 aprile 1990", "day", 30},
		{"12/13/1980", "month", 0},
		{"0/3/1980", "day", 31},
		{"12/3/198", "year", 0},
		{"12/3/1780", "year", 0},
		{"12/3/80 e 5/5/19", "several", 0},
		{"12 marzo aprile 1980", "several", 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := p.Parse(tc.in, Past, today, "it")
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Code != tc.want || pe.Max != tc.max {
				t.Errorf("Got(Parse(%q)) = %v, want error %s (max %d)", tc.in, err, tc.want, tc.max)
			}
		})
	}
}

func TestAll(t *testing.T) {
	p := parser(t)
	got := p.All("sono nato il 12/3/1980 e ho fatto la carta il 5 maggio 2019", Past, today, "it")
	if len(got) != 2 || got[0].Format(time.DateOnly) != "1980-03-12" || got[1].Format(time.DateOnly) != "2019-05-05" {
		t.Errorf("Got(All) = %v, want 1980-03-12 and 2019-05-05", got)
	}
}

// FuzzParse: whatever is typed, Parse never panics, and a date it returns
// is a real calendar day that reads back the same.
func FuzzParse(f *testing.F) {
	p := parser(f)
	for _, s := range []string{"12/03/1980", "12 marzo 1980", "March 12, 1980", "1980-03-12", "12031980",
		"31/02/1980", "29 febbraio 2024", "99/99/99", "12th of March", "🙂 12 🙂 3 🙂 80", "1° maggio"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, future bool) {
		kind := Past
		if future {
			kind = Future
		}
		d, err := p.Parse(s, kind, today, "it")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %v is not a *ParseError", s, err)
			}
			return
		}
		if d.Year() < 1900 || d.Year() > 2199 || d.Hour() != 0 {
			t.Fatalf("Parse(%q) = %s, out of range", s, d)
		}
		again, err := p.Parse(fmt.Sprintf("%02d/%02d/%04d", d.Day(), d.Month(), d.Year()), kind, today, "it")
		if err != nil || !again.Equal(d) {
			t.Fatalf("Parse(%q) = %s, but its own text reads %s, %v", s, d, again, err)
		}
	})
}
