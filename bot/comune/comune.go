// Package comune reads the Comune file: one YAML file that describes a
// Comune's registry offices (hours, extraordinary openings, closures, desks),
// its fees, its rules for non-residents and booking. The same build serves
// Milan and a small Comune by reading a different file.
//
// An invalid file is refused with the line and the field that is wrong.
package comune

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the Comune's time zone must load on machines without zoneinfo

	"go.yaml.in/yaml/v3"
)

//go:embed demo.yaml
var demoFile []byte

// Demo returns the embedded demo Comune, used when SPORTELLO_COMUNE is unset.
func Demo() *Comune {
	c, err := Parse(demoFile, "demo.yaml")
	if err != nil {
		panic("comune: embedded demo is invalid: " + err.Error()) // caught by TestDemoIsValid
	}
	return c
}

// DemoYAML returns the demo file's text.
func DemoYAML() []byte { return bytes.Clone(demoFile) }

// Non-resident policies.
const (
	NonResidentsAllowed    = "allowed"
	NonResidentsRestricted = "restricted"
	NonResidentsNotAllowed = "not_allowed"
)

// Walk-in cases: urgent cases an office serves without appointment.
const (
	WalkInTheft           = "theft"
	WalkInLoss            = "loss"
	WalkInMinorFirstIssue = "minor_first_issue"
	WalkInTravel          = "travel"
	WalkInHealth          = "health"
	WalkInDamaged         = "damaged"
)

// WalkInCases lists every walk-in case the file may name.
func WalkInCases() []string {
	return []string{WalkInTheft, WalkInLoss, WalkInMinorFirstIssue, WalkInTravel, WalkInHealth, WalkInDamaged}
}

// Comune is a parsed, validated Comune file.
type Comune struct {
	Name         string `yaml:"name"`
	Timezone     string `yaml:"timezone"`
	Fees         Fees   `yaml:"fees"`
	NonResidents string `yaml:"non_residents"`
	// NonResidentExceptions are the cases a "restricted" Comune still
	// serves (asylum seekers domiciled here, people who cannot reach
	// their own Comune, ...).
	NonResidentExceptions []Text    `yaml:"non_resident_exceptions"`
	Contacts              Contacts  `yaml:"contacts"`
	Booking               Booking   `yaml:"booking"`
	Offices               []*Office `yaml:"offices"`
	// Closures here apply to every office.
	Closures []Closure `yaml:"closures"`
	// NationalHolidays closes every office on Italian public holidays
	// (default true).
	NationalHolidays *bool `yaml:"national_holidays"`
	// PatronDay is the patron saint's day ("12-07" for Milan), a local
	// holiday.
	PatronDay MonthDay `yaml:"patron_day"`
	// PIIRetentionDays is how long after an appointment the plain personal
	// data the office needs is kept (default 30).
	PIIRetentionDays int `yaml:"pii_retention_days"`

	loc *time.Location
}

// Fees are amounts in euro, as written ("22.21").
type Fees struct {
	CIE          Money `yaml:"cie"`
	CIEDuplicate Money `yaml:"cie_duplicate"`
}

// Contacts of the registry office for citizens.
type Contacts struct {
	Phone   string `yaml:"phone"`
	Email   string `yaml:"email"`
	Website string `yaml:"website"`
}

// AnswerWindow is the least time a citizen gets to answer a confirmation
// request. An unconfirmed booking is released min_notice_hours before the
// appointment at the latest (a place released later could be neither
// offered nor booked), so confirm_days_before must leave this much between
// the request and that moment: the file is refused otherwise.
const AnswerWindow = 12 * time.Hour

// Booking rules.
type Booking struct {
	HorizonDays        int `yaml:"horizon_days"`
	MinNoticeHours     int `yaml:"min_notice_hours"`
	MaxActivePerPerson int `yaml:"max_active_per_person"`
	ConfirmDaysBefore  int `yaml:"confirm_days_before"`
	// WaitlistHoldMinutes is how long a freed slot is held for the first
	// citizen on the waitlist (default 15), counted in WaitlistOfferHours.
	WaitlistHoldMinutes int `yaml:"waitlist_hold_minutes"`
	// WaitlistOfferHours are the hours of the day ("08:00-20:00", the
	// default; "00:00-24:00" for any time) in which waitlist offers are
	// sent and their holds run: a place freed at night is held for the
	// first in line and offered in the morning.
	WaitlistOfferHours Period `yaml:"waitlist_offer_hours"`
}

