package bot_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sportello/bot"
	"sportello/bot/locale"
	"sportello/bot/store"
	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
	"sportello/locales"
)

// corrupter is a dialog that, inside its turn, overwrites the conversation's
// session key with a value of the wrong type, so that the turn's commit fails.
type corrupter struct {
	rdb redis.UniversalClient
	key string
}

func (corrupter) Name() string { return "corrupt" }
func (c corrupter) Start(ctx context.Context, t *bot.Turn, _ string) error {
	t.Say("corrupting")
	return c.rdb.Set(ctx, c.key, "not a hash", time.Minute).Err()
}
func (corrupter) Continue(context.Context, *bot.Turn) error { return bot.ErrNotUnderstood }
func (corrupter) Prompt(context.Context, *bot.Turn) error   { return nil }

// TestFailedCommitReleasesTheConversation: when a turn's commit fails, the
// conversation is given back at once, so the citizen's next message is
// handled instead of waiting for the lease to run out.
func TestFailedCommitReleasesTheConversation(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	rdb, err := redisstore.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	s := redisstore.New(rdb, prefix)
	defer s.Close()
	cat, _ := locale.Load(locales.FS())
	vocab, _ := bot.LoadVocabulary(locales.FS())
	key := prefix + ":{test:u}:session"
	e, err := bot.New(bot.Config{
		Store: s, Catalog: cat, Vocabulary: vocab,
		Dialogs: []bot.Dialog{corrupter{rdb: rdb, key: key}}, Menu: []string{"corrupt"},
		// Far longer than the turn timeout: a lock left behind would make
		// the next turn fail with ErrBusy.
		Lease: time.Minute, TurnTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conv := bot.Conversation{Channel: "test", User: "u"}
	if _, err := e.Handle(ctx, bot.Inbound{Conv: conv, Text: "ciao"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Handle(ctx, bot.Inbound{Conv: conv, Button: "menu:corrupt"})
	if err == nil {
		t.Fatal("the turn whose commit failed reported no error")
	}
	rdb.Del(ctx, key) // the damage is repaired; the conversation must be free
	_, err = e.Handle(ctx, bot.Inbound{Conv: conv, Text: "menu"})
	if errors.Is(err, store.ErrBusy) {
		t.Fatalf("next turn = %v: the failed commit left the conversation locked", err)
	}
	if err != nil {
		t.Fatalf("next turn = %v", err)
	}
}
