package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sportello/bot"
	"sportello/bot/bottest"
	"sportello/bot/locale"
	"sportello/bot/store"
	"sportello/bot/store/boltstore"
	"sportello/locales"
)

// form is a two-step flow used to test the engine: it asks a name, then a
// yes/no confirmation with buttons.
type form struct {
	block chan struct{} // when set, Start waits on it (parallelism tests)
	began chan struct{}
}

func (f *form) Name() string { return "reminders" }

func (f *form) Start(_ context.Context, t *bot.Turn, arg string) error {
	if f.began != nil {
		f.began <- struct{}{}
	}
	if f.block != nil {
		<-f.block
	}
	t.Begin("reminders", "name")
	if arg != "" {
		t.Set("arg", arg)
	}
	return f.Prompt(context.Background(), t)
}

func (f *form) Prompt(_ context.Context, t *bot.Turn) error {
	switch t.Step() {
	case "name":
		t.Say("form: your name?")
	case "confirm":
		t.Say("form: confirm "+t.Get("name")+"?", bot.Button{ID: "reminders:yes", Label: "Yes"}, bot.Button{ID: "reminders:no", Label: "No"})
	}
	return nil
}

func (f *form) Continue(_ context.Context, t *bot.Turn) error {
	switch t.Step() {
	case "name":
		if t.In.Button != "" {
			return bot.ErrStale
		}
		if strings.Contains(t.In.Text, "?") {
			return bot.ErrNotUnderstood
		}
		t.Set("name", t.In.Text)
		t.Goto("confirm")
		return f.Prompt(context.Background(), t)
	case "confirm":
		switch t.In.Button {
		case "reminders:yes":
			t.Say("form: saved " + t.Get("name"))
			t.End()
			return nil
		case "reminders:no":
			t.End()
			t.Say("form: dropped")
			return nil
		case "":
			return bot.ErrNotUnderstood
		}
		return bot.ErrStale
	}
	return fmt.Errorf("form: unknown step %q", t.Step())
}

// answer is a one-shot dialog, like a FAQ answer.
type answer struct{}

func (answer) Name() string  { return "answer" }
func (answer) OneShot() bool { return true }
func (answer) Start(_ context.Context, t *bot.Turn, arg string) error {
	if arg == "panic" {
		panic("boom")
	}
	t.Say("answer: " + arg)
	return nil
}
func (answer) Continue(context.Context, *bot.Turn) error { return bot.ErrNotUnderstood }
func (answer) Prompt(context.Context, *bot.Turn) error   { return nil }

// keywords understands a few fixed questions.
type keywords struct{}

func (keywords) Understand(lang, text string) []bot.Match {
	n := bot.Normalize(text)
	var m []bot.Match
	if strings.Contains(n, "costa") || strings.Contains(n, "cost") {
		m = append(m, bot.Match{Dialog: "answer", Arg: "cost", Label: "Cost", Score: 0.9})
	}
	if strings.Contains(n, "foto") || strings.Contains(n, "photo") {
		m = append(m, bot.Match{Dialog: "answer", Arg: "photo", Label: "Photo", Score: 0.8})
	}
	if strings.Contains(n, "form") {
		m = append(m, bot.Match{Dialog: "reminders", Label: "Form", Score: 0.9})
	}
	if strings.Contains(n, "prenot") {
		m = append(m, bot.Match{Dialog: "book", Label: "Book", Score: 0.4})
	}
	if strings.Contains(n, "maybe") {
		m = append(m, bot.Match{Dialog: "answer", Arg: "maybe1", Label: "Maybe one", Score: 0.4},
			bot.Match{Dialog: "answer", Arg: "maybe2", Label: "Maybe two", Score: 0.35})
	}
	return m
}

