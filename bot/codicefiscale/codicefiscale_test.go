package codicefiscale

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in, want string
		birth    string
		female   bool
		omocode  bool
		foreign  bool
	}{
		{"RSSMRA80A01H501U", "RSSMRA80A01H501U", "1980-01-01", false, false, false},
		{"RSSMRA80A01H50MM", "RSSMRA80A01H50MM", "1980-01-01", false, true, false},
		{"RSSMRA8LA01H501F", "RSSMRA8LA01H501F", "1980-01-01", false, true, false},
		{"rssmra80a01h501u", "RSSMRA80A01H501U", "1980-01-01", false, false, false},
		{" RSS MRA 80A01 H501U ", "RSSMRA80A01H501U", "1980-01-01", false, false, false},
		{"RSS-MRA-80A01-H501U.", "RSSMRA80A01H501U", "1980-01-01", false, false, false},
		{"BNCLRA85M41F205C", "BNCLRA85M41F205C", "1985-08-01", true, false, false},
		{"VRDGPP15C22L219J", "VRDGPP15C22L219J", "2015-03-22", false, false, false},
		{"RSSLCU10T44F205U", "RSSLCU10T44F205U", "2010-12-04", true, false, false},
		{"BNCMRA00B29F205H", "BNCMRA00B29F205H", "2000-02-29", false, false, false},
		{"MRNLGU80A01Z404I", "MRNLGU80A01Z404I", "1980-01-01", false, false, true},
		{"DLCNMR90E50H501X", "DLCNMR90E50H501X", "1990-05-10", true, false, false},
		{"BNCLSN20P45F205Y", "BNCLSN20P45F205Y", "2020-09-05", true, false, false},
		{"SPNDNL80R13C555T", "SPNDNL80R13C555T", "1980-10-13", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want %s", tc.in, err, tc.want)
			}
			if string(c) != tc.want {
				t.Errorf("Parse(%q) = %s, want %s", tc.in, c, tc.want)
			}
			if got := c.Birth(now).Format(time.DateOnly); got != tc.birth {
				t.Errorf("Got(%s.Birth) = %s, want %s", c, got, tc.birth)
			}
			if got := c.Female(); got != tc.female {
				t.Errorf("Got(%s.Female) = %v, want %v", c, got, tc.female)
			}
			if got := c.Omocode(); got != tc.omocode {
				t.Errorf("Got(%s.Omocode) = %v, want %v", c, got, tc.omocode)
			}
			if got := c.Foreign(); got != tc.foreign {
				t.Errorf("Got(%s.Foreign) = %v, want %v", c, got, tc.foreign)
			}
			if !Valid(tc.in) {
				t.Errorf("Valid(%q) = false, want true", tc.in)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		kind    Kind
		pos     int
		char    string
		length  int
		suggest string
	}{
		{"empty", "  ", KindEmpty, 0, "", 0, ""},
		{"IO spec sample has a wrong check character", "SPNDNL80R13C555X", KindCheck, 0, "", 0, ""},
		{"one letter mistyped", "RSSMRA80A01H501V", KindCheck, 0, "", 0, ""},
		{"transposed digits", "RSSMRA08A01H501U", KindCheck, 0, "", 0, ""},
		{"too short", "RSSMRA80A01H501", KindLength, 0, "", 15, ""},
		{"too long", "RSSMRA80A01H501UU", KindLength, 0, "", 17, ""},
		{"partita IVA", "12345678901", KindNumeric, 0, "", 11, ""},
		{"symbol", "RSSMRA80A01H501!", KindSymbol, 16, "!", 0, ""},
		{"accented letter", "RSSMRÀ80A01H501U", KindSymbol, 6, "À", 0, "A"},
		{"digit in the surname", "R5SMRA80A01H501U", KindLetterExpected, 2, "5", 0, ""},
		{"zero for O in the surname", "R0SMRA80A01H501U", KindLetterExpected, 2, "0", 0, "O"},
		{"letter O for zero in the year", "RSSMRA8OA01H501U", KindDigitExpected, 8, "O", 0, "0"},
		{"letter I for one in the place", "RSSMRA80A01H5I1U", KindDigitExpected, 14, "I", 0, "1"},
		{"non-omocodia letter in the day", "RSSMRA80A0KH501U", KindDigitExpected, 11, "K", 0, ""},
		{"digit as check character", "RSSMRA80A01H5011", KindLetterExpected, 16, "1", 0, "I"},
		{"month letter F", "RSSMRA80F01H501U", KindMonth, 9, "F", 0, ""},
		{"month letter Z", "RSSMRA80Z01H501U", KindMonth, 9, "Z", 0, ""},
		{"day 00", "RSSMRA80A00H501U", KindDay, 10, "00", 0, ""},
		{"day 32", "RSSMRA80A32H501U", KindDay, 10, "32", 0, ""},
		{"day 40", "RSSMRA80A40H501U", KindDay, 10, "40", 0, ""},
		{"day 72", "RSSMRA80A72H501U", KindDay, 10, "72", 0, ""},
		{"31 April", "RSSMRA80D31H501U", KindDay, 10, "31", 0, ""},
		{"29 February 2001", "BNCMRA01B29F205I", KindDay, 10, "29", 0, ""},
		{"omocodic day 3Q (36)", "RSSMRA80A3QH501U", KindDay, 10, "3Q", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) = %v, want an *Error of kind %s", tc.in, err, tc.kind)
			}
			if e.Kind != tc.kind || e.Pos != tc.pos || e.Char != tc.char || e.Len != tc.length || e.Suggest != tc.suggest {
				t.Errorf("Got(Parse(%q)) = %+v, want kind %s pos %d char %q len %d suggest %q",
					tc.in, *e, tc.kind, tc.pos, tc.char, tc.length, tc.suggest)
			}
			if Valid(tc.in) {
				t.Errorf("Valid(%q) = true, want false", tc.in)
			}
			if e.Kind == KindCheck && strings.ContainsAny(e.Error(), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				t.Errorf("check error %q may reveal the expected character", e.Error())
			}
		})
	}
}

