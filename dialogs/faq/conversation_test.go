package faq_test

// Conversations through the real engine: embedded store, the real locale
// files, the demo Comune (or another Comune file), the FAQ dialog, its
// matcher and the expiry calculator, as main wires them.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sportello/bot"
	"sportello/bot/bottest"
	"sportello/bot/comune"
	"sportello/bot/locale"
	"sportello/dialogs/expiry"
	"sportello/dialogs/faq"
	"sportello/locales"
)

type harness struct {
	t      *testing.T
	engine *bot.Engine
	cat    *locale.Catalog
	k      *faq.Knowledge
	c      *comune.Comune
	clock  *bottest.Clock
	group  bool
}

func newHarness(t *testing.T, c *comune.Comune) *harness {
	t.Helper()
	if c == nil {
		c = comune.Demo()
	}
	h := &harness{t: t, c: c, clock: bottest.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, c.Location()))}
	s := bottest.EmbeddedStore(t, h.clock.Now)
	var vocab *bot.Vocabulary
	h.cat, vocab = bottest.Locales(t)
	var err error
	if h.k, err = faq.Load(locales.FS()); err != nil {
		t.Fatal(err)
	}
	h.engine, err = bot.New(bot.Config{
		Store: s, Catalog: h.cat, Vocabulary: vocab,
		Dialogs: []bot.Dialog{
			faq.New(h.k, c),
			expiry.New(h.cat, expiry.Config{Location: c.Location(), RenewalDays: h.k.Facts.RenewalDays, PaperInvalidFrom: h.k.Facts.PaperInvalidFrom}),
		},
		Understander: faq.NewMatcher(h.k, h.cat),
		Office:       c.Name,
		Now:          h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) send(user string, in bot.Inbound) []bot.Reply {
	h.t.Helper()
	chat := bottest.Chat{T: h.t, Engine: h.engine, Group: h.group}
	return chat.Send(user, in)
}

func (h *harness) text(user, text string) []bot.Reply {
	h.t.Helper()
	return h.send(user, bot.Inbound{Text: text})
}

func (h *harness) press(user, id string) []bot.Reply {
	h.t.Helper()
	return h.send(user, bot.Inbound{Button: id})
}

// start opens a conversation in lang and returns the user id.
func (h *harness) start(user, lang string) string {
	h.t.Helper()
	h.send(user, bot.Inbound{Text: "/start", LangHint: lang})
	if lang == locale.English {
		h.text(user, "english")
	}
	return user
}

// opening is the fixed start of a topic's answer in lang, to recognise it.
func (h *harness) opening(lang, topic string) string {
	id := "faq." + topic + ".answer"
	if topic == "non_residents" {
		id = "faq.non_residents." + h.c.NonResidents
	}
	m := h.cat.Message(lang, id)
	if m == nil {
		h.t.Fatalf("no message %s in %s", id, lang)
	}
	s := m.Other
	if i := strings.Index(s, "{{"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40]
	}
	if i := strings.LastIndex(s, " "); i > 10 {
		s = s[:i]
	}
	return s
}

func faqTopics(k *faq.Knowledge) []*faq.Topic {
	var out []*faq.Topic
	for _, c := range k.Categories {
		for _, id := range c.Topics {
			if t := k.Topic(id); !t.Action() {
				out = append(out, t)
			}
		}
	}
	return out
}

// TestEveryTopicByButtons walks the FAQ menu as a citizen would: main menu,
// category, topic; every topic of the menu is reached, in both languages.
func TestEveryTopicByButtons(t *testing.T) {
	h := newHarness(t, nil)
	for _, lang := range locale.Languages() {
		u := h.start("walker-"+lang, lang)
		r := h.press(u, "menu:faq")
		bottest.Contains(t, r, h.cat.Text(lang, "faq.menu.prompt", nil))
		reached := map[string]bool{}
		for _, cat := range bottest.ButtonIDs(r) {
			r := h.press(u, cat)
			for _, id := range bottest.ButtonIDs(r) {
				topic, ok := strings.CutPrefix(id, "faq:")
				if !ok || topic == "all" {
					continue
				}
				reached[topic] = true
				bottest.Contains(t, h.press(u, id), h.opening(lang, topic))
			}
		}
		for _, topic := range faqTopics(h.k) {
			if !reached[topic.ID] {
				t.Errorf("%s: topic %s is not reachable from the FAQ menu", lang, topic.ID)
			}
		}
	}
}