type harness struct {
	*bottest.Chat
	store *boltstore.Store
	cat   *locale.Catalog
	form  *form
	clock *bottest.Clock
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{form: &form{}, clock: bottest.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))}
	h.store = bottest.EmbeddedStore(t, h.clock.Now)
	var vocab *bot.Vocabulary
	h.cat, vocab = bottest.Locales(t)
	e, err := bot.New(bot.Config{
		Store: h.store, Catalog: h.cat, Vocabulary: vocab,
		Dialogs:      []bot.Dialog{h.form, answer{}},
		Understander: keywords{},
		Menu:         []string{"reminders", "book", "operator"},
		Office:       "Comune di Prova",
		Now:          h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Chat = &bottest.Chat{T: t, Engine: e}
	return h
}

func (h *harness) msg(lang, id string) string {
	return h.cat.Text(lang, id, map[string]any{"Office": "Comune di Prova"})
}

func TestNewConversationIsGreetedWithMainMenu(t *testing.T) {
	h := newHarness(t)
	r := h.Text("u1", "ciao")
	if len(r) != 1 {
		t.Fatalf("greeting = %d replies, want 1: %s", len(r), bottest.All(r))
	}
	bottest.Contains(t, r, h.msg("it", "greeting.first"))
	for _, id := range []string{"menu:reminders", "menu:book", "menu:operator"} {
		bottest.HasButton(t, r, id)
	}
}

func TestFirstMessageThatAsksIsAnsweredToo(t *testing.T) {
	h := newHarness(t)
	r := h.Text("u1", "quanto costa la carta?")
	bottest.Contains(t, r, h.msg("it", "greeting.first"))
	bottest.Contains(t, r, "answer: cost")
}

func TestReturningCitizenIsWelcomedBack(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	h.clock.Add(31 * time.Minute)
	r := h.Text("u1", "ciao")
	bottest.Contains(t, r, h.msg("it", "greeting.back"))
}

func TestSessionExpiresAfterIdleTime(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	h.Press("u1", "menu:reminders")
	h.Text("u1", "Mario")
	h.clock.Add(29 * time.Minute)
	r := h.Press("u1", "reminders:yes") // still within 30 minutes
	bottest.Contains(t, r, "form: saved Mario")

	h.Press("u1", "menu:reminders")
	h.Text("u1", "Anna")
	h.clock.Add(31 * time.Minute)
	r = h.Press("u1", "reminders:yes") // the flow has expired
	bottest.Contains(t, r, h.msg("it", "button.stale"))
	if strings.Contains(bottest.All(r), h.msg("it", "greeting.back")) {
		t.Errorf("a returning citizen's button got the greeting first: %s", bottest.All(r))
	}
	if strings.Contains(bottest.All(r), "saved") {
		t.Errorf("an expired flow was completed: %s", bottest.All(r))
	}
}

func TestFlowWithButtons(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	r := h.Press("u1", "menu:reminders")
	bottest.Contains(t, r, "form: your name?")
	r = h.Text("u1", "Mario")
	bottest.HasButton(t, r, "reminders:yes")
	r = h.Press("u1", "reminders:yes")
	bottest.Contains(t, r, "form: saved Mario")
	// The same button again is stale: the flow is over.
	r = h.Press("u1", "reminders:yes")
	bottest.Contains(t, r, h.msg("it", "button.stale"))
}

func TestGlobalCommandsAtAnyStep(t *testing.T) {
	tests := []struct {
		say      string
		want     string
		stillIn  bool // the flow is still active afterwards
		wantLang string
	}{
		{say: "menu", want: "menu.prompt"},
		{say: "/menu", want: "menu.prompt"},
		{say: "aiuto", want: "help.text", stillIn: true},
		{say: "/help", want: "help.text", stillIn: true},
		{say: "annulla", want: "cancel.done"},
		{say: "/annulla", want: "cancel.done"},
		{say: "Cancel!", want: "cancel.done"},
		{say: "/lingua", want: "language.prompt", stillIn: true},
		{say: "/language@SportelloBot", want: "language.prompt", stillIn: true},
		{say: "english", want: "language.set", stillIn: true, wantLang: "en"},
		{say: "operatore", want: "operator.unavailable", stillIn: true}, // no operator flow yet: the form goes on
	}
	for _, tc := range tests {
		t.Run(tc.say, func(t *testing.T) {
			h := newHarness(t)
			h.Text("u1", "ciao")
			h.Press("u1", "menu:reminders")
			h.Text("u1", "Mario")
			r := h.Text("u1", tc.say)
			lang := "it"
			if tc.wantLang != "" {
				lang = tc.wantLang
			}
			bottest.Contains(t, r, h.msg(lang, tc.want))
			r = h.Press("u1", "reminders:yes")
			saved := strings.Contains(bottest.All(r), "form: saved Mario")
			if saved != tc.stillIn {
				t.Errorf("after %q the flow is active = %v, want %v (%s)", tc.say, saved, tc.stillIn, bottest.All(r))
			}
		})
	}
}

func TestCommandInsideASentenceIsNotACommand(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	h.Press("u1", "menu:reminders")
	// "annulla" inside a question is a question for the flow, not cancel.
	r := h.Text("u1", "come si annulla?")
	if strings.Contains(bottest.All(r), h.msg("it", "cancel.done")) {
		t.Errorf("a sentence containing a command word cancelled the flow: %s", bottest.All(r))
	}
	bottest.Contains(t, r, "form: your name?")
}

func TestCancelWithNothingInProgress(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	bottest.Contains(t, h.Text("u1", "annulla"), h.msg("it", "cancel.nothing"))
}

func TestLanguage(t *testing.T) {
	t.Run("italian is the default", func(t *testing.T) {
		h := newHarness(t)
		bottest.Contains(t, h.Text("u1", "12345"), h.msg("it", "greeting.first"))
	})
	t.Run("from the channel hint", func(t *testing.T) {
		h := newHarness(t)
		bottest.Contains(t, h.Send("u1", bot.Inbound{Text: "/start", LangHint: "en-GB"}), h.msg("en", "greeting.first"))
	})
	t.Run("hello is English", func(t *testing.T) {
		h := newHarness(t)
		bottest.Contains(t, h.Text("u1", "hello"), h.msg("en", "greeting.first"))
	})
	t.Run("buongiorno is Italian even with an English hint", func(t *testing.T) {
		h := newHarness(t)
		bottest.Contains(t, h.Send("u1", bot.Inbound{Text: "buongiorno", LangHint: "en"}), h.msg("it", "greeting.first"))
	})
	t.Run("language chosen in the channel", func(t *testing.T) {
		h := newHarness(t)
		bottest.Contains(t, h.Send("u1", bot.Inbound{Text: "buongiorno", Lang: "en"}), h.msg("en", "greeting.first"))
		bottest.Contains(t, h.Text("u1", "ciao"), h.msg("en", "menu.prompt")) // remembered
	})
	t.Run("first message english greets in English", func(t *testing.T) {
		h := newHarness(t)
		bottest.Contains(t, h.Text("u1", "english"), h.msg("en", "greeting.first"))
	})
	t.Run("switch and remember across sessions", func(t *testing.T) {
		h := newHarness(t)
		h.Text("u1", "ciao")
		bottest.Contains(t, h.Text("u1", "english"), h.msg("en", "language.set"))
		bottest.Contains(t, h.Text("u1", "menu"), h.msg("en", "menu.prompt"))
		h.clock.Add(2 * time.Hour) // the session expires, the choice does not
		r := h.Text("u1", "buongiorno")
		bottest.Contains(t, r, h.msg("en", "greeting.back"))
		bottest.Contains(t, h.Press("u1", "lang:it"), h.msg("it", "language.set"))
		bottest.Contains(t, h.Text("u1", "hello"), h.msg("it", "menu.prompt")) // explicit choice wins over detection
	})
	t.Run("buttons from the language prompt", func(t *testing.T) {
		h := newHarness(t)
		h.Text("u1", "ciao")
		r := h.Text("u1", "/language")
		bottest.HasButton(t, r, "lang:en")
		bottest.Contains(t, h.Press("u1", "lang:en"), h.msg("en", "language.set"))
	})
	t.Run("detected language follows the citizen until chosen", func(t *testing.T) {
		h := newHarness(t)
		h.Text("u1", "ciao")
		bottest.Contains(t, h.Text("u1", "what can you do"), h.msg("en", "help.text"))
	})
}

func TestMenuEntryWithoutFlowSaysSoHonestly(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	r := h.Press("u1", "menu:book")
	bottest.Contains(t, r, h.cat.Text("it", "menu.unavailable", map[string]any{"Feature": h.msg("it", "menu.book")}))
	r = h.Text("u1", "/prenota")
	bottest.Contains(t, r, h.cat.Text("it", "menu.unavailable", map[string]any{"Feature": h.msg("it", "menu.book")}))
}

func TestUnknownInputGetsSuggestionsThenAPerson(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	r := h.Text("u1", "asdkjh qwe")
	bottest.Contains(t, r, h.msg("it", "fallback.unknown"))
	bottest.HasButton(t, r, "menu:reminders")
	r = h.Text("u1", "zzzz")
	bottest.Contains(t, r, h.msg("it", "fallback.person"))
	bottest.HasButton(t, r, "cmd:operator")
	// Understanding something resets the count.
	h.Text("u1", "quanto costa?")
	bottest.Contains(t, h.Text("u1", "qwerty"), h.msg("it", "fallback.unknown"))
}

func TestDidYouMean(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	r := h.Text("u1", "maybe")
	bottest.Contains(t, r, h.msg("it", "fallback.did_you_mean"))
	bottest.HasButton(t, r, "go:answer:maybe1")
	bottest.HasButton(t, r, "go:answer:maybe2")
	bottest.Contains(t, h.Press("u1", "go:answer:maybe2"), "answer: maybe2")
}

func TestDidYouMeanAMenuEntryWithoutFlow(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	r := h.Text("u1", "prenot?")
	bottest.HasButton(t, r, "go:book:")
	r = h.Press("u1", "go:book:")
	bottest.Contains(t, r, h.cat.Text("it", "menu.unavailable", map[string]any{"Feature": h.msg("it", "menu.book")}))
	bottest.Contains(t, h.Press("u1", "go:operator:"), h.msg("it", "operator.unavailable"))
}

func TestQuestionThatAsksTwoThingsOffersTheOther(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	r := h.Text("u1", "quanto costa e che foto serve")
	bottest.Contains(t, r, "answer: cost")
	bottest.HasButton(t, r, "go:answer:photo")
}

func TestOneShotAnswerKeepsTheFlow(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	h.Press("u1", "menu:reminders")
	r := h.Text("u1", "quanto costa?")
	bottest.Contains(t, r, "answer: cost")
	bottest.Contains(t, r, "form: your name?") // the flow's question is asked again
	h.Text("u1", "Mario")
	bottest.Contains(t, h.Press("u1", "reminders:yes"), "form: saved Mario")
}

func TestOneShotButtonKeepsTheFlowAndAsksAgain(t *testing.T) {
	for _, id := range []string{"answer:x", "go:answer:x"} {
		h := newHarness(t)
		h.Text("u1", "ciao")
		h.Press("u1", "menu:reminders")
		r := h.Press("u1", id)
		bottest.Contains(t, r, "answer: x")
		bottest.Contains(t, r, "form: your name?")
		h.Text("u1", "Mario")
		bottest.Contains(t, h.Press("u1", "reminders:yes"), "form: saved Mario")
	}
}

func TestBadInput(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	tests := []struct {
		name string
		in   bot.Inbound
		want string
	}{
		{"empty", bot.Inbound{Text: "   "}, "input.empty"},
		{"huge", bot.Inbound{Text: strings.Repeat("parola ", 100_000/7)}, "input.truncated"},
		{"invalid utf-8", bot.Inbound{Text: "\xff\xfe\xfd"}, "fallback"},
		{"control characters", bot.Inbound{Text: "\x00\x01\x1b[31m"}, "fallback"},
		{"unknown button", bot.Inbound{Button: "reminders:yes"}, "button.stale"},
		{"crafted button", bot.Inbound{Button: "menu:../../etc/passwd"}, "button.stale"},
		{"overlong button", bot.Inbound{Button: "menu:" + strings.Repeat("x", 200)}, "button.stale"},
		{"unknown dialog button", bot.Inbound{Button: "nosuch:thing"}, "button.stale"},
		{"unknown menu entry", bot.Inbound{Button: "menu:nosuch"}, "button.stale"},
		{"go to unknown dialog", bot.Inbound{Button: "go:nosuch:x"}, "button.stale"},
		{"unknown command", bot.Inbound{Text: "/frobnicate"}, "input.unknown_command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.Send("u1", tc.in)
			if tc.want == "fallback" {
				if !strings.Contains(bottest.All(r), h.msg("it", "fallback.unknown")) && !strings.Contains(bottest.All(r), h.msg("it", "fallback.person")) {
					t.Errorf("replies %q are not a fallback", bottest.All(r))
				}
				return
			}
			if tc.want == "input.truncated" {
				// "I read only the first N characters": N counts characters.
				want := h.cat.Text("it", tc.want, map[string]any{"Limit": len(strings.TrimSpace(tc.in.Text[:bot.MaxTextBytes]))})
				bottest.Contains(t, r, want)
				return
			}
			want := h.cat.Text("it", tc.want, map[string]any{"Command": "/frobnicate"})
			bottest.Contains(t, r, want)
		})
	}
	// Nothing above corrupted the conversation.
	h.Press("u1", "menu:reminders")
	h.Text("u1", "Mario")
	bottest.Contains(t, h.Press("u1", "reminders:yes"), "form: saved Mario")
}

