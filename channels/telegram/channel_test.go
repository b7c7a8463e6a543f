package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"sportello/bot"
	"sportello/bot/push"
	"sportello/channels/telegram/internal/fakeapi"
	"sportello/locales"
)

var citizen = fakeapi.User{ID: 4242, Name: "Maria", Lang: "it"}

func TestConversation(t *testing.T) {
	for _, backend := range backends {
		for _, mode := range []string{"polling", "webhook"} {
			t.Run(backend+"/"+mode, func(t *testing.T) {
				var opts []rigOption
				if mode == "webhook" {
					opts = append(opts, webhookMode)
				}
				r := newRig(t, backend, opts...)
				chat := citizen.ID

				r.fake.Text(citizen, "/start")
				msgs := r.waitBot(chat, 1)
				menu := lastWithButton(t, msgs, "menu:form")
				if !strings.Contains(menu.Text, "Sportello") {
					t.Errorf("Got(greeting) = %q, want the Italian greeting", menu.Text)
				}

				if _, err := r.fake.Press(citizen, menu.ID, "menu:form"); err != nil {
					t.Fatal(err)
				}
				msgs = r.waitBot(chat, 2)
				if got := msgs[len(msgs)-1].Text; got != "form: your name?" {
					t.Errorf("Got(after menu:form) = %q, want %q", got, "form: your name?")
				}
				r.waitCalls("the callback answered", func(c []fakeapi.Call) bool { return countOK(c, "answerCallbackQuery") == 1 })
				// The pressed message lost its buttons and shows the choice.
				edited := r.fake.Messages(chat)[menu.ID-1]
				label := menu.Buttons()[0].Text
				if len(edited.Keyboard) != 0 || !strings.HasSuffix(edited.Text, "\n\n✓ "+label) {
					t.Errorf("Got(pressed message) = %q keyboard=%v, want no keyboard and the choice marked", edited.Text, edited.Keyboard)
				}
				if _, err := r.fake.Press(citizen, menu.ID, "menu:form"); !errors.Is(err, fakeapi.ErrNoButton) {
					t.Errorf("Got(press the same button again) = %v, want %v", err, fakeapi.ErrNoButton)
				}

				r.fake.Text(citizen, "Maria & <Co>")
				msgs = r.waitBot(chat, 3)
				confirm := msgs[len(msgs)-1]
				if want := "form: confirm Maria & <Co>?"; confirm.Text != want {
					t.Errorf("Got(confirm text, parsed by Telegram) = %q, want %q", confirm.Text, want)
				}
				if want := "form: confirm Maria &amp; &lt;Co&gt;?"; confirm.HTML != want {
					t.Errorf("Got(confirm text as sent) = %q, want %q", confirm.HTML, want)
				}
				if got := confirm.Buttons(); len(got) != 2 || got[0].Data != "form:yes" || got[1].Data != "form:no" {
					t.Errorf("Got(confirm buttons) = %v, want form:yes and form:no", got)
				}
				if _, err := r.fake.Press(citizen, confirm.ID, "form:yes"); err != nil {
					t.Fatal(err)
				}
				msgs = r.waitBot(chat, 4)
				if got := msgs[len(msgs)-1].Text; got != "form: saved Maria & <Co>" {
					t.Errorf("Got(after yes) = %q, want %q", got, "form: saved Maria & <Co>")
				}
				r.settled(chat)
			})
		}
	}
}

func countOK(calls []fakeapi.Call, method string) int {
	n := 0
	for _, c := range calls {
		if c.Method == method && c.Status == http.StatusOK {
			n++
		}
	}
	return n
}

