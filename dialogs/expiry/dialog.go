package expiry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sportello/bot"
	"sportello/bot/locale"
)

// Name is the dialog's name; its buttons are "expiry:known" (the citizen
// reads the expiry date off the card) and "expiry:calc" (work it out from
// the dates of birth and issue).
const Name = "expiry"

// Steps.
const (
	stepBirth  = "birth"
	stepIssue  = "issue"
	stepExpiry = "expiry"
)

// maxAge bounds a plausible date of birth.
const maxAge = 120

// Config holds the rules the calculator applies.
type Config struct {
	// Location is the Comune's time zone, which decides what "today" is.
	Location *time.Location
	// RenewalDays: renewal can be requested this many days before expiry.
	RenewalDays int
	// PaperInvalidFrom is the day paper identity cards stopped being valid.
	PaperInvalidFrom time.Time
}

// Dialog is the expiry calculator, a flow of up to two questions.
type Dialog struct {
	cfg    Config
	parser *Parser
}

var _ bot.Dialog = (*Dialog)(nil)

// New returns the calculator; month names for reading dates come from cat.
func New(cat *locale.Catalog, cfg Config) *Dialog {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return &Dialog{cfg: cfg, parser: NewParser(cat)}
}

// Name implements bot.Dialog.
func (d *Dialog) Name() string { return Name }

// Start asks the date of birth. A question that already gives the dates of
// birth and issue, or the expiry date ("la mia carta scade il 12/3/2031,
// quando posso rinnovarla?"), is answered at once.
func (d *Dialog) Start(ctx context.Context, t *bot.Turn, _ string) error {
	if !t.Private() {
		// No dates of birth in a group chat.
		t.SayT("expiry.group", d.facts(t), t.Button("faq:validity", "faq.validity.label", nil))
		return nil
	}
	if t.In.Text != "" && d.shortcut(t, t.In.Text, true) {
		return nil
	}
	t.Begin(Name, stepBirth)
	t.SayT("expiry.intro", d.facts(t))
	return d.Prompt(ctx, t)
}

// shortcut answers when text holds the dates already: two dates (birth,
// then issue), or, when expiryToo, one date ahead of today (the expiry
// date).
func (d *Dialog) shortcut(t *bot.Turn, text string, expiryToo bool) bool {
	today := d.today(t)
	dates := d.parser.All(text, Past, today, t.Lang)
	switch {
	case len(dates) == 2 && dates[0].Before(dates[1]) && !dates[1].After(today) && Age(dates[0], today) <= maxAge:
		d.answer(t, dates[0], dates[1])
		return true
	case len(dates) == 1 && expiryToo:
		if exp := d.parser.All(text, Future, today, t.Lang); len(exp) == 1 && exp[0].After(today) && d.plausibleExpiry(t, exp[0]) {
			d.answerExpiry(t, exp[0])
			return true
		}
	}
	return false
}

// Prompt asks the current step's question.
func (d *Dialog) Prompt(_ context.Context, t *bot.Turn) error {
	switch t.Step() {
	case stepBirth:
		t.SayT("expiry.ask_birth", nil, t.Button(Name+":known", "expiry.button.known", nil))
	case stepIssue:
		t.SayT("expiry.ask_issue", nil, t.Button(Name+":known", "expiry.button.known", nil))
	case stepExpiry:
		t.SayT("expiry.ask_expiry", nil, t.Button(Name+":calc", "expiry.button.calc", nil))
	default:
		return fmt.Errorf("expiry: unknown step %q", t.Step())
	}
	return nil
}