func TestDialogPanicGetsAnApology(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	r := h.Press("u1", "go:answer:panic")
	bottest.Contains(t, r, h.msg("it", "error.answer"))
	// A failing answer leaves a flow in progress alone.
	h.Press("u1", "menu:reminders")
	h.Text("u1", "Mario")
	r = h.Press("u1", "go:answer:panic")
	bottest.Contains(t, r, h.msg("it", "error.answer"))
	bottest.Contains(t, h.Press("u1", "reminders:yes"), "form: saved Mario")
	bottest.Contains(t, h.Text("u1", "menu"), h.msg("it", "menu.prompt"))
}

func TestStoreDownGivesClearErrorAndNoPanic(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	h.store.Close()
	r, err := h.Engine.Handle(context.Background(), bot.Inbound{Conv: bot.Conversation{Channel: "test", User: "u1"}, Text: "hello"})
	if err == nil {
		t.Fatal("Handle with a closed store succeeded")
	}
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("error = %v, want it to wrap store.ErrClosed", err)
	}
	bottest.Contains(t, r, h.msg("it", "error.unavailable"))
}

func TestInboundWithoutConversationIsRefused(t *testing.T) {
	h := newHarness(t)
	if _, err := h.Engine.Handle(context.Background(), bot.Inbound{Text: "hi"}); err == nil {
		t.Error("Handle without channel and user succeeded")
	}
}