func TestCommandsRegistered(t *testing.T) {
	r := newRig(t, "bolt")
	vocab, err := bot.LoadVocabulary(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ code, first, book string }{
		{"", "start", "prenota"},
		{"it", "start", "prenota"},
		{"en", "start", "book"},
	} {
		t.Run("lang="+tc.code, func(t *testing.T) {
			var cmds []struct{ Command, Description string }
			if err := json.Unmarshal([]byte(r.fake.Commands(tc.code)), &cmds); err != nil {
				t.Fatalf("Got(commands for %q) = %q: %v", tc.code, r.fake.Commands(tc.code), err)
			}
			if len(cmds) < 7 || cmds[0].Command != tc.first || cmds[1].Command != tc.book {
				t.Errorf("Got(commands for %q) = %v, want start, %s, ...", tc.code, cmds, tc.book)
			}
			for _, c := range cmds {
				if vocab.Command("/"+c.Command) == bot.CmdNone && vocab.MenuEntry("/"+c.Command) == "" {
					t.Errorf("Got(/%s) not understood by the engine, want every registered command in vocabulary.yaml", c.Command)
				}
				if c.Description == "" || strings.HasPrefix(c.Description, "telegram.") {
					t.Errorf("Got(description of /%s) = %q, want a text from locales", c.Command, c.Description)
				}
			}
		})
	}
	for _, name := range []string{"start", "help", "lingua", "language", "prenota", "appuntamenti", "annulla", "operatore", "book", "appointments", "cancel", "operator"} {
		if !ownCommand(name) {
			t.Errorf("Got(ownCommand(%q)) = false, want true", name)
		}
	}
}

func TestLongTextSplitAtParagraphs(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Text(citizen, "long please")
	msgs := r.waitBot(citizen.ID, 4) // greeting + three pieces
	pieces := msgs[1:]
	for i, m := range pieces {
		if n := chars(m.Text); n > MaxMessageChars {
			t.Errorf("Got(piece %d length) = %d, want <= %d", i, n, MaxMessageChars)
		}
		if want := []string{"Uno:", "Due:", "Tre:"}[i]; !strings.HasPrefix(m.Text, want) {
			t.Errorf("Got(piece %d) starts %q, want it to start at paragraph %q", i, m.Text[:10], want)
		}
		if hasButtons := len(m.Keyboard) > 0; hasButtons != (i == 2) {
			t.Errorf("Got(piece %d has buttons) = %v, want buttons only under the last piece", i, hasButtons)
		}
	}
}

func TestAttachmentSentAsDocument(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Text(citizen, "ics")
	msgs := r.waitBot(citizen.ID, 3)
	doc := msgs[2].Document
	if doc == nil || doc.Name != "appuntamento.ics" || !bytes.Equal(doc.Data, []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")) {
		t.Fatalf("Got(document) = %+v, want appuntamento.ics with its bytes", doc)
	}
	// Telegram names the type from the extension: the citizen's phone
	// offers to open the file with the calendar.
	if doc.MimeType != "text/calendar" {
		t.Errorf("Got(document mime_type) = %q, want text/calendar", doc.MimeType)
	}
	if msgs[1].Text != "ecco il file" {
		t.Errorf("Got(text before the document) = %q, want %q", msgs[1].Text, "ecco il file")
	}
}

// TestLongConfirmationWithFile: a confirmation longer than a message is
// split at line breaks, nothing lost; its buttons are under the last piece
// and its calendar file comes after it; the pressed piece is marked.
func TestLongConfirmationWithFile(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Text(citizen, "booked")
	msgs := r.waitBot(citizen.ID, 4) // greeting + two pieces + the file
	got := msgs[1:]
	if len(got) != 3 || got[2].Document == nil {
		t.Fatalf("Got(messages) = %s, want two pieces and the file", texts(got))
	}
	var joined []string
	for i, m := range got[:2] {
		if n := chars(m.Text); n > MaxMessageChars {
			t.Errorf("Got(piece %d length) = %d, want <= %d", i, n, MaxMessageChars)
		}
		if i > 0 && !strings.HasPrefix(m.Text, "• documento") {
			t.Errorf("Got(piece %d) starts %q, want it to start at a line", i, m.Text[:20])
		}
		if hasButtons := len(m.Keyboard) > 0; hasButtons != (i == 1) {
			t.Errorf("Got(piece %d has buttons) = %v, want buttons only under the last piece", i, hasButtons)
		}
		joined = append(joined, m.Text)
	}
	if text := strings.Join(joined, "\n"); strings.Count(text, "• documento") != 60 || !strings.HasPrefix(text, "Fatto!") || !strings.HasSuffix(text, "Conserva il codice.") {
		t.Errorf("Got(pieces) = %q, want the whole confirmation", text)
	}
	doc := got[2].Document
	if doc.Name != "appuntamento-CIE-K7F3QX.ics" || doc.MimeType != "text/calendar" || len(got[2].Keyboard) != 0 {
		t.Errorf("Got(file) = %s (%s) keyboard=%v, want the calendar file without buttons", doc.Name, doc.MimeType, got[2].Keyboard)
	}
	if _, err := r.fake.Press(citizen, got[1].ID, "ans:keep"); err != nil {
		t.Fatal(err)
	}
	r.waitCalls("the pressed piece edited", func(c []fakeapi.Call) bool { return countOK(c, "editMessageText") == 1 })
	edited := r.fake.Messages(citizen.ID)[got[1].ID-1]
	if len(edited.Keyboard) != 0 || !strings.HasSuffix(edited.Text, "Conserva il codice.\n\n✓ Va bene") {
		t.Errorf("Got(pressed piece) = %q keyboard=%v, want the choice marked and no buttons", edited.Text, edited.Keyboard)
	}
}