// Continue reads the answer to the current question.
func (d *Dialog) Continue(ctx context.Context, t *bot.Turn) error {
	switch t.In.Button {
	case "":
	case Name + ":known":
		t.Del("birth")
		t.Goto(stepExpiry)
		return d.Prompt(ctx, t)
	case Name + ":calc":
		t.Goto(stepBirth)
		return d.Prompt(ctx, t)
	default:
		return bot.ErrStale
	}
	today := d.today(t)
	kind := Past
	if t.Step() == stepExpiry {
		kind = Future
	}
	// At the first question, two dates are birth and issue; one date ahead
	// of today cannot be a birth date: it is the expiry printed on the card.
	if t.Step() == stepBirth && d.shortcut(t, t.In.Text, true) {
		return nil
	}
	date, err := d.parser.Parse(t.In.Text, kind, today, t.Lang)
	var pe *ParseError
	switch {
	case errors.As(err, &pe) && pe.Code == "none":
		// Not a date at all: maybe a question of its own.
		return bot.ErrNotUnderstood
	case errors.As(err, &pe):
		d.sayParseError(t, pe)
		return d.Prompt(ctx, t)
	case err != nil:
		return fmt.Errorf("expiry: %w", err)
	}

	switch t.Step() {
	case stepBirth:
		switch {
		case date.After(today):
			t.SayT("expiry.error.birth_future", nil)
			return d.Prompt(ctx, t)
		case Age(date, today) > maxAge:
			t.SayT("expiry.error.birth_old", map[string]any{"Max": maxAge})
			return d.Prompt(ctx, t)
		}
		t.Set("birth", date.Format(time.DateOnly))
		t.Goto(stepIssue)
		return d.Prompt(ctx, t)
	case stepIssue:
		birth, err := time.Parse(time.DateOnly, t.Get("birth"))
		if err != nil {
			// The stored date is gone (an old session): ask it again.
			t.Goto(stepBirth)
			return d.Prompt(ctx, t)
		}
		switch {
		case date.After(today):
			t.SayT("expiry.error.issue_future", nil)
			return d.Prompt(ctx, t)
		case date.Before(birth):
			t.SayT("expiry.error.issue_before_birth", map[string]any{"Birth": t.Catalog().PlainDate(t.Lang, birth)})
			return d.Prompt(ctx, t)
		}
		d.answer(t, birth, date)
		return nil
	case stepExpiry:
		if !d.plausibleExpiry(t, date) {
			t.SayT("expiry.error.expiry_range", nil)
			return d.Prompt(ctx, t)
		}
		d.answerExpiry(t, date)
		return nil
	}
	return fmt.Errorf("expiry: unknown step %q", t.Step())
}

// plausibleExpiry: a card expires at most 11 years after it was issued, so
// no later than that from today, and one expired decades ago is a typo.
func (d *Dialog) plausibleExpiry(t *bot.Turn, date time.Time) bool {
	today := d.today(t)
	return date.Before(today.AddDate(11, 0, 1)) && date.After(today.AddDate(-30, 0, 0))
}

func (d *Dialog) sayParseError(t *bot.Turn, pe *ParseError) {
	data := map[string]any{}
	if pe.Code == "day" {
		data["Month"] = t.T(fmt.Sprintf("date.month.%d", int(pe.Month)), nil)
		data["Year"] = pe.Year
		data["Max"] = pe.Max
	}
	t.SayT("expiry.error."+pe.Code, data)
}

// answer works out the expiry from the dates of birth and issue.
func (d *Dialog) answer(t *bot.Turn, birth, issue time.Time) {
	exp, v := Expiry(birth, issue)
	rule := "expiry.rule.adult"
	switch {
	case v == Under3:
		rule = "expiry.rule.under3"
	case v == Minor:
		rule = "expiry.rule.minor"
	case !Capped(birth, issue):
		rule = "expiry.rule.adult_before_cap"
	}
	cat := t.Catalog()
	d.result(t, exp, t.T(rule, map[string]any{
		"Issue": cat.DatePhrase(t.Lang, locale.On, issue), "CapFrom": cat.PlainDate(t.Lang, CapFrom())}))
}

// answerExpiry works from the expiry date printed on the card.
func (d *Dialog) answerExpiry(t *bot.Turn, exp time.Time) {
	d.result(t, exp, "")
}

func (d *Dialog) result(t *bot.Turn, exp time.Time, rule string) {
	today := d.today(t)
	from := RenewFrom(exp, d.cfg.RenewalDays)
	cat := t.Catalog()
	data := map[string]any{
		"Expiry":      cat.DatePhrase(t.Lang, locale.On, exp),
		"RenewFrom":   cat.DatePhrase(t.Lang, locale.From, from),
		"RenewSince":  cat.DatePhrase(t.Lang, locale.Since, from),
		"RenewalDays": d.cfg.RenewalDays,
		"Rule":        rule,
	}
	status, headline := "expiry.status.later", "expiry.expires"
	switch {
	case exp.Before(today):
		status, headline = "expiry.status.expired", "expiry.expired_on"
	case !from.After(today):
		status = "expiry.status.open"
	}
	data["Status"] = t.T(status, data)
	data["Headline"] = t.T(headline, data)
	id := "expiry.result"
	if rule == "" {
		id = "expiry.result_printed"
	}
	t.End() // the dates are personal data: forget them now
	t.SayT(id, data,
		t.Button("menu:book", "menu.book", nil),
		t.Button("menu:reminders", "expiry.button.remind", nil))
}

func (d *Dialog) facts(t *bot.Turn) map[string]any {
	return map[string]any{"RenewalDays": d.cfg.RenewalDays, "PaperSince": t.Catalog().DatePhrase(t.Lang, locale.Since, d.cfg.PaperInvalidFrom)}
}

// today is the calendar day in the Comune, as midnight UTC like parsed
// dates.
func (d *Dialog) today(t *bot.Turn) time.Time {
	return civil(t.Now.In(d.cfg.Location))
}
