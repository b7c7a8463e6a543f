// Package codicefiscale checks an Italian person's codice fiscale: shape,
// birth month and day, check character and omocodia, and reads the birth date
// and sex it encodes.
//
// Errors say which character is wrong and why, so a citizen who mistyped one
// can fix it. They never reveal the expected check character: the check
// character exists to catch a typo elsewhere in the code, and a citizen told
// "the last letter should be K" would change the last letter and book with a
// wrong code.
package codicefiscale

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Length is the length of a person's codice fiscale.
const Length = 16

// Code is a valid, normalised codice fiscale: 16 upper-case ASCII characters
// whose check character adds up. Get one from Parse.
type Code string

// String returns the code as written on the card.
func (c Code) String() string { return string(c) }

// Kind says what is wrong with a code.
type Kind int

// Kinds of error, from the outside in.
const (
	// KindEmpty: nothing was written.
	KindEmpty Kind = iota + 1
	// KindNumeric: eleven digits, the shape of a company's (or a
	// provisional) code; a person's CIE needs the 16-character one.
	KindNumeric
	// KindLength: not 16 characters.
	KindLength
	// KindSymbol: a character that is neither a letter nor a digit.
	KindSymbol
	// KindLetterExpected: a digit where the code has a letter.
	KindLetterExpected
	// KindDigitExpected: a letter where the code has a digit (and not one
	// of the omocodia letters LMNPQRSTUV).
	KindDigitExpected
	// KindMonth: the 9th character is not a month letter.
	KindMonth
	// KindDay: the birth day (10th and 11th characters) is not a day of
	// the month, for men (1-31) or women (41-71).
	KindDay
	// KindCheck: every part is well formed but the check character does
	// not add up: some character is mistyped.
	KindCheck
)

var kindNames = map[Kind]string{
	KindEmpty: "empty", KindNumeric: "numeric", KindLength: "length", KindSymbol: "symbol",
	KindLetterExpected: "letter_expected", KindDigitExpected: "digit_expected",
	KindMonth: "month", KindDay: "day", KindCheck: "check",
}

// String is a stable name for the kind ("length", "month", ...), usable as
// the last part of a message id.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Part is the part of a code a position belongs to.
type Part string

// Parts of a codice fiscale.
const (
	PartSurname Part = "surname" // positions 1-3
	PartName    Part = "name"    // 4-6
	PartYear    Part = "year"    // 7-8
	PartMonth   Part = "month"   // 9
	PartDay     Part = "day"     // 10-11
	PartPlace   Part = "place"   // 12-15
	PartCheck   Part = "check"   // 16
)

// PartAt returns the part of the code that 1-based position pos belongs to.
func PartAt(pos int) Part {
	switch {
	case pos <= 3:
		return PartSurname
	case pos <= 6:
		return PartName
	case pos <= 8:
		return PartYear
	case pos == 9:
		return PartMonth
	case pos <= 11:
		return PartDay
	case pos <= 15:
		return PartPlace
	}
	return PartCheck
}

// Error is what Parse found wrong. Its fields are what a citizen needs to
// see the mistake: never the expected check character.
type Error struct {
	Kind Kind
	// Pos is the 1-based position of the wrong character in the
	// normalised code, 0 when the error is not about one character.
	Pos int
	// Char is the wrong character, "" when Pos is 0.
	Char string
	// Len is the number of characters found (KindLength).
	Len int
	// Suggest is a likely intended character for a look-alike typed in
	// the wrong place: "0" for the letter O, "O" for the digit 0, "1" for
	// I, "I" for 1. Empty when there is no obvious candidate.
	Suggest string
}

func (e *Error) Error() string {
	switch e.Kind {
	case KindEmpty:
		return "codice fiscale: empty"
	case KindNumeric:
		return "codice fiscale: 11 digits, not a person's 16-character code"
	case KindLength:
		return fmt.Sprintf("codice fiscale: %d characters, want %d", e.Len, Length)
	case KindCheck:
		return "codice fiscale: check character does not match"
	}
	return fmt.Sprintf("codice fiscale: %s at position %d (%q, %s)", e.Kind, e.Pos, e.Char, PartAt(e.Pos))
}

// Part is the part of the code the error is in ("" when the error is not
// about one character).
func (e *Error) Part() Part {
	if e.Pos == 0 {
		return ""
	}
	return PartAt(e.Pos)
}