// Office is one registry office (sede) that issues the CIE.
type Office struct {
	ID          string              `yaml:"id"`
	Name        string              `yaml:"name"`
	Address     string              `yaml:"address"`
	Phone       string              `yaml:"phone"`
	SlotMinutes int                 `yaml:"slot_minutes"`
	Desks       int                 `yaml:"desks"`
	WalkIn      []string            `yaml:"walk_in"`
	Hours       map[string][]Period `yaml:"hours"`
	Openings    []Opening           `yaml:"openings"`
	Closures    []Closure           `yaml:"closures"`
	// Notes shown to citizens (access, floor, parking), per language.
	Notes Text `yaml:"notes"`
}

// Opening is an extraordinary opening day with its own hours.
type Opening struct {
	Date  Date     `yaml:"date"`
	Hours []Period `yaml:"hours"`
}

// Closure closes an office (or all of them) from From to To, both included.
type Closure struct {
	From   Date `yaml:"from"`
	To     Date `yaml:"to"`
	Reason Text `yaml:"reason"`
}

// Text is a text per language ({it: ..., en: ...}).
type Text map[string]string

// In returns the text in lang, or the Italian one.
func (t Text) In(lang string) string {
	if s := t[lang]; s != "" {
		return s
	}
	return t["it"]
}

// Location is the Comune's time zone.
func (c *Comune) Location() *time.Location { return c.loc }

// Office returns the office with id, or nil.
func (c *Comune) Office(id string) *Office {
	for _, o := range c.Offices {
		if o.ID == id {
			return o
		}
	}
	return nil
}

// Load reads and validates the Comune file at path.
func Load(path string) (*Comune, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SPORTELLO_COMUNE: %w", err)
	}
	return Parse(data, path)
}

// Parse validates a Comune file's content. name prefixes error messages.
func Parse(data []byte, name string) (*Comune, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, cleanYAMLError(err))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty", name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Comune
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", name, cleanYAMLError(err))
	}
	v := validator{root: root.Content[0]}
	v.check(&c)
	if len(v.errs) > 0 {
		return nil, fmt.Errorf("%s: %w", name, errors.Join(v.errs...))
	}
	return &c, nil
}

// cleanYAMLError turns "yaml: unmarshal errors:\n  line 3: ..." into
// "line 3: ...".
func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	lines := strings.Split(msg, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return errors.New(strings.Join(lines, "; "))
}

type validator struct {
	root *yaml.Node
	errs []error
}

// fail records an error at the line of path (keys and indexes from the
// document root).
func (v *validator) fail(path []any, format string, args ...any) {
	line := lineOf(v.root, path)
	v.errs = append(v.errs, fmt.Errorf("line %d: %s: %s", line, pathString(path), fmt.Sprintf(format, args...)))
}

