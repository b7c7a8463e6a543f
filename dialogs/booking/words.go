package booking

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"sportello/bot"
	core "sportello/bot/booking"
	"sportello/bot/locale"
)

// words are what citizens type at the booking steps, in both languages
// whatever the conversation's language: weekday and month names (from the
// date messages of the catalog, with their three-letter abbreviations) and
// the words listed under booking.words in the booking locale files, each
// message a list separated by "|".
type words struct {
	weekdays map[string]time.Weekday
	months   map[string]time.Month
	lists    map[string]map[string]bool // key -> normalised phrases
	fillers  map[string]bool
}

// Lists under booking.words.
const (
	wToday      = "today"
	wTomorrow   = "tomorrow"
	wAfter      = "after_tomorrow"
	wNext       = "next"
	wYes        = "yes"
	wNo         = "no"
	wAny        = "any"
	wMorning    = "morning"
	wAfternoon  = "afternoon"
	wMore       = "more"
	wDateFiller = "date_filler"
	wTravel     = "travel"
)

// reasonIn reads a reason from free text. The more specific reasons win:
// "rinnovo per mio figlio" is a minor's card, "mi hanno rubato la carta
// scaduta" a theft.
func (w *words) reasonIn(text string) core.Reason {
	for _, r := range []core.Reason{core.ReasonTheft, core.ReasonLoss, core.ReasonDamaged, core.ReasonMinor, core.ReasonRenewal, core.ReasonFirstIssue} {
		if w.has("reason_"+string(r), text) {
			return r
		}
	}
	return ""
}

func loadWords(cat *locale.Catalog) *words {
	w := &words{
		weekdays: map[string]time.Weekday{},
		months:   map[string]time.Month{},
		lists:    map[string]map[string]bool{},
	}
	for _, lang := range locale.Languages() {
		for d := time.Sunday; d <= time.Saturday; d++ {
			name := bot.Normalize(cat.Text(lang, "date.weekday."+strconv.Itoa(int(d)), nil))
			w.weekdays[name] = d
			if len(name) > 3 {
				w.weekdays[name[:3]] = d
			}
		}
		for m := time.January; m <= time.December; m++ {
			name := bot.Normalize(cat.Text(lang, "date.month."+strconv.Itoa(int(m)), nil))
			w.months[name] = m
			if len(name) > 3 {
				w.months[name[:3]] = m
			}
		}
	}
	keys := []string{wToday, wTomorrow, wAfter, wNext, wYes, wNo, wAny, wMorning, wAfternoon, wMore, wDateFiller}
	for _, r := range core.Reasons() {
		keys = append(keys, "reason_"+string(r))
	}
	keys = append(keys, wTravel)
	for _, key := range keys {
		set := map[string]bool{}
		for _, lang := range locale.Languages() {
			id := "booking.words." + key
			if !cat.Has(lang, id) {
				continue
			}
			for _, p := range strings.Split(cat.Text(lang, id, nil), "|") {
				if n := bot.Normalize(p); n != "" {
					set[n] = true
				}
			}
		}
		w.lists[key] = set
	}
	w.fillers = w.lists[wDateFiller]
	return w
}

// is reports whether the whole text is one of the phrases of list key.
func (w *words) is(key, text string) bool { return w.lists[key][bot.Normalize(text)] }

// has reports whether text contains one of the phrases of list key as whole
// words.
func (w *words) has(key, text string) bool {
	n := " " + bot.Normalize(text) + " "
	for p := range w.lists[key] {
		if strings.Contains(n, " "+p+" ") {
			return true
		}
	}
	return false
}