func TestMarkupIsEscaped(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Text(citizen, "markup")
	msgs := r.waitBot(citizen.ID, 2)
	m := msgs[1]
	if want := "<b>not bold</b> & 1 < 2 > 0"; m.Text != want {
		t.Errorf("Got(text as the citizen reads it) = %q, want %q", m.Text, want)
	}
	if b := m.Buttons(); len(b) != 1 || b[0].Text != "<i>&</i>" {
		t.Errorf("Got(button label) = %v, want the label verbatim", b)
	}
	// Pressing it writes the label, escaped, under the message.
	if _, err := r.fake.Press(citizen, m.ID, "ans:markup"); err != nil {
		t.Fatal(err)
	}
	r.waitBot(citizen.ID, 3)
	r.waitCalls("the edit", func(c []fakeapi.Call) bool { return countOK(c, "editMessageText") == 1 })
	if got := r.fake.Messages(citizen.ID)[m.ID-1].Text; !strings.HasSuffix(got, "✓ <i>&</i>") {
		t.Errorf("Got(edited text) = %q, want the chosen label verbatim", got)
	}
}

func TestDuplicateUpdateHasOneEffect(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend+"/polling", func(t *testing.T) {
			r := newRig(t, backend)
			r.fake.Text(citizen, "ciao")
			r.waitBot(citizen.ID, 1)
			id := r.fake.Text(citizen, "who")
			r.waitBot(citizen.ID, 2)
			r.fake.Resend(id)
			// A later message shows the duplicate was consumed before it.
			r.fake.Text(citizen, "/help")
			msgs := r.waitBot(citizen.ID, 3)
			r.settled(citizen.ID)
			if n := strings.Count(texts(msgs), "private: true"); n != 1 {
				t.Errorf("Got(answers to the update sent twice) = %d, want 1: %s", n, texts(msgs))
			}
		})
		t.Run(backend+"/webhook", func(t *testing.T) {
			r := newRig(t, backend, webhookMode)
			r.fake.Text(citizen, "ciao")
			r.waitBot(citizen.ID, 1)
			id := r.fake.Text(citizen, "who")
			r.waitBot(citizen.ID, 2)
			for i := 0; i < 3; i++ {
				if code := r.post(r.cfg.WebhookSecret, r.fake.Update(id)); code != http.StatusOK {
					t.Fatalf("Got(redelivery %d) = %d, want 200", i, code)
				}
			}
			r.fake.Text(citizen, "/help")
			msgs := r.waitBot(citizen.ID, 3)
			r.settled(citizen.ID)
			if n := strings.Count(texts(msgs), "private: true"); n != 1 {
				t.Errorf("Got(answers to the update sent four times) = %d, want 1: %s", n, texts(msgs))
			}
		})
	}
}

