package locale_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"sportello/bot/locale"
	"sportello/locales"
)

func load(t *testing.T) *locale.Catalog {
	t.Helper()
	c, err := locale.Load(locales.FS())
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	return c
}

// TestEveryMessageInEveryLanguage fails when a message ID exists in one
// language and not in the other.
func TestEveryMessageInEveryLanguage(t *testing.T) {
	c := load(t)
	it, en := c.IDs(locale.Italian), c.IDs(locale.English)
	if len(it) == 0 {
		t.Fatal("no Italian messages loaded")
	}
	for _, id := range it {
		if !slices.Contains(en, id) {
			t.Errorf("message %q is missing in English", id)
		}
	}
	for _, id := range en {
		if !slices.Contains(it, id) {
			t.Errorf("message %q is missing in Italian", id)
		}
	}
}

var field = regexp.MustCompile(`\{\{[^}]*?\.([A-Za-z_][A-Za-z0-9_]*)`)

// TestEveryTemplateRenders renders every message with a value for each field
// it names, and checks both languages name the same fields.
func TestEveryTemplateRenders(t *testing.T) {
	c := load(t)
	for _, id := range c.IDs(locale.Italian) {
		fields := map[string][]string{}
		for _, lang := range locale.Languages() {
			m := c.Message(lang, id)
			if m == nil {
				continue
			}
			data := map[string]any{"Count": 2}
			for _, src := range []string{m.Other, m.One, m.Zero, m.Two, m.Few, m.Many} {
				for _, f := range field.FindAllStringSubmatch(src, -1) {
					data[f[1]] = "«" + f[1] + "»"
					if !slices.Contains(fields[lang], f[1]) {
						fields[lang] = append(fields[lang], f[1])
					}
				}
			}
			got := c.Plural(lang, id, 2, data)
			if got == "" || strings.HasPrefix(got, "["+id) || strings.Contains(got, "<no value>") {
				t.Errorf("%s %q renders as %q", lang, id, got)
			}
		}
		slices.Sort(fields[locale.Italian])
		slices.Sort(fields[locale.English])
		if !slices.Equal(fields[locale.Italian], fields[locale.English]) {
			t.Errorf("%q uses fields %v in Italian but %v in English", id, fields[locale.Italian], fields[locale.English])
		}
	}
}

func TestMissingMessageIsVisibleNotEmpty(t *testing.T) {
	c := load(t)
	if got := c.Text(locale.Italian, "no.such.message", nil); got != "[no.such.message]" {
		t.Errorf("missing message = %q, want [no.such.message]", got)
	}
}

func TestDates(t *testing.T) {
	c := load(t)
	d := time.Date(2026, 12, 1, 8, 5, 0, 0, time.UTC)
	tests := []struct{ lang, long, short, clock string }{
		{"it", "martedì 1 dicembre 2026", "01/12/2026", "08:05"},
		{"en", "Tuesday 1 December 2026", "01/12/2026", "08:05"},
	}
	for _, tc := range tests {
		if got := c.Date(tc.lang, d); got != tc.long {
			t.Errorf("Date(%s) = %q, want %q", tc.lang, got, tc.long)
		}
		if got := c.ShortDate(tc.lang, d); got != tc.short {
			t.Errorf("ShortDate(%s) = %q, want %q", tc.lang, got, tc.short)
		}
		if got := c.Clock(tc.lang, d); got != tc.clock {
			t.Errorf("Clock(%s) = %q, want %q", tc.lang, got, tc.clock)
		}
	}
	if got := c.Money("it", "22.21"); got != "22,21 €" {
		t.Errorf("Money(it) = %q", got)
	}
	if got := c.Money("en", "27.37"); got != "€27.37" {
		t.Errorf("Money(en) = %q", got)
	}
	if got := c.List("it", []string{"a", "b", "c"}); got != "a, b e c" {
		t.Errorf("List(it) = %q", got)
	}
	if got := c.List("en", []string{"a", "b"}); got != "a and b" {
		t.Errorf("List(en) = %q", got)
	}
}

