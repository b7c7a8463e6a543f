package booking_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sportello/bot"
	"sportello/bot/booking"
)

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		c := booking.NewCode()
		if len(c) != booking.CodeLen || strings.ContainsAny(c, "01OI") {
			t.Fatalf("NewCode() = %q", c)
		}
		if got, err := booking.ParseCode(c); err != nil || got != c {
			t.Fatalf("ParseCode(%q) = %q, %v", c, got, err)
		}
		seen[c] = true
	}
	if len(seen) < 1990 {
		t.Errorf("2000 codes have only %d distinct values", len(seen))
	}
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{in: "ABC234", want: "ABC234"},
		{in: "abc-234", want: "ABC234"},
		{in: " Abc 234\t", want: "ABC234"},
		{in: "ABC23", err: booking.ErrBadCode},
		{in: "ABC2345", err: booking.ErrBadCode},
		{in: "ABC0I1", err: booking.ErrBadCode},
		{in: "ABCÈ34", err: booking.ErrBadCode},
		{in: "", err: booking.ErrBadCode},
		{in: strings.Repeat(" ", 40) + "ABC234", err: booking.ErrBadCode},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := booking.ParseCode(tc.in)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("ParseCode(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"ABC234", "abc-234", "", "0OI1", "ZZZZZZ ", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := booking.ParseCode(s)
		if err != nil {
			return
		}
		if len(c) != booking.CodeLen {
			t.Fatalf("ParseCode(%q) = %q: wrong length", s, c)
		}
		for i := 0; i < len(c); i++ {
			if !strings.ContainsRune(booking.CodeAlphabet, rune(c[i])) {
				t.Fatalf("ParseCode(%q) = %q: outside the alphabet", s, c)
			}
		}
		if again, err := booking.ParseCode(c); err != nil || again != c {
			t.Fatalf("ParseCode is not idempotent on %q: %q, %v", c, again, err)
		}
	})
}

func TestSlotID(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	s := booking.Slot{Office: "centrale", Start: time.Date(2026, 12, 12, 8, 30, 0, 0, rome)}
	id := s.ID()
	if !bot.ValidButtonID("book:slot:"+id) || len(id) > 33 {
		t.Errorf("ID() = %q is not a valid button id part", id)
	}
	got, err := booking.ParseSlotID(id)
	if err != nil || got.Office != s.Office || !got.Start.Equal(s.Start) {
		t.Errorf("ParseSlotID(%q) = %v, %v; want %v", id, got, err, s)
	}
	long := booking.Slot{Office: strings.Repeat("a", 24), Start: time.Date(2199, 12, 31, 23, 59, 0, 0, time.UTC)}
	if id := long.ID(); len(id) > 33 {
		t.Errorf("longest ID %q is %d bytes, want at most 33", id, len(id))
	}
	for _, bad := range []string{"", ".", "centrale", "centrale.", ".abc", "Centrale.abc", "centrale.0abc", "centrale.ABC",
		"centrale.zzzzzzzzz", "-x.abc", "centrale.a.b", strings.Repeat("a", 25) + ".abc", "cen trale.abc"} {
		if _, err := booking.ParseSlotID(bad); !errors.Is(err, booking.ErrBadSlotID) {
			t.Errorf("ParseSlotID(%q) = %v, want ErrBadSlotID", bad, err)
		}
	}
}

func FuzzParseSlotID(f *testing.F) {
	for _, s := range []string{"centrale.t0k2qo", "nord.1", "a.zzzzzzz", "x_y-z.abc", "centrale.0", "..", "a.-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		s, err := booking.ParseSlotID(id)
		if err != nil {
			return
		}
		// Canonical: one id per slot, and it round-trips.
		if again := s.ID(); again != id {
			t.Fatalf("ParseSlotID(%q).ID() = %q", id, again)
		}
		if !bot.ValidButtonID(id) || s.Start.Unix()%60 != 0 || s.Start.Year() > 2200 {
			t.Fatalf("ParseSlotID(%q) = %v: not a slot a button can carry", id, s)
		}
	})
}