// TestEveryTopicByFreeText asks each topic's example questions, which the
// answer must follow in the same language.
func TestEveryTopicByFreeText(t *testing.T) {
	h := newHarness(t, nil)
	for _, lang := range locale.Languages() {
		for _, topic := range h.k.Topics {
			if topic.Action() {
				continue
			}
			for i, q := range topic.Examples[lang] {
				t.Run(fmt.Sprintf("%s/%s/%d", lang, topic.ID, i), func(t *testing.T) {
					u := h.start(fmt.Sprintf("text-%s-%s-%d", lang, topic.ID, i), lang)
					bottest.Contains(t, h.text(u, q), h.opening(lang, topic.ID))
				})
			}
		}
	}
}

// TestIssueTopicsReachableByText: one question of our own per topic the
// issue lists, in each language, answered with that topic.
func TestIssueTopicsReachableByText(t *testing.T) {
	questions := map[string][2]string{
		"docs_renewal":   {"cosa devo portare per rinnovare la carta?", "what do I bring to renew my card?"},
		"docs_first":     {"cosa serve per la prima carta d'identità?", "what do I need for my first id card?"},
		"docs_loss":      {"ho perso la carta d'identità", "I lost my identity card"},
		"docs_theft":     {"mi hanno rubato la carta", "my card was stolen"},
		"docs_damaged":   {"la carta è rotta", "my card is damaged"},
		"minors":         {"carta d'identità per mio figlio", "id card for my son"},
		"foreigners":     {"sono straniero, posso avere la carta?", "I'm a foreigner, can I get the card?"},
		"cost":           {"quanto costa?", "how much is it?"},
		"cost_duplicate": {"quanto costa il duplicato?", "how much is a duplicate?"},
		"photo":          {"che foto serve?", "what photo do I need?"},
		"delivery":       {"quando arriva la carta?", "when does the card arrive?"},
		"receipt":        {"la ricevuta vale per l'estero?", "is the receipt valid abroad?"},
		"pin_puk":        {"dove trovo il PUK?", "where is my PUK?"},
		"fingerprints":   {"le impronte sono obbligatorie?", "are fingerprints required?"},
		"organ_donation": {"donazione degli organi", "organ donation"},
		"validity":       {"quanti anni vale la carta?", "how many years is the card valid?"},
		"renewal_when":   {"quanto prima posso rinnovare?", "how early can I renew?"},
		"paper_card":     {"la carta cartacea vale ancora?", "is my paper card still valid?"},
		"urgent":         {"mi serve la carta urgentemente", "I need the card urgently"},
		"travel":         {"parto domani per la Francia", "I'm flying to France tomorrow"},
		"non_residents":  {"non sono residente qui", "I'm not a resident here"},
		"aire":           {"sono iscritto all'AIRE", "I'm registered with AIRE"},
		"cieid":          {"come si usa CieID?", "how do I use CieID?"},
		"pin_lost":       {"ho dimenticato il PIN", "I forgot my PIN"},
		"offices":        {"orari dell'anagrafe", "opening hours"},
		"book_how":       {"come si prenota?", "how do I book?"},
		"cancel_how":     {"come disdico l'appuntamento?", "how do I cancel my appointment?"},
		"contact":        {"numero di telefono dell'anagrafe", "registry office phone number"},
	}
	h := newHarness(t, nil)
	for topic, qs := range questions {
		for i, lang := range locale.Languages() {
			t.Run(lang+"/"+topic, func(t *testing.T) {
				u := h.start("issue-"+lang+"-"+topic, lang)
				bottest.Contains(t, h.text(u, qs[i]), h.opening(lang, topic))
			})
		}
	}
	t.Run("how to reach a person", func(t *testing.T) {
		u := h.start("person", locale.Italian)
		bottest.Contains(t, h.text(u, "vorrei parlare con una persona dell'anagrafe"),
			h.cat.Text("it", "operator.unavailable", map[string]any{"Office": h.c.Name}))
	})
}