func TestConcurrentTurnsOfOneConversationLoseNothing(t *testing.T) {
	h := newHarness(t)
	h.Text("u1", "ciao")
	const n = 40
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Text("u1", "qwerty")
		}()
	}
	wg.Wait()
	l, err := h.store.Acquire(context.Background(), "test:u1", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer h.store.Release(context.Background(), l)
	if want := fmt.Sprintf(`"turns":%d`, n+1); !strings.Contains(string(l.Session), want) {
		t.Errorf("session %s does not record %s: turns were lost", l.Session, want)
	}
}

func TestDifferentConversationsRunInParallel(t *testing.T) {
	h := newHarness(t)
	h.form.block = make(chan struct{})
	h.form.began = make(chan struct{}, 1)
	h.Text("a", "ciao")
	done := make(chan []bot.Reply)
	go func() { done <- h.Press("a", "menu:reminders") }()
	<-h.form.began // a's turn is inside the dialog, blocked
	// b is answered while a's turn is still running.
	bottest.Contains(t, h.Text("b", "ciao"), h.msg("it", "greeting.first"))
	close(h.form.block)
	bottest.Contains(t, <-done, "form: your name?")
}

func TestShutdownFinishesTurnsInFlight(t *testing.T) {
	h := newHarness(t)
	h.form.block = make(chan struct{})
	h.form.began = make(chan struct{}, 1)
	h.Text("a", "ciao")
	done := make(chan []bot.Reply)
	go func() { done <- h.Press("a", "menu:reminders") }()
	<-h.form.began

	shut := make(chan error)
	go func() { shut <- h.Engine.Shutdown(context.Background()) }()
	// New turns are refused once shutdown began. Shutdown may not have
	// flagged yet, so retry until it has.
	for {
		_, err := h.Engine.Handle(context.Background(), bot.Inbound{Conv: bot.Conversation{Channel: "test", User: "b"}, Text: "ciao"})
		if errors.Is(err, bot.ErrStopping) {
			break
		}
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a turn in flight", err)
	default:
	}
	close(h.form.block)
	bottest.Contains(t, <-done, "form: your name?")
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if err := h.Engine.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown = %v", err)
	}
}

