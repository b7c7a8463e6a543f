// Package fakeapi is a fake Telegram Bot API server for Sportello's tests. It
// speaks the real wire format: it reads multipart/form-data (what
// go-telegram/bot sends), JSON and urlencoded bodies, answers like Telegram
// ({"ok":...,"result":...} or error_code, description and retry_after), and
// checks what Telegram checks: HTML markup and entities, text length in
// UTF-16 units, callback_data length, copy_text buttons, edits of existing
// messages, answering each callback query once.
//
// Citizens are simulated through methods (Text, Press) or, for a fake run as
// its own process (cmd/fakebotapi), through the /_fake/ control endpoints.
// Updates are served by getUpdates, or POSTed to the webhook once one is set.
package fakeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// BotID and BotUsername are who the fake bot is (getMe).
const (
	BotID       = 7000001
	BotUsername = "SportelloTestBot"
)

// Call is one Bot API request the server received.
type Call struct {
	Seq    int               `json:"seq"`
	Method string            `json:"method"`
	Params map[string]string `json:"params"`
	Files  map[string]File   `json:"files,omitempty"`
	At     time.Time         `json:"at"`
	// Status is the HTTP status answered; Error the description of a
	// refusal.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Chat is chat_id when the request had one.
	Chat int64 `json:"chat,omitempty"`
}

// File is an uploaded file.
type File struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
	// MimeType is the document's mime_type as Telegram reports it: the Bot
	// API server names it from the file name's extension (the part's
	// Content-Type is not used), application/octet-stream when it does not
	// know the extension.
	MimeType string `json:"mime_type,omitempty"`
}

// Button is an inline keyboard button as the server stored it.
type Button struct {
	Text string `json:"text"`
	Data string `json:"callback_data"`
}

// Message is a message in a chat, the bot's or a citizen's.
type Message struct {
	ID       int        `json:"message_id"`
	Chat     int64      `json:"chat"`
	FromBot  bool       `json:"from_bot"`
	Text     string     `json:"text"` // plain text, markup parsed
	HTML     string     `json:"html,omitempty"`
	Keyboard [][]Button `json:"keyboard,omitempty"`
	ReplyTo  int        `json:"reply_to,omitempty"`
	Document *File      `json:"document,omitempty"`
	Edited   int        `json:"edited,omitempty"`

	author User // who wrote a citizen's message
}

// Buttons lists the message's buttons in order.
func (m *Message) Buttons() []Button {
	var out []Button
	for _, row := range m.Keyboard {
		out = append(out, row...)
	}
	return out
}

// User is a simulated citizen.
type User struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Lang     string `json:"lang"`
	ChatType string `json:"chat_type,omitempty"` // "private" (default), "group", "supergroup"
	Chat     int64  `json:"chat,omitempty"`      // the chat; default the user's id
}

func (u User) chat() int64 {
	if u.Chat != 0 {
		return u.Chat
	}
	return u.ID
}

func (u User) chatType() string {
	if u.ChatType == "" {
		return "private"
	}
	return u.ChatType
}

type failure struct {
	method     string
	chat       int64
	code       int
	desc       string
	retryAfter int
	times      int
}

type webhook struct {
	URL            string
	Secret         string
	AllowedUpdates []string
}

// Server is the fake Bot API. Create it with New and serve it with
// httptest.NewServer or http.Server.
type Server struct {
	token string

	mu         sync.Mutex
	calls      []Call
	changed    chan struct{} // closed and replaced on every change
	updates    []*entry
	hookQueue  []*entry // webhook deliveries still to make, in order
	nextID     int64
	confirmed  int64 // getUpdates offset confirmed so far
	messages   map[int64][]*Message
	queries    map[string]*query
	blocked    map[int64]bool
	failures   []*failure
	hook       *webhook
	commands   map[string]string // language_code -> commands JSON
	deliveries []Delivery        // webhook attempts

	deliver   chan struct{}
	stop      chan struct{}
	stopOnce  sync.Once
	deliverer sync.WaitGroup
	client    *http.Client
}

