package telegram

import (
	"context"
	"net/http"
	"testing"
	"time"

	"sportello/bot"
	"sportello/channels/telegram/internal/fakeapi"
)

// firstSeq returns the Seq of the first call that matches, 0 when none.
func firstSeq(calls []fakeapi.Call, match func(fakeapi.Call) bool) int {
	for _, c := range calls {
		if match(c) {
			return c.Seq
		}
	}
	return 0
}

// TestAnswerNotHeldByPause: while Telegram's 429 holds the messages back, a
// pressed button is answered at once, not after the pause.
func TestAnswerNotHeldByPause(t *testing.T) {
	r := newRig(t, "bolt")
	chat := citizen.ID
	r.fake.Text(citizen, "ciao")
	menu := lastWithButton(t, r.waitBot(chat, 1), "menu:form")
	r.settled(chat)

	// A notice to the citizen meets a 429: messages pause for 3 s.
	r.fake.Fail("sendMessage", 0, http.StatusTooManyRequests, "Too Many Requests: retry after 3", 3, 1)
	pushed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pushed <- r.ch.Push(ctx, bot.Conversation{Channel: Channel, User: "4242"}, []bot.Reply{{Text: "avviso"}})
	}()
	r.waitCalls("the 429", func(c []fakeapi.Call) bool {
		return countStatus(c, "sendMessage", chat, http.StatusTooManyRequests) == 1
	})

	if _, err := r.fake.Press(citizen, menu.ID, "menu:form"); err != nil {
		t.Fatal(err)
	}
	if err := <-pushed; err != nil {
		t.Fatalf("Push() = %v", err)
	}
	r.waitBot(chat, 3) // greeting, notice, the form's question
	r.settled(chat)
	calls := r.fake.Calls()
	answered := firstSeq(calls, func(c fakeapi.Call) bool { return c.Method == "answerCallbackQuery" && c.Status == http.StatusOK })
	resumed := firstSeq(calls, func(c fakeapi.Call) bool {
		return c.Method == "sendMessage" && c.Status == http.StatusOK && c.Params["text"] == "avviso"
	})
	if answered == 0 || answered > resumed {
		t.Errorf("Got(calls) = %s, want the callback answered during the pause, before the notice", callList(calls))
	}
}

// TestAnswerNotHeldByLongReply: a button pressed while a long reply is
// still being paced out is answered at once, not after the reply.
func TestAnswerNotHeldByLongReply(t *testing.T) {
	r := newRig(t, "bolt", withConfig(func(c *Config) { c.ChatInterval = 600 * time.Millisecond; c.ChatBurst = 1 }))
	chat := citizen.ID
	r.fake.Text(citizen, "ciao")
	menu := lastWithButton(t, r.waitBot(chat, 1), "menu:form")
	r.settled(chat)

	r.fake.Text(citizen, "long") // three pieces, 600 ms apart
	r.waitBot(chat, 2)           // the first piece is out
	if _, err := r.fake.Press(citizen, menu.ID, "menu:form"); err != nil {
		t.Fatal(err)
	}
	msgs := r.waitBot(chat, 5) // greeting, three pieces, the form's question
	r.settled(chat)
	if got := msgs[4].Text; got != "form: your name?" {
		t.Errorf("Got(reply to the button) = %q, want %q after the long reply", got, "form: your name?")
	}
	calls := r.fake.Calls()
	answered := firstSeq(calls, func(c fakeapi.Call) bool { return c.Method == "answerCallbackQuery" && c.Status == http.StatusOK })
	last := firstSeq(calls, func(c fakeapi.Call) bool {
		return c.Method == "sendMessage" && c.Status == http.StatusOK && len(c.Params["text"]) > 4 && c.Params["text"][:4] == "Tre:"
	})
	if answered == 0 || answered > last {
		t.Errorf("Got(calls) = %s, want the callback answered before the long reply's last piece", callList(calls))
	}
}

// TestPressWithoutMessageIsAnswered: a press on a button of an inline
// message (the callback carries no message) is nothing of Sportello's, but
// its spinner is stopped too.
func TestPressWithoutMessageIsAnswered(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Raw(map[string]any{"callback_query": map[string]any{
		"id":                "cq-inline",
		"from":              map[string]any{"id": citizen.ID, "is_bot": false, "first_name": "Maria", "language_code": "it"},
		"chat_instance":     "ci",
		"inline_message_id": "im-1",
		"data":              "menu:form",
	}})
	r.waitCalls("the answer", func(c []fakeapi.Call) bool {
		return firstSeq(c, func(x fakeapi.Call) bool {
			return x.Method == "answerCallbackQuery" && x.Params["callback_query_id"] == "cq-inline"
		}) > 0
	})
	r.settled(citizen.ID)
	if n := len(r.fake.CallsOf("sendMessage")); n != 0 {
		t.Errorf("Got(messages sent for a press on an inline message) = %d, want 0", n)
	}
}