// TestEveryOmocodicVariantIsValid substitutes the omocodia letters in every
// combination of the seven digit positions of a code and recomputes the check
// character: all 128 variants are the same person.
func TestEveryOmocodicVariantIsValid(t *testing.T) {
	base := "RSSMRA80A01H501"
	digits := []int{6, 7, 9, 10, 12, 13, 14}
	for mask := 0; mask < 1<<len(digits); mask++ {
		b := []byte(base)
		for i, p := range digits {
			if mask&(1<<i) != 0 {
				b[p] = omocodia[b[p]-'0']
			}
		}
		code := string(b) + string(CheckChar(string(b)))
		c, err := Parse(code)
		if err != nil {
			t.Fatalf("Parse(%q) = %v, want valid", code, err)
		}
		if got := c.Birth(now).Format(time.DateOnly); got != "1980-01-01" {
			t.Errorf("Got(%s.Birth) = %s, want 1980-01-01", c, got)
		}
		if got, want := c.Omocode(), mask != 0; got != want {
			t.Errorf("Got(%s.Omocode) = %v, want %v", c, got, want)
		}
	}
}

func TestAgeAndMinor(t *testing.T) {
	tests := []struct {
		code  string
		now   time.Time
		age   int
		minor bool
	}{
		{"RSSMRA80A01H501U", now, 46, false},
		{"VRDGPP15C22L219J", now, 11, true},
		{"RSSLCU10T44F205U", now, 15, true},
		{"RSSLCU10T44F205U", time.Date(2028, 12, 3, 23, 0, 0, 0, time.UTC), 17, true},
		{"RSSLCU10T44F205U", time.Date(2028, 12, 4, 0, 0, 0, 0, time.UTC), 18, false},
		// Born in 2026 "today": not a century earlier.
		{"BNCLSN26L26F205" + string(CheckChar("BNCLSN26L26F205")), time.Date(2026, 7, 26, 9, 0, 0, 0, time.UTC), 0, true},
		// 29 February 2000: 26 years old on 1 March 2026.
		{"BNCMRA00B29F205H", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 26, false},
		{"BNCMRA00B29F205H", time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), 25, false},
	}
	for _, tc := range tests {
		t.Run(tc.code+"@"+tc.now.Format(time.DateOnly), func(t *testing.T) {
			c, err := Parse(tc.code)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Age(tc.now); got != tc.age {
				t.Errorf("Got(%s.Age(%s)) = %d, want %d", c, tc.now, got, tc.age)
			}
			if got := c.Minor(tc.now); got != tc.minor {
				t.Errorf("Got(%s.Minor(%s)) = %v, want %v", c, tc.now, got, tc.minor)
			}
		})
	}
}

func TestBirthCenturyRule(t *testing.T) {
	// "27" in November 2026 is 1927: 2027 would be in the future.
	c, err := Parse("RSSMRA27A01H501" + string(CheckChar("RSSMRA27A01H501")))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Birth(now).Year(); got != 1927 {
		t.Errorf("Got(%s.Birth.Year) = %d, want 1927", c, got)
	}
	// 26 December 2026 has not come yet on 26 November 2026: 1926.
	c, err = Parse("RSSMRA26T26H501" + string(CheckChar("RSSMRA26T26H501")))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Birth(now).Year(); got != 1926 {
		t.Errorf("Got(%s.Birth.Year) = %d, want 1926", c, got)
	}
}

func TestMask(t *testing.T) {
	tests := map[string]string{
		"RSSMRA80A01H501U": "RSS***********1U",
		"RSSMRA80A01H50MM": "RSS***********MM",
		"ABCDE":            "*****",
		"":                 "",
		"ABCDEF":           "ABC*EF",
	}
	for in, want := range tests {
		if got := Mask(in); got != want {
			t.Errorf("Got(Mask(%q)) = %q, want %q", in, got, want)
		}
	}
	if got := Code("RSSMRA80A01H501U").Mask(); got != "RSS***********1U" {
		t.Errorf("Got(Code.Mask) = %q, want RSS***********1U", got)
	}
}