func TestShutdownGivesUpAtDeadline(t *testing.T) {
	h := newHarness(t)
	h.form.block = make(chan struct{})
	h.form.began = make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Engine.Handle(context.Background(), bot.Inbound{Conv: bot.Conversation{Channel: "test", User: "a"}, Button: "menu:reminders"})
	}()
	<-h.form.began
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Engine.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with expired context = %v, want context.Canceled", err)
	}
	close(h.form.block)
	<-done
}

func TestDialogNamesAreChecked(t *testing.T) {
	h := newHarness(t)
	vocab, _ := bot.LoadVocabulary(locales.FS())
	for _, d := range []bot.Dialog{named("menu"), named("a:b"), named("")} {
		_, err := bot.New(bot.Config{Store: h.store, Catalog: h.cat, Vocabulary: vocab, Dialogs: []bot.Dialog{d}})
		if err == nil {
			t.Errorf("New accepted dialog name %q", d.Name())
		}
	}
	_, err := bot.New(bot.Config{Store: h.store, Catalog: h.cat, Vocabulary: vocab, Dialogs: []bot.Dialog{named("x"), named("x")}})
	if err == nil {
		t.Error("New accepted two dialogs with one name")
	}
}

type named string

func (n named) Name() string                                 { return string(n) }
func (named) Start(context.Context, *bot.Turn, string) error { return nil }
func (named) Continue(context.Context, *bot.Turn) error      { return nil }
func (named) Prompt(context.Context, *bot.Turn) error        { return nil }

func TestMetricsCountTurnsLatencyAndErrors(t *testing.T) {
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := locale.Load(locales.FS())
	vocab, _ := bot.LoadVocabulary(locales.FS())
	reg := prometheus.NewRegistry()
	e, err := bot.New(bot.Config{Store: s, Catalog: cat, Vocabulary: vocab, Metrics: bot.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	conv := bot.Conversation{Channel: "test", User: "m"}
	for range 3 {
		if _, err := e.Handle(context.Background(), bot.Inbound{Conv: conv, Text: "ciao"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close() // the next turn fails on the store
	e.Handle(context.Background(), bot.Inbound{Conv: conv, Text: "ciao"})

	got := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[f.GetName()+labels] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[f.GetName()+labels] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for name, want := range map[string]float64{
		"sportello_turns_total,channel=test,outcome=ok":    3,
		"sportello_turns_total,channel=test,outcome=error": 1,
		"sportello_turn_duration_seconds,channel=test":     4,
		"sportello_turn_errors_total,reason=error":         1,
	} {
		if got[name] != want {
			t.Errorf("Got(%s) = %v, want %v (all: %v)", name, got[name], want, got)
		}
	}
}