// Normalize upper-cases s and drops the spaces, dots, dashes and
// underscores people type or paste between groups of characters.
func Normalize(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*Length))
	for _, r := range s {
		if unicode.IsSpace(r) || r == '-' || r == '.' || r == '_' || r == '\u200b' {
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// Shape of a code: letters (L), digits that omocodia may replace (D), the
// month letter (M), the check letter (C).
const shape = "LLLLLLDDMDDLDDDC"

// omocodia maps the letters that replace digits (omocodia) back to digits.
const omocodia = "LMNPQRSTUV"

const months = "ABCDEHLMPRST"

// Parse normalises s and checks it. The error is an *Error.
func Parse(s string) (Code, error) {
	n := Normalize(s)
	if n == "" {
		return "", &Error{Kind: KindEmpty}
	}
	if len(n) == 11 && allDigits(n) {
		return "", &Error{Kind: KindNumeric, Len: 11}
	}
	// Report a symbol before the length: "RSSMRA80A01H501U!" is better
	// answered with the "!" than with "17 characters".
	for i, r := range n {
		if !isASCIIAlnum(r) {
			pos := utf8.RuneCountInString(n[:i]) + 1
			return "", &Error{Kind: KindSymbol, Pos: pos, Char: string(r), Suggest: plain(r)}
		}
	}
	if len(n) != Length {
		return "", &Error{Kind: KindLength, Len: len(n)}
	}
	for i := 0; i < Length; i++ {
		c := n[i]
		pos := i + 1
		switch shape[i] {
		case 'L', 'M', 'C':
			if isDigit(c) {
				return "", &Error{Kind: KindLetterExpected, Pos: pos, Char: string(c), Suggest: lookAlike(c)}
			}
		case 'D':
			if !isDigit(c) && strings.IndexByte(omocodia, c) < 0 {
				return "", &Error{Kind: KindDigitExpected, Pos: pos, Char: string(c), Suggest: lookAlike(c)}
			}
		}
	}
	if strings.IndexByte(months, n[8]) < 0 {
		return "", &Error{Kind: KindMonth, Pos: 9, Char: n[8:9]}
	}
	c := Code(n)
	day := c.rawDay()
	if day > 40 {
		day -= 40
	}
	if day < 1 || day > daysIn(c.month(), c.yy()) {
		// Point at the day's first character: both make the day.
		return "", &Error{Kind: KindDay, Pos: 10, Char: n[9:11]}
	}
	if CheckChar(n[:15]) != n[15] {
		return "", &Error{Kind: KindCheck}
	}
	return c, nil
}

// Valid reports whether s is a valid codice fiscale once normalised.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// odd is the value of the characters at odd (1-based) positions, for '0'-'9'
// then 'A'-'Z'.
var odd = [36]int{
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
}

// CheckChar computes the check character of the first 15 characters of a
// code (upper-case ASCII letters and digits; anything else counts as 0). It
// is exported for tests and generators of test data.
func CheckChar(first15 string) byte {
	sum := 0
	for i := 0; i < 15 && i < len(first15); i++ {
		v := value(first15[i])
		if i%2 == 0 { // 1-based odd position
			sum += odd[v]
		} else {
			sum += evenValue(first15[i])
		}
	}
	return byte('A' + sum%26)
}

// value indexes the odd table: '0'-'9' -> 0-9, 'A'-'Z' -> 10-35.
func value(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 0
}

// evenValue: digits 0-9 and letters A-Z as 0-25.
func evenValue(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	}
	return 0
}

// digit reads the character at 0-based index i as a digit, mapping omocodia
// letters back.
func (c Code) digit(i int) int {
	ch := c[i]
	if isDigit(ch) {
		return int(ch - '0')
	}
	return strings.IndexByte(omocodia, ch)
}

func (c Code) yy() int     { return c.digit(6)*10 + c.digit(7) }
func (c Code) rawDay() int { return c.digit(9)*10 + c.digit(10) }

func (c Code) month() time.Month {
	return time.Month(strings.IndexByte(months, c[8]) + 1)
}

// Female reports whether the code is a woman's (birth day + 40).
func (c Code) Female() bool { return c.rawDay() > 40 }

// Omocode reports whether some digits are replaced by letters (omocodia).
func (c Code) Omocode() bool {
	for i := 0; i < Length; i++ {
		if shape[i] == 'D' && !isDigit(c[i]) {
			return true
		}
	}
	return false
}

// Foreign reports whether the place of birth is abroad (a Z code).
func (c Code) Foreign() bool { return len(c) == Length && c[11] == 'Z' }

// Birth returns the birth date as midnight UTC of the calendar day. The code
// has only two digits of the year: the century is the latest one that does
// not put the birth after now. People over 100 read as born a century later;
// the code cannot tell them apart.
func (c Code) Birth(now time.Time) time.Time {
	day := c.rawDay()
	if day > 40 {
		day -= 40
	}
	yy := c.yy()
	year := now.Year() - now.Year()%100 + yy
	b := time.Date(year, c.month(), day, 0, 0, 0, 0, time.UTC)
	if b.After(civil(now)) {
		b = time.Date(year-100, c.month(), day, 0, 0, 0, 0, time.UTC)
	}
	if b.Day() != day { // 29 February of a year that has none
		b = time.Date(b.Year(), time.March, 1, 0, 0, 0, 0, time.UTC)
	}
	return b
}

// Age returns the age in whole years at now.
func (c Code) Age(now time.Time) int {
	b := c.Birth(now)
	n := civil(now)
	age := n.Year() - b.Year()
	if n.Month() < b.Month() || (n.Month() == b.Month() && n.Day() < b.Day()) {
		age--
	}
	return age
}

// Minor reports whether the holder is under 18 at now.
func (c Code) Minor(now time.Time) bool { return c.Age(now) < 18 }

// Mask shows a code to operators without giving it away: the first three and
// the last two characters ("RSS***********1U").
func (c Code) Mask() string { return Mask(string(c)) }

// Mask masks any string the way Code.Mask does, keeping at most the first
// three and last two characters and never more than a third of it.
func Mask(s string) string {
	r := []rune(s)
	if len(r) < 6 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:3]) + strings.Repeat("*", len(r)-5) + string(r[len(r)-2:])
}

