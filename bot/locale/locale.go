// Package locale renders the texts citizens see, from the message files in
// locales/, in Italian (the default) or English, and writes dates the way each
// language writes them.
package locale

import (
	"bytes"
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Supported languages, default first.
const (
	Italian = "it"
	English = "en"
)

// Languages lists the supported languages, default first.
func Languages() []string { return []string{Italian, English} }

// Normalize maps a language tag or hint ("en-GB", "it_IT", "EN") to a
// supported language, or "" when it is none of them.
func Normalize(hint string) string {
	h := strings.ToLower(strings.TrimSpace(hint))
	if i := strings.IndexAny(h, "-_"); i >= 0 {
		h = h[:i]
	}
	switch h {
	case Italian, "ita", "italiano", "italian":
		return Italian
	case English, "eng", "english", "inglese":
		return English
	}
	return ""
}

// Catalog holds every message in every language.
type Catalog struct {
	bundle   *i18n.Bundle
	locs     map[string]*i18n.Localizer
	messages map[string]map[string]*i18n.Message // lang -> id -> message
}

// Load parses every <name>.<lang>.yaml file in fsys. It fails on a file that
// does not parse or names a language Sportello does not speak.
func Load(fsys fs.FS) (*Catalog, error) {
	b := i18n.NewBundle(language.Italian)
	b.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	c := &Catalog{bundle: b, locs: map[string]*i18n.Localizer{}, messages: map[string]map[string]*i18n.Message{}}
	for _, l := range Languages() {
		c.messages[l] = map[string]*i18n.Message{}
	}
	names, err := fs.Glob(fsys, "*.*.yaml")
	if err != nil {
		return nil, fmt.Errorf("locale: %w", err)
	}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("locale: %w", err)
		}
		mf, err := b.ParseMessageFileBytes(data, name)
		if err != nil {
			return nil, fmt.Errorf("locale: %s: %w", name, err)
		}
		lang := Normalize(mf.Tag.String())
		if lang == "" {
			return nil, fmt.Errorf("locale: %s: language %q is not supported", name, mf.Tag)
		}
		for _, m := range mf.Messages {
			if _, dup := c.messages[lang][m.ID]; dup {
				return nil, fmt.Errorf("locale: %s: message %q is defined twice for %s", path.Base(name), m.ID, lang)
			}
			c.messages[lang][m.ID] = m
		}
	}
	for _, l := range Languages() {
		c.locs[l] = i18n.NewLocalizer(b, l)
	}
	return c, nil
}