// post delivers body to the webhook with secret, as Telegram would.
func (r *rig) post(secret string, body []byte) int {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.hook.URL+"/telegram/webhook", bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set(secretHeader, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCrashAfterTurnBeforeSend(t *testing.T) {
	// The turn of an update was committed, then the process died before
	// sending its replies and settling it: the update is still in the
	// inbox. The next worker must send the recorded replies, once, and must
	// not run the turn a second time.
	r := newRig(t, "redis")
	r.fake.Text(citizen, "ciao")
	r.waitBot(citizen.ID, 1)
	r.stop()

	raw := updateJSON(t, 9001, citizen.ID, "form")
	it, err := readHead(raw)
	if err != nil {
		t.Fatal(err)
	}
	r.gate = newGate()
	r.start()
	// Apply the turn as the dead worker did.
	if _, err := r.engine.Handle(context.Background(), bot.Inbound{
		Conv: bot.Conversation{Channel: Channel, User: "4242"}, ID: "9001", Text: "/prenota",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.opts.Inbox.add(context.Background(), []item{it}, time.Hour); err != nil {
		t.Fatal(err)
	}
	r.ch.poke(1)
	msgs := r.waitBot(citizen.ID, 2)
	r.settled(citizen.ID)
	got := msgs[len(msgs)-1].Text
	if !strings.Contains(got, "Prenota") && !strings.Contains(got, "prenota") {
		t.Errorf("Got(reply after the crash) = %q, want the recorded reply to /prenota", got)
	}
	if len(msgs) != 2 {
		t.Errorf("Got(%d bot messages) = %s, want 2: the recorded reply sent once", len(msgs), texts(msgs))
	}
}

func updateJSON(t testing.TB, id, chat int64, text string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"update_id": id,
		"message": map[string]any{
			"message_id": 99, "date": time.Now().Unix(), "text": text,
			"chat": map[string]any{"id": chat, "type": "private"},
			"from": map[string]any{"id": chat, "is_bot": false, "first_name": "Maria", "language_code": "it"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTooManyRequestsPausesAndRetries(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Fail("sendMessage", citizen.ID, http.StatusTooManyRequests, "Too Many Requests: retry after 1", 1, 1)
	r.fake.Text(citizen, "ciao")
	msgs := r.waitBot(citizen.ID, 1)
	if !strings.Contains(msgs[0].Text, "Sportello") {
		t.Errorf("Got(reply) = %q, want the greeting, delivered after the pause", msgs[0].Text)
	}
	var refused, sent time.Time
	for _, c := range r.fake.Calls() {
		if c.Method != "sendMessage" {
			continue
		}
		if c.Status == http.StatusTooManyRequests && refused.IsZero() {
			refused = c.At
		}
		if c.Status == http.StatusOK && sent.IsZero() {
			sent = c.At
		}
	}
	if refused.IsZero() || sent.IsZero() {
		t.Fatalf("Got(calls) = %s, want a 429 then a success", callList(r.fake.Calls()))
	}
	if gap := sent.Sub(refused); gap < time.Second-50*time.Millisecond {
		t.Errorf("Got(retry after) = %v, want >= retry_after (1s)", gap)
	}
}

func TestBlockedCitizenIsUnreachable(t *testing.T) {
	r := newRig(t, "redis")
	conv := bot.Conversation{Channel: Channel, User: "4242"}
	r.fake.Text(citizen, "ciao")
	r.waitBot(citizen.ID, 1)
	r.settled(citizen.ID)

	r.fake.Block(citizen.ID, true)
	r.fake.Text(citizen, "/help")
	r.waitCalls("a 403", func(c []fakeapi.Call) bool {
		for _, x := range c {
			if x.Status == http.StatusForbidden {
				return true
			}
		}
		return false
	})
	r.settled(citizen.ID)
	r.mu.Lock()
	got := append([]bot.Conversation(nil), r.unreachable...)
	r.mu.Unlock()
	if len(got) != 1 || got[0] != conv {
		t.Errorf("Got(OnUnreachable calls) = %v, want [%v]", got, conv)
	}
	before := len(r.fake.Calls())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ch.Push(ctx, conv, []bot.Reply{{Text: "promemoria"}}); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Got(Push to a blocked citizen) = %v, want ErrUnreachable", err)
	}
	if after := len(r.fake.Calls()); after != before {
		t.Errorf("Got(requests for a push to a blocked citizen) = %d, want none", after-before)
	}

	// The citizen unblocks and writes: reachable again.
	r.fake.Block(citizen.ID, false)
	r.fake.Member(citizen, "member")
	r.fake.Text(citizen, "who")
	msgs := r.waitBot(citizen.ID, 2)
	if got := msgs[len(msgs)-1].Text; got != "private: true" {
		t.Errorf("Got(reply after unblocking) = %q, want %q", got, "private: true")
	}
	r.settled(citizen.ID)
	if err := r.ch.Push(ctx, conv, []bot.Reply{{Text: "promemoria"}}); err != nil {
		t.Errorf("Got(Push after unblocking) = %v, want nil", err)
	}
}

func TestPushRendersAndChecksConversation(t *testing.T) {
	r := newRig(t, "bolt")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.ch.Push(ctx, bot.Conversation{Channel: Channel, User: "777"}, []bot.Reply{{
		Text: "Domani alle 9:30", Buttons: []bot.Button{{ID: "cmd:menu", Label: "Menu"}},
		Attachments: []bot.Attachment{{Name: "a.ics", Data: []byte("X")}},
	}})
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	msgs := botMessages(r.fake.Messages(777))
	if len(msgs) != 2 || msgs[0].Text != "Domani alle 9:30" || len(msgs[0].Keyboard) != 1 || msgs[1].Document == nil {
		t.Errorf("Got(pushed) = %s, want the text with its button, then the file", texts(msgs))
	}
	for _, conv := range []bot.Conversation{{Channel: "console", User: "777"}, {Channel: Channel, User: "x"}} {
		if err := r.ch.Push(ctx, conv, []bot.Reply{{Text: "x"}}); err == nil {
			t.Errorf("Got(Push(%v)) = nil, want an error", conv)
		}
	}
}

func TestWebhookSecret(t *testing.T) {
	r := newRig(t, "redis", webhookMode)
	url, secret, allowed := r.fake.Webhook()
	if url != r.cfg.WebhookURL || secret != r.cfg.WebhookSecret || strings.Join(allowed, ",") != "message,callback_query,my_chat_member" {
		t.Errorf("Got(setWebhook) = %q %q %v, want the configured URL, secret and allowed_updates", url, secret, allowed)
	}
	body := updateJSON(t, 5001, 555, "ciao")
	for _, tc := range []struct {
		name   string
		secret string
		want   int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"wrong", "s3cret_token-OX", http.StatusUnauthorized},
		{"prefix", "s3cret", http.StatusUnauthorized},
		{"longer", r.cfg.WebhookSecret + "x", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.post(tc.secret, body); got != tc.want {
				t.Errorf("Got(status) = %d, want %d", got, tc.want)
			}
		})
	}
	if n := r.queued(555); n != 0 {
		t.Errorf("Got(queued after refused requests) = %d, want 0", n)
	}
	if got := r.post(r.cfg.WebhookSecret, []byte("not json")); got != http.StatusBadRequest {
		t.Errorf("Got(status for a body that is not an update) = %d, want 400", got)
	}
	// Nothing was processed: the first accepted update greets as new.
	if got := r.post(r.cfg.WebhookSecret, body); got != http.StatusOK {
		t.Fatalf("Got(status with the right secret) = %d, want 200", got)
	}
	msgs := r.waitBot(555, 1)
	if len(msgs) != 1 {
		t.Errorf("Got(replies) = %s, want one greeting", texts(msgs))
	}
}

func TestWebhookAnswers503WhenTheStoreIsDown(t *testing.T) {
	r := newRig(t, "bolt", webhookMode)
	r.stop() // closes the store
	h := r.hook
	c, err := New(r.cfg, r.opts)
	if err != nil {
		t.Fatal(err)
	}
	h.Config.Handler = c.WebhookHandler()
	if got := r.post(r.cfg.WebhookSecret, updateJSON(t, 6001, 556, "ciao")); got != http.StatusServiceUnavailable {
		t.Errorf("Got(status when the update cannot be recorded) = %d, want 503", got)
	}
}

func TestPerChatOrderAndParallelChats(t *testing.T) {
	r := newRig(t, "redis")
	a := fakeapi.User{ID: 1001, Name: "A", Lang: "it"}
	b := fakeapi.User{ID: 1002, Name: "B", Lang: "it"}
	r.fake.Text(a, "ciao")
	r.fake.Text(b, "ciao")
	r.waitBot(a.ID, 1)
	r.waitBot(b.ID, 1)

	r.fake.Text(a, "slow")
	<-r.gate.entered // A's turn is running and blocked
	r.fake.Text(a, "who")
	r.fake.Text(b, "who")
	msgs := r.waitBot(b.ID, 2) // B is served while A is blocked
	if got := msgs[1].Text; got != "private: true" {
		t.Errorf("Got(B's reply) = %q, want %q", got, "private: true")
	}
	if n := len(botMessages(r.fake.Messages(a.ID))); n != 1 {
		t.Errorf("Got(A's replies while its first message is in flight) = %d, want 1 (the greeting only)", n)
	}
	r.gate.release()
	msgs = r.waitBot(a.ID, 3)
	if msgs[1].Text != "slow: done" || msgs[2].Text != "private: true" {
		t.Errorf("Got(A's replies) = %s, want slow: done then private: true, in order", texts(msgs))
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Text(citizen, "ciao")
	r.waitBot(citizen.ID, 1)
	r.fake.Text(citizen, "slow")
	<-r.gate.entered

	done := make(chan error, 1)
	ch := r.ch
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- ch.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a turn was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	r.gate.release()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	msgs := botMessages(r.fake.Messages(citizen.ID))
	if len(msgs) != 2 || msgs[1].Text != "slow: done" {
		t.Fatalf("Got(replies after shutdown) = %s, want the in-flight reply sent", texts(msgs))
	}
	if err := ch.Shutdown(context.Background()); err != nil {
		t.Errorf("Got(second Shutdown) = %v, want nil", err)
	}
	// Restarted on the same store: nothing is handled twice.
	r.restart()
	r.fake.Text(citizen, "who")
	msgs = r.waitBot(citizen.ID, 3)
	if len(msgs) != 3 || msgs[2].Text != "private: true" {
		t.Errorf("Got(replies after restart) = %s, want exactly one new reply", texts(msgs))
	}
}

func TestRestartMidConversation(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			r := newRig(t, backend)
			r.fake.Text(citizen, "ciao")
			menu := lastWithButton(t, r.waitBot(citizen.ID, 1), "menu:form")
			if _, err := r.fake.Press(citizen, menu.ID, "menu:form"); err != nil {
				t.Fatal(err)
			}
			r.fake.Text(citizen, "Giulia")
			confirm := lastWithButton(t, r.waitBot(citizen.ID, 3), "form:yes")
			r.settled(citizen.ID)

			r.restart()
			if _, err := r.fake.Press(citizen, confirm.ID, "form:yes"); err != nil {
				t.Fatal(err)
			}
			msgs := r.waitBot(citizen.ID, 4)
			if got := msgs[3].Text; got != "form: saved Giulia" {
				t.Errorf("Got(after restart) = %q, want %q", got, "form: saved Giulia")
			}
		})
	}
}

func TestGroupChat(t *testing.T) {
	r := newRig(t, "bolt")
	const group = -100500
	anna := fakeapi.User{ID: 11, Name: "Anna", Lang: "it", ChatType: "supergroup", Chat: group}
	bob := fakeapi.User{ID: 12, Name: "Bob", Lang: "en", ChatType: "supergroup", Chat: group}

	// Not addressed: ignored.
	r.fake.Text(anna, "ciao a tutti")
	r.fake.Text(anna, "/start@AltroBot")
	// Addressed: answered, as a reply to the member's message.
	r.fake.Text(anna, "@SportelloTestBot who")
	msgs := r.waitBot(group, 2) // greeting, answer
	r.settled(group)
	found := false
	for _, m := range msgs {
		if m.Text == "private: false" {
			found = true
		}
	}
	if !found {
		t.Errorf("Got(replies to a mention) = %s, want the dialog to see a group (Private() false)", texts(msgs))
	}
	for _, m := range msgs {
		if m.ReplyTo != 3 { // Anna's third message
			t.Errorf("Got(message %d replies to) = %d, want 3 (Anna's message)", m.ID, m.ReplyTo)
		}
	}
	before := len(msgs)
	r.fake.Text(bob, "/start@SportelloTestBot")
	msgs = r.waitBot(group, before+1)
	menu := lastWithButton(t, msgs, "menu:form")
	// Anna presses Bob's button: not hers.
	if _, err := r.fake.Press(anna, menu.ID, "menu:form"); err != nil {
		t.Fatal(err)
	}
	r.waitCalls("the toast", func(c []fakeapi.Call) bool {
		for _, x := range c {
			if x.Method == "answerCallbackQuery" && strings.Contains(x.Params["text"], "un'altra persona") {
				return true
			}
		}
		return false
	})
	r.settled(group)
	if got := r.fake.Messages(group)[menu.ID-1]; len(got.Keyboard) == 0 {
		t.Errorf("Got(Bob's keyboard after Anna's press) removed, want it kept for Bob")
	}
	// A reply to the bot's message is addressed.
	n := len(botMessages(r.fake.Messages(group)))
	r.fake.TextReplying(bob, "who", menu.ID)
	msgs = r.waitBot(group, n+1)
	if got := msgs[len(msgs)-1].Text; got != "private: false" {
		t.Errorf("Got(reply to a reply) = %q, want %q", got, "private: false")
	}
	// Every addressed message was answered, nothing else.
	for _, c := range r.fake.CallsOf("sendMessage") {
		if strings.Contains(c.Params["text"], "tutti") {
			t.Errorf("Got(a reply to an unaddressed message): %q", c.Params["text"])
		}
	}
}

func TestRepliesBeforeBulk(t *testing.T) {
	r := newRig(t, "bolt", withConfig(func(c *Config) { c.Rate = 5 }))
	r.fake.Text(citizen, "ciao")
	r.waitBot(citizen.ID, 1)
	r.settled(citizen.ID)

	// Telegram refuses the first bulk message and pauses everything for 1s.
	r.fake.Fail("sendMessage", 0, http.StatusTooManyRequests, "Too Many Requests: retry after 1", 1, 1)
	pushed := make(chan error, 4)
	for i := int64(0); i < 4; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pushed <- r.ch.Push(ctx, bot.Conversation{Channel: Channel, User: "90" + string(rune('0'+i))}, []bot.Reply{{Text: "avviso"}})
		}()
	}
	r.waitCalls("the 429", func(c []fakeapi.Call) bool {
		for _, x := range c {
			if x.Status == http.StatusTooManyRequests {
				return true
			}
		}
		return false
	})
	// While sending is paused, a citizen writes.
	r.fake.Text(citizen, "who")
	for i := 0; i < 4; i++ {
		if err := <-pushed; err != nil {
			t.Errorf("Push() = %v", err)
		}
	}
	r.waitBot(citizen.ID, 2)
	var order []int64
	for _, c := range r.fake.CallsOf("sendMessage") {
		order = append(order, c.Chat)
	}
	// The greeting came first; the first message after the pause must be
	// the reply to the citizen, before any bulk notice.
	if len(order) < 6 || order[1] != citizen.ID {
		t.Errorf("Got(send order) = %v, want the citizen (%d) right after the pause", order, citizen.ID)
	}
}