// MatchesName reports whether the code's first six letters fit the full name
// as typed ("Mario Rossi", "Rossi Mario", "De Luca Anna Maria"): the name is
// split in every way into surname and given names, in both orders. A false
// answer is a reason to ask, never to refuse: names on a codice fiscale can
// follow older spellings.
func (c Code) MatchesName(full string) bool {
	words := strings.Fields(fold(full))
	for i := 1; i < len(words); i++ {
		a, b := strings.Join(words[:i], ""), strings.Join(words[i:], "")
		if SurnameCode(a)+NameCode(b) == string(c[:6]) || SurnameCode(b)+NameCode(a) == string(c[:6]) {
			return true
		}
	}
	return false
}

// SurnameCode is the three letters a surname gives a codice fiscale: its
// consonants, then its vowels, then X.
func SurnameCode(surname string) string {
	cons, vow := split(fold(surname))
	return pad(cons + vow)
}

// NameCode is the three letters given names give a codice fiscale: with four
// or more consonants the 1st, 3rd and 4th; otherwise as for a surname.
func NameCode(name string) string {
	cons, vow := split(fold(name))
	if len(cons) >= 4 {
		return cons[0:1] + cons[2:4]
	}
	return pad(cons + vow)
}

func pad(s string) string {
	s += "XXX"
	return s[:3]
}

// split returns the consonants and vowels of the ASCII letters in s.
func split(s string) (cons, vow string) {
	var c, v strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case strings.IndexByte("AEIOU", ch) >= 0:
			v.WriteByte(ch)
		case ch >= 'A' && ch <= 'Z':
			c.WriteByte(ch)
		}
	}
	return c.String(), v.String()
}

// fold upper-cases s and removes accents and every character but ASCII
// letters and spaces (apostrophes join: D'Amico -> DAMICO).
func fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	if f, _, err := transform.String(t, s); err == nil {
		s = f
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case unicode.IsSpace(r) || r == '-':
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func daysIn(m time.Month, yy int) int {
	switch m {
	case time.February:
		// Two digits of the year: 29 is possible when some century makes
		// the year a leap year (00 is: 2000).
		if yy%4 == 0 {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func civil(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isASCIIAlnum(r rune) bool {
	return (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// lookAlike suggests the character people confuse with c.
func lookAlike(c byte) string {
	switch c {
	case 'O':
		return "0"
	case '0':
		return "O"
	case 'I':
		return "1"
	case '1':
		return "I"
	}
	return ""
}

// plain suggests the ASCII letter for an accented one ("È" -> "E").
func plain(r rune) string {
	f := fold(string(r))
	if len(f) == 1 && f != string(r) {
		return f
	}
	return ""
}
