package main

// End-to-end tests of the Telegram channel: the sportello binary against a
// fake Bot API server running as its own process
// (channels/telegram/internal/fakeapi/cmd/fakebotapi), which parses the
// multipart requests go-telegram/bot sends, in long polling and in webhook
// mode. The simulated citizens read the buttons the bot actually sent and
// press them; every wait is for the fake to record what is expected, with a
// deadline.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"sportello/bot/store/redistest"
)

const e2eToken = "424242:E2E_token-abcdefghijklmnopqrstuvwxyz"

// e2eWait bounds every wait for the bot: generous, as the race-enabled
// binary paces its messages (about one a second per chat).
const e2eWait = 30 * time.Second

// fakeAPI is the fake Bot API process, driven through its /_fake/ control
// endpoints.
type fakeAPI struct {
	t   *testing.T
	url string
}

// startFakeAPI starts the fake Bot API process (built by TestMain).
func startFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	cmd := exec.Command(fakeBinary, "-token", e2eToken)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the fake exits when its stdin closes
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("fakebotapi printed no address: %v", err)
	}
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "FAKEAPI_URL=")
	if !ok {
		t.Fatalf("fakebotapi printed %q, want FAKEAPI_URL=...", line)
	}
	return &fakeAPI{t: t, url: u}
}

func (f *fakeAPI) post(path string, body map[string]any) int {
	f.t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(f.url+path, "application/json", bytes.NewReader(data))
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (f *fakeAPI) getJSON(path string, v any) {
	f.t.Helper()
	resp, err := http.Get(f.url + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
}

// apiCall is one Bot API request the fake received.
type apiCall struct {
	Method string            `json:"method"`
	Params map[string]string `json:"params"`
	Status int               `json:"status"`
	Error  string            `json:"error"`
	Chat   int64             `json:"chat"`
}

// callsAfter returns the calls after the first n and how many calls there
// are, waiting up to wait for one more than n.
func (f *fakeAPI) callsAfter(n int, wait time.Duration) ([]apiCall, int) {
	f.t.Helper()
	var body struct {
		Calls []apiCall `json:"calls"`
		Total int       `json:"total"`
	}
	f.getJSON(fmt.Sprintf("/_fake/calls?after=%d&wait_ms=%d", n, wait.Milliseconds()), &body)
	return body.Calls, body.Total
}

// calls returns the successful calls of method.
func (f *fakeAPI) calls(method string) []apiCall {
	f.t.Helper()
	all, _ := f.callsAfter(0, 0)
	var out []apiCall
	for _, c := range all {
		if c.Method == method && c.Status == http.StatusOK {
			out = append(out, c)
		}
	}
	return out
}

// tgMessage is a message in a chat as the fake recorded it.
type tgMessage struct {
	ID       int          `json:"message_id"`
	FromBot  bool         `json:"from_bot"`
	Text     string       `json:"text"`
	Keyboard [][]tgButton `json:"keyboard"`
	Document *struct {
		Name     string `json:"name"`
		MimeType string `json:"mime_type"`
		Data     []byte `json:"data"`
	} `json:"document"`
	Edited  int `json:"edited"`
	ReplyTo int `json:"reply_to"`
}

type tgButton struct {
	Text string `json:"text"`
	Data string `json:"callback_data"`
}

// button returns the first button whose callback_data starts with prefix.
func (m tgMessage) button(prefix string) (tgButton, bool) {
	for _, row := range m.Keyboard {
		for _, b := range row {
			if strings.HasPrefix(b.Data, prefix) {
				return b, true
			}
		}
	}
	return tgButton{}, false
}

func (m tgMessage) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d", m.ID)
	if !m.FromBot {
		b.WriteString(" (citizen)")
	}
	if m.Document != nil {
		fmt.Fprintf(&b, " [document %s %s]", m.Document.Name, m.Document.MimeType)
	}
	fmt.Fprintf(&b, " %q", m.Text)
	for _, row := range m.Keyboard {
		for _, btn := range row {
			fmt.Fprintf(&b, " [%s|%s]", btn.Text, btn.Data)
		}
	}
	return b.String()
}

// Predicates on the bot's messages.
func withButton(prefix string) func(tgMessage) bool {
	return func(m tgMessage) bool { _, ok := m.button(prefix); return ok }
}

func withText(part string) func(tgMessage) bool {
	return func(m tgMessage) bool { return strings.Contains(m.Text, part) }
}

func isDocument(m tgMessage) bool { return m.Document != nil }

// pressed is a button pressed on a message, checked at the end of a test.
type pressed struct {
	message int
	label   string
}

// tgCitizen is a simulated citizen in a private chat.
type tgCitizen struct {
	t       *testing.T
	fake    *fakeAPI
	user    map[string]any
	chat    int64
	logs    *strings.Builder
	seen    int // the last of the bot's messages already read
	pressed []pressed
}

func newCitizen(t *testing.T, fake *fakeAPI, logs *strings.Builder, id int64, name, lang string) *tgCitizen {
	return &tgCitizen{t: t, fake: fake, chat: id, logs: logs,
		user: map[string]any{"id": id, "name": name, "lang": lang}}
}

func (c *tgCitizen) say(text string) {
	c.t.Helper()
	c.fake.post("/_fake/text", map[string]any{"user": c.user, "text": text})
}

// press presses the button with data on message m; it fails the test if the
// message does not show it (any more).
func (c *tgCitizen) press(m tgMessage, data string) {
	c.t.Helper()
	label := ""
	for _, row := range m.Keyboard {
		for _, b := range row {
			if b.Data == data {
				label = b.Text
			}
		}
	}
	if label == "" {
		c.t.Fatalf("message %v has no button %q", m, data)
	}
	if code := c.fake.post("/_fake/press", map[string]any{"user": c.user, "message_id": m.ID, "data": data}); code != http.StatusOK {
		c.t.Fatalf("press %q on message %d: status %d", data, m.ID, code)
	}
	c.pressed = append(c.pressed, pressed{message: m.ID, label: label})
}

// messages returns the chat as the fake has it now.
func (c *tgCitizen) messages() []tgMessage {
	c.t.Helper()
	var body struct {
		Messages []tgMessage `json:"messages"`
	}
	c.fake.getJSON(fmt.Sprintf("/_fake/messages?chat=%d", c.chat), &body)
	return body.Messages
}

// until waits until cond holds for the chat, waking up whenever the fake
// records a Bot API call, and returns the chat.
func (c *tgCitizen) until(what string, cond func([]tgMessage) bool) []tgMessage {
	c.t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		_, total := c.fake.callsAfter(1<<30, 0)
		msgs := c.messages()
		if cond(msgs) {
			return msgs
		}
		left := time.Until(deadline)
		if left <= 0 {
			var dump strings.Builder
			for _, m := range msgs {
				dump.WriteString("  " + m.String() + "\n")
			}
			c.t.Fatalf("waited %v for %s; chat %d:\n%slogs:\n%s", e2eWait, what, c.chat, dump.String(), c.logs.String())
		}
		c.fake.callsAfter(total, min(left, 5*time.Second))
	}
}