func TestAnswersCarryTheComuneValues(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		lang, topic string
		want        []string
	}{
		{"it", "cost", []string{"22,21 €", "16,79 €", "5,42 €", "27,37 €"}},
		{"en", "cost", []string{"€22.21", "€16.79", "€5.42", "€27.37"}},
		{"it", "cost_duplicate", []string{"27,37 €", "22,21 €"}},
		{"it", "offices", []string{"Sede centrale, Via Larga 12", "Delegazione Nord, Via dei Mille 5",
			"lunedì e mercoledì: 08:30-12:30 e 14:00-16:00", "martedì, giovedì e venerdì: 08:30-12:30",
			"Senza appuntamento per: furto, smarrimento, prima carta di un minore e viaggio già prenotato.",
			"Solo su appuntamento.", "Ingresso accessibile da Via Garibaldi.",
			"Chiusa da giovedì 24 dicembre 2026 a sabato 26 dicembre 2026 (Festività).",
			"Apertura straordinaria sabato 12 dicembre 2026: 08:30-15:30.", "24 giugno"}},
		{"en", "offices", []string{"Monday and Wednesday: 08:30-12:30 and 14:00-16:00",
			"Closed from Thursday 24 December 2026 to Saturday 26 December 2026 (Holidays).",
			"Step-free entrance from Via Garibaldi.", "24 June"}},
		{"it", "urgent", []string{"Sede centrale, Via Larga 12: furto, smarrimento"}},
		{"it", "docs_theft", []string{"senza appuntamento", "Sede centrale (Via Larga 12)", "27,37 €"}},
		{"en", "docs_damaged", []string{"A damaged card needs an appointment too"}}, // no office takes damaged cards without one
		{"it", "non_residents", []string{"richiedenti asilo domiciliati nel Comune", "nulla osta"}},
		{"en", "non_residents", []string{"asylum seekers domiciled in the Comune", "nulla osta"}},
		{"it", "contact", []string{"Telefono: 02 0000 0000", "Email: anagrafe@comune-di-esempio.example"}},
		{"it", "book_how", []string{"fino a 60 giorni", "almeno 2 ore", "3 giorni prima ti chiederemo di confermare"}},
		{"it", "paper_card", []string{"non sono più valide dal 3 agosto 2026"}},
		{"en", "paper_card", []string{"have not been valid since 3 August 2026"}},
		{"it", "aire", []string{"non sono più valide dal 3 agosto 2026"}},
		{"en", "renewal_when", []string{"180 days"}},
		{"it", "validity", []string{"l'ultimo compleanno entro i 10 anni dal rilascio", "Le carte degli adulti rilasciate prima del 2 agosto 2021 scadono invece al primo compleanno dopo i 10 anni"}},
		{"en", "validity", []string{"the last birthday within 10 years of issue", "Adult cards issued before 2 August 2021 expire instead on the first birthday after the 10 years"}},
		{"it", "validity", []string{"protezione internazionale la carta vale 3 anni", "non è possibile prendere le impronte, vale 12 mesi"}},
		{"en", "validity", []string{"holders of international protection the card is valid for 3 years", "fingerprints temporarily cannot be taken, it is valid for 12 months"}},
		{"it", "foreigners", []string{"protezione internazionale", "vale 3 anni"}},
		{"en", "foreigners", []string{"international protection", "valid for 3 years"}},
		{"it", "fingerprints", []string{"la carta vale 12 mesi"}},
		{"en", "fingerprints", []string{"the card is valid for 12 months"}},
		{"it", "delivery", []string{"entro 6 giorni lavorativi", "dal 7° giorno lavorativo"}},
		{"en", "delivery", []string{"within 6 working days", "from the 7th working day"}},
	}
	for _, tc := range tests {
		t.Run(tc.lang+"/"+tc.topic, func(t *testing.T) {
			u := h.start("values-"+tc.lang+"-"+tc.topic, tc.lang)
			r := h.press(u, "faq:"+tc.topic)
			for _, w := range tc.want {
				bottest.Contains(t, r, w)
			}
		})
	}
}