func (v *validator) check(c *Comune) {
	if strings.TrimSpace(c.Name) == "" {
		v.fail(p("name"), "is required")
	}
	if c.Timezone == "" {
		c.Timezone = "Europe/Rome"
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		v.fail(p("timezone"), "unknown time zone %q", c.Timezone)
		loc = time.UTC
	}
	c.loc = loc
	if c.Fees.CIE == "" {
		v.fail(p("fees", "cie"), "is required (for example \"22.21\")")
	}
	if c.Fees.CIEDuplicate == "" {
		v.fail(p("fees", "cie_duplicate"), "is required (for example \"27.37\")")
	}
	switch c.NonResidents {
	case "":
		c.NonResidents = NonResidentsAllowed
	case NonResidentsAllowed, NonResidentsRestricted, NonResidentsNotAllowed:
	default:
		v.fail(p("non_residents"), "must be allowed, restricted or not_allowed, not %q", c.NonResidents)
	}
	for i, t := range c.NonResidentExceptions {
		if t["it"] == "" {
			v.fail(p("non_resident_exceptions", i), "needs an Italian text (it:)")
		}
	}
	b := &c.Booking
	positive := func(field string, val *int, def, lo, hi int) bool {
		if v.present("booking", field) {
			if *val < lo || *val > hi {
				v.fail(p("booking", field), "must be between %d and %d, not %d", lo, hi, *val)
				return false
			}
			return true
		}
		*val = def
		return true
	}
	positive("horizon_days", &b.HorizonDays, 60, 1, 366)
	noticeOK := positive("min_notice_hours", &b.MinNoticeHours, 2, 0, 24*30)
	positive("max_active_per_person", &b.MaxActivePerPerson, 1, 1, 10)
	confirmOK := positive("confirm_days_before", &b.ConfirmDaysBefore, 0, 0, 30)
	positive("waitlist_hold_minutes", &b.WaitlistHoldMinutes, 15, 1, 24*60)
	if noticeOK && confirmOK {
		v.confirmWindow(b)
	}
	if !v.present("booking", "waitlist_offer_hours") {
		b.WaitlistOfferHours = Period{Start: 8 * 60, End: 20 * 60}
	} else {
		v.periods(p("booking", "waitlist_offer_hours"), []Period{b.WaitlistOfferHours})
	}
	if c.NationalHolidays == nil {
		yes := true
		c.NationalHolidays = &yes
	}
	if c.PIIRetentionDays == 0 {
		c.PIIRetentionDays = 30
	} else if c.PIIRetentionDays < 1 || c.PIIRetentionDays > 365 {
		v.fail(p("pii_retention_days"), "must be between 1 and 365, not %d", c.PIIRetentionDays)
	}
	v.closures(p("closures"), c.Closures)

	if len(c.Offices) == 0 {
		v.fail(p("offices"), "at least one office is required")
	}
	seen := map[string]bool{}
	for i, o := range c.Offices {
		v.office(c, i, o, seen)
	}
}

// confirmWindow checks that the confirmation request, confirm_days_before
// the appointment, leaves the citizen AnswerWindow before the release,
// min_notice_hours before it.
func (v *validator) confirmWindow(b *Booking) {
	answer := int(AnswerWindow / time.Hour)
	n, notice := b.ConfirmDaysBefore, b.MinNoticeHours
	if n <= 0 || n*24 >= notice+answer {
		return
	}
	v.fail(p("booking", "confirm_days_before"),
		"%d leaves no time to confirm: the request goes %d hours before the appointment, and an unconfirmed "+
			"booking is released min_notice_hours (%d) before it, so the citizen would have %d of the %d hours "+
			"they need to answer; set confirm_days_before to at least %d, or min_notice_hours to at most %d",
		n, n*24, notice, max(n*24-notice, 0), answer, (notice+answer+23)/24, n*24-answer)
}

