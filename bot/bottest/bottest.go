// Package bottest drives a real engine the way a channel does, for the
// conversation tests of the engine and of the dialogs: real locale files, a
// real store, a clock the test moves, and checks every reply must pass.
package bottest

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sportello/bot"
	"sportello/bot/locale"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
	"sportello/locales"
)

// Locales returns the catalog and the vocabulary of the real locale files.
func Locales(t testing.TB) (*locale.Catalog, *bot.Vocabulary) {
	t.Helper()
	cat, err := locale.Load(locales.FS())
	if err != nil {
		t.Fatalf("locale.Load = %v", err)
	}
	vocab, err := bot.LoadVocabulary(locales.FS())
	if err != nil {
		t.Fatalf("LoadVocabulary = %v", err)
	}
	return cat, vocab
}

// Clock is a clock that moves only when the test moves it. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// EmbeddedStore opens a fresh embedded store in a temporary directory, on
// clock (nil for the real time), closed when the test ends.
func EmbeddedStore(t testing.TB, clock func() time.Time) *boltstore.Store {
	t.Helper()
	var opts []boltstore.Option
	if clock != nil {
		opts = append(opts, boltstore.WithClock(clock))
	}
	s, err := boltstore.Open(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("boltstore.Open = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// RedisStore opens a Redis state store on url under prefix (see
// redistest), closed when the test ends. Each call is its own client, as
// each replica would have.
func RedisStore(t testing.TB, url, prefix string) *redisstore.Store {
	t.Helper()
	rdb, err := redisstore.NewClient(url)
	if err != nil {
		t.Fatalf("redisstore.NewClient(%q) = %v", url, err)
	}
	s := redisstore.New(rdb, prefix)
	t.Cleanup(func() { s.Close() })
	return s
}

// Chat sends messages to an engine as the citizens of one channel would.
type Chat struct {
	T      testing.TB
	Engine *bot.Engine
	// Channel names the conversations (default "test").
	Channel string
	// Group marks the messages as coming from a group chat.
	Group bool
}

// missingMessage is how the catalog renders a message id it lacks.
var missingMessage = regexp.MustCompile(`\[[a-z_]+(\.[a-z0-9_]+)+\]`)

// Send hands in to the engine for user and returns the replies. The turn
// must succeed and answer, and every reply must be whole: no missing
// message, no missing value, only valid buttons with labels.
func (c *Chat) Send(user string, in bot.Inbound) []bot.Reply {
	c.T.Helper()
	ch := c.Channel
	if ch == "" {
		ch = "test"
	}
	in.Conv = bot.Conversation{Channel: ch, User: user}
	in.Group = in.Group || c.Group
	r, err := c.Engine.Handle(context.Background(), in)
	if err != nil {
		c.T.Fatalf("Handle(%+v) = %v", in, err)
	}
	if len(r) == 0 {
		c.T.Fatalf("Handle(%+v) gave no reply: the engine must never be silent", in)
	}
	for _, x := range r {
		if m := missingMessage.FindString(x.Text); m != "" || strings.Contains(x.Text, "<no value>") {
			c.T.Errorf("reply to %+v has a missing message or value (%s): %q", in, m, x.Text)
		}
		for _, b := range x.Buttons {
			if !bot.ValidButtonID(b.ID) || b.Label == "" || missingMessage.MatchString(b.Label) {
				c.T.Errorf("reply to %+v has a bad button %+v", in, b)
			}
		}
	}
	return r
}

// Text sends text typed by user.
func (c *Chat) Text(user, text string) []bot.Reply {
	c.T.Helper()
	return c.Send(user, bot.Inbound{Text: text})
}

// Press presses the button id for user.
func (c *Chat) Press(user, id string) []bot.Reply {
	c.T.Helper()
	return c.Send(user, bot.Inbound{Button: id})
}

// All joins the replies' texts, one per line.
func All(r []bot.Reply) string {
	var b strings.Builder
	for _, x := range r {
		b.WriteString(x.Text)
		b.WriteString("\n")
	}
	return b.String()
}

// ButtonIDs lists the replies' button ids in order.
func ButtonIDs(r []bot.Reply) []string {
	var ids []string
	for _, x := range r {
		for _, b := range x.Buttons {
			ids = append(ids, b.ID)
		}
	}
	return ids
}

// Contains fails the test unless the replies' text contains want.
func Contains(t testing.TB, r []bot.Reply, want string) {
	t.Helper()
	if !strings.Contains(All(r), want) {
		t.Errorf("replies\n%s\ndo not contain %q", All(r), want)
	}
}

// HasButton fails the test unless a reply has a button with id.
func HasButton(t testing.TB, r []bot.Reply, id string) {
	t.Helper()
	if !slices.Contains(ButtonIDs(r), id) {
		t.Errorf("replies have buttons %v, want %q among them", ButtonIDs(r), id)
	}
}