// expect waits for a new bot message that satisfies want and returns the
// bot's new messages up to it (it is the last); the ones after it stay
// unread.
func (c *tgCitizen) expect(what string, want func(tgMessage) bool) []tgMessage {
	c.t.Helper()
	var got []tgMessage
	c.until(what, func(msgs []tgMessage) bool {
		got = got[:0]
		for _, m := range msgs {
			if !m.FromBot || m.ID <= c.seen {
				continue
			}
			got = append(got, m)
			if want(m) {
				return true
			}
		}
		return false
	})
	c.seen = got[len(got)-1].ID
	return got
}

// next is expect's last message.
func (c *tgCitizen) next(what string, want func(tgMessage) bool) tgMessage {
	c.t.Helper()
	got := c.expect(what, want)
	return got[len(got)-1]
}

// checkPressed checks that every message a button was pressed on lost its
// keyboard and shows the choice, so that nothing can be pressed twice.
func (c *tgCitizen) checkPressed() {
	c.t.Helper()
	msgs := map[int]tgMessage{}
	for _, m := range c.messages() {
		msgs[m.ID] = m
	}
	for _, p := range c.pressed {
		m := msgs[p.message]
		if len(m.Keyboard) != 0 || m.Edited == 0 {
			c.t.Errorf("Got(message %d after a press) = %v, want it edited without buttons", p.message, m)
		}
		if m.Text != "" && !strings.HasSuffix(m.Text, "✓ "+p.label) {
			c.t.Errorf("Got(message %d after a press) = %q, want the choice %q marked", p.message, m.Text, p.label)
		}
	}
}

