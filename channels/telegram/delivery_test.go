package telegram

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"sportello/bot"
	"sportello/channels/telegram/internal/fakeapi"
)

// fastRetries makes transient failures cheap to wait out in tests.
func fastRetries(c *Config) { c.RetryBackoff = 5 * time.Millisecond }

// countStatus counts the calls of method to chat that got status.
func countStatus(calls []fakeapi.Call, method string, chat int64, status int) int {
	n := 0
	for _, c := range calls {
		if c.Method == method && c.Chat == chat && c.Status == status {
			n++
		}
	}
	return n
}

// count counts the bot messages whose text is text.
func count(msgs []fakeapi.Message, text string) int {
	n := 0
	for _, m := range msgs {
		if m.Text == text {
			n++
		}
	}
	return n
}

// TestRepliesResentAfterNetworkTrouble: Telegram fails for longer than the
// sender's own retries of one request. The update stays in the inbox and is
// tried again: the engine hands back the turn's recorded replies, which
// reach the citizen, and the turn's effect happens once.
func TestRepliesResentAfterNetworkTrouble(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			r := newRig(t, backend, withConfig(fastRetries))
			chat := citizen.ID
			r.fake.Text(citizen, "ciao")
			menu := lastWithButton(t, r.waitBot(chat, 1), "menu:form")
			if _, err := r.fake.Press(citizen, menu.ID, "menu:form"); err != nil {
				t.Fatal(err)
			}
			r.waitBot(chat, 2)
			r.settled(chat)

			// A text turn: three rounds of the sender's retries fail.
			const failures = 3 * maxTries
			r.fake.Fail("sendMessage", chat, http.StatusBadGateway, "Bad Gateway", 0, failures)
			r.fake.Text(citizen, "Giulia")
			msgs := r.waitBot(chat, 3)
			r.settled(chat)
			confirm := lastWithButton(t, msgs, "form:yes")
			if confirm.Text != "form: confirm Giulia?" {
				t.Errorf("Got(reply after the outage) = %q, want %q", confirm.Text, "form: confirm Giulia?")
			}
			if n := len(msgs); n != 3 {
				t.Errorf("Got(bot messages) = %s, want 3: the reply delivered once", texts(msgs))
			}
			if n := countStatus(r.fake.Calls(), "sendMessage", chat, http.StatusBadGateway); n != failures {
				t.Errorf("Got(failed sends) = %d, want %d", n, failures)
			}

			// A button turn: the keyboard is closed at the first try;
			// the replies come after one round of failures.
			r.fake.Fail("sendMessage", chat, http.StatusInternalServerError, "Internal Server Error", 0, maxTries)
			if _, err := r.fake.Press(citizen, confirm.ID, "form:yes"); err != nil {
				t.Fatal(err)
			}
			msgs = r.waitBot(chat, 4)
			r.settled(chat)
			if got := msgs[len(msgs)-1].Text; got != "form: saved Giulia" || count(msgs, got) != 1 {
				t.Errorf("Got(replies to the button) = %s, want %q once", texts(msgs), "form: saved Giulia")
			}
			if n := countOK(r.fake.Calls(), "answerCallbackQuery"); n != 2 {
				t.Errorf("Got(callbacks answered) = %d, want 2 (each press once)", n)
			}
			if edited := r.fake.Messages(chat)[confirm.ID-1]; len(edited.Keyboard) != 0 || edited.Edited != 1 {
				t.Errorf("Got(pressed message) keyboard=%v edited %d times, want no keyboard, edited once", edited.Keyboard, edited.Edited)
			}
		})
	}
}

// TestRefusedReplyIsDropped: a reply Telegram refuses (400) is not sent
// again: the update is settled and the next one is handled.
func TestRefusedReplyIsDropped(t *testing.T) {
	r := newRig(t, "bolt", withConfig(fastRetries))
	chat := citizen.ID
	r.fake.Text(citizen, "ciao")
	r.waitBot(chat, 1)
	r.settled(chat)

	r.fake.Fail("sendMessage", chat, http.StatusBadRequest, "Bad Request: message text is empty", 0, 1)
	r.fake.Text(citizen, "who")
	r.fake.Text(citizen, "long")
	msgs := r.waitBot(chat, 4) // greeting, three pieces of "long"
	r.settled(chat)
	if n := count(msgs, "private: true"); n != 0 {
		t.Errorf("Got(refused reply sent again) %d times, want never: %s", n, texts(msgs))
	}
	if !strings.HasPrefix(msgs[1].Text, "Uno:") {
		t.Errorf("Got(next reply) = %q, want the answer to the next message", msgs[1].Text)
	}
	if n := countStatus(r.fake.Calls(), "sendMessage", chat, http.StatusBadRequest); n != 1 {
		t.Errorf("Got(refused sends) = %d, want 1", n)
	}
}

