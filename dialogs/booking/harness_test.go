package booking_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"

	"sportello/bot"
	core "sportello/bot/booking"
	"sportello/bot/bottest"
	"sportello/bot/comune"
	"sportello/bot/locale"
	"sportello/bot/store"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
	"sportello/dialogs/booking"
	"sportello/locales"
)

// A store that keeps both conversations and bookings, as main wires it.
type fullStore interface {
	bot.StateStore
	core.Store
}

// harness runs the booking dialogs in a real engine on a real store, with a
// clock the test moves.
type harness struct {
	t      testing.TB
	engine *bot.Engine
	svc    *core.Service
	cat    *locale.Catalog
	c      *comune.Comune
	outbox *outbox

	clk *bottest.Clock
}

// Thursday 26 November 2026, 10:00 in Rome.
var start = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// outbox records the notices the Notifier hands over, as the push outbox
// would deliver them: once per id, and not after they expire.
type outbox struct {
	mu      sync.Mutex
	seen    map[string]bool
	msgs    map[bot.Conversation][]bot.Reply
	expires map[string]time.Time
}

func (o *outbox) Send(_ context.Context, id string, conv bot.Conversation, replies []bot.Reply, expires time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[id] {
		return nil
	}
	o.seen[id] = true
	o.expires[id] = expires
	o.msgs[conv] = append(o.msgs[conv], replies...)
	return nil
}

// expiry returns the expiry the notice id was sent with.
func (o *outbox) expiry(t testing.TB, prefix string) time.Time {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, exp := range o.expires {
		if strings.HasPrefix(id, prefix) {
			return exp
		}
	}
	t.Fatalf("no notice with id %s...", prefix)
	return time.Time{}
}

// take returns and forgets what was sent to user.
func (o *outbox) take(user string) []bot.Reply {
	o.mu.Lock()
	defer o.mu.Unlock()
	conv := bot.Conversation{Channel: "test", User: user}
	r := o.msgs[conv]
	delete(o.msgs, conv)
	return r
}

type option func(*harnessConfig)

type harnessConfig struct {
	comune *comune.Comune
	// failCommit, when set, makes the conversation store lose a turn's
	// lease before its commit while it holds true: the turn's effects on the
	// calendar stay, the conversation does not move on.
	failCommit *atomic.Bool
	store      func(t testing.TB, clock func() time.Time) fullStore
	// calendar, when set, keeps the bookings apart from the conversations.
	calendar core.Store
}

// commitFails wraps the conversation store so that commits fail while
// *fail is true.
func commitFails(fail *atomic.Bool) option { return func(h *harnessConfig) { h.failCommit = fail } }

// failingCommits is a real store whose commits fail on demand: the lease
// is lost between the dialog's work and the save (it expired while the turn
// was slow), so the turn's session is not saved.
type failingCommits struct {
	fullStore
	fail *atomic.Bool
}

func (f failingCommits) Commit(ctx context.Context, l *store.Lease, w store.Write) error {
	if f.fail.Load() {
		if err := f.fullStore.Release(ctx, l); err != nil {
			return err
		}
		return fmt.Errorf("test: commit refused: %w", store.ErrLeaseLost)
	}
	return f.fullStore.Commit(ctx, l, w)
}

// calendarOn keeps the bookings in st, apart from the conversations: to
// break the calendar while the conversations still work.
func calendarOn(st core.Store) option { return func(h *harnessConfig) { h.calendar = st } }

func withComune(c *comune.Comune) option { return func(h *harnessConfig) { h.comune = c } }