var (
	numericDate = regexp.MustCompile(`^(\d{1,2})\s*[/.\-]\s*(\d{1,2})(?:\s*[/.\-]\s*(\d{2}|\d{4}))?$`)
	isoDate     = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})$`)
	ordinal     = regexp.MustCompile(`^(\d{1,2})(?:st|nd|rd|th|o|a)?$`)
	yearWord    = regexp.MustCompile(`^(?:19|20)\d{2}$`)
)

// day reads a calendar day from what the citizen typed: "15/12", "15-12-2026",
// "2026-12-15", "15 dicembre", "December 15th", "lunedì", "next monday",
// "domani", "today". today is the Comune's current day; the result is
// midnight in today's location. A date without a year is the next one from
// today. ok is false when the text names no day, or an impossible one.
func (w *words) day(text string, today time.Time) (time.Time, bool) {
	loc := today.Location()
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc)
	raw := strings.TrimSpace(text)
	// Strip filler words typed around a numeric date: "il 15/12".
	fields := strings.Fields(raw)
	var kept []string
	for _, f := range fields {
		if !w.fillers[bot.Normalize(f)] {
			kept = append(kept, f)
		}
	}
	compact := strings.Join(kept, " ")
	if m := isoDate.FindStringSubmatch(compact); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		return makeDate(y, mo, d, loc)
	}
	if m := numericDate.FindStringSubmatch(compact); m != nil {
		d, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		if m[3] == "" {
			return nextDate(today, mo, d)
		}
		y, _ := strconv.Atoi(m[3])
		if y < 100 {
			y += 2000
		}
		return makeDate(y, mo, d, loc)
	}

	n := bot.Normalize(raw)
	if n == "" {
		return time.Time{}, false
	}
	tokens := strings.Fields(n)
	if d, ok := w.relativeIn(tokens, today); ok {
		return d, true
	}
	var (
		weekday         = time.Weekday(-1)
		month           time.Month
		dayNum, year    int
		unknown, number int
	)
	for _, tok := range tokens {
		if m := ordinal.FindStringSubmatch(tok); m != nil {
			dayNum, _ = strconv.Atoi(m[1])
			number++
			continue
		}
		if yearWord.MatchString(tok) {
			year, _ = strconv.Atoi(tok)
			continue
		}
		mo, isMonth := w.months[tok]
		wd, isWeekday := w.weekdays[tok]
		switch {
		case isMonth && isWeekday && month == 0:
			// "mar" is martedì and marzo: a month when a day number
			// goes with it, else a weekday.
			month, weekday = mo, wd
		case isMonth && !isWeekday:
			month = mo
		case isWeekday:
			weekday = wd
		case w.lists[wNext][tok] || w.fillers[tok]:
		default:
			unknown++
		}
	}
	if unknown > 1 || number > 1 {
		// A sentence is not a date: "quanto costa il 2?" is a question.
		return time.Time{}, false
	}
	switch {
	case month != 0 && dayNum > 0:
		if year > 0 {
			return makeDate(year, int(month), dayNum, loc)
		}
		return nextDate(today, int(month), dayNum)
	case dayNum > 0:
		// "il 15", "lunedì 15": the next 15th of a month.
		for i := 0; i < 62; i++ {
			d := today.AddDate(0, 0, i)
			if d.Day() == dayNum {
				return d, true
			}
		}
		return time.Time{}, false
	case weekday >= 0:
		// The next such day after today: "lunedì" said on a Monday is the
		// Monday after.
		for i := 1; i <= 7; i++ {
			if d := today.AddDate(0, 0, i); d.Weekday() == weekday {
				return d, true
			}
		}
	}
	return time.Time{}, false
}

// relativeIn finds a relative phrase of up to three words in tokens.
func (w *words) relativeIn(tokens []string, today time.Time) (time.Time, bool) {
	for size := 3; size >= 1; size-- {
		for i := 0; i+size <= len(tokens); i++ {
			p := strings.Join(tokens[i:i+size], " ")
			switch {
			case w.lists[wAfter][p]:
				return today.AddDate(0, 0, 2), true
			case w.lists[wTomorrow][p]:
				return today.AddDate(0, 0, 1), true
			case w.lists[wToday][p]:
				return today, true
			}
		}
	}
	return time.Time{}, false
}

// makeDate returns the day, or false when it does not exist (31/02).
func makeDate(y, m, d int, loc *time.Location) (time.Time, bool) {
	if m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, loc)
	if t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

// nextDate is day d of month m on or after today (29 February may be up to
// four years away).
func nextDate(today time.Time, m, d int) (time.Time, bool) {
	for y := today.Year(); y <= today.Year()+4; y++ {
		if t, ok := makeDate(y, m, d, today.Location()); ok && !t.Before(today) {
			return t, true
		}
	}
	return time.Time{}, false
}

var clockRE = regexp.MustCompile(`^(\d{1,2})(?:\s*[:.h]\s*(\d{2}))?h?$`)

// clock reads a time of day ("9:30", "9.30", "alle 10", "10h15", "at 14:00
// please") as minutes from midnight. Only a time with filler words around
// it counts: "15 dicembre" is not three o'clock.
func (w *words) clock(text string) (int, bool) {
	var kept []string
	for _, f := range strings.Fields(strings.ToLower(text)) {
		if !w.fillers[bot.Normalize(f)] {
			kept = append(kept, f)
		}
	}
	m := clockRE.FindStringSubmatch(strings.Join(kept, ""))
	if m == nil {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	mm := 0
	if m[2] != "" {
		mm, _ = strconv.Atoi(m[2])
	}
	if h > 23 || mm > 59 {
		return 0, false
	}
	return h*60 + mm, true
}
