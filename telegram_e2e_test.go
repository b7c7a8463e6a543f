package main

// End-to-end test of the Telegram channel: the sportello binary against a
// fake Bot API server running as its own process
// (channels/telegram/internal/fakeapi/cmd/fakebotapi), which parses the
// multipart requests go-telegram/bot sends, in long polling and in webhook
// mode.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const e2eToken = "424242:E2E_token-abcdefghijklmnopqrstuvwxyz"

// fakeBotAPI builds and starts the fake Bot API process; it returns its URL.
func fakeBotAPI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fakebotapi")
	build := exec.Command("go", "build", "-o", bin, "./channels/telegram/internal/fakeapi/cmd/fakebotapi")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build fakebotapi: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-token", e2eToken)
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
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "FAKEAPI_URL=")
	if !ok {
		t.Fatalf("fakebotapi printed %q, want FAKEAPI_URL=...", line)
	}
	return url
}

// tgService starts `sportello` with env on addr and waits for /healthz.
func tgService(t *testing.T, addr string, env map[string]string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	env["SPORTELLO_ADDR"] = addr
	cmd := sportello(t, env)
	logs := &strings.Builder{}
	cmd.Stderr = &lockedWriter{w: logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return cmd, logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not answer on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tgCitizen drives a simulated citizen through the fake's control API.
type tgCitizen struct {
	t    *testing.T
	api  string
	user map[string]any
	chat int64
	logs *strings.Builder
}

type tgMessage struct {
	ID       int    `json:"message_id"`
	FromBot  bool   `json:"from_bot"`
	Text     string `json:"text"`
	Keyboard [][]struct {
		Text string `json:"text"`
		Data string `json:"callback_data"`
	} `json:"keyboard"`
}

func (c *tgCitizen) post(path string, body map[string]any) int {
	c.t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(c.api+path, "application/json", bytes.NewReader(data))
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (c *tgCitizen) say(text string) {
	c.t.Helper()
	c.post("/_fake/text", map[string]any{"user": c.user, "text": text})
}

// press presses a button on a bot message; it fails the test if the message
// does not show it.
func (c *tgCitizen) press(m tgMessage, data string) {
	c.t.Helper()
	if code := c.post("/_fake/press", map[string]any{"user": c.user, "message_id": m.ID, "data": data}); code != http.StatusOK {
		c.t.Fatalf("press %q on message %d: status %d", data, m.ID, code)
	}
}

// botMessages waits until the chat has n bot messages and returns them.
func (c *tgCitizen) botMessages(n int) []tgMessage {
	c.t.Helper()
	url := fmt.Sprintf("%s/_fake/messages?chat=%d&min=%d&wait_ms=15000", c.api, c.chat, n)
	resp, err := http.Get(url)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Messages []tgMessage `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		c.t.Fatal(err)
	}
	var out []tgMessage
	for _, m := range body.Messages {
		if m.FromBot {
			out = append(out, m)
		}
	}
	if len(out) < n {
		c.t.Fatalf("waited for %d bot messages, got %d: %+v\nlogs:\n%s", n, len(out), out, c.logs.String())
	}
	return out
}

func (m tgMessage) has(data string) bool {
	for _, row := range m.Keyboard {
		for _, b := range row {
			if b.Data == data {
				return true
			}
		}
	}
	return false
}

func (c *tgCitizen) calls(method string) []map[string]string {
	c.t.Helper()
	resp, err := http.Get(c.api + "/_fake/calls?after=0")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Calls []struct {
			Method string            `json:"method"`
			Params map[string]string `json:"params"`
			Status int               `json:"status"`
		} `json:"calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		c.t.Fatal(err)
	}
	var out []map[string]string
	for _, call := range body.Calls {
		if call.Method == method && call.Status == http.StatusOK {
			out = append(out, call.Params)
		}
	}
	return out
}

func TestTelegramEndToEnd(t *testing.T) {
	for _, mode := range []string{"polling", "webhook"} {
		t.Run(mode, func(t *testing.T) {
			api := fakeBotAPI(t)
			addr := freePort(t)
			env := map[string]string{
				"TELEGRAM_BOT_TOKEN": e2eToken,
				"TELEGRAM_API_URL":   api,
				"SPORTELLO_DATA_DIR": t.TempDir(),
			}
			if mode == "webhook" {
				env["TELEGRAM_WEBHOOK_URL"] = "http://" + addr + "/telegram/webhook"
				env["TELEGRAM_WEBHOOK_SECRET"] = "e2e_Secret-1"
			}
			cmd, logs := tgService(t, addr, env)
			c := &tgCitizen{t: t, api: api, chat: 5150, logs: logs,
				user: map[string]any{"id": 5150, "name": "Giulia", "lang": "it"}}

			// Start: the Italian greeting with the main menu as buttons.
			c.say("/start")
			msgs := c.botMessages(1)
			greeting := msgs[0]
			if !strings.Contains(greeting.Text, "Sportello") || !greeting.has("menu:faq") || !greeting.has("menu:book") {
				t.Fatalf("Got(greeting) = %+v, want the Italian greeting with the menu", greeting)
			}

			// Switch language through buttons.
			c.say("/lingua")
			msgs = c.botMessages(2)
			choice := msgs[1]
			if !choice.has("lang:en") {
				t.Fatalf("Got(/lingua) = %+v, want the language buttons", choice)
			}
			c.press(choice, "lang:en")
			msgs = c.botMessages(3)
			if got := msgs[2].Text; !strings.Contains(got, "continue in English") {
				t.Errorf("Got(after lang:en) = %q, want the English confirmation", got)
			}

			// The menu in English, and a menu entry through its button.
			c.say("menu")
			msgs = c.botMessages(5)
			menu := msgs[len(msgs)-1]
			for _, m := range msgs[3:] {
				if m.has("menu:faq") {
					menu = m
				}
			}
			if !menu.has("menu:faq") {
				t.Fatalf("Got(menu) = %+v, want the menu buttons", msgs[3:])
			}
			c.press(menu, "menu:faq")
			msgs = c.botMessages(len(msgs) + 1)
			if got := msgs[len(msgs)-1].Text; !strings.Contains(got, "Questions about the CIE") && !strings.Contains(got, "CIE") {
				t.Errorf("Got(after menu:faq) = %q, want an English answer about the CIE questions", got)
			}

			// Book and cancel by command.
			n := len(msgs)
			c.say("/book")
			msgs = c.botMessages(n + 1)
			if got := msgs[len(msgs)-1].Text; !strings.Contains(strings.ToLower(got), "appointment") {
				t.Errorf("Got(/book) = %q, want an answer about booking", got)
			}
			n = len(msgs)
			c.say("/cancel")
			msgs = c.botMessages(n + 1)
			if got := msgs[len(msgs)-1].Text; !strings.Contains(got, "cancel") && !strings.Contains(got, "stopped") {
				t.Errorf("Got(/cancel) = %q, want the cancel answer", got)
			}

			// Every callback was answered; the pressed keyboards are gone.
			if got := len(c.calls("answerCallbackQuery")); got != 2 {
				t.Errorf("Got(answerCallbackQuery calls) = %d, want 2", got)
			}
			for _, m := range c.botMessages(n + 1) {
				if m.ID == choice.ID && len(m.Keyboard) != 0 {
					t.Errorf("Got(language message after the press) still shows buttons")
				}
			}
			if got := len(c.calls("setMyCommands")); got != 3 {
				t.Errorf("Got(setMyCommands calls) = %d, want 3 (default, it, en)", got)
			}
			if mode == "webhook" {
				hooks := c.calls("setWebhook")
				if len(hooks) != 1 || hooks[0]["secret_token"] != "e2e_Secret-1" || hooks[0]["url"] != env["TELEGRAM_WEBHOOK_URL"] {
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
			}
			stop(t, cmd)
			if strings.Contains(logs.String(), e2eToken) {
				t.Errorf("the bot token appears in the logs")
			}
		})
	}
}