// checkCalendar checks a calendar file sent as a document.
func checkCalendar(t *testing.T, doc tgMessage, name, code string, cancelled bool) {
	t.Helper()
	d := doc.Document
	if d == nil {
		t.Fatalf("Got(%v) = no document, want %s", doc, name)
	}
	if d.Name != name || d.MimeType != "text/calendar" {
		t.Errorf("Got(document) = %s (%s), want %s (text/calendar)", d.Name, d.MimeType, name)
	}
	body := string(d.Data)
	if !strings.HasPrefix(body, "BEGIN:VCALENDAR") || !strings.Contains(body, code) {
		t.Errorf("Got(calendar file) = %q, want a VCALENDAR for %s", body, code)
	}
	if got := strings.Contains(body, "STATUS:CANCELLED"); got != cancelled {
		t.Errorf("Got(calendar file cancels the event) = %v, want %v:\n%s", got, cancelled, body)
	}
	if len(doc.Keyboard) != 0 {
		t.Errorf("Got(document keyboard) = %v, want the buttons on the text", doc.Keyboard)
	}
}

// checkAPI checks what the bot asked of the Bot API: every request
// accepted, every callback answered once.
func checkAPI(t *testing.T, fake *fakeAPI, presses int) {
	t.Helper()
	all, _ := fake.callsAfter(0, 0)
	for _, c := range all {
		if c.Status != http.StatusOK {
			t.Errorf("Got(%s to chat %d) = %d %s, want every request accepted", c.Method, c.Chat, c.Status, c.Error)
		}
	}
	if got := len(fake.calls("answerCallbackQuery")); got != presses {
		t.Errorf("Got(answerCallbackQuery calls) = %d, want %d (one per press)", got, presses)
	}
	// Every message is paced (about one a second per chat): how many
	// there were is most of how long the citizen waited.
	t.Logf("sent %d messages and %d documents", len(fake.calls("sendMessage")), len(fake.calls("sendDocument")))
}

// codeIn returns the booking or waitlist code a message gives.
func codeIn(t *testing.T, m tgMessage) string {
	t.Helper()
	match := regexp.MustCompile(`(?:Booking code|Codice di prenotazione|Codice): ([A-Z0-9]{6})\b`).FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("Got(%v), want a booking code in it", m)
	}
	return match[1]
}

// tgEnv is the environment of a service talking to fake in mode.
func tgEnv(t *testing.T, fake *fakeAPI, addr, mode string) map[string]string {
	env := map[string]string{
		"TELEGRAM_BOT_TOKEN": e2eToken,
		"TELEGRAM_API_URL":   fake.url,
		"SPORTELLO_DATA_DIR": t.TempDir(),
	}
	if mode == "webhook" {
		env["TELEGRAM_WEBHOOK_URL"] = "http://" + addr + "/telegram/webhook"
		env["TELEGRAM_WEBHOOK_SECRET"] = "e2e_Secret-1"
	}
	return env
}

