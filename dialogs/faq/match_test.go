package faq

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"sportello/bot"
	"sportello/bot/locale"
	"sportello/locales"
)

func TestEveryTopicHasItsMessages(t *testing.T) {
	_, k := loadMatcher(t)
	cat, err := locale.Load(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range locale.Languages() {
		for _, topic := range k.Topics {
			ids := []string{labelID(topic.ID)}
			switch {
			case topic.ID == "non_residents":
				ids = append(ids, "faq.non_residents.allowed", "faq.non_residents.restricted", "faq.non_residents.not_allowed")
			case !topic.Action():
				ids = append(ids, answerID(topic.ID))
			}
			for _, id := range ids {
				if !cat.Has(lang, id) {
					t.Errorf("Got(message %s in %s) = missing, want it", id, lang)
				}
			}
		}
		for _, c := range k.Categories {
			for _, id := range []string{"faq.cat." + c.ID + ".label", "faq.cat." + c.ID + ".prompt"} {
				if !cat.Has(lang, id) {
					t.Errorf("Got(message %s in %s) = missing, want it", id, lang)
				}
			}
		}
	}
}

// TestExamplesReadAsTheirTopic: the knowledge file's own examples are
// answered with their topic, surely.
func TestExamplesReadAsTheirTopic(t *testing.T) {
	m, k := loadMatcher(t)
	for _, topic := range k.Topics {
		for lang, qs := range topic.Examples {
			for _, q := range qs {
				ms := m.Understand(lang, q)
				if len(ms) == 0 || ms[0].Score < bot.SureScore || reading(ms[0]) != topic.ID {
					t.Errorf("Got(Understand(%q)) = %v, want %s\n%s", q, ms, topic.ID, m.Explain(lang, q))
				}
			}
		}
	}
}

// TestLabelledQuestionsAreNotExamples: the labelled questions measure how
// the matcher reads questions it was not given.
func TestLabelledQuestionsAreNotExamples(t *testing.T) {
	_, k := loadMatcher(t)
	examples := map[string]string{}
	for _, topic := range k.Topics {
		for _, qs := range topic.Examples {
			for _, q := range qs {
				examples[bot.Normalize(q)] = topic.ID
			}
		}
	}
	seen := map[string]string{}
	for _, file := range []string{"testdata/questions.yaml", "testdata/heldout.yaml", "testdata/heldout2.yaml"} {
		for _, q := range loadLabelled(t, file) {
			n := bot.Normalize(q.Q)
			if id, ok := examples[n]; ok {
				t.Errorf("%s: %q is an example of %s in the knowledge file", file, q.Q, id)
			}
			if prev, ok := seen[n]; ok && prev != file && n != "" {
				t.Errorf("%s: %q is also in %s", file, q.Q, prev)
			}
			seen[n] = file
		}
	}
}

func TestLabelledSetsAreLargeEnough(t *testing.T) {
	_, k := loadMatcher(t)
	total := 0
	for _, file := range []string{"testdata/questions.yaml", "testdata/heldout.yaml", "testdata/heldout2.yaml"} {
		qs := loadLabelled(t, file)
		total += len(qs)
		langs := map[string]int{}
		for _, q := range qs {
			langs[group(q.Lang)]++
			for _, w := range append([]string{q.Want, q.Also}, q.OK...) {
				if w != "" && w != unknownLabel && k.Topic(w) == nil {
					t.Errorf("%s: %q is labelled %q, which is no topic", file, q.Q, w)
				}
			}
		}
		if langs["it"] < 100 || langs["en"] < 100 {
			t.Errorf("%s: %d Italian and %d English questions, want at least 100 each", file, langs["it"], langs["en"])
		}
	}
	if total < 200 {
		t.Errorf("Got(labelled questions) = %d, want at least 200", total)
	}
}

func TestStem(t *testing.T) {
	tests := map[string]string{
		"costo": "cost", "costa": "cost", "costi": "cost", "costs": "cost", "cost": "cost",
		"rinnovare": "rinnov", "rinnovarla": "rinnov", "rinnovo": "rinnov",
		"photos": "phot", "photo": "phot", "expired": "expir", "renewing": "renew",
		"scaduta": "scadut", "scade": "scad", // a participle keeps its ending
		"persa": "pers", "persona": "person", "pay": "pay", "days": "day",
	}
	for in, want := range tests {
		if got := stem(in); got != want {
			t.Errorf("Got(stem(%q)) = %q, want %q", in, got, want)
		}
	}
}

func TestTyposAccentsAndInformalWriting(t *testing.T) {
	m, _ := loadMatcher(t)
	tests := []struct{ q, want string }{
		{"QUANTO COSTA LA CARTA D'IDENTITÀ???", "cost"},
		{"quanto costa la carta d identita", "cost"},
		{"qnt kosta la cie", "cost"},
		{"posso rinovare la carta prima della scadensa", "renewal_when"},
		{"fotografia x la carta d'identità", "photo"},
		{"smarrita la carta, che faccio", "docs_loss"},
		{"persa la carta", "docs_loss"},
		{"I lost my card", "docs_loss"},
		{"ho perso la carta d'identità", "docs_loss"},
		{"impornte digitali", "fingerprints"},
		{"how much does teh card cost", "cost"},
		{"docuemnts for renewal", "docs_renewal"},
	}
	for _, tc := range tests {
		ms := m.Understand("it", tc.q)
		if len(ms) == 0 || ms[0].Score < bot.SureScore || reading(ms[0]) != tc.want {
			t.Errorf("Got(Understand(%q)) = %v, want %s\n%s", tc.q, ms, tc.want, m.Explain("it", tc.q))
		}
	}
}

func TestBadInputIsNeverASureAnswer(t *testing.T) {
	m, _ := loadMatcher(t)
	for _, q := range []string{"", "   ", "😂😂😂", "🙂", "asdfghjkl", "qwertyuiop asdf", "\x00\x01", "\xff\xfe",
		"12345", "!!!???", strings.Repeat("a", 5000), strings.Repeat("bla ", 2000), "lorem ipsum dolor sit amet",
		"ok", "boh", "xyzzy plugh"} {
		ms := m.Understand("it", q)
		if len(ms) > 0 && ms[0].Score >= bot.SureScore {
			t.Errorf("Got(Understand(%.40q)) = %v, want no sure reading", q, ms[0])
		}
	}
}

func TestLongMessageIsCutBeforeReading(t *testing.T) {
	m, _ := loadMatcher(t)
	head := "Buongiorno, quanto costa la carta d'identità? "
	tail := " Grazie, volevo anche sapere che foto serve."
	middle := strings.Repeat("ho una storia lunga da raccontare ", 300)
	s := &scratch{}
	m.run(head+middle+tail, s)
	if !s.a.cut || len(s.a.text) > 700 {
		t.Errorf("Got(read %d bytes) = %d bytes, cut %v, want at most 700, cut", len(head+middle+tail), len(s.a.text), s.a.cut)
	}
	got := map[string]bool{}
	for _, sc := range s.scores {
		if sc.score >= bot.SureScore {
			got[sc.topic.ID] = true
		}
	}
	if !got["cost"] || !got["photo"] {
		t.Errorf("Got(sure readings) = %v, want cost (head) and photo (tail)", got)
	}
}

func TestOtherLanguages(t *testing.T) {
	m, _ := loadMatcher(t)
	tests := []struct {
		q     string
		other bool
	}{
		{"Ich habe meinen Personalausweis verloren", true},
		{"Combien coûte la carte d'identité ?", true},
		{"¿Dónde está la oficina?", true},
		{"Guten Tag", true},
		{"Merci", true},
		{"la carta costa troppo", false},
		{"vorrei la carta per mio figlio, si chiama Pablo", false},
		{"come si fa la carta?", false},
		{"I need a new card", false},
		{"de la carta", false},
	}
	for _, tc := range tests {
		ms := m.Understand("it", tc.q)
		got := len(ms) > 0 && ms[0].Arg == OtherLanguage && ms[0].Score >= bot.SureScore
		if got != tc.other {
			t.Errorf("Got(Understand(%q) is another language) = %v, want %v\n%s", tc.q, got, tc.other, m.Explain("it", tc.q))
		}
	}
}

func TestMatchesFitTheEngine(t *testing.T) {
	m, _ := loadMatcher(t)
	for _, q := range []string{"voglio prenotare", "i miei appuntamenti", "quando scade la mia carta?", "parlare con un operatore", "ricordami la scadenza"} {
		for _, lang := range locale.Languages() {
			for _, mt := range m.Understand(lang, q) {
				if mt.Label == "" || strings.HasPrefix(mt.Label, "[") {
					t.Errorf("Got(label of %+v) = %q, want a text", mt, mt.Label)
				}
				if id := "go:" + mt.Dialog + ":" + mt.Arg; !bot.ValidButtonID(id) {
					t.Errorf("Got(button of %+v) = %q, not a valid button id", mt, id)
				}
				if mt.Dialog == Name && mt.Arg == "" {
					t.Errorf("Got(%+v), a FAQ reading without a topic", mt)
				}
			}
		}
	}
	want := map[string]string{"voglio prenotare un appuntamento": "book", "quando scade la mia carta?": "expiry",
		"vorrei parlare con un operatore": "operator", "voglio annullare il mio appuntamento": "appointments",
		"ricordami quando scade la carta": "reminders"}
	for q, dialog := range want {
		ms := m.Understand("it", q)
		if len(ms) == 0 || ms[0].Dialog != dialog || ms[0].Arg != "" || ms[0].Score < bot.SureScore {
			t.Errorf("Got(Understand(%q)) = %v, want dialog %s", q, ms, dialog)
		}
	}
}

// TestBookingIntentStartsBooking: a booking verb on its own, or "I need to
// book", starts booking and offers how to book; a question about how or
// whether to book answers how to book. The same in both languages.
func TestBookingIntentStartsBooking(t *testing.T) {
	m, _ := loadMatcher(t)
	tests := []struct{ lang, q, best, second string }{
		{"it", "prenota", "book", "book_how"},
		{"it", "Prenotare", "book", "book_how"},
		{"it", "prenotazione", "book", "book_how"},
		{"it", "devo prenotare", "book", "book_how"},
		{"it", "devo prenotare un appuntamento", "book", "book_how"},
		{"it", "prenotare un appuntamento", "book", "book_how"},
		{"it", "voglio prenotare", "book", ""},
		{"it", "come si prenota?", "book_how", ""},
		{"it", "serve l'appuntamento?", "book_how", ""},
		{"it", "bisogna prenotare?", "book_how", ""},
		{"en", "book", "book", "book_how"},
		{"en", "Booking", "book", "book_how"},
		{"en", "I need to book an appointment", "book", "book_how"},
		{"en", "i need an appointment", "book", "book_how"},
		{"en", "book an appointment", "book", "book_how"},
		{"en", "I want to book", "book", ""},
		{"en", "how do I book?", "book_how", ""},
		{"en", "do I need an appointment?", "book_how", ""},
		{"en", "do I need to book?", "book_how", ""},
	}
	for _, tc := range tests {
		ms := m.Understand(tc.lang, tc.q)
		sure := func(i int) string {
			if i < len(ms) && ms[i].Score >= bot.SureScore {
				return reading(ms[i])
			}
			return ""
		}
		if sure(0) != tc.best || sure(1) != tc.second {
			t.Errorf("Got(Understand(%s, %q)) = %q then %q, want %q then %q\n%s", tc.lang, tc.q, sure(0), sure(1), tc.best, tc.second, m.Explain(tc.lang, tc.q))
		}
	}
}

func TestExplain(t *testing.T) {
	m, _ := loadMatcher(t)
	got := m.Explain("it", "qnto kosta la carta smarrita?")
	for _, want := range []string{`text: "qnto kosta la carta smarrita"`, "kosta", "-> cost", "smarrita", "-> lost",
		"prefix \"smarr*\"", "cost_duplicate   score", "=> answers cost_duplicate"} {
		if !strings.Contains(got, want) {
			t.Errorf("Got(Explain) =\n%s\nwant it to contain %q", got, want)
		}
	}
	if got := m.Explain("en", "Wie viel kostet der Ausweis?"); !strings.Contains(got, "language: de") {
		t.Errorf("Got(Explain) =\n%s\nwant the language named", got)
	}
}

func TestParseRejectsBadKnowledge(t *testing.T) {
	base := `
facts: {state_fee: "16.79", renewal_days: 180, paper_invalid_from: 2026-08-03, delivery_working_days: 6,
  collect_from_working_day: 7, appointment_minutes_min: 20, appointment_minutes_max: 30, pin_tries: 3,
  puk_tries: 10, fingerprints_from_age: 12, photo_months: 6, minor_parents_names_under: 14}
matching: {head_bytes: 400, tail_bytes: 200, max_fuzzy: 10}
ages: {it_units: [anni], it_before: [di], minor: card, adult: card}
concepts:
  card: [carta]
  cost: [costo]
%s
`
	good := `topics:
  - {id: cost, when: {cost: 2}, need: [cost]}
categories:
  - {id: all, topics: [cost]}`
	if _, err := Parse(fmt.Appendf(nil, base, good)); err != nil {
		t.Fatalf("Parse(a good file) = %v", err)
	}
	tests := map[string]string{
		"unknown concept": `topics:
  - {id: cost, when: {price: 2}, need: [cost]}
categories: [{id: all, topics: [cost]}]`,
		"need": `topics:
  - {id: cost, when: {cost: 2}, need: [card]}
categories: [{id: all, topics: [cost]}]`,
		"follow": `topics:
  - {id: cost, when: {cost: 2}, need: [cost], follow: [nothing]}
categories: [{id: all, topics: [cost]}]`,
		"no button reaches it": `topics:
  - {id: cost, when: {cost: 2}, need: [cost]}
categories: [{id: all, topics: []}]`,
		"defined twice": `topics:
  - {id: cost, when: {cost: 2}, need: [cost]}
  - {id: cost, when: {cost: 2}, need: [cost]}
categories: [{id: all, topics: [cost]}]`,
		"letters, digits": `topics:
  - {id: "co:st", when: {cost: 2}, need: [cost]}
categories: [{id: all, topics: ["co:st"]}]`,
		"walk_in": `topics:
  - {id: cost, walk_in: shopping, when: {cost: 2}, need: [cost]}
categories: [{id: all, topics: [cost]}]`,
		"button": `topics:
  - {id: book, dialog: book, when: {cost: 2}, need: [cost]}
  - {id: cost, when: {cost: 2}, need: [cost]}
categories: [{id: all, topics: [cost]}]`,
		"field": `topics:
  - {id: cost, when: {cost: 2}, need: [cost], colour: red}
categories: [{id: all, topics: [cost]}]`,
	}
	for want, topics := range tests {
		_, err := Parse(fmt.Appendf(nil, base, topics))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Got(Parse with a %s error) = %v, want an error mentioning %q", want, err, want)
		}
	}
}

