package telegram

import (
	"context"
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
