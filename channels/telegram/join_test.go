package telegram

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"sportello/bot"
	"sportello/channels/telegram/internal/fakeapi"
)

// sentTo counts the messages and documents that reached chat.
func sentTo(r *rig, chat int64) (messages, documents int) {
	calls := r.fake.Calls()
	return countStatus(calls, "sendMessage", chat, http.StatusOK), countStatus(calls, "sendDocument", chat, http.StatusOK)
}

// TestTurnRepliesJoined counts the messages a turn becomes: its replies
// are joined into one message where that is faithful (every pause of the
// per-chat pacing is a second the citizen waits), the pressed joined
// message is edited with the choice, a file still comes after its text, a
// push is joined too, and a replay after network trouble sends the same
// single message.
func TestTurnRepliesJoined(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			r := newRig(t, backend, withConfig(fastRetries))
			chat := citizen.ID
			r.fake.Text(citizen, "ciao")
			r.waitBot(chat, 1)
			r.settled(chat)

			// Three replies, one message.
			m0, d0 := sentTo(r, chat)
			r.fake.Text(citizen, "trio")
			msgs := r.waitBot(chat, 2)
			r.settled(chat)
			if m, d := sentTo(r, chat); m-m0 != 1 || d != d0 {
				t.Errorf("Got(messages for a turn of three replies) = %d and %d documents, want 1 and 0", m-m0, d-d0)
			}
			trio := msgs[1]
			if want := "trio: uno\n\ntrio: due\n\ntrio: tre?"; trio.Text != want || len(trio.Buttons()) != 1 {
				t.Errorf("Got(joined message) = %q buttons=%v, want %q with the last reply's button", trio.Text, trio.Buttons(), want)
			}
			// Its button is pressed: the joined message is the one
			// edited, its keyboard gone and the choice under it.
			if _, err := r.fake.Press(citizen, trio.ID, "cmd:menu"); err != nil {
				t.Fatal(err)
			}
			r.waitBot(chat, 3)
			r.waitCalls("the edit", func(c []fakeapi.Call) bool { return countOK(c, "editMessageText") == 1 })
			r.settled(chat)
			if edited := r.fake.Messages(chat)[trio.ID-1]; len(edited.Keyboard) != 0 || edited.Text != "trio: uno\n\ntrio: due\n\ntrio: tre?\n\n✓ Menu" {
				t.Errorf("Got(pressed message) = %q keyboard=%v, want the joined text with the choice marked", edited.Text, edited.Keyboard)
			}
			if _, err := r.fake.Press(citizen, trio.ID, "cmd:menu"); err == nil {
				t.Errorf("Got(press the same button again) = nil, want it gone")
			}

			// A confirmation and the line its file comes with: one
			// message, then the file.
			m0, d0 = sentTo(r, chat)
			r.fake.Text(citizen, "calendar")
			msgs = r.waitBot(chat, 5)
			r.settled(chat)
			if m, d := sentTo(r, chat); m-m0 != 1 || d-d0 != 1 {
				t.Errorf("Got(messages for a confirmation with a file) = %d and %d documents, want 1 and 1", m-m0, d-d0)
			}
			if got := msgs[3].Text; got != "calendar: fatto\n\ncalendar: il file" || msgs[4].Document == nil {
				t.Errorf("Got(confirmation) = %s, want the joined text then the file", texts(msgs[3:]))
			}

			// Telegram cannot be reached for two rounds of the sender's
			// retries: the replay renders the same single message.
			m0, _ = sentTo(r, chat)
			r.fake.Fail("sendMessage", chat, http.StatusBadGateway, "Bad Gateway", 0, 2*maxTries)
			r.fake.Text(citizen, "trio")
			msgs = r.waitBot(chat, 6)
			r.settled(chat)
			if m, _ := sentTo(r, chat); m-m0 != 1 || msgs[5].Text != trio.Text {
				t.Errorf("Got(replayed turn) = %d messages %s, want the one joined message", m-m0, texts(msgs[5:]))
			}

			// A push of several replies is one message too.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m0, _ = sentTo(r, chat)
			err := r.ch.Push(ctx, bot.Conversation{Channel: Channel, User: "4242"}, []bot.Reply{
				{Text: "Promemoria: domani alle 9:30."}, {Text: "Ci sarai?", Buttons: []bot.Button{{ID: "appt:yes", Label: "Sì"}}},
			})
			if err != nil {
				t.Fatalf("Push() = %v", err)
			}
			msgs = botMessages(r.fake.Messages(chat))
			if m, _ := sentTo(r, chat); m-m0 != 1 || !strings.HasPrefix(msgs[len(msgs)-1].Text, "Promemoria") {
				t.Errorf("Got(pushed) = %d messages %s, want one", m-m0, texts(msgs[len(msgs)-1:]))
			}
		})
	}
}