// Delivery is one webhook POST the server made.
type Delivery struct {
	UpdateID int64 `json:"update_id"`
	Status   int   `json:"status"`
}

// entry is one update as queued for the bot. A copy queued again by Resend
// is served once more whatever the offset.
type entry struct {
	id     int64
	raw    json.RawMessage
	copy   bool
	served bool
}

type query struct {
	chat     int64
	answered bool
}

// New returns a fake for the bot with token.
func New(token string) *Server {
	s := &Server{
		token:    token,
		changed:  make(chan struct{}),
		nextID:   100,
		messages: map[int64][]*Message{},
		queries:  map[string]*query{},
		blocked:  map[int64]bool{},
		commands: map[string]string{},
		deliver:  make(chan struct{}, 1),
		stop:     make(chan struct{}),
		client:   &http.Client{Timeout: 10 * time.Second},
	}
	s.deliverer.Add(1)
	go s.deliverLoop()
	return s
}

// Close stops webhook delivery.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.deliverer.Wait()
}

// notify wakes everything waiting for a change. Call with mu held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Wait blocks until cond (called with the server locked) holds, or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func(s *Server) bool) error {
	for {
		s.mu.Lock()
		ok := cond(s)
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// CallsLocked returns the calls; use inside Wait's cond.
func (s *Server) CallsLocked() []Call { return s.calls }

// Calls returns a copy of every call so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsOf returns the successful calls of one method.
func (s *Server) CallsOf(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method && c.Status == http.StatusOK {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns a copy of a chat's messages.
func (s *Server) Messages(chat int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages[chat] {
		out = append(out, *m)
	}
	return out
}

// BotMessagesLocked returns the bot's messages in a chat; use inside Wait.
func (s *Server) BotMessagesLocked(chat int64) []*Message {
	var out []*Message
	for _, m := range s.messages[chat] {
		if m.FromBot {
			out = append(out, m)
		}
	}
	return out
}

// Fail makes the next times calls of method (to chat, when chat is not 0)
// fail with code, description and retry_after.
func (s *Server) Fail(method string, chat int64, code int, desc string, retryAfter, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &failure{method: method, chat: chat, code: code, desc: desc, retryAfter: retryAfter, times: times})
}

// Block makes chat refuse the bot (403), as a citizen who blocked it.
func (s *Server) Block(chat int64, blocked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[chat] = blocked
}

// Webhook returns the webhook set by the bot, if any.
func (s *Server) Webhook() (url, secret string, allowed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hook == nil {
		return "", "", nil
	}
	return s.hook.URL, s.hook.Secret, s.hook.AllowedUpdates
}

// Commands returns the commands set for a language_code, as JSON.
func (s *Server) Commands(lang string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commands[lang]
}

// Deliveries returns the webhook POSTs made so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// DeliveriesLocked returns the webhook POSTs; use inside Wait.
func (s *Server) DeliveriesLocked() []Delivery { return s.deliveries }

// ConfirmedLocked is the getUpdates offset the bot has confirmed.
func (s *Server) ConfirmedLocked() int64 { return s.confirmed }

// Text simulates a citizen writing text; it returns the update_id.
func (s *Server) Text(u User, text string) int64 {
	return s.TextReplying(u, text, 0)
}

// TextReplying simulates a message that replies to message replyTo.
func (s *Server) TextReplying(u User, text string, replyTo int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.addMessage(u.chat(), false, text)
	m.author = u
	msg := map[string]any{
		"message_id": m.ID,
		"date":       time.Now().Unix(),
		"chat":       chatJSON(u),
		"from":       userJSON(u),
		"text":       text,
	}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		msg["entities"] = []map[string]any{{"type": "bot_command", "offset": 0, "length": utf16Len(cmd)}}
	}
	if replyTo != 0 {
		if r := s.find(u.chat(), replyTo); r != nil {
			m.ReplyTo = replyTo
			msg["reply_to_message"] = s.messageJSON(u, r)
		}
	}
	return s.addUpdate(map[string]any{"message": msg})
}

// ErrNoButton: the citizen cannot press a button the message does not show.
var ErrNoButton = errors.New("fakeapi: no such button on that message (any more)")

// Press simulates a citizen pressing the button with data on message
// messageID; it fails when the message does not show that button.
func (s *Server) Press(u User, messageID int, data string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.find(u.chat(), messageID)
	if m == nil || !m.FromBot {
		return 0, ErrNoButton
	}
	found := false
	for _, b := range m.Buttons() {
		if b.Data == data {
			found = true
		}
	}
	if !found {
		return 0, ErrNoButton
	}
	s.nextID++
	qid := "cq" + strconv.FormatInt(s.nextID, 10)
	s.queries[qid] = &query{chat: u.chat()}
	return s.addUpdate(map[string]any{"callback_query": map[string]any{
		"id":            qid,
		"from":          userJSON(u),
		"chat_instance": "ci" + strconv.FormatInt(u.chat(), 10),
		"data":          data,
		"message":       s.messageJSON(u, m),
	}}), nil
}

// Member simulates the citizen blocking (status "kicked") or unblocking
// ("member") the bot.
func (s *Server) Member(u User, status string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := "member"
	if status == "member" {
		old = "kicked"
	}
	bot := map[string]any{"id": BotID, "is_bot": true, "first_name": "Sportello", "username": BotUsername}
	return s.addUpdate(map[string]any{"my_chat_member": map[string]any{
		"chat":            chatJSON(u),
		"from":            userJSON(u),
		"date":            time.Now().Unix(),
		"old_chat_member": map[string]any{"status": old, "user": bot},
		"new_chat_member": map[string]any{"status": status, "user": bot, "until_date": 0},
	}})
}

// Raw adds an update as given (its update_id is assigned); for duplicates,
// use Resend.
func (s *Server) Raw(body map[string]any) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUpdate(body)
}

