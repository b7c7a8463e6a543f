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
