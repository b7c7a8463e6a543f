package expiry_test

// The calculator in conversations through the real engine, with the FAQ
// matcher that starts it from free text.

import (
	"context"
	"strings"
	"testing"
	"time"

	"sportello/bot"
	"sportello/bot/bottest"
	"sportello/bot/comune"
	"sportello/bot/locale"
	"sportello/bot/store/boltstore"
	"sportello/dialogs/expiry"
	"sportello/dialogs/faq"
	"sportello/locales"
)

type harness struct {
	t      *testing.T
	engine *bot.Engine
	store  *boltstore.Store
	cat    *locale.Catalog
	clock  *bottest.Clock
	group  bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	c := comune.Demo()
	h := &harness{t: t, clock: bottest.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, c.Location()))}
	h.store = bottest.EmbeddedStore(t, h.clock.Now)
	var vocab *bot.Vocabulary
	h.cat, vocab = bottest.Locales(t)
	k, err := faq.Load(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	h.engine, err = bot.New(bot.Config{
		Store: h.store, Catalog: h.cat, Vocabulary: vocab,
		Dialogs: []bot.Dialog{
			faq.New(k, c),
			expiry.New(h.cat, expiry.Config{Location: c.Location(), RenewalDays: k.Facts.RenewalDays, PaperInvalidFrom: k.Facts.PaperInvalidFrom}),
		},
		Understander: faq.NewMatcher(k, h.cat),
		Office:       c.Name,
		Now:          h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) send(in bot.Inbound) []bot.Reply {
	h.t.Helper()
	chat := bottest.Chat{T: h.t, Engine: h.engine, Group: h.group}
	return chat.Send("u", in)
}

func (h *harness) text(s string) []bot.Reply { h.t.Helper(); return h.send(bot.Inbound{Text: s}) }
func (h *harness) press(id string) []bot.Reply {
	h.t.Helper()
	return h.send(bot.Inbound{Button: id})
}

func (h *harness) begin(lang string) {
	h.t.Helper()
	h.send(bot.Inbound{Text: "/start", LangHint: lang})
	if lang == locale.English {
		h.text("english")
	}
}

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// result is the expected answer for expiry exp and first renewal day from,
// written the way lang writes dates.
func (h *harness) result(lang, exp, from, status string) []string {
	e := h.cat.DatePhrase(lang, locale.On, date(exp))
	f, s := h.cat.DatePhrase(lang, locale.From, date(from)), h.cat.DatePhrase(lang, locale.Since, date(from))
	return []string{e, h.cat.Text(lang, "expiry.status."+status, map[string]any{"RenewFrom": f, "RenewSince": s, "RenewalDays": 180})}
}

func TestCalculatorInItalian(t *testing.T) {
	h := newHarness(t)
	h.begin("it")
	r := h.text("quando scade la mia carta d'identità?")
	bottest.Contains(t, r, h.cat.Text("it", "expiry.ask_birth", nil))
	bottest.Contains(t, r, "non sono più valide dal 3 agosto 2026") // paper cards
	r = h.text("12 marzo 1980")
	bottest.Contains(t, r, h.cat.Text("it", "expiry.ask_issue", nil))
	r = h.text("05/05/2022")
	// Adult: 10 years from 5 May 2022 end on 5 May 2032; the last birthday
	// on or before is 12 March 2032. Renewal from 180 days before.
	for _, w := range h.result("it", "2032-03-12", "2031-09-14", "later") {
		bottest.Contains(t, r, w)
	}
	bottest.Contains(t, r, "La tua carta scade il 12 marzo 2032.")
	bottest.Contains(t, r, "rilasciata il 5 maggio 2022 a un adulto")
	bottest.Contains(t, r, "Potrai chiedere il rinnovo dal 14 settembre 2031")
	// Cards with another validity: the printed date counts.
	bottest.Contains(t, r, "12 mesi se non è stato possibile prendere le impronte")
	bottest.Contains(t, r, "3 anni per chi ha la protezione internazionale")
	bottest.Contains(t, r, "ultimo compleanno entro i 10 anni")
	bottest.HasButton(t, r, "menu:book")
	bottest.HasButton(t, r, "menu:reminders")
	// The flow is over and its dates are gone.
	l, err := h.store.Acquire(context.Background(), "test:u", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer h.store.Release(context.Background(), l)
	if s := string(l.Session); strings.Contains(s, "1980") || strings.Contains(s, "expiry") {
		t.Errorf("Got(session after the answer) = %s, want no date and no active flow", s)
	}
}

// TestAdultCardBeforeTheCap: an adult card issued before 2 August 2021
// expires on the first birthday after the 10 years.
func TestAdultCardBeforeTheCap(t *testing.T) {
	for _, tc := range []struct{ lang, birth, issue, rule string }{
		{"it", "12/03/1980", "05/05/2019", "primo compleanno dopo i 10 anni"},
		{"en", "12/03/1980", "05/05/2019", "first birthday after the 10 years"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			h := newHarness(t)
			h.begin(tc.lang)
			h.press("go:expiry:")
			h.text(tc.birth)
			r := h.text(tc.issue)
			// 10 years from 5 May 2019 end on 5 May 2029; the next birthday
			// is 12 March 2030.
			for _, w := range h.result(tc.lang, "2030-03-12", "2029-09-13", "later") {
				bottest.Contains(t, r, w)
			}
			bottest.Contains(t, r, tc.rule)
			bottest.Contains(t, r, h.cat.PlainDate(tc.lang, date("2021-08-02")))
		})
	}
}

// TestExpiredCardIsInThePast: a card that has expired "expired", it does
// not "expire".
func TestExpiredCardIsInThePast(t *testing.T) {
	for _, tc := range []struct{ lang, want string }{
		{"it", "La tua carta è scaduta l'8 marzo 2025."},
		{"en", "Your card expired on 8 March 2025."},
	} {
		h := newHarness(t)
		h.begin(tc.lang)
		// An adult card issued on 8 March 2015, before the cap: 10 years,
		// to the birthday on 8 March 2025.
		r := h.text(map[string]string{"it": "sono nato l'8/3/1970, la carta è del 8/3/2015: quando scade?",
			"en": "I was born on 8/3/1970 and my card was issued on 8/3/2015, when does it expire?"}[tc.lang])
		bottest.Contains(t, r, tc.want)
		bottest.Contains(t, r, h.cat.Text(tc.lang, "expiry.status.expired", nil))
	}
}

func TestCalculatorInEnglish(t *testing.T) {
	h := newHarness(t)
	h.begin("en")
	bottest.Contains(t, h.text("when does my ID card expire?"), h.cat.Text("en", "expiry.ask_birth", nil))
	h.text("March 12, 1980")
	r := h.text("26 November 2026") // issued today
	for _, w := range h.result("en", "2036-03-12", "2035-09-14", "later") {
		bottest.Contains(t, r, w)
	}
	bottest.Contains(t, r, "Your card expires on 12 March 2036.")
	bottest.Contains(t, r, "You can apply for renewal from 14 September 2035")
}

func TestCalculatorForMinors(t *testing.T) {
	h := newHarness(t)
	h.begin("it")
	h.text("calcola la scadenza della mia carta")
	h.text("10/05/2018") // 8 years old
	r := h.text("26/11/2026")
	for _, w := range h.result("it", "2032-05-10", "2031-11-12", "later") {
		bottest.Contains(t, r, w)
	}
	bottest.Contains(t, r, h.cat.Text("it", "expiry.rule.minor", map[string]any{"Issue": "il 26 novembre 2026"}))
}

func TestWrongDatesAreExplainedAndAskedAgain(t *testing.T) {
	// want is a text, or the id of the message to find.
	tests := []struct {
		step, in string
		want     string
	}{
		{"birth", "31/02/1980", "Controlla il giorno: febbraio 1980 ha 29 giorni."},
		{"birth", "12/13/1980", "expiry.error.month"},
		{"birth", "marzo 1980", "expiry.error.incomplete"},
		{"birth", "12/03/2045", "expiry.error.birth_future"}, // too far ahead to be an expiry date
		{"birth", "12/03/1901", "expiry.error.birth_old"},
		{"birth", "12/03/1880", "expiry.error.year"},
		{"birth", "12/3/80 e 5/5/19 e 1/1/20", "expiry.error.several"},
		{"issue", "01/01/1970", "expiry.error.issue_before_birth"},
		{"issue", "01/01/2027", "expiry.error.issue_future"},
		{"expiry", "12/03/2045", "expiry.error.expiry_range"},
	}
	for _, tc := range tests {
		t.Run(tc.step+"/"+tc.in, func(t *testing.T) {
			h := newHarness(t)
			h.begin("it")
			h.press("go:expiry:")
			ask := "expiry.ask_birth"
			switch tc.step {
			case "issue":
				h.text("12/03/1980")
				ask = "expiry.ask_issue"
			case "expiry":
				h.press("expiry:known")
				ask = "expiry.ask_expiry"
			}
			r := h.text(tc.in)
			want := tc.want
			if strings.HasPrefix(want, "expiry.") {
				want = h.cat.Text("it", want, map[string]any{"Max": 120, "Birth": "12 marzo 1980"})
			}
			bottest.Contains(t, r, want)
			bottest.Contains(t, r, h.cat.Text("it", ask, nil))
		})
	}
}

func TestPrintedExpiryDate(t *testing.T) {
	tests := []struct{ in, exp, from, status, headline string }{
		{"12/03/2027", "2027-03-12", "2026-09-13", "open", "La tua carta scade il 12 marzo 2027."},
		{"12 marzo 2031", "2031-03-12", "2030-09-13", "later", "La tua carta scade il 12 marzo 2031."},
		{"10/10/25", "2025-10-10", "2025-04-13", "expired", "La tua carta è scaduta il 10 ottobre 2025."},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			h := newHarness(t)
			h.begin("it")
			h.press("go:expiry:")
			bottest.Contains(t, h.press("expiry:known"), h.cat.Text("it", "expiry.ask_expiry", nil))
			r := h.text(tc.in)
			for _, w := range h.result("it", tc.exp, tc.from, tc.status) {
				bottest.Contains(t, r, w)
			}
			bottest.Contains(t, r, tc.headline)
		})
	}
}

