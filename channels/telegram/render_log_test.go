package telegram

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sportello/bot"
	"sportello/channels/telegram/internal/fakeapi"
)

// syncBuffer is a log sink safe for the channel's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pushWithLog pushes replies to chat through a channel of its own that logs
// to the returned buffer, and returns what the chat received.
func pushWithLog(t *testing.T, r *rig, chat int64, replies []bot.Reply) ([]fakeapi.Message, string) {
	t.Helper()
	var logs syncBuffer
	opts := r.opts
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	ch, err := New(r.cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ch.Push(ctx, bot.Conversation{Channel: Channel, User: strconv.FormatInt(chat, 10)}, replies); err != nil {
		t.Errorf("Push() = %v", err)
	}
	if err := ch.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
	return botMessages(r.fake.Messages(chat)), logs.String()
}

func TestRenderKeepsButtons(t *testing.T) {
	r := newRig(t, "bolt")
	for i, tc := range []struct {
		name    string
		replies []bot.Reply
		want    []string // each message: text|button ids
		log     string   // a log line that must be there
	}{
		{
			name: "buttons without text go under the message before",
			replies: []bot.Reply{
				{Text: "Scegli", Buttons: []bot.Button{{ID: "a:1", Label: "Uno"}}},
				{Buttons: []bot.Button{{ID: "a:2", Label: "Due"}}},
			},
			want: []string{"Scegli|a:1 a:2"},
		},
		{
			name: "buttons without text after a file",
			replies: []bot.Reply{
				{Text: "Ecco", Attachments: []bot.Attachment{{Name: "a.ics", Data: []byte("X")}}},
				{Buttons: []bot.Button{{ID: "cmd:menu", Label: "Menu"}}},
			},
			want: []string{"Ecco|cmd:menu", "|"},
		},
		{
			name:    "buttons alone are logged",
			replies: []bot.Reply{{Buttons: []bot.Button{{ID: "cmd:menu", Label: "Menu"}}}},
			want:    nil,
			log:     "buttons without a message",
		},
		{
			name: "an invalid button id is logged",
			replies: []bot.Reply{{Text: "Scegli", Buttons: []bot.Button{
				{ID: "a:1", Label: "Uno"}, {ID: "no spaces", Label: "Due"}, {ID: "a:3", Label: " "},
			}}},
			want: []string{"Scegli|a:1"},
			log:  `button_id="no spaces"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chat := int64(7001 + i)
			msgs, logs := pushWithLog(t, r, chat, tc.replies)
			var got []string
			for _, m := range msgs {
				var ids []string
				for _, b := range m.Buttons() {
					ids = append(ids, b.Data)
				}
				got = append(got, m.Text+"|"+strings.Join(ids, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Got(messages) = %q, want %q", got, tc.want)
			}
			if tc.log != "" && !strings.Contains(logs, tc.log) {
				t.Errorf("Got(log) = %s, want a line with %q", logs, tc.log)
			}
			if tc.log == "" && strings.Contains(logs, "level=WARN") {
				t.Errorf("Got(log) = %s, want no warning", logs)
			}
		})
	}
}