func TestPacingPerChat(t *testing.T) {
	r := newRig(t, "bolt", withConfig(func(c *Config) { c.ChatInterval = 150 * time.Millisecond; c.ChatBurst = 1 }))
	r.fake.Text(citizen, "long") // greeting + three pieces to one chat
	r.waitBot(citizen.ID, 4)
	var at []time.Time
	for _, c := range r.fake.CallsOf("sendMessage") {
		at = append(at, c.At)
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 130*time.Millisecond {
			t.Errorf("Got(gap between messages %d and %d) = %v, want >= the chat interval (150ms)", i-1, i, gap)
		}
	}
}

func TestPushAsksToRetryDuringAPause(t *testing.T) {
	r := newRig(t, "bolt")
	r.fake.Fail("sendMessage", 0, http.StatusTooManyRequests, "Too Many Requests: retry after 5", 5, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := r.ch.Push(ctx, bot.Conversation{Channel: Channel, User: "31"}, []bot.Reply{{Text: "avviso"}})
	var ra *push.RetryAfterError
	if !errors.As(err, &ra) || ra.After <= 0 || ra.After > 5*time.Second {
		t.Fatalf("Got(Push during a 429 pause) = %v, want a *RetryAfterError within retry_after", err)
	}
	if n := len(r.fake.CallsOf("sendMessage")); n != 0 {
		t.Errorf("Got(messages sent) = %d, want 0: the push was withdrawn", n)
	}
}