func onRedis() option {
	return func(h *harnessConfig) {
		h.store = func(t testing.TB, _ func() time.Time) fullStore {
			url := redistest.URL(t)
			rdb, err := redisstore.NewClient(url)
			if err != nil {
				t.Fatal(err)
			}
			s := redisstore.New(rdb, redistest.Prefix(t, url))
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
}

func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	cfg := harnessConfig{
		comune: comune.Demo(),
		store: func(t testing.TB, clock func() time.Time) fullStore {
			s, err := boltstore.Open(t.TempDir(), boltstore.WithClock(clock))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	h := &harness{t: t, clk: bottest.NewClock(start), c: cfg.comune, outbox: &outbox{seen: map[string]bool{}, msgs: map[bot.Conversation][]bot.Reply{}, expires: map[string]time.Time{}}}
	st := cfg.store(t, h.clk.Now)
	if cfg.failCommit != nil {
		st = failingCommits{fullStore: st, fail: cfg.failCommit}
	}
	var cal core.Store = st
	if cfg.calendar != nil {
		cal = cfg.calendar
	}
	var err error
	h.cat, err = locale.Load(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := bot.LoadVocabulary(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	notifier, err := booking.NewNotifier(booking.NotifierConfig{Catalog: h.cat, Comune: h.c, Sender: h.outbox, Now: h.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.svc, err = core.New(core.Config{
		Comune: h.c, Store: cal, PIIKey: []byte("0123456789abcdef-test-key"), Notifier: notifier, Now: h.clk.Now,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	dialogs, err := booking.Dialogs(booking.Config{Service: h.svc, Catalog: h.cat})
	if err != nil {
		t.Fatal(err)
	}
	h.engine, err = bot.New(bot.Config{
		Store: st, Catalog: h.cat, Vocabulary: vocab, Dialogs: dialogs,
		Menu: []string{"book", "appointments"}, Office: h.c.Name, Now: h.clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) send(user string, in bot.Inbound) []bot.Reply {
	h.t.Helper()
	chat := bottest.Chat{T: h.t, Engine: h.engine}
	return chat.Send(user, in)
}

// toName walks the booking flow with buttons up to the name question:
// reason, office (nothing to press for "" in a Comune with one office), the
// first free day and its first time.
func (h *harness) toName(user, reason, office string) {
	h.t.Helper()
	h.text(user, "/prenota")
	r := h.press(user, "book:reason:"+reason)
	if office != "" {
		r = h.press(user, "book:office:"+office)
	}
	r = h.press(user, button(h.t, r, "book:day:"))
	contains(h.t, h.press(user, button(h.t, r, "book:slot:")), h.msg("it", "booking.name.prompt", nil))
}

func (h *harness) text(user, text string) []bot.Reply {
	h.t.Helper()
	return h.send(user, bot.Inbound{Text: text})
}

func (h *harness) press(user, id string) []bot.Reply {
	h.t.Helper()
	return h.send(user, bot.Inbound{Button: id})
}

// msg renders a message the way the dialogs do, for comparisons.
func (h *harness) msg(lang, id string, data map[string]any) string {
	return h.cat.Text(lang, id, data)
}

// prefix is the text of message id before its first template field: what
// every rendering of it starts with.
func (h *harness) prefix(lang, id string) string {
	m := h.cat.Message(lang, id)
	if m == nil {
		h.t.Fatalf("no message %s in %s", id, lang)
	}
	p, _, _ := strings.Cut(m.Other, "{{")
	if len(p) < 8 {
		h.t.Fatalf("message %s/%s starts with a field: compare something else", lang, id)
	}
	return p
}

func contains(t testing.TB, r []bot.Reply, want string) {
	t.Helper()
	if !strings.Contains(bottest.All(r), want) {
		t.Fatalf("replies\n%s\ndo not contain %q", bottest.All(r), want)
	}
}

func lacks(t testing.TB, r []bot.Reply, unwanted string) {
	t.Helper()
	if strings.Contains(bottest.All(r), unwanted) {
		t.Fatalf("replies\n%s\ncontain %q", bottest.All(r), unwanted)
	}
}

// button returns the first button id starting with prefix.
func button(t testing.TB, r []bot.Reply, prefix string) string {
	t.Helper()
	for _, id := range bottest.ButtonIDs(r) {
		if strings.HasPrefix(id, prefix) {
			return id
		}
	}
	t.Fatalf("replies have buttons %v, none starts with %q\n%s", bottest.ButtonIDs(r), prefix, bottest.All(r))
	return ""
}

func buttons(r []bot.Reply, prefix string) []string {
	var out []string
	for _, id := range bottest.ButtonIDs(r) {
		if strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	return out
}

// attachment returns the only attachment of the replies.
func attachment(t testing.TB, r []bot.Reply) bot.Attachment {
	t.Helper()
	var found []bot.Attachment
	for _, x := range r {
		found = append(found, x.Attachments...)
	}
	if len(found) != 1 {
		t.Fatalf("Got(%d attachments), want 1", len(found))
	}
	return found[0]
}

// event parses an .ics attachment.
func event(t testing.TB, a bot.Attachment) *ical.VEvent {
	t.Helper()
	cal, err := ical.ParseCalendar(bytes.NewReader(a.Data))
	if err != nil {
		t.Fatalf("ParseCalendar(%s) = %v", a.Name, err)
	}
	if len(cal.Events()) != 1 {
		t.Fatalf("Got(%d events in %s), want 1", len(cal.Events()), a.Name)
	}
	return cal.Events()[0]
}

func conv(user string) bot.Conversation { return bot.Conversation{Channel: "test", User: user} }

// mine returns the bookings of user's chat.
func (h *harness) mine(user string) []*core.Booking {
	h.t.Helper()
	b, err := h.svc.Mine(context.Background(), core.Owner{Conv: conv(user)})
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// Valid fiscal codes for the tests.
const (
	cfMario = "RSSMRA80A01H501U" // Mario Rossi, 1980
	cfLaura = "BNCLRA85M41F205C" // Laura Bianchi, 1985
	cfAnna  = "DLCNMR90E50H501X" // Anna Maria De Luca, 1990
	cfKid   = "VRDGPP15C22L219J" // Giuseppe Verdi, born 2015
)