// TestTelegramEndToEnd: a citizen starts, switches language, asks a
// question in their own words, books through the inline buttons (typing
// name and fiscal code), receives the calendar file, and cancels from "my
// appointments"; in long polling and in webhook mode.
func TestTelegramEndToEnd(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"polling", "webhook"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			fake := startFakeAPI(t)
			addr := freePort(t)
			env := tgEnv(t, fake, addr, mode)
			cmd, logs := serviceOn(t, addr, env)
			c := newCitizen(t, fake, logs, 5150, "Giulia", "it")

			// Start: the Italian greeting with the main menu as buttons.
			c.say("/start")
			greeting := c.next("the greeting with the menu", withButton("menu:book"))
			if !strings.Contains(greeting.Text, "Sportello") || !strings.Contains(greeting.Text, "Comune di Esempio") {
				t.Errorf("Got(greeting) = %v, want the Italian greeting of the demo Comune", greeting)
			}

			// Switch language through buttons.
			c.say("/lingua")
			choice := c.next("the language buttons", withButton("lang:en"))
			c.press(choice, "lang:en")
			// A turn's replies are one message where they can be: no
			// pause of the per-chat pacing between the confirmation and
			// the menu.
			switched := c.expect("the English confirmation and menu", withButton("menu:faq"))
			if got := switched[0].Text; len(switched) != 1 || !strings.Contains(got, "continue in English") {
				t.Errorf("Got(after lang:en) = %v, want one message: the English confirmation with the menu", switched)
			}

			// A question in the citizen's own words.
			c.say("How much does the identity card cost?")
			c.next("the fee, in English", withText("€22.21"))

			// A booking started by command and stopped.
			c.say("/book")
			c.next("the first booking question", withButton("book:reason:"))
			c.say("/cancel")
			menu := c.next("the cancel answer with the menu", withButton("menu:book"))
			if !strings.Contains(menu.Text, "stopped") {
				t.Errorf("Got(/cancel) = %q, want the cancel answer", menu.Text)
			}

			// The booking through the inline buttons, from the menu.
			c.press(menu, "menu:book")
			reasons := c.next("the reasons", withButton("book:reason:renewal"))
			c.press(reasons, "book:reason:renewal")
			offices := c.next("the offices", withButton("book:office:centrale"))
			c.press(offices, "book:office:centrale")
			days := c.next("the free days", withButton("book:day:"))
			day, _ := days.button("book:day:")
			c.press(days, day.Data)
			times := c.next("the free times", withButton("book:slot:"))
			slot, _ := times.button("book:slot:")
			c.press(times, slot.Data)
			c.next("the name question", withText("What is the name"))
			c.say("Mario Rossi")
			c.next("the fiscal code question", withText("fiscal code"))
			c.say("RSSMRA80A01H501U")
			// The demo Comune restricts non-residents: it asks.
			resident := c.next("the residence question", withButton("book:res:yes"))
			c.press(resident, "book:res:yes")
			summary := c.expect("the summary", withButton("book:confirm"))
			if text := summary[0].Text; len(summary) != 1 || !strings.Contains(text, "Mario Rossi") || !strings.Contains(text, "RSSMRA80A01H501U") ||
				!strings.Contains(text, slot.Text) || !strings.Contains(text, "Sede centrale") {
				t.Errorf("Got(summary) = %v, want one message: the name, the fiscal code, %s at Sede centrale and the question", summary, slot.Text)
			}
			c.press(summary[len(summary)-1], "book:confirm")
			// The confirmation and the calendar line are one message, the
			// file follows it.
			done := c.expect("the calendar file", isDocument)
			code := codeIn(t, done[0])
			if !strings.Contains(done[0].Text, "What to bring") || !strings.Contains(done[0].Text, slot.Text) {
				t.Errorf("Got(confirmation) = %q, want the time and what to bring", done[0].Text)
			}
			if len(done) != 2 || !strings.HasSuffix(done[0].Text, "\n\nAdd the appointment to your calendar:") {
				t.Errorf("Got(confirmation) = %v, want one message ending with the calendar line, then the file", done)
			}
			checkCalendar(t, done[len(done)-1], "CIE-appointment-"+code+".ics", code, false)

			// My appointments, and the cancellation with its question.
			c.say("/appointments")
			list := c.next("my appointments", withButton("appointments:cancel:"+code))
			if !strings.Contains(list.Text, code) {
				t.Errorf("Got(my appointments) = %q, want %s listed", list.Text, code)
			}
			c.press(list, "appointments:cancel:"+code)
			ask := c.next("the cancel question", withButton("appointments:cancel:yes"))
			if _, ok := ask.button("appointments:cancel:no"); !ok || !strings.Contains(ask.Text, code) {
				t.Errorf("Got(cancel question) = %v, want %s and a way to keep it", ask, code)
			}
			c.press(ask, "appointments:cancel:yes")
			cancelled := c.expect("the cancellation's calendar file", isDocument)
			if got := cancelled[0].Text; !strings.Contains(got, "Appointment "+code) || !strings.Contains(got, "cancelled") {
				t.Errorf("Got(cancellation) = %q, want %s cancelled", got, code)
			}
			checkCalendar(t, cancelled[len(cancelled)-1], "CIE-appointment-"+code+".ics", code, true)

			c.checkPressed()
			checkAPI(t, fake, len(c.pressed))
			if got := len(fake.calls("setMyCommands")); got != 3 {
				t.Errorf("Got(setMyCommands calls) = %d, want 3 (default, it, en)", got)
			}
			if mode == "webhook" {
				hooks := fake.calls("setWebhook")
				if len(hooks) != 1 || hooks[0].Params["secret_token"] != "e2e_Secret-1" || hooks[0].Params["url"] != env["TELEGRAM_WEBHOOK_URL"] {
					t.Errorf("Got(setWebhook) = %v, want the URL and secret", hooks)
				}
				// A forged request is refused.
				resp, err := http.Post(env["TELEGRAM_WEBHOOK_URL"], "application/json", strings.NewReader(`{"update_id":1,"message":{"chat":{"id":1}}}`))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("Got(webhook without the secret) = %d, want 401", resp.StatusCode)
				}
			} else if got := len(fake.calls("getUpdates")); got == 0 {
				t.Errorf("Got(getUpdates calls) = 0, want long polling")
			}
			stop(t, cmd)
			for _, secret := range []string{e2eToken, "RSSMRA80A01H501U", "Mario Rossi"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("Got(logs) contain %q, want neither the token nor personal data", secret)
				}
			}
		})
	}
}