func TestUnderstandConcurrently(t *testing.T) {
	m, _ := loadMatcher(t)
	qs := []string{"quanto costa?", "ho perso il pin", "how much is it", "Wie viel kostet das?", "rinovare carta"}
	want := make([][]bot.Match, len(qs))
	for i, q := range qs {
		want[i] = m.Understand("it", q)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				j := (g + i) % len(qs)
				if got := m.Understand("it", qs[j]); !slices.Equal(got, want[j]) {
					t.Errorf("Got(Understand(%q)) = %v, want %v", qs[j], got, want[j])
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkUnderstand measures the matcher on the labelled questions, the
// full knowledge base loaded.
func BenchmarkUnderstand(b *testing.B) {
	m, _ := loadMatcher(b)
	qs := loadLabelled(b, "testdata/questions.yaml")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := qs[i%len(qs)]
		m.Understand(q.Lang, q.Q)
		i++
	}
}

// BenchmarkUnderstandLong is a message cut to its head and tail.
func BenchmarkUnderstandLong(b *testing.B) {
	m, _ := loadMatcher(b)
	q := "Buongiorno, " + strings.Repeat("ho una storia lunghissima da raccontare sul mio documento ", 70) + "quanto costa la carta?"
	b.ReportAllocs()
	for b.Loop() {
		m.Understand("it", q)
	}
}

// BenchmarkLoad is the start-up cost: parsing and compiling the knowledge
// file.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(locales.FS()); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzUnderstand: any text is read without panicking, into readings that
// are sorted, scored between 0 and 1 and fit a button.
func FuzzUnderstand(f *testing.F) {
	m, _ := loadMatcher(f)
	for _, s := range []string{"quanto costa la carta?", "ho perso il pin", "12/03/1980", "😂", "Wie viel kostet das?",
		"qnto kosta", "mio figlio di 5 anni", "my 10yo", strings.Repeat("x ", 400), "non riesco più a trovare"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms := m.Understand("it", s)
		if len(ms) > maxMatches {
			t.Fatalf("Understand(%q) gave %d readings", s, len(ms))
		}
		for i, mt := range ms {
			if mt.Score < 0 || mt.Score > 1 || (i > 0 && mt.Score > ms[i-1].Score) {
				t.Fatalf("Understand(%q) = %v: scores out of order or range", s, ms)
			}
			if !bot.ValidButtonID("go:" + mt.Dialog + ":" + mt.Arg) {
				t.Fatalf("Understand(%q) = %v: not a button", s, mt)
			}
		}
	})
}
