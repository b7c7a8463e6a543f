package bot_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"sportello/bot"
	"sportello/bot/bottest"
	"sportello/locales"
)

// attacher is a one-shot dialog that answers with a file, to check that a
// redelivery gets the file again.
type attacher struct{}

func (attacher) Name() string  { return "ics" }
func (attacher) OneShot() bool { return true }
func (attacher) Start(_ context.Context, t *bot.Turn, _ string) error {
	t.Say("here is your file")
	t.Attach(bot.Attachment{Name: "a.ics", ContentType: "text/calendar", Data: []byte("BEGIN:VCALENDAR")})
	return nil
}
func (attacher) Continue(context.Context, *bot.Turn) error { return bot.ErrNotUnderstood }
func (attacher) Prompt(context.Context, *bot.Turn) error   { return nil }

func TestDeliveryAppliedOnce(t *testing.T) {
	h := newHarness(t)
	h.Text("u", "ciao")
	h.Press("u", "menu:reminders")
	conv := bot.Conversation{Channel: "test", User: "u"}
	in := bot.Inbound{Conv: conv, ID: "update-7", Text: "Maria"}
	first, err := h.Engine.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.Engine.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, first) {
		t.Errorf("Got(redelivery) = %+v, want the first replies %+v", again, first)
	}
	// Applied once: the form moved from "name" to "confirm" a single time,
	// so "reminders:yes" now saves Maria rather than asking again.
	if got := strings.TrimSpace(bottest.All(h.Press("u", "reminders:yes"))); got != "form: saved Maria" {
		t.Errorf("Got(after redelivery) = %q, want %q", got, "form: saved Maria")
	}
	// A new delivery id is a new message.
	next, err := h.Engine.Handle(context.Background(), bot.Inbound{Conv: conv, ID: "update-8", Text: "ciao"})
	if err != nil || len(next) == 0 {
		t.Fatalf("Handle(new id) = %v, %v", next, err)
	}
}

func TestDeliveryReplaysAttachments(t *testing.T) {
	h := newHarness(t)
	e, err := bot.New(bot.Config{Store: h.store, Catalog: h.cat, Vocabulary: mustVocabulary(t), Dialogs: []bot.Dialog{attacher{}}, Menu: []string{"ics"}})
	if err != nil {
		t.Fatal(err)
	}
	in := bot.Inbound{Conv: bot.Conversation{Channel: "test", User: "f"}, ID: "9", Button: "go:ics:"}
	first, err := e.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Handle(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, first) {
		t.Errorf("Got(redelivery) = %+v, want %+v", again, first)
	}
	last := again[len(again)-1]
	if len(last.Attachments) != 1 || string(last.Attachments[0].Data) != "BEGIN:VCALENDAR" {
		t.Errorf("Got(replayed attachment) = %+v, want the .ics with its bytes", last.Attachments)
	}
}

func mustVocabulary(t *testing.T) *bot.Vocabulary {
	t.Helper()
	v, err := bot.LoadVocabulary(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	return v
}