func TestNormalize(t *testing.T) {
	tests := map[string]string{"it": "it", "it-IT": "it", "it_IT": "it", "EN": "en", "en-GB": "en", "de": "", "": "", "italiano": "it"}
	for in, want := range tests {
		if got := locale.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	tests := map[string]fstest.MapFS{
		"unsupported language": {"x.de.yaml": {Data: []byte("a: b\n")}},
		"bad yaml":             {"x.it.yaml": {Data: []byte("a: [\n")}},
		"duplicate id":         {"x.it.yaml": {Data: []byte("a: b\n")}, "y.it.yaml": {Data: []byte("a: c\n")}},
	}
	for name, fsys := range tests {
		if _, err := locale.Load(fsys); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
}

// TestDatesWithoutWeekday: facts ("dal 3 agosto 2026", "since 3 August
// 2026") carry no weekday; Italian elides the article before 8 and 11.
func TestDatesWithoutWeekday(t *testing.T) {
	c := load(t)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		lang string
		prep locale.Prep
		d    time.Time
		want string
	}{
		{"it", "", day(2026, 8, 3), "3 agosto 2026"},
		{"en", "", day(2026, 8, 3), "3 August 2026"},
		{"it", locale.On, day(2029, 3, 12), "il 12 marzo 2029"},
		{"it", locale.On, day(2029, 3, 8), "l'8 marzo 2029"},
		{"it", locale.On, day(2029, 3, 11), "l'11 marzo 2029"},
		{"it", locale.On, day(2029, 3, 1), "il 1 marzo 2029"},
		{"it", locale.On, day(2029, 3, 18), "il 18 marzo 2029"},
		{"it", locale.From, day(2028, 9, 13), "dal 13 settembre 2028"},
		{"it", locale.From, day(2028, 9, 8), "dall'8 settembre 2028"},
		{"it", locale.Since, day(2026, 8, 3), "dal 3 agosto 2026"},
		{"it", locale.Since, day(2026, 8, 11), "dall'11 agosto 2026"},
		{"en", locale.On, day(2029, 3, 8), "on 8 March 2029"},
		{"en", locale.From, day(2028, 9, 13), "from 13 September 2028"},
		{"en", locale.Since, day(2026, 8, 3), "since 3 August 2026"},
	}
	for _, tc := range tests {
		var got string
		if tc.prep == "" {
			got = c.PlainDate(tc.lang, tc.d)
		} else {
			got = c.DatePhrase(tc.lang, tc.prep, tc.d)
		}
		if got != tc.want {
			t.Errorf("Got(%s date %q %s) = %q, want %q", tc.lang, tc.prep, tc.d.Format(time.DateOnly), got, tc.want)
		}
	}
}

// TestOrdinal picks the CLDR ordinal form of the number: English 1st, 2nd,
// 3rd, 4th, 11th, 21st; Italian elides before 8 and 11.
func TestOrdinal(t *testing.T) {
	c, err := locale.Load(fstest.MapFS{
		"x.en.yaml": {Data: []byte(`day: {one: "the {{.Count}}st day", two: "the {{.Count}}nd day", few: "the {{.Count}}rd day", other: "the {{.Count}}th day"}
plain: "day {{.Count}} of {{.Of}}"
`)},
		"x.it.yaml": {Data: []byte(`day: {many: "dall'{{.Count}}° giorno", other: "dal {{.Count}}° giorno"}
plain: "giorno {{.Count}} di {{.Of}}"
`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "the 1st day"}, {"en", 2, "the 2nd day"}, {"en", 3, "the 3rd day"}, {"en", 4, "the 4th day"},
		{"en", 7, "the 7th day"}, {"en", 11, "the 11th day"}, {"en", 12, "the 12th day"}, {"en", 13, "the 13th day"},
		{"en", 21, "the 21st day"}, {"en", 22, "the 22nd day"}, {"en", 23, "the 23rd day"}, {"en", 111, "the 111th day"},
		{"it", 1, "dal 1° giorno"}, {"it", 7, "dal 7° giorno"}, {"it", 8, "dall'8° giorno"}, {"it", 11, "dall'11° giorno"},
		{"it", 18, "dal 18° giorno"}, {"it", 80, "dall'80° giorno"},
	}
	for _, tc := range tests {
		if got := c.Ordinal(tc.lang, "day", tc.n, nil); got != tc.want {
			t.Errorf("Got(Ordinal(%s, %d)) = %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
	// A message without forms is its only form; data is kept.
	if got := c.Ordinal("it", "plain", 3, map[string]any{"Of": 5}); got != "giorno 3 di 5" {
		t.Errorf("Got(Ordinal(plain)) = %q, want %q", got, "giorno 3 di 5")
	}
	if got := c.Ordinal("en", "no.such", 3, nil); got != "[no.such]" {
		t.Errorf("Got(Ordinal(missing)) = %q, want [no.such]", got)
	}
}
