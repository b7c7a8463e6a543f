// Package console is the terminal chat: `sportello chat` talks to the same
// engine and store as the service.
//
// Interactive mode prints the bot's replies with buttons as numbered choices
// the user can type. JSON mode (--json) is for scripts and tests: each input
// line gives exactly one output line.
//
//	input:  plain text | {"text":"..."} | {"button":"<id>"}
//	output: {"replies":[{"text":"...","buttons":[{"id":"...","label":"..."}],"attachments":[{"name":"...","content_type":"..."}]}]}
//	push:   {"push":{"text":"...","buttons":[...],"attachments":[...]}}
//
// A line that cannot be read as input gets {"replies":[],"error":"..."}; a
// turn that failed gets the apology in replies and the reason in "error".
package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"sportello/bot"
	"sportello/bot/push"
)

// Channel is the console channel's name in conversation keys.
const Channel = "console"

// MaxLineBytes is the longest input line read; the rest of a longer line is
// dropped (the engine reads at most bot.MaxTextBytes of it anyway).
const MaxLineBytes = 1 << 20

// Handler is the engine as the console uses it.
type Handler interface {
	Handle(ctx context.Context, in bot.Inbound) ([]bot.Reply, error)
}

// Console is one terminal conversation.
type Console struct {
	h        Handler
	user     string
	lang     string
	json     bool
	in       io.Reader
	attachMu sync.Mutex // guards attach and madeDir
	attach   string     // where interactive mode saves attachments
	madeDir  bool       // attach is a folder this console made (and removes)

	mu      sync.Mutex // guards out and choices
	out     io.Writer
	choices []bot.Button
}

// Options configure a Console.
type Options struct {
	User string // default "console"
	Lang string // "it", "en" or "" (detect)
	JSON bool
	// AttachmentDir is where interactive mode saves attachments (default:
	// a new private folder in the temporary directory, made on first use
	// and removed when Run returns).
	AttachmentDir string
}

// New returns a console reading in and writing out.
func New(h Handler, in io.Reader, out io.Writer, o Options) *Console {
	if o.User == "" {
		o.User = "console"
	}

	return &Console{h: h, user: o.User, lang: o.Lang, json: o.JSON, in: in, out: out, attach: o.AttachmentDir}
}

// Conversation is the conversation this console speaks for.
func (c *Console) Conversation() bot.Conversation {
	return bot.Conversation{Channel: Channel, User: c.user}
}

// Run reads lines until end of input or ctx is cancelled. It returns nil at
// end of input. When ctx is cancelled first, the goroutine reading the input
// stays blocked in Read until the input is closed (at process exit for the
// terminal): an io.Reader cannot be interrupted, so callers that pass a pipe
// close it.
func (c *Console) Run(ctx context.Context) error {
	defer c.removeAttachments()
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(c.in, 64<<10)
		for {
			line, err := readLine(r, MaxLineBytes)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr <- err
				}
				return
			}
			select {
			case lines <- line:
			case <-ctx.Done():
				return
			}
		}
	}()

	if !c.json {
		// A person at a terminal is greeted at once, as after /start.
		c.turn(ctx, bot.Inbound{Text: "/start"})
		c.prompt()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				select {
				case err := <-readErr:
					return fmt.Errorf("console: read input: %w", err)
				default:
					return nil
				}
			}
			if c.json {
				c.jsonLine(ctx, line)
				continue
			}
			if strings.TrimSpace(line) != "" {
				c.turn(ctx, c.interactiveInput(line))
			}
			c.prompt()
		}
	}
}

// readLine reads one line of at most max bytes, dropping the rest of a
// longer one. The final line may lack a newline.
func readLine(r *bufio.Reader, max int) (string, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf) < max {
			buf = append(buf, chunk[:min(len(chunk), max-len(buf))]...)
		}
		switch {
		case err == nil:
			return strings.TrimRight(string(buf), "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return strings.TrimRight(string(buf), "\r\n"), nil
		default:
			return "", err
		}
	}
}

// interactiveInput reads a typed number as the button with that number.
func (c *Console) interactiveInput(line string) bot.Inbound {
	line = strings.TrimSpace(line)
	if n, err := strconv.Atoi(line); err == nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if n >= 1 && n <= len(c.choices) {
			return bot.Inbound{Button: c.choices[n-1].ID}
		}
	}
	return bot.Inbound{Text: line}
}

func (c *Console) turn(ctx context.Context, in bot.Inbound) {
	in.Conv = c.Conversation()
	// --lang is a choice made once, at the start: later the citizen may
	// switch like anyone else ("italiano", /lingua).
	in.Lang, c.lang = c.lang, ""
	replies, err := c.h.Handle(ctx, in)
	if c.json {
		out := output{Replies: wire(replies)}
		if err != nil {
			out.Error = err.Error()
		}
		c.writeJSON(out)
		return
	}
	c.render(replies, false)
	if err != nil && len(replies) == 0 {
		c.printf("(error: %v)\n", err)
	}
}

// input is a JSON input line.
type input struct {
	Text   *string `json:"text"`
	Button *string `json:"button"`
}

type output struct {
	Replies []wireReply `json:"replies"`
	Error   string      `json:"error,omitempty"`
}

type wireReply struct {
	Text        string           `json:"text"`
	Buttons     []bot.Button     `json:"buttons"`
	Attachments []wireAttachment `json:"attachments"`
}

type wireAttachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
}

func wire(replies []bot.Reply) []wireReply {
	out := make([]wireReply, 0, len(replies))
	for _, r := range replies {
		w := wireReply{Text: r.Text, Buttons: r.Buttons, Attachments: []wireAttachment{}}
		if w.Buttons == nil {
			w.Buttons = []bot.Button{}
		}
		for _, a := range r.Attachments {
			w.Attachments = append(w.Attachments, wireAttachment{Name: a.Name, ContentType: a.ContentType, Size: len(a.Data)})
		}
		out = append(out, w)
	}
	return out
}

// ParseInput reads one JSON-mode input line: plain text, {"text":"..."} or
// {"button":"<id>"}.
func ParseInput(line string) (bot.Inbound, error) {
	trimmed := strings.TrimSpace(line)
	if !strings.HasPrefix(trimmed, "{") {
		return bot.Inbound{Text: line}, nil
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var in input
	if err := dec.Decode(&in); err != nil {
		return bot.Inbound{}, fmt.Errorf("invalid input line: %w (send plain text, {\"text\":\"...\"} or {\"button\":\"<id>\"})", err)
	}
	if dec.More() {
		return bot.Inbound{}, errors.New("invalid input line: one JSON object per line")
	}
	switch {
	case in.Text != nil && in.Button != nil:
		return bot.Inbound{}, errors.New("invalid input line: give either text or button, not both")
	case in.Button != nil:
		return bot.Inbound{Button: *in.Button}, nil
	case in.Text != nil:
		return bot.Inbound{Text: *in.Text}, nil
	}
	return bot.Inbound{}, errors.New("invalid input line: an object needs \"text\" or \"button\"")
}

func (c *Console) jsonLine(ctx context.Context, line string) {
	in, err := ParseInput(line)
	if err != nil {
		c.writeJSON(output{Replies: []wireReply{}, Error: err.Error()})
		return
	}
	c.turn(ctx, in)
}

func (c *Console) writeJSON(v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b.Reset()
		fmt.Fprintf(&b, "{\"replies\":[],\"error\":%q}\n", err.Error())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.out.Write(b.Bytes())
}

var _ push.Sender = (*Console)(nil)

// Push prints messages Sportello sends on its own (reminders, notices). In
// JSON mode each reply is one {"push":...} line.
func (c *Console) Push(_ context.Context, conv bot.Conversation, replies []bot.Reply) error {
	if conv != c.Conversation() {
		// Pushes are routed per terminal citizen (push.PerUser), so this
		// is a routing mistake: never print another citizen's message.
		return fmt.Errorf("console: push for %s, this console is %s: %w", conv.Key(), c.Conversation().Key(), push.ErrUnreachable)
	}
	if c.json {
		for _, r := range wire(replies) {
			c.writeJSON(struct {
				Push wireReply `json:"push"`
			}{r})
		}
		return nil
	}
	c.printf("\n")
	c.render(replies, true)
	c.prompt()
	return nil
}

// render prints replies for a person: text, attachments saved to disk, and
// the buttons numbered from 1 across the whole turn.
func (c *Console) render(replies []bot.Reply, push bool) {
	var b strings.Builder
	var choices []bot.Button
	for _, r := range replies {
		if r.Text != "" {
			b.WriteString("\n")
			b.WriteString(r.Text)
			b.WriteString("\n")
		}
		for _, a := range r.Attachments {
			fmt.Fprintf(&b, "  📎 %s (%s, %d bytes)%s\n", a.Name, a.ContentType, len(a.Data), c.save(a))
		}
		for _, btn := range r.Buttons {
			choices = append(choices, btn)
			fmt.Fprintf(&b, "  [%d] %s\n", len(choices), btn.Label)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The numbers always mean the buttons on screen last: a turn without
	// buttons clears them, so "2" is then just text.
	if len(choices) > 0 || !push {
		c.choices = choices
	}
	_, _ = io.WriteString(c.out, b.String())
}

// save writes an attachment where the user can open it, and says where.
func (c *Console) save(a bot.Attachment) string {
	if len(a.Data) == 0 {
		return ""
	}
	name := filepath.Base(filepath.Clean("/" + a.Name))
	if name == "/" || name == "." {
		name = "attachment"
	}
	c.attachMu.Lock() // replies and pushes render from two goroutines
	defer c.attachMu.Unlock()
	if c.attach == "" {
		// A fresh private folder: a shared, predictable one could be
		// prepared by another user of the machine.
		dir, err := os.MkdirTemp("", "sportello-chat-")
		if err != nil {
			return ""
		}
		c.attach, c.madeDir = dir, true
	} else if err := os.MkdirAll(c.attach, 0o700); err != nil {
		return ""
	}
	path := filepath.Join(c.attach, name)
	if err := os.WriteFile(path, a.Data, 0o600); err != nil {
		return ""
	}
	return " → " + path
}

// removeAttachments deletes the folder of saved attachments this console
// made: they hold the citizen's appointment details.
func (c *Console) removeAttachments() {
	c.attachMu.Lock()
	defer c.attachMu.Unlock()
	if c.madeDir {
		_ = os.RemoveAll(c.attach)
		c.attach, c.madeDir = "", false
	}
}

func (c *Console) prompt() { c.printf("> ") }

func (c *Console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, format, args...)
}