// Resend queues the update with id again, as Telegram does when it retries.
func (s *Server) Resend(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.updates {
		if e.id == id && !e.copy {
			c := &entry{id: id, raw: e.raw, copy: true}
			s.updates = append(s.updates, c)
			s.hookQueue = append(s.hookQueue, c)
			s.notify()
			s.poke()
			return
		}
	}
}

// Update returns the raw JSON of update id.
func (s *Server) Update(id int64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.updates {
		if e.id == id {
			return e.raw
		}
	}
	return nil
}

func (s *Server) addUpdate(body map[string]any) int64 {
	s.nextID++
	id := s.nextID
	body["update_id"] = id
	raw, _ := json.Marshal(body)
	e := &entry{id: id, raw: raw}
	s.updates = append(s.updates, e)
	s.hookQueue = append(s.hookQueue, e)
	s.notify()
	s.poke()
	return id
}

func (s *Server) poke() {
	select {
	case s.deliver <- struct{}{}:
	default:
	}
}

func (s *Server) addMessage(chat int64, fromBot bool, text string) *Message {
	id := len(s.messages[chat]) + 1
	m := &Message{ID: id, Chat: chat, FromBot: fromBot, Text: text}
	s.messages[chat] = append(s.messages[chat], m)
	return m
}

func (s *Server) find(chat int64, id int) *Message {
	for _, m := range s.messages[chat] {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func userJSON(u User) map[string]any {
	j := map[string]any{"id": u.ID, "is_bot": false, "first_name": u.Name}
	if u.Lang != "" {
		j["language_code"] = u.Lang
	}
	return j
}

func chatJSON(u User) map[string]any {
	if u.chatType() == "private" {
		return map[string]any{"id": u.chat(), "type": "private", "first_name": u.Name}
	}
	return map[string]any{"id": u.chat(), "type": u.chatType(), "title": "Gruppo"}
}

func (s *Server) messageJSON(u User, m *Message) map[string]any {
	j := map[string]any{"message_id": m.ID, "date": time.Now().Unix(), "chat": chatJSON(u)}
	if m.FromBot {
		j["from"] = map[string]any{"id": BotID, "is_bot": true, "first_name": "Sportello", "username": BotUsername}
	} else {
		j["from"] = userJSON(u)
	}
	if m.Text != "" {
		j["text"] = m.Text
	}
	if m.Document != nil {
		j["document"] = map[string]any{"file_id": "f", "file_unique_id": "f", "file_name": m.Document.Name,
			"mime_type": m.Document.MimeType, "file_size": len(m.Document.Data)}
	}
	if len(m.Keyboard) > 0 {
		j["reply_markup"] = map[string]any{"inline_keyboard": m.Keyboard}
	}
	if m.ReplyTo != 0 {
		if r := s.find(m.Chat, m.ReplyTo); r != nil && r != m {
			// The original sender of the replied message.
			rj := map[string]any{"message_id": r.ID, "date": time.Now().Unix(), "chat": chatJSON(u), "text": r.Text}
			if r.FromBot {
				rj["from"] = map[string]any{"id": BotID, "is_bot": true, "first_name": "Sportello", "username": BotUsername}
			} else {
				rj["from"] = userJSON(r.author)
			}
			j["reply_to_message"] = rj
		}
	}
	return j
}

// ServeHTTP answers Bot API requests (/bot<token>/<method>) and the
// control endpoints (/_fake/...).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		s.control(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		apiError(w, http.StatusNotFound, "Not Found", 0)
		return
	}
	token, method, ok := strings.Cut(rest, "/")
	if !ok || token != s.token {
		apiError(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	params, files, err := parseBody(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	if method == "getUpdates" {
		s.getUpdates(w, r, params)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Call{Seq: len(s.calls) + 1, Method: method, Params: params, Files: files, At: time.Now()}
	c.Chat, _ = strconv.ParseInt(params["chat_id"], 10, 64)
	status, desc, retryAfter, result := s.handle(method, params, files, c.Chat)
	c.Status, c.Error = status, desc
	s.calls = append(s.calls, c)
	s.notify()
	if status != http.StatusOK {
		apiError(w, status, desc, retryAfter)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

func apiError(w http.ResponseWriter, code int, desc string, retryAfter int) {
	body := map[string]any{"ok": false, "error_code": code, "description": desc}
	if retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": retryAfter}
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// parseBody reads a request the way the Bot API does: multipart/form-data,
// JSON or urlencoded. Every value is kept as a string (JSON values as their
// JSON text); files separately.
func parseBody(r *http.Request) (map[string]string, map[string]File, error) {
	params := map[string]string{}
	files := map[string]File{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	if r.Body == nil {
		return params, files, nil
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		mr := multipart.NewReader(r.Body, ctParams["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, nil, fmt.Errorf("multipart: %w", err)
			}
			data, err := io.ReadAll(io.LimitReader(p, 50<<20))
			if err != nil {
				return nil, nil, err
			}
			if p.FileName() != "" {
				files[p.FormName()] = File{Name: p.FileName(), Data: data}
			} else {
				params[p.FormName()] = string(data)
			}
		}
	case "application/json":
		var m map[string]json.RawMessage
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, nil, err
		}
		if len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, nil, fmt.Errorf("json: %w", err)
			}
		}
		for k, v := range m {
			var str string
			if json.Unmarshal(v, &str) == nil {
				params[k] = str
			} else {
				params[k] = string(v)
			}
		}
	case "application/x-www-form-urlencoded":
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, nil, err
		}
		q, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, nil, err
		}
		for k, v := range q {
			params[k] = v[0]
		}
	}
	return params, files, nil
}

// handle runs one method with mu held. It returns the HTTP status, the error
// description, retry_after and the result.
func (s *Server) handle(method string, p map[string]string, files map[string]File, chat int64) (int, string, int, any) {
	for _, f := range s.failures {
		if f.times > 0 && f.method == method && (f.chat == 0 || f.chat == chat) {
			f.times--
			return f.code, f.desc, f.retryAfter, nil
		}
	}
	if chat != 0 && s.blocked[chat] && method != "answerCallbackQuery" {
		return http.StatusForbidden, "Forbidden: bot was blocked by the user", 0, nil
	}
	switch method {
	case "getMe":
		return 200, "", 0, map[string]any{"id": BotID, "is_bot": true, "first_name": "Sportello", "username": BotUsername}
	case "setMyCommands":
		var cmds []struct {
			Command     string `json:"command"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal([]byte(p["commands"]), &cmds); err != nil || len(cmds) == 0 {
			return 400, "Bad Request: commands must be a non-empty JSON array", 0, nil
		}
		for _, c := range cmds {
			if !commandRE.MatchString(c.Command) {
				return 400, "Bad Request: BOT_COMMAND_INVALID", 0, nil
			}
			if n := utf16Len(c.Description); n < 1 || n > 256 {
				return 400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID", 0, nil
			}
		}
		s.commands[p["language_code"]] = p["commands"]
		return 200, "", 0, true
	case "setWebhook":
		if p["url"] == "" {
			return 400, "Bad Request: bad webhook: URL is empty", 0, nil
		}
		if sec := p["secret_token"]; sec != "" && !secretRE.MatchString(sec) {
			return 400, "Bad Request: bad webhook: secret token contains unallowed characters", 0, nil
		}
		h := &webhook{URL: p["url"], Secret: p["secret_token"]}
		if a := p["allowed_updates"]; a != "" {
			if err := json.Unmarshal([]byte(a), &h.AllowedUpdates); err != nil {
				return 400, "Bad Request: can't parse allowed_updates", 0, nil
			}
		}
		s.hook = h
		s.poke()
		return 200, "", 0, true
	case "deleteWebhook":
		s.hook = nil
		return 200, "", 0, true
	case "sendMessage":
		if chat == 0 {
			return 400, "Bad Request: chat_id is empty", 0, nil
		}
		text, err := parseText(p["text"], p["parse_mode"])
		if err != nil {
			return 400, "Bad Request: can't parse entities: " + err.Error(), 0, nil
		}
		switch n := utf16Len(text); {
		case n == 0:
			return 400, "Bad Request: message text is empty", 0, nil
		case n > 4096:
			return 400, "Bad Request: message is too long", 0, nil
		}
		kb, err := parseKeyboard(p["reply_markup"])
		if err != nil {
			return 400, "Bad Request: " + err.Error(), 0, nil
		}
		m := s.addMessage(chat, true, text)
		m.HTML, m.Keyboard = p["text"], kb
		m.ReplyTo = replyTo(p)
		return 200, "", 0, s.messageJSON(User{ID: chat, Chat: chat}, m)
	case "sendDocument":
		if chat == 0 {
			return 400, "Bad Request: chat_id is empty", 0, nil
		}
		f, ok := files["document"]
		if !ok || f.Name == "" || len(f.Data) == 0 {
			return 400, "Bad Request: there is no document in the request", 0, nil
		}
		kb, err := parseKeyboard(p["reply_markup"])
		if err != nil {
			return 400, "Bad Request: " + err.Error(), 0, nil
		}
		f.MimeType = mimeType(f.Name)
		m := s.addMessage(chat, true, "")
		m.Document, m.Keyboard, m.ReplyTo = &f, kb, replyTo(p)
		return 200, "", 0, s.messageJSON(User{ID: chat, Chat: chat}, m)
	case "editMessageText", "editMessageReplyMarkup":
		id, _ := strconv.Atoi(p["message_id"])
		m := s.find(chat, id)
		if m == nil || !m.FromBot {
			return 400, "Bad Request: message to edit not found", 0, nil
		}
		kb, err := parseKeyboard(p["reply_markup"])
		if err != nil {
			return 400, "Bad Request: " + err.Error(), 0, nil
		}
		text, html := m.Text, m.HTML
		if method == "editMessageText" {
			if text, err = parseText(p["text"], p["parse_mode"]); err != nil {
				return 400, "Bad Request: can't parse entities: " + err.Error(), 0, nil
			}
			if n := utf16Len(text); n == 0 || n > 4096 {
				return 400, "Bad Request: MESSAGE_TOO_LONG", 0, nil
			}
			html = p["text"]
		}
		if html == m.HTML && sameKeyboard(kb, m.Keyboard) {
			return 400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message", 0, nil
		}
		m.Text, m.HTML, m.Keyboard = text, html, kb
		m.Edited++
		return 200, "", 0, s.messageJSON(User{ID: chat, Chat: chat}, m)
	case "answerCallbackQuery":
		q := s.queries[p["callback_query_id"]]
		if q == nil || q.answered {
			return 400, "Bad Request: query is too old and response timeout expired or query ID is invalid", 0, nil
		}
		q.answered = true
		return 200, "", 0, true
	}
	return 404, "Not Found: method not found", 0, nil
}

var (
	commandRE = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	secretRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

func replyTo(p map[string]string) int {
	var rp struct {
		MessageID int `json:"message_id"`
	}
	if p["reply_parameters"] != "" && json.Unmarshal([]byte(p["reply_parameters"]), &rp) == nil {
		return rp.MessageID
	}
	return 0
}

func parseKeyboard(markup string) ([][]Button, error) {
	if markup == "" {
		return nil, nil
	}
	var kb struct {
		InlineKeyboard [][]map[string]json.RawMessage `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(markup), &kb); err != nil {
		return nil, fmt.Errorf("can't parse reply keyboard markup JSON object")
	}
	var rows [][]Button
	for _, row := range kb.InlineKeyboard {
		var out []Button
		for _, b := range row {
			var btn Button
			_ = json.Unmarshal(b["text"], &btn.Text)
			_ = json.Unmarshal(b["callback_data"], &btn.Data)
			if ct, ok := b["copy_text"]; ok {
				var c struct {
					Text string `json:"text"`
				}
				if json.Unmarshal(ct, &c) != nil || c.Text == "" {
					return nil, errors.New("BUTTON_COPY_TEXT_INVALID")
				}
			}
			if btn.Text == "" {
				return nil, errors.New("BUTTON_TEXT_INVALID")
			}
			if len(btn.Data) < 1 || len(btn.Data) > 64 {
				return nil, errors.New("BUTTON_DATA_INVALID")
			}
			out = append(out, btn)
		}
		rows = append(rows, out)
	}
	return rows, nil
}

func sameKeyboard(a, b [][]Button) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// mimeTypes are the document types Telegram names from a file's extension
// (a few of them: what Sportello's tests send and the common ones).
var mimeTypes = map[string]string{
	".ics": "text/calendar", ".pdf": "application/pdf", ".txt": "text/plain", ".csv": "text/csv",
	".json": "application/json", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
}

// mimeType is the mime_type Telegram gives a document named name.
func mimeType(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		if t, ok := mimeTypes[strings.ToLower(name[i:])]; ok {
			return t
		}
	}
	return "application/octet-stream"
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// parseText returns the plain text of a message, checking its markup when
// parse_mode is HTML: only Telegram's tags, properly closed, and only its
// entities; every other <, > and & must be escaped.
func parseText(text, mode string) (string, error) {
	if mode != "HTML" {
		return text, nil
	}
	allowed := map[string]bool{"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
		"s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true, "a": true, "code": true,
		"pre": true, "blockquote": true, "tg-emoji": true}
	var out strings.Builder
	var open []string
	for i := 0; i < len(text); {
		switch text[i] {
		case '<':
			end := strings.IndexByte(text[i:], '>')
			if end < 0 {
				return "", fmt.Errorf("unsupported start tag at byte offset %d", i)
			}
			tag := text[i+1 : i+end]
			closing := strings.HasPrefix(tag, "/")
			name, _, _ := strings.Cut(strings.TrimPrefix(tag, "/"), " ")
			if !allowed[name] {
				return "", fmt.Errorf("unsupported start tag %q at byte offset %d", name, i)
			}
			if closing {
				if len(open) == 0 || open[len(open)-1] != name {
					return "", fmt.Errorf("unmatched end tag at byte offset %d, expected \"</%s>\"", i, name)
				}
				open = open[:len(open)-1]
			} else {
				open = append(open, name)
			}
			i += end + 1
		case '>':
			return "", fmt.Errorf("unexpected > at byte offset %d", i)
		case '&':
			end := strings.IndexByte(text[i:], ';')
			if end < 0 || end > 10 {
				return "", fmt.Errorf("unescaped & at byte offset %d", i)
			}
			ent := text[i+1 : i+end]
			switch {
			case ent == "lt":
				out.WriteByte('<')
			case ent == "gt":
				out.WriteByte('>')
			case ent == "amp":
				out.WriteByte('&')
			case ent == "quot":
				out.WriteByte('"')
			case strings.HasPrefix(ent, "#"):
				n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimPrefix(ent, "#"), "x"), map[bool]int{true: 16, false: 10}[strings.HasPrefix(ent, "#x")], 32)
				if err != nil {
					return "", fmt.Errorf("bad entity &%s; at byte offset %d", ent, i)
				}
				out.WriteRune(rune(n))
			default:
				return "", fmt.Errorf("unsupported entity &%s; at byte offset %d", ent, i)
			}
			i += end + 1
		default:
			out.WriteByte(text[i])
			i++
		}
	}
	if len(open) > 0 {
		return "", fmt.Errorf("can't find end tag corresponding to start tag \"%s\"", open[len(open)-1])
	}
	return out.String(), nil
}

// getUpdates serves long polling: it confirms updates before offset and
// returns the rest, waiting up to timeout for some to arrive.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string) {
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	timeout, _ := strconv.Atoi(p["timeout"])
	limit, _ := strconv.Atoi(p["limit"])
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(min(timeout, 60))*time.Second)
	defer cancel()
	for {
		s.mu.Lock()
		if s.hook != nil {
			s.mu.Unlock()
			apiError(w, http.StatusConflict, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", 0)
			return
		}
		if offset > s.confirmed {
			s.confirmed = offset
			s.notify()
		}
		var out []json.RawMessage
		for _, e := range s.updates {
			if len(out) < limit && ((!e.copy && e.id >= s.confirmed) || (e.copy && !e.served)) {
				out = append(out, e.raw)
				e.served = true
			}
		}
		s.calls = append(s.calls, Call{Seq: len(s.calls) + 1, Method: "getUpdates", Params: p, At: time.Now(), Status: 200})
		ch := s.changed
		s.mu.Unlock()
		if len(out) > 0 {
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": out})
			return
		}
		select {
		case <-ctx.Done():
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": []any{}})
			return
		case <-ch:
		}
	}
}

// deliverLoop POSTs updates to the webhook in order, retrying each until it
// is answered 2xx, as Telegram does.
func (s *Server) deliverLoop() {
	defer s.deliverer.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.deliver:
		}
		for {
			s.mu.Lock()
			h := s.hook
			var next *entry
			if h != nil && len(s.hookQueue) > 0 {
				next = s.hookQueue[0]
			}
			s.mu.Unlock()
			if next == nil {
				break
			}
			status := s.post(h, next.raw)
			s.mu.Lock()
			s.deliveries = append(s.deliveries, Delivery{UpdateID: next.id, Status: status})
			ok := status >= 200 && status < 300
			if ok && len(s.hookQueue) > 0 && s.hookQueue[0] == next {
				s.hookQueue = s.hookQueue[1:]
			}
			s.notify()
			s.mu.Unlock()
			if !ok {
				select {
				case <-s.stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
}

func (s *Server) post(h *webhook, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	if h.Secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", h.Secret)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
