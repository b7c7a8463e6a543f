package faq

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sportello/bot"
	"sportello/bot/comune"
	"sportello/bot/locale"
	"sportello/dialogs/expiry"
)

// upcomingDays is how far ahead the office list shows closures and
// extraordinary openings.
const upcomingDays = 90

// weekday is a day of the week as the Comune file names it.
type weekday struct {
	key string
	day time.Weekday
}

// weekOrder is the order the office hours are written in.
func weekOrder() [7]weekday {
	return [7]weekday{
		{"monday", time.Monday}, {"tuesday", time.Tuesday}, {"wednesday", time.Wednesday},
		{"thursday", time.Thursday}, {"friday", time.Friday}, {"saturday", time.Saturday}, {"sunday", time.Sunday},
	}
}

// data is what every answer template may use: the national facts from the
// knowledge file and the Comune's own values, written in the citizen's
// language.
func (d *Dialog) data(t *bot.Turn, topic *Topic) map[string]any {
	c, f, cat := d.c, d.k.Facts, t.Catalog()
	money := func(m string) string { return cat.Money(t.Lang, m) }
	m := map[string]any{
		"Comune":            c.Name,
		"Fee":               money(string(c.Fees.CIE)),
		"FeeDuplicate":      money(string(c.Fees.CIEDuplicate)),
		"StateFee":          money(f.StateFee),
		"RenewalDays":       f.RenewalDays,
		"PaperSince":        t.Catalog().DatePhrase(t.Lang, locale.Since, f.PaperInvalidFrom),
		"CapFrom":           t.Catalog().PlainDate(t.Lang, expiry.CapFrom()),
		"DeliveryDays":      f.DeliveryWorkingDays,
		"CollectFrom":       t.Catalog().Ordinal(t.Lang, "faq.part.collect_from", f.CollectFromWorkingDay, nil),
		"AppMin":            f.AppointmentMinutesMin,
		"AppMax":            f.AppointmentMinutesMax,
		"PINTries":          f.PINTries,
		"PUKTries":          f.PUKTries,
		"FingerprintsAge":   f.FingerprintsFromAge,
		"PhotoMonths":       f.PhotoMonths,
		"ParentsNamesUnder": f.MinorParentsNamesUnder,
		"Horizon":           c.Booking.HorizonDays,
		"MinNotice":         c.Booking.MinNoticeHours,
		"Split":             "",
		"Confirm":           "",
	}
	if part, ok := subtract(string(c.Fees.CIE), f.StateFee); ok {
		m["Split"] = t.T("faq.part.fee_split", map[string]any{"StateFee": m["StateFee"], "ComuneFee": money(part)})
	}
	if n := c.Booking.ConfirmDaysBefore; n > 0 {
		m["Confirm"] = t.Plural("faq.part.confirm", n, nil)
	}
	m["Contacts"] = d.contacts(t)
	m["Offices"] = d.offices(t)
	m["Holidays"] = d.holidays(t)
	m["WalkIns"] = d.walkIns(t)
	m["WalkIn"] = d.walkIn(t, topic.WalkIn)
	m["Exceptions"] = d.exceptions(t)
	return m
}

// subtract returns a-b for amounts written "22.21", when positive.
func subtract(a, b string) (string, bool) {
	ca, ok1 := cents(a)
	cb, ok2 := cents(b)
	if !ok1 || !ok2 || ca <= cb {
		return "", false
	}
	d := ca - cb
	return fmt.Sprintf("%d.%02d", d/100, d%100), true
}

func cents(s string) (int, bool) {
	e, c, ok := strings.Cut(s, ".")
	ei, err1 := strconv.Atoi(e)
	ci, err2 := strconv.Atoi(c)
	if !ok || err1 != nil || err2 != nil || len(c) != 2 {
		return 0, false
	}
	return ei*100 + ci, true
}

func (d *Dialog) contacts(t *bot.Turn) string {
	ct := d.c.Contacts
	var lines []string
	for _, p := range []struct{ id, v string }{
		{"faq.part.phone", ct.Phone}, {"faq.part.email", ct.Email}, {"faq.part.website", ct.Website},
	} {
		if p.v != "" {
			lines = append(lines, t.T(p.id, map[string]any{"Value": p.v}))
		}
	}
	if len(lines) == 0 {
		return t.T("faq.part.no_contacts", nil)
	}
	return strings.Join(lines, "\n")
}