func TestDatesInTheQuestionAreUsedAtOnce(t *testing.T) {
	h := newHarness(t)
	h.begin("it")
	r := h.text("sono nato il 12/3/1980 e la carta è del 5/5/2019, quando scade?")
	for _, w := range h.result("it", "2030-03-12", "2029-09-13", "later") {
		bottest.Contains(t, r, w)
	}
	r = h.text("la mia carta scade il 12/03/2027, quando posso rinnovarla?")
	for _, w := range h.result("it", "2027-03-12", "2026-09-13", "open") {
		bottest.Contains(t, r, w)
	}
}

func TestNotADateGoesToTheQuestionsThenBack(t *testing.T) {
	h := newHarness(t)
	h.begin("it")
	h.press("go:expiry:")
	r := h.text("la foto deve essere a colori?")
	bottest.Contains(t, r, "sfondo bianco")
	bottest.Contains(t, r, h.cat.Text("it", "expiry.ask_birth", nil))
	r = h.text("boh")
	bottest.Contains(t, r, h.cat.Text("it", "expiry.ask_birth", nil))
	bottest.Contains(t, h.text("annulla"), h.cat.Text("it", "cancel.done", nil))
}

func TestNoPersonalDatesInGroups(t *testing.T) {
	h := newHarness(t)
	h.group = true
	h.begin("it")
	r := h.text("quando scade la mia carta?")
	bottest.Contains(t, r, h.cat.Text("it", "expiry.group", map[string]any{"RenewalDays": 180, "PaperSince": "dal 3 agosto 2026"}))
	bottest.HasButton(t, r, "faq:validity")
	if strings.Contains(bottest.All(h.text("12/03/1980")), h.cat.Text("it", "expiry.ask_issue", nil)) {
		t.Error("Got(a date of birth in a group) = taken, want no flow")
	}
}

func TestReminderButtonIsHonest(t *testing.T) {
	h := newHarness(t)
	h.begin("it")
	h.text("sono nato il 12/3/1980 e la carta è del 5/5/2019, quando scade?")
	bottest.Contains(t, h.press("menu:reminders"), h.cat.Text("it", "menu.unavailable", map[string]any{"Feature": h.cat.Text("it", "menu.reminders", nil)}))
}

// TestExpiryDateTypedForBirthDate: a date ahead of today at the birth-date
// question is the expiry printed on the card, and is answered as such.
func TestExpiryDateTypedForBirthDate(t *testing.T) {
	h := newHarness(t)
	h.begin("it")
	h.text("quando scade la mia carta?")
	r := h.text("3 marzo 2027")
	bottest.Contains(t, r, "2027")
	if strings.Contains(bottest.All(r), h.cat.Text("it", "expiry.error.birth_future", nil)) {
		t.Errorf("a plausible expiry date at the birth question was refused: %s", bottest.All(r))
	}
}