// TestWalkInNamesTheCase: a topic whose walk-in case is narrower than the
// topic says which case may come without an appointment. Only a minor's
// first card is a walk-in, not every minor's card; only a trip already
// booked, with the ticket, not any trip.
func TestWalkInNamesTheCase(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		lang, q string
		want    []string
		notWant string
	}{
		{"it", "mio figlio ha 10 anni, cosa serve per la carta?",
			[]string{"Per la prima carta di un minore puoi venire anche senza appuntamento", "Sede centrale (Via Larga 12)", "Per rinnovare la carta di un minore serve l'appuntamento"},
			"Per questo caso puoi venire"},
		{"en", "my son is 10, what does he need for the id card?",
			[]string{"For a minor's first card you can also come without an appointment", "Sede centrale (Via Larga 12)", "To renew a minor's card you need an appointment"},
			"In this case you can also come"},
		{"it", "parto la settimana prossima e la carta è scaduta",
			[]string{"Se il viaggio è già prenotato, puoi venire anche senza appuntamento", "biglietto", "Sede centrale (Via Larga 12)"},
			"Per questo caso puoi venire"},
		{"en", "I'm leaving next week and my card has expired",
			[]string{"If your trip is already booked, you can also come without an appointment", "ticket", "Sede centrale (Via Larga 12)"},
			"In this case you can also come"},
		{"it", "ho perso la carta d'identità",
			[]string{"Dopo uno smarrimento puoi venire anche senza appuntamento", "Sede centrale (Via Larga 12)"}, ""},
		{"en", "my card was stolen",
			[]string{"After a theft you can also come without an appointment", "Sede centrale (Via Larga 12)"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.lang+"/"+tc.q, func(t *testing.T) {
			u := h.start("walkin-"+tc.lang+"-"+tc.q, tc.lang)
			r := h.text(u, tc.q)
			for _, w := range tc.want {
				bottest.Contains(t, r, w)
			}
			if tc.notWant != "" && strings.Contains(bottest.All(r), tc.notWant) {
				t.Errorf("Got(answer) = %q, want no walk-in sentence without its case", bottest.All(r))
			}
		})
	}
	// A Comune whose offices take no minors without appointment says so.
	other := newHarness(t, otherComune(t, "allowed"))
	u := other.start("walkin-none", "it")
	bottest.Contains(t, other.press(u, "faq:minors"), "Per la carta di un minore serve un appuntamento")
}

// TestEveryWalkInCaseHasItsSentence: each case of the Comune file can be
// named in an answer, in both languages.
func TestEveryWalkInCaseHasItsSentence(t *testing.T) {
	h := newHarness(t, nil)
	for _, lang := range locale.Languages() {
		for _, c := range comune.WalkInCases() {
			for _, id := range []string{"faq.part.walk_in_for." + c, "faq.part.by_appointment_for." + c, "faq.walk_in_case." + c} {
				if !h.cat.Has(lang, id) {
					t.Errorf("Got(message %s in %s) = missing, want it", id, lang)
				}
			}
		}
	}
}