// offices writes every office: address, hours, walk-ins, notes, and the
// closures and extraordinary openings of the coming weeks.
func (d *Dialog) offices(t *bot.Turn) string {
	c := d.c
	today := t.Now.In(c.Location())
	var b strings.Builder
	for i, o := range c.Offices {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(t.T("faq.part.office", map[string]any{"Name": o.Name, "Address": o.Address}))
		for _, h := range d.hours(t, o) {
			b.WriteString("\n" + h)
		}
		if o.Phone != "" {
			b.WriteString("\n" + t.T("faq.part.office_phone", map[string]any{"Value": o.Phone}))
		}
		if len(o.WalkIn) > 0 {
			b.WriteString("\n" + t.T("faq.part.office_walk_in", map[string]any{"Cases": d.cases(t, o.WalkIn)}))
		} else {
			b.WriteString("\n" + t.T("faq.part.office_no_walk_in", nil))
		}
		if n := o.Notes.In(t.Lang); n != "" {
			b.WriteString("\n" + t.T("faq.part.office_notes", map[string]any{"Notes": n}))
		}
		for _, cl := range slices.Concat(o.Closures, c.Closures) {
			if cl.To.Before(civil(today)) || cl.From.After(civil(today).AddDate(0, 0, upcomingDays)) {
				continue
			}
			b.WriteString("\n" + d.closure(t, cl))
		}
		for _, op := range o.Openings {
			if op.Date.Before(civil(today)) || op.Date.After(civil(today).AddDate(0, 0, upcomingDays)) {
				continue
			}
			b.WriteString("\n" + t.T("faq.part.office_opening", map[string]any{
				"Date": t.Date(op.Date.Time), "Hours": d.periods(t, op.Hours)}))
		}
	}
	return b.String()
}

func (d *Dialog) closure(t *bot.Turn, cl comune.Closure) string {
	id := "faq.part.office_closed_days"
	if cl.From.Equal(cl.To.Time) {
		id = "faq.part.office_closed_day"
	}
	reason := cl.Reason.In(t.Lang)
	if reason != "" {
		id += "_reason"
	}
	return t.T(id, map[string]any{"From": t.Date(cl.From.Time), "To": t.Date(cl.To.Time), "Reason": reason})
}

// hours groups the days with the same hours: "lunedì e mercoledì: ...".
func (d *Dialog) hours(t *bot.Turn, o *comune.Office) []string {
	type group struct {
		key  string
		days []string
		ps   []comune.Period
	}
	var groups []*group
	for _, w := range weekOrder() {
		ps := o.Hours[w.key]
		if len(ps) == 0 {
			continue
		}
		key := fmt.Sprint(ps)
		name := t.T("date.weekday."+strconv.Itoa(int(w.day)), nil)
		if i := slices.IndexFunc(groups, func(g *group) bool { return g.key == key }); i >= 0 {
			groups[i].days = append(groups[i].days, name)
			continue
		}
		groups = append(groups, &group{key: key, days: []string{name}, ps: ps})
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		out = append(out, t.T("faq.part.office_hours", map[string]any{
			"Days": t.Catalog().List(t.Lang, g.days), "Hours": d.periods(t, g.ps)}))
	}
	if len(out) == 0 {
		out = append(out, t.T("faq.part.office_no_hours", nil))
	}
	return out
}

func (d *Dialog) periods(t *bot.Turn, ps []comune.Period) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return t.Catalog().List(t.Lang, s)
}

func (d *Dialog) cases(t *bot.Turn, cases []string) string {
	s := make([]string, len(cases))
	for i, c := range cases {
		s[i] = t.T("faq.walk_in_case."+c, nil)
	}
	return t.Catalog().List(t.Lang, s)
}

func (d *Dialog) holidays(t *bot.Turn) string {
	c := d.c
	if c.NationalHolidays == nil || !*c.NationalHolidays {
		return ""
	}
	if c.PatronDay.Month == 0 {
		return t.T("faq.part.holidays", nil)
	}
	return t.T("faq.part.holidays_patron", map[string]any{
		"Day": c.PatronDay.Day, "Month": t.T("date.month."+strconv.Itoa(int(c.PatronDay.Month)), nil)})
}

// walkIns lists the offices that take walk-ins, with their cases.
func (d *Dialog) walkIns(t *bot.Turn) string {
	var lines []string
	for _, o := range d.c.Offices {
		if len(o.WalkIn) > 0 {
			lines = append(lines, t.T("faq.part.walk_in_office", map[string]any{
				"Name": o.Name, "Address": o.Address, "Cases": d.cases(t, o.WalkIn)}))
		}
	}
	if len(lines) == 0 {
		return t.T("faq.part.walk_in_none", map[string]any{"Contacts": d.contacts(t)})
	}
	return t.T("faq.part.walk_in_intro", nil) + "\n" + strings.Join(lines, "\n")
}

// walkIn says whether the topic's urgent case (theft, loss, ...) may come
// without appointment, and where. The sentence names the case, which may be
// narrower than the topic: a minor's first card, not every minor's card.
func (d *Dialog) walkIn(t *bot.Turn, walkIn string) string {
	if walkIn == "" {
		return ""
	}
	var where []string
	for _, o := range d.c.Offices {
		if slices.Contains(o.WalkIn, walkIn) {
			where = append(where, t.T("faq.part.office_short", map[string]any{"Name": o.Name, "Address": o.Address}))
		}
	}
	if len(where) == 0 {
		return t.T("faq.part.by_appointment_for."+walkIn, nil)
	}
	return t.T("faq.part.walk_in_for."+walkIn, map[string]any{"Offices": t.Catalog().List(t.Lang, where)})
}

func (d *Dialog) exceptions(t *bot.Turn) string {
	lines := make([]string, len(d.c.NonResidentExceptions))
	for i, e := range d.c.NonResidentExceptions {
		lines[i] = t.T("faq.part.bullet", map[string]any{"Text": e.In(t.Lang)})
	}
	return strings.Join(lines, "\n")
}

// civil is the calendar day of t as midnight UTC, as the Comune file's dates
// are.
func civil(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
