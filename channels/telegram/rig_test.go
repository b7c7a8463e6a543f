package telegram

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sportello/bot"
	"sportello/bot/locale"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
	"sportello/channels/telegram/internal/fakeapi"
	"sportello/locales"
)

const testToken = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abc-def"

// form asks a name, then confirms it with buttons: a flow with steps.
type form struct{}

func (form) Name() string { return "form" }
func (f form) Start(ctx context.Context, t *bot.Turn, _ string) error {
	t.Begin("form", "name")
	return f.Prompt(ctx, t)
}
func (form) Prompt(_ context.Context, t *bot.Turn) error {
	switch t.Step() {
	case "name":
		t.Say("form: your name?")
	case "confirm":
		t.Say("form: confirm "+t.Get("name")+"?", bot.Button{ID: "form:yes", Label: "Yes"}, bot.Button{ID: "form:no", Label: "No"})
	}
	return nil
}
func (f form) Continue(ctx context.Context, t *bot.Turn) error {
	switch t.Step() {
	case "name":
		if t.In.Button != "" {
			return bot.ErrStale
		}
		t.Set("name", t.In.Text)
		t.Goto("confirm")
		return f.Prompt(ctx, t)
	case "confirm":
		switch t.In.Button {
		case "form:yes":
			t.Say("form: saved " + t.Get("name"))
			t.End()
			return nil
		case "form:no":
			t.Say("form: dropped")
			t.End()
			return nil
		case "":
			return bot.ErrNotUnderstood
		}
		return bot.ErrStale
	}
	return fmt.Errorf("form: unknown step %q", t.Step())
}

// answers is a one-shot dialog: a long text, a file, a blocking answer, or
// whether the chat is private.
type answers struct{ gate *gate }