// TestComuneNameReadsWell: the Comune's name may be "Comune di Esempio" or
// "Città di Torino", so no answer puts an article or a preposition right
// before it ("Al Città di Torino", "l'Anagrafe di Comune di Esempio").
func TestComuneNameReadsWell(t *testing.T) {
	for _, name := range []string{"Comune di Esempio", "Città di Torino"} {
		for _, policy := range []string{"allowed", "restricted", "not_allowed"} {
			c := otherComune(t, policy)
			c.Name = name
			c.NonResidentExceptions = comune.Demo().NonResidentExceptions
			h := newHarness(t, c)
			before := regexp.MustCompile(`(?i)\b(il|lo|la|l'|al|allo|alla|del|dello|della|dal|nel|sul|col|di|a|da|in|per|the|of|at|from|to)\s+` + regexp.QuoteMeta(name))
			for _, lang := range locale.Languages() {
				u := h.start("name-"+lang, lang)
				for _, topic := range h.k.Topics {
					// The policy changes only the non-residents answer.
					if topic.Action() || topic.ID == faq.OtherLanguage || (policy != "restricted" && topic.ID != "non_residents") {
						continue
					}
					text := bottest.All(h.press(u, "faq:"+topic.ID))
					if m := before.FindString(text); m != "" {
						t.Errorf("%s %s/%s (%s): %q reads badly in\n%s", name, lang, topic.ID, policy, m, text)
					}
				}
			}
		}
	}
}