// TestBlockedDuringTurnStaysMarked: the 403 on a turn's reply marks the
// chat unreachable in the store, and settling that turn does not clear the
// mark again (the store's mark is what other replicas and the next start
// see).
func TestBlockedDuringTurnStaysMarked(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			r := newRig(t, backend)
			chat := citizen.ID
			r.fake.Text(citizen, "ciao")
			r.waitBot(chat, 1)
			r.settled(chat)

			r.fake.Block(chat, true)
			r.fake.Text(citizen, "who")
			r.waitCalls("a 403", func(c []fakeapi.Call) bool { return countStatus(c, "sendMessage", chat, http.StatusForbidden) == 1 })
			r.settled(chat)
			got, err := r.opts.Inbox.unreachable(context.Background(), chat)
			if err != nil || !got {
				t.Errorf("Got(unreachable after a 403 on a reply) = %v, %v, want true", got, err)
			}
		})
	}
}

// TestLinksNotPreviewed: every message and every edit asks Telegram not to
// preview links.
func TestLinksNotPreviewed(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Text(citizen, "ciao")
	menu := lastWithButton(t, r.waitBot(citizen.ID, 1), "menu:form")
	if _, err := r.fake.Press(citizen, menu.ID, "menu:form"); err != nil {
		t.Fatal(err)
	}
	r.waitBot(citizen.ID, 2)
	r.waitCalls("the edit", func(c []fakeapi.Call) bool { return countOK(c, "editMessageText") == 1 })
	for _, method := range []string{"sendMessage", "editMessageText"} {
		calls := r.fake.CallsOf(method)
		if len(calls) == 0 {
			t.Fatalf("Got(no %s calls), want some", method)
		}
		for _, c := range calls {
			if got := c.Params["link_preview_options"]; !strings.Contains(got, `"is_disabled":true`) {
				t.Errorf("Got(%s link_preview_options) = %q, want is_disabled", method, got)
			}
		}
	}
}

// waitHeld waits until the sender holds a message for chat while it is
// paused by a 429 with no request in flight: when the pause ends, the
// sender chooses among everything it holds.
func (r *rig) waitHeld(chat int64) {
	r.t.Helper()
	s := r.ch.send
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		q := s.chats[chat]
		held := q != nil && len(q.msgs.calls) > 0 && s.inflight == 0 && time.Now().Add(50*time.Millisecond).Before(s.paused)
		s.mu.Unlock()
		if held {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the sender holds no message for chat %d during a pause", chat)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStoreBlipAfterSendFailures: an applied turn's replies could not be
// sent, MaxAttempts-1 times (Telegram unreachable); on the next try the
// store is busy for a moment (another replica holds the conversation).
// That try's failure is a failed turn, not one more failed send, and the
// failed sends do not count against the turn: the update is tried again,
// the turn's recorded replies reach the citizen once, and no apology is
// sent for a turn that was applied.
func TestStoreBlipAfterSendFailures(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			const maxAttempts = 4
			var (
				mu      sync.Mutex
				handed  = map[int64]int{}
				third   = make(chan struct{})
				holding = make(chan struct{})
			)
			r := newRig(t, backend,
				withConfig(fastRetries),
				withConfig(func(c *Config) { c.MaxAttempts = maxAttempts }),
				withEngine(func(c *bot.Config) { c.TurnTimeout = 300 * time.Millisecond }),
				withObserve(func(id int64) {
					mu.Lock()
					handed[id]++
					n := handed[id]
					mu.Unlock()
					if n == maxAttempts-1 {
						// The last replay whose replies fail is handed to
						// the sender: the conversation is taken before the
						// next try.
						third <- struct{}{}
						<-holding
					}
				}))
			chat := citizen.ID
			r.fake.Text(citizen, "ciao")
			menu := lastWithButton(t, r.waitBot(chat, 1), "menu:form")
			if _, err := r.fake.Press(citizen, menu.ID, "menu:form"); err != nil {
				t.Fatal(err)
			}
			r.waitBot(chat, 2)
			r.settled(chat)

			const failed = (maxAttempts - 1) * maxTries
			r.fake.Fail("sendMessage", chat, http.StatusBadGateway, "Bad Gateway", 0, failed)
			r.fake.Text(citizen, "Giulia")
			<-third
			ctx := context.Background()
			lease, err := r.store.Acquire(ctx, Channel+":4242", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			close(holding)
			// Wait for the failed turn to be recorded (or, wrongly, for
			// the update to be settled), then give the conversation back.
			for deadline := time.Now().Add(10 * time.Second); ; {
				f, queued := r.headFails(chat)
				if !queued || f.Turn > 0 {
					if queued && f.Send != maxAttempts-1 {
						t.Errorf("Got(failed sends after a failed turn) = %d, want %d", f.Send, maxAttempts-1)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Got(failures of the update) = %+v, want a failed turn recorded", f)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := r.store.Release(ctx, lease); err != nil {
				t.Fatal(err)
			}
			msgs := r.waitBot(chat, 3)
			r.settled(chat)
			if got := msgs[2].Text; got != "form: confirm Giulia?" || len(msgs) != 3 {
				t.Errorf("Got(replies after the outage and the blip) = %s, want the recorded %q once and no apology", texts(msgs[2:]), "form: confirm Giulia?")
			}
			if n := countStatus(r.fake.Calls(), "sendMessage", chat, http.StatusBadGateway); n != failed {
				t.Errorf("Got(failed sends) = %d, want %d", n, failed)
			}
		})
	}
}