// IDs returns the sorted message IDs defined for lang.
func (c *Catalog) IDs(lang string) []string {
	ids := make([]string, 0, len(c.messages[lang]))
	for id := range c.messages[lang] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Message returns the raw message, for checks on its templates.
func (c *Catalog) Message(lang, id string) *i18n.Message { return c.messages[lang][id] }

// Has reports whether id exists in lang.
func (c *Catalog) Has(lang, id string) bool {
	_, ok := c.messages[lang][id]
	return ok
}

// Text renders message id in lang with data (a map or struct the template
// reads, or nil). A missing message renders as its id in brackets, which the
// locale tests make sure never reaches a citizen.
func (c *Catalog) Text(lang, id string, data any) string {
	return c.render(lang, id, data, nil)
}

// Plural renders a message with plural forms for count n; the template sees
// n as .Count unless data provides it.
func (c *Catalog) Plural(lang, id string, n int, data map[string]any) string {
	if data == nil {
		data = map[string]any{}
	}
	if _, ok := data["Count"]; !ok {
		data["Count"] = n
	}
	return c.render(lang, id, data, n)
}

func (c *Catalog) render(lang, id string, data, count any) string {
	loc := c.locs[lang]
	if loc == nil {
		loc = c.locs[Italian]
	}
	s, err := loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil || s == "" {
		return "[" + id + "]"
	}
	return s
}

// Date writes d as a long date ("martedì 1 dicembre 2026", "Tuesday 1
// December 2026") with the names and order from the message files.
func (c *Catalog) Date(lang string, d time.Time) string {
	return c.Text(lang, "date.long", map[string]any{
		"Weekday": c.Text(lang, "date.weekday."+strconv.Itoa(int(d.Weekday())), nil),
		"Day":     d.Day(),
		"Month":   c.Text(lang, "date.month."+strconv.Itoa(int(d.Month())), nil),
		"Year":    d.Year(),
	})
}

// PlainDate writes d without the weekday ("3 agosto 2026", "3 August
// 2026"), for facts where the weekday would read oddly.
func (c *Catalog) PlainDate(lang string, d time.Time) string {
	return c.Text(lang, "date.day_month_year", map[string]any{
		"Day":   d.Day(),
		"Month": c.Text(lang, "date.month."+strconv.Itoa(int(d.Month())), nil),
		"Year":  d.Year(),
	})
}

// Prep is a word that goes before a date: the messages date.on, date.from
// and date.since.
type Prep string

// Date prepositions.
const (
	On    Prep = "on"    // "il 12 marzo 2029", "on 12 March 2029"
	From  Prep = "from"  // "dal 13 settembre 2028", "from 13 September 2028"
	Since Prep = "since" // "dal 3 agosto 2026", "since 3 August 2026"
)

// DatePhrase writes d without the weekday after p, in the form the day
// number takes: Italian merges the article with the preposition and elides
// it before 8 and 11 ("l'8 marzo", "dall'11 agosto"), which is the CLDR
// ordinal form "many" of those numbers.
func (c *Catalog) DatePhrase(lang string, p Prep, d time.Time) string {
	return c.Ordinal(lang, "date."+string(p), d.Day(), map[string]any{"Date": c.PlainDate(lang, d)})
}

// Ordinal renders message id in the form that the CLDR ordinal rules of
// lang give n: "1st", "2nd", "3rd", "4th" in English, the elided "l'8°" in
// Italian. The message lists the forms it needs (zero, one, two, few, many,
// other); a missing form falls back to other. The template sees n as .Count
// unless data provides it.
func (c *Catalog) Ordinal(lang, id string, n int, data map[string]any) string {
	if c.locs[lang] == nil {
		lang = Italian
	}
	m := c.messages[lang][id]
	if m == nil {
		return "[" + id + "]"
	}
	if data == nil {
		data = map[string]any{}
	}
	if _, ok := data["Count"]; !ok {
		data["Count"] = n
	}
	src := m.Other
	tag := language.Make(lang)
	switch plural.Ordinal.MatchPlural(tag, n, 0, 0, 0, 0) {
	case plural.Zero:
		src = cmp.Or(m.Zero, src)
	case plural.One:
		src = cmp.Or(m.One, src)
	case plural.Two:
		src = cmp.Or(m.Two, src)
	case plural.Few:
		src = cmp.Or(m.Few, src)
	case plural.Many:
		src = cmp.Or(m.Many, src)
	}
	tmpl, err := template.New(id).Parse(src)
	if err != nil {
		return "[" + id + "]"
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil || b.Len() == 0 {
		return "[" + id + "]"
	}
	return b.String()
}

// ShortDate writes d as the short numeric date of lang (26/11/2026 in both
// Italian and British English).
func (c *Catalog) ShortDate(lang string, d time.Time) string {
	return c.Text(lang, "date.short", map[string]any{
		"Day": fmt.Sprintf("%02d", d.Day()), "Month": fmt.Sprintf("%02d", int(d.Month())), "Year": d.Year(),
	})
}

// Clock writes the time of day of t (24-hour, as both languages use in Italy).
func (c *Catalog) Clock(lang string, t time.Time) string {
	return c.Text(lang, "date.clock", map[string]any{"Hour": fmt.Sprintf("%02d", t.Hour()), "Minute": fmt.Sprintf("%02d", t.Minute())})
}

// List joins items the way lang writes a list ("a, b e c" / "a, b and c").
func (c *Catalog) List(lang string, items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	var b bytes.Buffer
	for i, it := range items[:len(items)-1] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it)
	}
	return c.Text(lang, "list.and", map[string]any{"Head": b.String(), "Last": items[len(items)-1]})
}

// Money writes an amount in euro given as "22.21" the way lang writes it
// ("22,21 €", "€22.21").
func (c *Catalog) Money(lang, amount string) string {
	euros, cents, _ := strings.Cut(amount, ".")
	return c.Text(lang, "money", map[string]any{"Euros": euros, "Cents": cents})
}