func TestNameCodes(t *testing.T) {
	tests := []struct{ surname, name, want string }{
		{"Rossi", "Mario", "RSSMRA"},
		{"Bianchi", "Laura", "BNCLRA"},
		{"Verdi", "Giuseppe", "VRDGPP"},
		{"De Luca", "Anna Maria", "DLCNMR"},
		{"Fo", "Ugo", "FOXGUO"}, {"Ng", "Li", "NGXLIX"},
		{"D'Amico", "Niccolò", "DMCNCL"},
		{"Rè", "Lu", "REXLUX"},
		{"Bianchi", "Alessandra", "BNCLSN"},
	}
	for _, tc := range tests {
		if got := SurnameCode(tc.surname) + NameCode(tc.name); got != tc.want {
			t.Errorf("Got(codes(%q, %q)) = %s, want %s", tc.surname, tc.name, got, tc.want)
		}
	}
}

func TestMatchesName(t *testing.T) {
	tests := []struct {
		code, name string
		want       bool
	}{
		{"RSSMRA80A01H501U", "Mario Rossi", true},
		{"RSSMRA80A01H501U", "ROSSI MARIO", true},
		{"RSSMRA80A01H501U", "  mario   rossi ", true},
		{"DLCNMR90E50H501X", "Anna Maria De Luca", true},
		{"DLCNMR90E50H501X", "De Luca Anna Maria", true},
		{"RSSMRA80A01H501U", "Maria Rossi", true}, // same letters: the code cannot tell
		{"RSSMRA80A01H501U", "Luigi Rossi", false},
		{"RSSMRA80A01H501U", "Mario", false},
		{"VRDGPP15C22L219J", "Mario Rossi", false},
	}
	for _, tc := range tests {
		if got := Code(tc.code).MatchesName(tc.name); got != tc.want {
			t.Errorf("Got(%s.MatchesName(%q)) = %v, want %v", tc.code, tc.name, got, tc.want)
		}
	}
}

func TestPartAt(t *testing.T) {
	want := []Part{PartSurname, PartSurname, PartSurname, PartName, PartName, PartName, PartYear, PartYear,
		PartMonth, PartDay, PartDay, PartPlace, PartPlace, PartPlace, PartPlace, PartCheck}
	for i, w := range want {
		if got := PartAt(i + 1); got != w {
			t.Errorf("Got(PartAt(%d)) = %s, want %s", i+1, got, w)
		}
	}
}

func TestKindNames(t *testing.T) {
	seen := map[string]bool{}
	for k := KindEmpty; k <= KindCheck; k++ {
		s := k.String()
		if strings.HasPrefix(s, "kind(") || seen[s] {
			t.Errorf("Got(Kind(%d).String()) = %q, want a unique name", int(k), s)
		}
		seen[s] = true
	}
}

// FuzzParse checks that Parse never panics, that what it accepts is
// normalised and stays valid, and that its errors point inside the code.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"RSSMRA80A01H501U", "RSSMRA80A01H50MM", "SPNDNL80R13C555X", "rssmra80a01h501u", "RSS MRA 80A01 H501U",
		"12345678901", "RSSMRÀ80A01H501U", "", "\xff\xfe", "RSSMRA80A3QH501U", "BNCMRA00B29F205H", strings.Repeat("A", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %v is not an *Error", s, err)
			}
			if e.Kind < KindEmpty || e.Kind > KindCheck {
				t.Fatalf("Parse(%q) error kind %d is unknown", s, e.Kind)
			}
			if e.Pos != 0 && (e.Char == "" || e.Pos > len([]rune(Normalize(s)))) {
				t.Fatalf("Parse(%q) error %+v points outside the code", s, *e)
			}
			_ = e.Error()
			return
		}
		if len(c) != Length || Normalize(string(c)) != string(c) {
			t.Fatalf("Parse(%q) = %q, not a normalised 16-character code", s, c)
		}
		if again, err := Parse(string(c)); err != nil || again != c {
			t.Fatalf("Parse(Parse(%q)) = %q, %v", s, again, err)
		}
		b := c.Birth(now)
		if b.After(now) || now.Sub(b) > 101*366*24*time.Hour {
			t.Fatalf("Got(%s.Birth) = %s, outside the last century", c, b)
		}
		if m := c.Mask(); len(m) != Length || m[:3] != string(c[:3]) || strings.Count(m, "*") != 11 {
			t.Fatalf("Got(%s.Mask) = %q", c, m)
		}
		_ = c.MatchesName(s)
	})
}

func BenchmarkParse(b *testing.B) {
	for _, in := range []string{"RSSMRA80A01H501U", "rss mra 80a01 h50mm", "SPNDNL80R13C555X"} {
		b.Run(in, func(b *testing.B) {
			for range b.N {
				_, _ = Parse(in)
			}
		})
	}
}