// TestTelegramWaitlistOfferIsPushed: on a Comune with a single slot and a
// Redis shared by two processes, a citizen in the terminal chat books the
// slot and a citizen on Telegram joins the waitlist; when the first cancels,
// the calendar's offer is pushed to the Telegram chat with its appt:
// buttons, and accepting it there books the slot.
func TestTelegramWaitlistOfferIsPushed(t *testing.T) {
	t.Parallel()
	redisURL := redistest.URL(t)
	comuneFile := oneSlotComune(t)
	fake := startFakeAPI(t)
	addr := freePort(t)
	env := tgEnv(t, fake, addr, "polling")
	env["SPORTELLO_COMUNE"] = comuneFile
	env["REDIS_URL"] = redisURL
	env["SPORTELLO_REDIS_PREFIX"] = redistest.Prefix(t, redisURL)
	chatEnv := map[string]string{"SPORTELLO_COMUNE": comuneFile, "REDIS_URL": redisURL, "SPORTELLO_REDIS_PREFIX": env["SPORTELLO_REDIS_PREFIX"]}
	a := startChat(t, chatEnv, "a") // starts while the service does
	cmd, logs := serviceOn(t, addr, env)

	// A books the only slot in the terminal chat.
	a.say("ciao")
	a.say(press("menu:book"))
	days := a.say(press("book:reason:renewal")).buttons()
	if len(days) == 0 || !strings.HasPrefix(days[0], "book:slot:") {
		t.Fatalf("day buttons = %v, want the only slot first", days)
	}
	a.say(press(days[0]))
	a.say("Mario Rossi RSSMRA80A01H501U")
	a.say(press("book:res:yes")) // asked under non_residents: allowed too
	if got := a.say(press("book:confirm")).text(); !strings.Contains(got, "prenotato") {
		t.Fatalf("booking A: %q", got)
	}

	// B, on Telegram, finds nothing free and joins the waitlist.
	b := newCitizen(t, fake, logs, 6002, "Anna", "it")
	b.say("/prenota")
	reasons := b.next("the reasons", withButton("book:reason:renewal"))
	b.press(reasons, "book:reason:renewal")
	offer := b.next("the waitlist offer", withButton("book:wait"))
	b.press(offer, "book:wait")
	b.next("the name question", withText("Come si chiama"))
	b.say("Anna Bianchi BNCNNA85M41F205Q")
	resident := b.next("the residence question", withButton("book:res:yes"))
	b.press(resident, "book:res:yes")
	summary := b.next("the waitlist summary's confirm", withButton("book:confirm"))
	b.press(summary, "book:confirm")
	joined := b.next("on the waitlist", withText("lista d'attesa"))
	code := codeIn(t, joined)

	// A cancels; the place is offered to B by a push.
	list := a.say(press("menu:appointments")).buttons()
	a.say(press(list[len(list)-1])) // cancel
	a.say(press("appointments:cancel:yes"))

	push := b.next("the offer pushed to the waiting chat", withButton("appt:accept:"+code))
	if _, ok := push.button("appt:decline:" + code); !ok || !strings.Contains(push.Text, "09:00") || push.ReplyTo != 0 {
		t.Errorf("Got(offer) = %v, want the 09:00 place with accept and decline, not a reply", push)
	}
	b.press(push, "appt:accept:"+code)
	accepted := b.expect("the accepted place's calendar file", isDocument)
	if got := accepted[0].Text; !strings.Contains(got, "Il posto è tuo") || !strings.Contains(got, code) {
		t.Errorf("Got(after accepting) = %q, want the place booked as %s", got, code)
	}
	checkCalendar(t, accepted[len(accepted)-1], "appuntamento-CIE-"+code+".ics", code, false)

	b.checkPressed()
	checkAPI(t, fake, len(b.pressed))
	stop(t, cmd)
}
