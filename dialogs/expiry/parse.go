package expiry

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"sportello/bot"
	"sportello/bot/locale"
	"sportello/dialogs/internal/fuzzy"
)

// Kind is what a date is, which decides how a two-digit year reads.
type Kind int

// Date kinds.
const (
	// Past: a date of birth or of issue: "80" is 1980, "19" is 2019.
	Past Kind = iota
	// Future: an expiry date, up to a dozen years ahead: "31" is 2031.
	Future
)

// ParseError says what is wrong with a date a citizen wrote.
type ParseError struct {
	// Code: "none" (no date at all), "incomplete", "several", "month",
	// "day" or "year".
	Code  string
	Month time.Month // for "day": the month whose days ran out
	Year  int        // for "day"
	Max   int        // for "day": the days the month has
}

func (e *ParseError) Error() string {
	if e.Code == "day" {
		return fmt.Sprintf("date: %s %d has %d days", e.Month, e.Year, e.Max)
	}
	return "date: " + e.Code
}

// Parser reads dates the way people write them in Italian and English:
// 12/03/1980, 12-3-80, 12.03.1980, 12 marzo 1980, March 12 1980, 12th of
// March 1980, 1980-03-12, 12031980. Month names come from the locale files.
type Parser struct {
	months map[string]time.Month // full names, both languages
	names  []monthName           // full names, for prefixes and typos
}

type monthName struct {
	name  string
	month time.Month
}

// NewParser returns a parser with the month names of cat.
func NewParser(cat *locale.Catalog) *Parser {
	p := &Parser{months: map[string]time.Month{}}
	for _, lang := range locale.Languages() {
		for m := time.January; m <= time.December; m++ {
			n := bot.Normalize(cat.Text(lang, "date.month."+strconv.Itoa(int(m)), nil))
			p.months[n] = m
			p.names = append(p.names, monthName{n, m})
		}
	}
	return p
}

// month reads word as a month: its name, an abbreviation of at least three
// letters that only one month has, or a name with one typo.
func (p *Parser) month(word string) (time.Month, bool) {
	if m, ok := p.months[word]; ok {
		return m, true
	}
	var found time.Month
	if len(word) >= 3 {
		for _, n := range p.names {
			if strings.HasPrefix(n.name, word) {
				if found != 0 && found != n.month {
					return 0, false
				}
				found = n.month
			}
		}
		if found != 0 {
			return found, true
		}
	}
	if len(word) >= 5 {
		for _, n := range p.names {
			if fuzzy.Distance(word, n.name, 1) <= 1 {
				if found != 0 && found != n.month {
					return 0, false
				}
				found = n.month
			}
		}
	}
	return found, found != 0
}

// token is a piece of a date: a number (with its digit count) or a month.
type token struct {
	num    int
	digits int
	month  time.Month
}