var officeID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,23}$`)

func (v *validator) office(c *Comune, i int, o *Office, seen map[string]bool) {
	at := func(rest ...any) []any { return append(p("offices", i), rest...) }
	if o == nil {
		v.fail(p("offices", i), "is empty")
		return
	}
	switch {
	case o.ID == "":
		v.fail(at("id"), "is required")
	case !officeID.MatchString(o.ID):
		v.fail(at("id"), "%q must be 1-24 lowercase letters, digits, '-' or '_'", o.ID)
	case seen[o.ID]:
		v.fail(at("id"), "%q is used by two offices", o.ID)
	}
	seen[o.ID] = true
	if strings.TrimSpace(o.Name) == "" {
		v.fail(at("name"), "is required")
	}
	if strings.TrimSpace(o.Address) == "" {
		v.fail(at("address"), "is required")
	}
	if o.SlotMinutes < 5 || o.SlotMinutes > 240 {
		v.fail(at("slot_minutes"), "must be between 5 and 240, not %d", o.SlotMinutes)
	}
	if o.Desks < 1 || o.Desks > 100 {
		v.fail(at("desks"), "must be between 1 and 100, not %d", o.Desks)
	}
	for j, w := range o.WalkIn {
		if !slices.Contains(WalkInCases(), w) {
			v.fail(at("walk_in", j), "unknown case %q (known: %s)", w, strings.Join(WalkInCases(), ", "))
		}
	}
	for day, periods := range o.Hours {
		if _, ok := weekday(day); !ok {
			v.fail(at("hours", day), "%q is not a day of the week (monday ... sunday)", day)
			continue
		}
		v.periods(at("hours", day), periods)
	}
	for j, op := range o.Openings {
		if op.Date.IsZero() {
			v.fail(at("openings", j, "date"), "is required")
		}
		if len(op.Hours) == 0 {
			v.fail(at("openings", j, "hours"), "an extraordinary opening needs its hours")
		}
		v.periods(at("openings", j, "hours"), op.Hours)
	}
	v.closures(at("closures"), o.Closures)
}

func (v *validator) periods(path []any, ps []Period) {
	for i, a := range ps {
		if a.End <= a.Start {
			v.fail(append(path, i), "%s ends before it starts", a)
		}
		for _, b := range ps[i+1:] {
			if a.Start < b.End && b.Start < a.End {
				v.fail(append(path, i), "%s overlaps %s", a, b)
			}
		}
	}
}

func (v *validator) closures(path []any, cs []Closure) {
	for i, cl := range cs {
		if cl.From.IsZero() {
			v.fail(append(path, i, "from"), "is required")
			continue
		}
		if cl.To.IsZero() {
			cs[i].To = cl.From
		} else if cl.To.Before(cl.From.Time) {
			v.fail(append(path, i, "to"), "%s is before from (%s)", cl.To, cl.From)
		}
	}
}

// present reports whether the mapping at path has key.
func (v *validator) present(path ...string) bool {
	n := v.root
	for _, k := range path {
		n = child(n, k)
		if n == nil {
			return false
		}
	}
	return true
}

func p(parts ...any) []any { return parts }

func pathString(path []any) string {
	var b strings.Builder
	for i, part := range path {
		switch x := part.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", x)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, x)
		}
	}
	return b.String()
}

// lineOf finds the line of the deepest node along path that exists.
func lineOf(n *yaml.Node, path []any) int {
	line := n.Line
	for _, part := range path {
		var next *yaml.Node
		switch x := part.(type) {
		case string:
			next = child(n, x)
		case int:
			if n.Kind == yaml.SequenceNode && x < len(n.Content) {
				next = n.Content[x]
			}
		}
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// weekday reads a day name of the Comune file ("monday" ... "sunday").
func weekday(name string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.ToLower(d.String()) == name {
			return d, true
		}
	}
	return 0, false
}

// Period is a span of opening hours within one day, in minutes from
// midnight, written "08:30-12:30".
type Period struct{ Start, End int }

func (p Period) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", p.Start/60, p.Start%60, p.End/60, p.End%60)
}

// UnmarshalYAML parses "HH:MM-HH:MM".
func (p *Period) UnmarshalYAML(n *yaml.Node) error {
	start, end, ok := strings.Cut(n.Value, "-")
	s, err1 := clock(start)
	e, err2 := clock(end)
	if n.Kind != yaml.ScalarNode || !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("line %d: hours %q must look like \"08:30-12:30\"", n.Line, n.Value)
	}
	p.Start, p.End = s, e
	return nil
}

func clock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, errors.New("bad time")
	}
	return hh*60 + mm, nil
}

// Date is a calendar day, written 2026-12-24.
type Date struct{ time.Time }

// UnmarshalYAML parses YYYY-MM-DD.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse(time.DateOnly, n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: date %q must look like 2026-12-24", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

func (d Date) String() string { return d.Format(time.DateOnly) }

// Contains reports whether the calendar day day (any time of it) falls
// inside the closure.
func (c Closure) Contains(day time.Time) bool {
	d := civil(day)
	return !d.Before(c.From.Time) && !d.After(c.To.Time)
}

// MonthDay is a day of the year, written "12-07".
type MonthDay struct {
	Month time.Month
	Day   int
}

// UnmarshalYAML parses MM-DD.
func (m *MonthDay) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse("01-02", n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: patron day %q must look like 12-07 (month-day)", n.Line, n.Value)
	}
	m.Month, m.Day = t.Month(), t.Day()
	return nil
}

var moneyRE = regexp.MustCompile(`^\d{1,4}\.\d{2}$`)

// Money is an amount in euro written with a dot and two decimals ("22.21").
type Money string

// UnmarshalYAML checks the amount.
func (m *Money) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || !moneyRE.MatchString(n.Value) {
		return fmt.Errorf("line %d: amount %q must look like \"22.21\"", n.Line, n.Value)
	}
	*m = Money(n.Value)
	return nil
}
