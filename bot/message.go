// Package bot is Sportello's channel-neutral conversation engine: the message
// model every channel renders, the engine that routes a citizen's messages to
// dialogs, and the per-turn context dialogs write their answers into.
//
// The engine never imports a channel. Channels turn their wire format into an
// Inbound, call Engine.Handle, and render the Replies they get back.
package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits applied to everything a channel hands the engine.
const (
	// MaxTextBytes caps the text the engine looks at. Longer messages are
	// cut at a rune boundary; nothing a citizen can type needs more.
	MaxTextBytes = 4096
	// MaxButtonBytes is the longest button id the engine accepts. It matches
	// Telegram's callback_data limit so every id fits every channel.
	MaxButtonBytes = 64
	// MaxUserIDBytes caps channel user ids; they become store keys.
	MaxUserIDBytes = 128
)

// Conversation identifies one citizen on one channel.
type Conversation struct {
	Channel string // "telegram", "console", "web", ...
	User    string // the channel's own id for the citizen or chat
}

// Key is the conversation's store key, "channel:user".
func (c Conversation) Key() string { return c.Channel + ":" + c.User }

// Inbound is one message from a citizen, whatever the channel.
type Inbound struct {
	Conv Conversation
	// ID identifies this delivery of the message on its channel (Telegram's
	// update_id, say), or "". When set, the engine applies the message at
	// most once: a channel that hands the same ID again (after a crash
	// between the turn's commit and its own bookkeeping) gets the replies the
	// first turn produced, and the conversation is not changed twice. The
	// record lives in the session, so it covers redeliveries within the
	// session's idle time and for the conversation's latest message.
	ID string
	// Text typed by the citizen. Empty when a button was pressed.
	Text string
	// Button is the id of a pressed button (from Reply.Buttons), or "".
	Button string
	// LangHint is the channel's idea of the citizen's language ("it",
	// "en-GB", ...); empty when the channel has none.
	LangHint string
	// Lang is a language the citizen chose in the channel itself (a
	// language selector, the terminal's --lang): it overrides detection and
	// is remembered like a choice made in the conversation.
	Lang string
	// Group is true when the message comes from a group chat: the engine
	// never asks for personal data there.
	Group bool
}

// Reply is one message from Sportello to a citizen.
type Reply struct {
	Text        string       `json:"text"`
	Buttons     []Button     `json:"buttons,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Button is a choice the citizen can press. ID comes back in Inbound.Button.
type Button struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Attachment is a file sent with a reply, such as an .ics calendar entry.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"-"`
}

// sanitize makes an inbound message safe to process: valid UTF-8, no control
// characters, bounded length, and a button id of the accepted shape. It
// reports whether the text had to be cut.
func sanitize(in Inbound) (Inbound, bool) {
	in.Conv.User, _ = cleanText(in.Conv.User, MaxUserIDBytes)
	in.ID, _ = cleanText(in.ID, MaxUserIDBytes)
	text, cut := cleanText(in.Text, MaxTextBytes)
	in.Text = strings.TrimSpace(text)
	in.LangHint, _ = cleanText(in.LangHint, 16)
	in.Lang, _ = cleanText(in.Lang, 16)
	if in.Button != "" && !ValidButtonID(in.Button) {
		// A crafted or corrupted id: treat it as a button nobody knows, so
		// the citizen gets the "old button" answer instead of a guess.
		in.Button = invalidButton
	}
	return in, cut
}

// invalidButton stands for a button id that failed validation.
const invalidButton = "!invalid"

// ValidButtonID reports whether id has the shape of a Sportello button id:
// 1 to MaxButtonBytes bytes of ASCII letters, digits and ":_-.+=".
func ValidButtonID(id string) bool {
	if id == "" || len(id) > MaxButtonBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte(":_-.+=", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// cleanText replaces invalid UTF-8, drops control characters other than
// newlines and tabs, and stops before max bytes at a rune boundary. It
// reports whether anything was cut off.
func cleanText(s string, max int) (string, bool) {
	cut := false
	if len(s) > 4*max {
		s, cut = s[:4*max], true
	}
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\n' && r != '\t') {
			clean = false
			break
		}
	}
	if clean && len(s) <= max {
		return s, cut
	}
	var b strings.Builder
	b.Grow(min(len(s), max+4))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > max {
			return b.String(), true
		}
		b.WriteRune(r)
	}
	return b.String(), cut
}
