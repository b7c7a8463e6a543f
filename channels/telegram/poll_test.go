package telegram

import (
	"context"
	"net/http"
	"testing"
	"time"

	"sportello/channels/telegram/internal/fakeapi"
)

// TestPollSkipsUnreadableUpdates: an update that does not parse but whose
// update_id can be read is confirmed (logged and skipped), so getUpdates
// does not serve it again and again; the next message is handled.
func TestPollSkipsUnreadableUpdates(t *testing.T) {
	r := newRig(t, "bolt")
	id := r.fake.Raw(map[string]any{"message": map[string]any{
		"message_id": 1, "date": time.Now().Unix(), "text": "ciao",
		"chat": map[string]any{"id": "not a number", "type": "private"},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.fake.Wait(ctx, func(s *fakeapi.Server) bool { return s.ConfirmedLocked() > id }); err != nil {
		t.Fatalf("Got(update %d confirmed) = %v, want it confirmed", id, err)
	}
	r.fake.Text(citizen, "who")
	if msgs := r.waitBot(citizen.ID, 2); msgs[1].Text != "private: true" {
		t.Errorf("Got(reply after an unreadable update) = %s, want the reply to the next message", texts(msgs))
	}
}

// TestPollPausesOnUnconfirmableBatch: when no update of a batch can even be
// identified, the poller cannot confirm it and gets it again; it pauses
// before asking, rather than asking in a tight loop. A later update gets
// the poller past it.
func TestPollPausesOnUnconfirmableBatch(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Garbled(`{"update_id":"x"}`)
	r.waitCalls("the garbled element served twice", func(c []fakeapi.Call) bool { return len(served(c)) >= 2 })
	calls := served(r.fake.Calls())
	if gap := calls[1].At.Sub(calls[0].At); gap < 90*time.Millisecond {
		t.Errorf("Got(pause before asking again for an unreadable batch) = %v, want >= 100ms", gap)
	}
	r.fake.Text(citizen, "who")
	if msgs := r.waitBot(citizen.ID, 2); msgs[1].Text != "private: true" {
		t.Errorf("Got(reply after an unconfirmable update) = %s, want the reply to the next message", texts(msgs))
	}
}

// served returns the getUpdates answers that carried updates.
func served(calls []fakeapi.Call) []fakeapi.Call {
	var out []fakeapi.Call
	for _, c := range calls {
		if c.Method == "getUpdates" && c.Updates > 0 {
			out = append(out, c)
		}
	}
	return out
}

// TestWebhookSkipsUnreadableUpdates: an update the webhook cannot use but
// whose update_id it can read is answered 200 (logged and skipped, as the
// poller does), so Telegram does not deliver it again for a day; a body
// that is not an update at all gets 400. The next update is handled.
func TestWebhookSkipsUnreadableUpdates(t *testing.T) {
	r := newRig(t, "bolt", webhookMode)
	for _, tc := range []struct {
		name string
		body string
		want int
	}{
		{"a chat id that is not a number", `{"update_id":7001,"message":{"message_id":1,"date":1,"text":"ciao","chat":{"id":"x","type":"private"}}}`, http.StatusOK},
		{"a message that is not an object", `{"update_id":7002,"message":"ciao"}`, http.StatusOK},
		{"a callback query that is not an object", `{"update_id":7003,"callback_query":[1,2]}`, http.StatusOK},
		{"the same again", `{"update_id":7001,"message":{"chat":{"id":"x"}}}`, http.StatusOK},
		{"nothing Sportello handles", `{"update_id":7004,"edited_channel_post":{"chat":{"id":-1}}}`, http.StatusOK},
		{"not JSON", `not json`, http.StatusBadRequest},
		{"truncated", `{"update_id":7005,"message":{"chat":`, http.StatusBadRequest},
		{"no update_id", `{"message":{"chat":{"id":1}}}`, http.StatusBadRequest},
		{"update_id not a number", `{"update_id":"7006","message":{"chat":{"id":"x"}}}`, http.StatusBadRequest},
		{"update_id zero", `{"update_id":0,"message":{"chat":{"id":"x"}}}`, http.StatusBadRequest},
		{"an array", `[{"update_id":7007}]`, http.StatusBadRequest},
		{"empty", ``, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.post(r.cfg.WebhookSecret, []byte(tc.body)); got != tc.want {
				t.Errorf("Got(status for %s) = %d, want %d", tc.body, got, tc.want)
			}
		})
	}
	if n := len(r.fake.CallsOf("sendMessage")); n != 0 {
		t.Errorf("Got(messages sent for unusable updates) = %d, want 0", n)
	}
	if code := r.post(r.cfg.WebhookSecret, updateJSON(t, 7010, citizen.ID, "who")); code != http.StatusOK {
		t.Fatalf("Got(status for the next update) = %d, want 200", code)
	}
	if msgs := r.waitBot(citizen.ID, 2); msgs[1].Text != "private: true" {
		t.Errorf("Got(replies after unusable updates) = %s, want the reply to the next message", texts(msgs))
	}
}