// chunks splits text into runs of date pieces: numbers and month names next
// to a number, with at most one short word between them ("12 di marzo del
// 1980") until they make a whole date. Conjunctions end a run, so "12/3/80 e
// 5/5/19" is two dates.
func (p *Parser) chunks(text string) [][]token {
	words := strings.Fields(bot.Normalize(text))
	type piece struct {
		tok  token
		ok   bool
		word string
	}
	pieces := make([]piece, len(words))
	for i, w := range words {
		pieces[i].word = w
		if n, digits, ok := number(w); ok {
			pieces[i] = piece{tok: token{num: n, digits: digits}, ok: true, word: w}
		}
	}
	isNum := func(i int) bool { return i >= 0 && i < len(pieces) && pieces[i].ok && pieces[i].tok.month == 0 }
	for i, w := range words {
		if pieces[i].ok {
			continue
		}
		// A month name counts next to a number, or one short word away.
		near := isNum(i-1) || isNum(i+1) || (isNum(i-2) && len(words[i-1]) <= 3) || (isNum(i+2) && len(words[i+1]) <= 3)
		if m, ok := p.month(w); ok && near {
			pieces[i] = piece{tok: token{month: m}, ok: true, word: w}
		}
	}
	var out [][]token
	var cur []token
	gap := 0
	for _, pc := range pieces {
		switch {
		case pc.ok:
			cur = append(cur, pc.tok)
			gap = 0
		case len(cur) > 0 && gap == 0 && len(pc.word) <= 3 && !conjunction(pc.word) && !complete(cur):
			gap++
		default:
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur, gap = nil, 0
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// complete reports whether toks already make a whole date, so that a word
// after them ends it.
func complete(toks []token) bool {
	nums, month := 0, false
	for _, t := range toks {
		if t.month != 0 {
			month = true
		} else {
			nums++
		}
	}
	return nums >= 3 || (month && nums >= 2)
}

// conjunction reports whether w separates two dates ("e", "and", ...).
func conjunction(w string) bool {
	switch w {
	case "e", "ed", "o", "and", "or":
		return true
	}
	return false
}

// number reads "12", "12th", "1st", "3rd": the value and its digit count.
func number(w string) (int, int, bool) {
	digits := 0
	for digits < len(w) && w[digits] >= '0' && w[digits] <= '9' {
		digits++
	}
	if digits == 0 || digits > 8 {
		return 0, 0, false
	}
	switch w[digits:] {
	case "", "st", "nd", "rd", "th", "o", "a", "º", "ª":
	default:
		return 0, 0, false
	}
	n, err := strconv.Atoi(w[:digits])
	return n, digits, err == nil
}

// Parse reads the one date in text. today decides two-digit years. lang
// "en" also reads the American month/day order when only it makes sense
// (03/25/1990).
func (p *Parser) Parse(text string, kind Kind, today time.Time, lang string) (time.Time, error) {
	chunks := p.chunks(text)
	switch len(chunks) {
	case 0:
		return time.Time{}, &ParseError{Code: "none"}
	case 1:
		return p.date(chunks[0], kind, today, lang)
	}
	// Several runs: fine if only one of them is a date ("il 12/3/1980,
	// ho 45 anni").
	var found []time.Time
	var firstErr error
	for _, c := range chunks {
		d, err := p.date(c, kind, today, lang)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		found = append(found, d)
	}
	switch len(found) {
	case 0:
		return time.Time{}, firstErr
	case 1:
		return found[0], nil
	}
	return time.Time{}, &ParseError{Code: "several"}
}

// All returns every complete date in text, in order, each read as kind.
func (p *Parser) All(text string, kind Kind, today time.Time, lang string) []time.Time {
	var out []time.Time
	for _, c := range p.chunks(text) {
		if d, err := p.date(c, kind, today, lang); err == nil {
			out = append(out, d)
		}
	}
	return out
}

func (p *Parser) date(toks []token, kind Kind, today time.Time, lang string) (time.Time, error) {
	var nums []token
	var month time.Month
	for _, t := range toks {
		if t.month != 0 {
			if month != 0 {
				return time.Time{}, &ParseError{Code: "several"}
			}
			month = t.month
			continue
		}
		nums = append(nums, t)
	}
	var day, mon, year, yearDigits int
	switch {
	case month != 0 && len(nums) == 2:
		// 12 marzo 1980, March 12 1980, 1980 March 12.
		d, y := nums[0], nums[1]
		if d.digits > 2 {
			d, y = y, d
		}
		day, mon, year, yearDigits = d.num, int(month), y.num, y.digits
	case month != 0 && len(nums) < 2:
		return time.Time{}, &ParseError{Code: "incomplete"}
	case month != 0:
		return time.Time{}, &ParseError{Code: "several"}
	case len(nums) == 3 && nums[0].digits >= 3:
		// 1980-03-12
		year, yearDigits, mon, day = nums[0].num, nums[0].digits, nums[1].num, nums[2].num
	case len(nums) == 3:
		day, mon, year, yearDigits = nums[0].num, nums[1].num, nums[2].num, nums[2].digits
		if lang == locale.English && mon > 12 && day <= 12 {
			day, mon = mon, day // 03/25/1990
		}
	case len(nums) == 1 && (nums[0].digits == 8 || nums[0].digits == 6):
		s := fmt.Sprintf("%0*d", nums[0].digits, nums[0].num)
		if nums[0].digits == 8 && (strings.HasPrefix(s, "19") || strings.HasPrefix(s, "20")) && validDay(atoi(s[6:]), atoi(s[4:6]), atoi(s[:4])) {
			year, mon, day, yearDigits = atoi(s[:4]), atoi(s[4:6]), atoi(s[6:]), 4 // 19800312
		} else {
			day, mon, year, yearDigits = atoi(s[:2]), atoi(s[2:4]), atoi(s[4:]), len(s)-4 // 12031980, 120380
		}
	case len(nums) > 3:
		return time.Time{}, &ParseError{Code: "several"}
	default:
		return time.Time{}, &ParseError{Code: "incomplete"}
	}
	switch yearDigits {
	case 1, 2:
		year = pivot(year, kind, today)
	case 4:
	default:
		return time.Time{}, &ParseError{Code: "year"}
	}
	if year < 1900 || year > 2199 {
		return time.Time{}, &ParseError{Code: "year"}
	}
	if mon < 1 || mon > 12 {
		return time.Time{}, &ParseError{Code: "month"}
	}
	if day < 1 || !validDay(day, mon, year) {
		return time.Time{}, &ParseError{Code: "day", Month: time.Month(mon), Year: year, Max: daysIn(time.Month(mon), year)}
	}
	return time.Date(year, time.Month(mon), day, 0, 0, 0, 0, time.UTC), nil
}

// pivot reads a two-digit year: the latest one not after today for a past
// date, and up to twelve years ahead for an expiry date.
func pivot(yy int, kind Kind, today time.Time) int {
	century := today.Year() / 100 * 100
	y := century + yy
	limit := today.Year()
	if kind == Future {
		limit += 12
	}
	if y > limit {
		y -= 100
	}
	return y
}

func validDay(d, m, y int) bool {
	return m >= 1 && m <= 12 && d >= 1 && d <= daysIn(time.Month(m), y)
}

func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