// TestCollectDayIsAnOrdinal: the day the card may be collected is written
// as each language writes ordinals, whatever the fact says.
func TestCollectDayIsAnOrdinal(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "from the 1st working day"}, {"en", 2, "from the 2nd working day"},
		{"en", 3, "from the 3rd working day"}, {"en", 11, "from the 11th working day"},
		{"en", 22, "from the 22nd working day"},
		{"it", 7, "dal 7° giorno lavorativo"}, {"it", 8, "dall'8° giorno lavorativo"},
		{"it", 11, "dall'11° giorno lavorativo"},
	}
	for _, tc := range tests {
		if got := h.cat.Ordinal(tc.lang, "faq.part.collect_from", tc.n, nil); got != tc.want {
			t.Errorf("Got(collect_from %s %d) = %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
}

// otherComune is a Comune file unlike the demo one: other fees, one office
// that takes no walk-ins, its own non-resident policy.
func otherComune(t *testing.T, policy string) *comune.Comune {
	t.Helper()
	c, err := comune.Parse([]byte(`
name: Comune di Cassina de' Pecchi
fees: {cie: "22.50", cie_duplicate: "28.00"}
non_residents: `+policy+`
contacts: {phone: "02 9999 1111"}
booking: {confirm_days_before: 0}
patron_day: "09-29"
offices:
  - id: municipio
    name: Municipio
    address: Piazza De Gasperi 1
    slot_minutes: 30
    desks: 1
    hours:
      monday: ["08:30-12:30"]
      friday: ["08:30-12:30"]
`), "other.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTheSameBuildServesAnotherComune(t *testing.T) {
	tests := []struct {
		policy, topic, lang string
		want, not           []string
	}{
		{"allowed", "non_residents", "it", []string{"Sì: questo Comune rilascia la carta d'identità anche", "nulla osta"}, nil},
		{"not_allowed", "non_residents", "en", []string{"This Comune issues identity cards only to its own residents"}, nil},
		{"allowed", "cost", "it", []string{"22,50 €", "28,00 €", "5,71 €"}, []string{"22,21"}},
		{"allowed", "urgent", "it", []string{"Nessuna sede riceve senza appuntamento", "Telefono: 02 9999 1111"}, []string{"Via Larga"}},
		{"allowed", "offices", "it", []string{"Municipio, Piazza De Gasperi 1", "lunedì e venerdì: 08:30-12:30", "29 settembre"}, []string{"Via Larga"}},
		{"allowed", "book_how", "en", []string{"up to 60 days"}, []string{"confirm"}},
	}
	for _, tc := range tests {
		t.Run(tc.policy+"/"+tc.topic, func(t *testing.T) {
			h := newHarness(t, otherComune(t, tc.policy))
			u := h.start("u", tc.lang)
			r := h.press(u, "faq:"+tc.topic)
			for _, w := range tc.want {
				bottest.Contains(t, r, w)
			}
			for _, w := range tc.not {
				if strings.Contains(bottest.All(r), w) {
					t.Errorf("answer\n%s\ncontains %q of another Comune", bottest.All(r), w)
				}
			}
		})
	}
}

func TestFirstMessageThatAsksIsAnswered(t *testing.T) {
	h := newHarness(t, nil)
	r := h.text("new", "quanto costa la carta d'identità?")
	bottest.Contains(t, r, h.cat.Text("it", "greeting.first", map[string]any{"Office": h.c.Name}))
	bottest.Contains(t, r, "22,21 €")
	r = h.text("new-en", "how much is the ID card?")
	bottest.Contains(t, r, h.cat.Text("en", "greeting.first", map[string]any{"Office": h.c.Name}))
	bottest.Contains(t, r, "€22.21")
}

func TestQuestionWithTwoThingsAnswersOneOffersTheOther(t *testing.T) {
	h := newHarness(t, nil)
	u := h.start("two", "it")
	r := h.text(u, "quanto costa e che foto devo portare?")
	// One is answered, the other offered.
	cost, photo := strings.Contains(bottest.All(r), "22,21 €"), strings.Contains(bottest.All(r), h.opening("it", "photo"))
	switch {
	case cost && !photo:
		bottest.HasButton(t, r, "go:faq:photo")
		bottest.Contains(t, h.press(u, "go:faq:photo"), h.opening("it", "photo"))
	case photo && !cost:
		bottest.HasButton(t, r, "go:faq:cost")
		bottest.Contains(t, h.press(u, "go:faq:cost"), "22,21 €")
	default:
		t.Errorf("Got(answer) = %q, want the cost or the photo answered and the other offered", bottest.All(r))
	}
}

func TestUnsureReadingAsksDidYouMean(t *testing.T) {
	h := newHarness(t, nil)
	u := h.start("unsure", "it")
	r := h.text(u, "carta scade")
	bottest.Contains(t, r, h.cat.Text("it", "fallback.did_you_mean", nil))
	bottest.HasButton(t, r, "go:expiry:")
	if len(bottest.ButtonIDs(r)) < 2 {
		t.Errorf("did you mean offered %v, want readings and the menu", bottest.ButtonIDs(r))
	}
}

func TestMisunderstandingsThenAPerson(t *testing.T) {
	h := newHarness(t, nil)
	u := h.start("lost", "it")
	for _, q := range []string{"asdfghjkl", "😂😂😂"} {
		r := h.text(u, q)
		if q == "asdfghjkl" {
			bottest.Contains(t, r, h.cat.Text("it", "fallback.unknown", nil))
		} else {
			bottest.Contains(t, r, h.cat.Text("it", "fallback.person", nil))
			bottest.HasButton(t, r, "cmd:operator")
		}
	}
}

func TestAnotherLanguageGetsBothLanguages(t *testing.T) {
	h := newHarness(t, nil)
	for _, q := range []string{"Wie viel kostet der Ausweis?", "Bonjour, combien coûte la carte d'identité ?", "Hola, necesito renovar mi documento"} {
		r := h.text("foreign-"+q[:4], q)
		bottest.Contains(t, r, h.cat.Text("it", "faq.other_language.answer", nil))
		bottest.Contains(t, r, h.cat.Text("en", "faq.other_language.answer", nil))
		bottest.HasButton(t, r, "lang:it")
		bottest.HasButton(t, r, "lang:en")
	}
}

func TestInsultsGetAPoliteAnswer(t *testing.T) {
	h := newHarness(t, nil)
	u := h.start("rude", "it")
	r := h.text(u, "sei proprio un idiota")
	bottest.Contains(t, r, h.opening("it", "insult"))
	bottest.HasButton(t, r, "cmd:operator")
}

func TestSomethingElseSaysWhatSportelloDoes(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct{ lang, q string }{{"it", "come pago la tari?"}, {"en", "where can I get a pizza?"}} {
		u := h.start("else-"+tc.lang, tc.lang)
		r := h.text(u, tc.q)
		bottest.Contains(t, r, h.opening(tc.lang, "offtopic"))
		bottest.Contains(t, r, "02 0000 0000")
	}
	u := h.start("passport", "en")
	bottest.Contains(t, h.text(u, "how do I renew my passport?"), "Questura")
}

func TestVeryLongTextIsReadByHeadAndTail(t *testing.T) {
	h := newHarness(t, nil)
	u := h.start("long", "it")
	story := strings.Repeat("questa è una storia lunga che non c'entra niente ", 80)
	bottest.Contains(t, h.text(u, story+"insomma, quanto costa la carta?"), "22,21 €")
	bottest.Contains(t, h.text(u, strings.Repeat("bla ", 3000)), h.cat.Text("it", "fallback.unknown", nil))
}

func TestActionTopicsStartTheirDialog(t *testing.T) {
	h := newHarness(t, nil)
	u := h.start("act", "it")
	// No booking flow in this build: the engine says so honestly.
	bottest.Contains(t, h.text(u, "voglio prenotare un appuntamento"),
		h.cat.Text("it", "menu.unavailable", map[string]any{"Feature": h.cat.Text("it", "menu.book", nil)}))
	bottest.Contains(t, h.text(u, "quando scade la mia carta?"), h.cat.Text("it", "expiry.ask_birth", nil))
}

func TestQuestionDuringTheCalculatorKeepsTheFlow(t *testing.T) {
	h := newHarness(t, nil)
	u := h.start("flow", "it")
	h.text(u, "quando scade la mia carta?")
	r := h.text(u, "scusa, quanto costa la carta?")
	bottest.Contains(t, r, "22,21 €")
	bottest.Contains(t, r, h.cat.Text("it", "expiry.ask_birth", nil))
	r = h.press(u, "faq:photo") // a FAQ button in the middle of the flow
	bottest.Contains(t, r, h.opening("it", "photo"))
	bottest.Contains(t, h.text(u, "12/03/1980"), h.cat.Text("it", "expiry.ask_issue", nil))
}

func TestPaperCardQuestion(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct{ lang, q, want string }{
		{"it", "la mia carta d'identità cartacea è ancora valida?", "dal 3 agosto 2026"},
		{"en", "Is my paper card still valid?", "since 3 August 2026"},
	} {
		u := h.start("paper-"+tc.lang, tc.lang)
		bottest.Contains(t, h.text(u, tc.q), tc.want)
	}
}

func TestOldTopicButton(t *testing.T) {
	h := newHarness(t, nil)
	u := h.start("old", "it")
	for _, id := range []string{"faq:nosuch", "faq:cat.nosuch", "faq:book"} {
		r := h.press(u, id)
		bottest.Contains(t, r, h.cat.Text("it", "faq.menu.unknown", nil))
		bottest.HasButton(t, r, "faq:cat.documents")
	}
}

// TestConcurrentCitizens: many citizens ask at once through one engine and
// one matcher; run with -race.
func TestConcurrentCitizens(t *testing.T) {
	h := newHarness(t, nil)
	qs := []string{"quanto costa?", "ho perso la carta", "how much is it?", "orari", "I lost my PIN", "😂"}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			in := bot.Inbound{Conv: bot.Conversation{Channel: "test", User: fmt.Sprint("c", i)}, Text: qs[i%len(qs)]}
			if r, err := h.engine.Handle(context.Background(), in); err != nil || len(r) == 0 {
				t.Errorf("Handle(%q) = %v, %v", in.Text, r, err)
			}
		})
	}
	wg.Wait()
}