func (answers) Name() string  { return "ans" }
func (answers) OneShot() bool { return true }
func (a answers) Start(_ context.Context, t *bot.Turn, arg string) error {
	switch arg {
	case "long":
		para := strings.Repeat("parola ", 500) // 3500 chars
		t.Say(strings.Join([]string{"Uno: " + para, "Due: " + para, "Tre: " + para}, "\n\n"), bot.Button{ID: "cmd:menu", Label: "Menu"})
	case "booked":
		// A booking confirmation too long for one message: a head, a
		// list of lines longer than a message on its own, a tail; its
		// buttons and its calendar file.
		var items []string
		for i := range 60 {
			items = append(items, fmt.Sprintf("• documento %02d: %s", i, strings.Repeat("dettaglio ", 8)))
		}
		t.Say("Fatto! Codice di prenotazione: K7F3QX\n\nCosa portare:\n"+strings.Join(items, "\n")+"\n\nConserva il codice.",
			bot.Button{ID: "ans:keep", Label: "Va bene"}, bot.Button{ID: "ans:cancel", Label: "Annulla"})
		t.Attach(bot.Attachment{Name: "appuntamento-CIE-K7F3QX.ics", ContentType: "text/calendar; charset=utf-8", Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")})
	case "ics":
		t.Say("ecco il file")
		t.Attach(bot.Attachment{Name: "appuntamento.ics", ContentType: "text/calendar", Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")})
	case "slow":
		a.gate.pass()
		t.Say("slow: done")
	case "who":
		t.Say(fmt.Sprintf("private: %v", t.Private()))
	case "markup":
		t.Say("<b>not bold</b> & 1 < 2 > 0", bot.Button{ID: "ans:markup", Label: "<i>&</i>"})
	case "trio":
		// Three replies, the last with buttons: one message on Telegram.
		t.Say("trio: uno")
		t.Say("trio: due")
		t.Say("trio: tre?", bot.Button{ID: "cmd:menu", Label: "Menu"})
	case "calendar":
		// A confirmation, then the line its file comes with.
		t.Say("calendar: fatto")
		t.Say("calendar: il file")
		t.Attach(bot.Attachment{Name: "appuntamento.ics", ContentType: "text/calendar", Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")})
	default:
		t.Say("answer: " + arg)
	}
	return nil
}
func (answers) Continue(context.Context, *bot.Turn) error { return bot.ErrNotUnderstood }
func (answers) Prompt(context.Context, *bot.Turn) error   { return nil }

// words understands a few keywords.
type words struct{}

func (words) Understand(_, text string) []bot.Match {
	for _, w := range []string{"long", "booked", "ics", "slow", "who", "markup", "trio", "calendar"} {
		if strings.Contains(strings.ToLower(text), w) {
			return []bot.Match{{Dialog: "ans", Arg: w, Label: w, Score: 0.9}}
		}
	}
	return nil
}

// gate blocks the "slow" answer until the test opens it.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 16), open: make(chan struct{})} }

func (g *gate) pass() {
	if g == nil {
		return
	}
	g.entered <- struct{}{}
	<-g.open
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// rig is a Telegram channel with a real engine and store, talking to the
// fake Bot API through the real client.
type rig struct {
	t       testing.TB
	fake    *fakeapi.Server
	api     *httptest.Server
	backend string
	dir     string // bolt
	rdb     redis.UniversalClient
	prefix  string
	bolt    *boltstore.Store
	engine  *bot.Engine
	ch      *Chan
	hook    *httptest.Server // webhook mode
	cfg     Config
	gate    *gate
	opts    Options
	store   bot.StateStore // the engine's

	engineCfg func(*bot.Config) // adjusts the engine's configuration
	observe   func(updateID int64)

	mu          sync.Mutex
	unreachable []bot.Conversation
}

type rigOption func(*rig)

func webhookMode(r *rig) { r.cfg.WebhookSecret = "s3cret_token-OK" }

func withConfig(f func(*Config)) rigOption { return func(r *rig) { f(&r.cfg) } }

func withEngine(f func(*bot.Config)) rigOption { return func(r *rig) { r.engineCfg = f } }

// withObserve sees each update's replies as they are handed to the sender
// (set before the channel starts).
func withObserve(f func(updateID int64)) rigOption { return func(r *rig) { r.observe = f } }

func newRig(t testing.TB, backend string, opts ...rigOption) *rig {
	t.Helper()
	r := &rig{t: t, backend: backend, fake: fakeapi.New(testToken), gate: newGate()}
	r.api = httptest.NewServer(r.fake)
	t.Cleanup(func() { r.api.Close(); r.fake.Close() })
	r.cfg = Config{
		Token:        testToken,
		APIURL:       r.api.URL,
		Rate:         1000,
		ChatInterval: 5 * time.Millisecond,
		ChatBurst:    10,
		IdlePoll:     20 * time.Millisecond,
		PollTimeout:  time.Second,
	}
	for _, o := range opts {
		o(r)
	}
	switch backend {
	case "bolt":
		r.dir = t.TempDir()
	case "redis":
		url := redistest.URL(t)
		r.prefix = redistest.Prefix(t, url)
		c, err := redisstore.NewClient(url)
		if err != nil {
			t.Fatal(err)
		}
		r.rdb = c
		t.Cleanup(func() { c.Close() })
	}
	if r.cfg.WebhookSecret != "" {
		r.hook = httptest.NewUnstartedServer(nil)
		r.cfg.WebhookURL = "http://" + r.hook.Listener.Addr().String() + "/telegram/webhook"
	}
	r.start()
	t.Cleanup(func() { r.stop() })
	return r
}

// start builds a store, engine and channel and starts the channel.
func (r *rig) start() {
	t := r.t
	t.Helper()
	cat, err := locale.Load(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := bot.LoadVocabulary(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	var st bot.StateStore
	var inbox Inbox
	switch r.backend {
	case "bolt":
		r.bolt, err = boltstore.Open(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		st = r.bolt
		inbox, err = InboxFor(r.bolt)
	case "redis":
		rs := redisstore.New(r.rdb, r.prefix)
		st = rs
		inbox, err = InboxFor(rs)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.store = st
	ecfg := bot.Config{
		Store: st, Catalog: cat, Vocabulary: vocab,
		Dialogs:      []bot.Dialog{form{}, answers{gate: r.gate}},
		Understander: words{},
		Menu:         []string{"form", "ans", "operator"},
		Office:       "Comune di Prova",
	}
	if r.engineCfg != nil {
		r.engineCfg(&ecfg)
	}
	r.engine, err = bot.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	r.opts = Options{
		Engine: r.engine, Inbox: inbox, Catalog: cat,
		OnUnreachable: func(_ context.Context, conv bot.Conversation) {
			r.mu.Lock()
			r.unreachable = append(r.unreachable, conv)
			r.mu.Unlock()
		},
	}
	r.ch, err = New(r.cfg, r.opts)
	if err != nil {
		t.Fatal(err)
	}
	r.ch.observe = r.observe
	if r.hook != nil {
		r.hook.Config.Handler = r.ch.WebhookHandler()
		if r.hook.URL == "" {
			r.hook.Start()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.ch.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// stop shuts the channel and engine down and closes the store.
func (r *rig) stop() {
	if r.ch == nil {
		return
	}
	r.gate.release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.ch.Shutdown(ctx); err != nil {
		r.t.Errorf("Shutdown() = %v", err)
	}
	if err := r.engine.Shutdown(ctx); err != nil {
		r.t.Errorf("engine Shutdown() = %v", err)
	}
	if r.bolt != nil {
		r.bolt.Close()
		r.bolt = nil
	}
	r.ch = nil
}

// restart stops everything and starts new ones on the same store.
func (r *rig) restart() {
	r.t.Helper()
	r.stop()
	r.gate = newGate()
	r.start()
}

// waitBot waits until chat has at least n bot messages and returns them.
func (r *rig) waitBot(chat int64, n int) []fakeapi.Message {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.fake.Wait(ctx, func(s *fakeapi.Server) bool { return len(s.BotMessagesLocked(chat)) >= n })
	msgs := botMessages(r.fake.Messages(chat))
	if err != nil {
		r.t.Fatalf("waiting for %d bot messages in chat %d: got %d: %s", n, chat, len(msgs), texts(msgs))
	}
	return msgs
}

// waitCalls waits until cond holds over the calls.
func (r *rig) waitCalls(what string, cond func([]fakeapi.Call) bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.fake.Wait(ctx, func(s *fakeapi.Server) bool { return cond(s.CallsLocked()) }); err != nil {
		r.t.Fatalf("waiting for %s: %v; calls: %s", what, err, callList(r.fake.Calls()))
	}
}

// settled waits until the inbox holds nothing more for chat.
func (r *rig) settled(chat int64) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := r.queued(chat)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("chat %d still has %d queued updates", chat, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// queued counts the updates the inbox holds for chat.
func (r *rig) queued(chat int64) int {
	switch in := r.opts.Inbox.(type) {
	case *redisInbox:
		n, err := in.rdb.ZCard(context.Background(), in.key("q", fmt.Sprint(chat))).Result()
		if err != nil {
			r.t.Fatal(err)
		}
		return int(n)
	case *boltInbox:
		n := 0
		in.mu.Lock()
		_, due := in.due[chat]
		in.mu.Unlock()
		if c, _ := in.head(chat); c != nil || due {
			n = 1
		}
		if c, _ := in.head(chat); c == nil {
			n = 0
		}
		return n
	}
	return 0
}

// headFails returns the failed tries the inbox holds for chat's oldest
// queued update; false when nothing is queued for chat.
func (r *rig) headFails(chat int64) (failures, bool) {
	switch in := r.opts.Inbox.(type) {
	case *redisInbox:
		ctx := context.Background()
		ids, err := in.rdb.ZRange(ctx, in.key("q", fmt.Sprint(chat)), 0, 0).Result()
		if err != nil {
			r.t.Fatal(err)
		}
		if len(ids) == 0 {
			return failures{}, false
		}
		turn, _ := in.rdb.HGet(ctx, in.key("n"), ids[0]).Int()
		send, _ := in.rdb.HGet(ctx, in.key("ns"), ids[0]).Int()
		return failures{Turn: turn, Send: send}, true
	case *boltInbox:
		c, err := in.head(chat)
		if err != nil {
			r.t.Fatal(err)
		}
		if c == nil {
			return failures{}, false
		}
		return c.Fails, true
	}
	r.t.Fatalf("unknown inbox %T", r.opts.Inbox)
	return failures{}, false
}

func botMessages(all []fakeapi.Message) []fakeapi.Message {
	var out []fakeapi.Message
	for _, m := range all {
		if m.FromBot {
			out = append(out, m)
		}
	}
	return out
}

func texts(msgs []fakeapi.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "\n  #%d %q buttons=%v", m.ID, m.Text, m.Buttons())
	}
	return b.String()
}

func callList(calls []fakeapi.Call) string {
	var b strings.Builder
	for _, c := range calls {
		if c.Method == "getUpdates" {
			continue
		}
		fmt.Fprintf(&b, "\n  %s chat=%d status=%d %s", c.Method, c.Chat, c.Status, c.Error)
	}
	return b.String()
}

// lastWithButton returns the last bot message that shows button id.
func lastWithButton(t *testing.T, msgs []fakeapi.Message, id string) fakeapi.Message {
	t.Helper()
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, b := range msgs[i].Buttons() {
			if b.Data == id {
				return msgs[i]
			}
		}
	}
	t.Fatalf("no bot message shows button %q: %s", id, texts(msgs))
	return fakeapi.Message{}
}

var backends = []string{"bolt", "redis"}
