package telegram

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"sportello/bot"
	"sportello/bot/locale"
)

// MaxMessageChars is Telegram's limit on a message's text, counted as the
// Bot API counts it: UTF-16 code units of the text after entity parsing.
const MaxMessageChars = 4096

// escapeHTML escapes the three characters Telegram's HTML parse mode
// requires escaped. Every text Sportello sends goes through it: replies are
// plain text, so nothing a citizen or a locale file contains can become
// markup.
func escapeHTML(s string) string {
	if !strings.ContainsAny(s, "<>&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// chars counts s the way Telegram does (UTF-16 code units).
func chars(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// splitText cuts plain text into pieces of at most max characters. Each cut
// is at the last paragraph break that fits, else the last line break, else
// the last space, considering only breaks in the second half of the piece
// (so that an early paragraph break does not leave a stub of a message and
// send one message more); when there is none there, at the strongest break
// that fits anywhere, else between runes. Pieces are trimmed; none is empty.
func splitText(text string, max int) []string {
	text = strings.TrimSpace(text)
	var parts []string
	for text != "" {
		if chars(text) <= max {
			parts = append(parts, text)
			break
		}
		end := prefixBytes(text, max) // longest prefix within max chars
		cut := -1
		for _, half := range []bool{true, false} {
			for _, sep := range []string{"\n\n", "\n", " "} {
				// A separator may start right at the limit.
				window := text[:min(len(text), end+len(sep))]
				if i := strings.LastIndex(window, sep); i > 0 && i <= end && (!half || 2*i >= end) {
					cut = i
					break
				}
			}
			if cut > 0 {
				break
			}
		}
		if cut <= 0 {
			cut = end
		}
		if part := strings.TrimSpace(text[:cut]); part != "" {
			parts = append(parts, part)
		}
		text = strings.TrimSpace(text[cut:])
	}
	return parts
}

// prefixBytes returns the byte length of the longest prefix of s that has
// at most max characters.
func prefixBytes(s string, max int) int {
	n := 0
	for i, r := range s {
		n += utf16.RuneLen(r)
		if n > max {
			return i
		}
	}
	return len(s)
}

// keyboard is an inline keyboard encoded by hand: the library's button type
// always carries "copy_text", which Telegram may refuse
// (BUTTON_COPY_TEXT_INVALID), so only the two fields Sportello uses are sent.
type keyboard struct {
	Rows [][]keyButton `json:"inline_keyboard"`
}

type keyButton struct {
	Text string `json:"text"`
	Data string `json:"callback_data"`
}

// shortLabel is the longest label that shares a row with others.
const shortLabel = 14

// usable reports whether a button can be shown: its id is a valid
// callback_data and it has a label.
func usable(b bot.Button) bool {
	return bot.ValidButtonID(b.ID) && strings.TrimSpace(b.Label) != ""
}

// makeKeyboard lays buttons out: long labels alone on a row, short ones up
// to three a row, in the given order. Buttons that are not usable are left
// out (the engine never makes one; render logs them).
func makeKeyboard(buttons []bot.Button) *keyboard {
	var kb keyboard
	var row []keyButton
	flush := func() {
		if len(row) > 0 {
			kb.Rows = append(kb.Rows, row)
			row = nil
		}
	}
	for _, b := range buttons {
		if !usable(b) {
			continue
		}
		btn := keyButton{Text: b.Label, Data: b.ID}
		if utf8.RuneCountInString(b.Label) > shortLabel {
			flush()
			kb.Rows = append(kb.Rows, []keyButton{btn})
			continue
		}
		row = append(row, btn)
		if len(row) == 3 {
			flush()
		}
	}
	flush()
	if len(kb.Rows) == 0 {
		return nil
	}
	return &kb
}

// outMessage is one Telegram message a turn's replies become: a text
// (plain; escaped when sent) or a document, with the buttons under it.
type outMessage struct {
	text    string
	doc     *bot.Attachment
	buttons []bot.Button
}

// layout lays a turn's replies out as Telegram messages, in order. Consecutive
// replies are joined into one message, a blank line between their texts,
// where that is faithful to the replies: a reply with buttons or files ends
// a message (its buttons go under it, its files follow it), a reply without
// text (only files) is not joined, and the joined text fits one message,
// with room for the "✓ label" mark written under it when one of its buttons
// is pressed. Every message Telegram delivers is paced (about one a second
// per chat), so a citizen reads "All right, let's continue in English." and
// the menu, or a summary and its question, at once rather than seconds
// apart. A text longer than a message is cut into pieces, the buttons under
// the last; files follow as documents (under the last of them the buttons,
// when the reply has no text).
//
// layout depends on nothing but the replies and the catalog: a replay of an
// update's recorded replies is laid out into the same messages.
func (c *Chan) layout(replies []bot.Reply) []outMessage {
	type group struct {
		text    string
		buttons []bot.Button
		files   []bot.Attachment
	}
	var groups []group
	for _, r := range c.foldButtons(replies) {
		for _, b := range r.Buttons {
			if !usable(b) {
				c.log.Warn("leaving out a button Telegram cannot show", slog.String("button_id", clip(b.ID, 80)),
					slog.Bool("has_label", strings.TrimSpace(b.Label) != ""))
			}
		}
		var buttons []bot.Button
		for _, b := range r.Buttons {
			if usable(b) {
				buttons = append(buttons, b)
			}
		}
		text := strings.TrimSpace(r.Text)
		if n := len(groups); n > 0 && text != "" {
			g := &groups[n-1]
			if g.text != "" && len(g.buttons) == 0 && len(g.files) == 0 &&
				chars(g.text)+2+chars(text)+c.markRoom(buttons) <= MaxMessageChars {
				g.text += "\n\n" + text
				g.buttons, g.files = buttons, r.Attachments
				continue
			}
		}
		groups = append(groups, group{text: text, buttons: buttons, files: r.Attachments})
	}
	var out []outMessage
	for _, g := range groups {
		parts := splitText(g.text, MaxMessageChars)
		for i, part := range parts {
			m := outMessage{text: part}
			if i == len(parts)-1 {
				m.buttons = g.buttons
			}
			out = append(out, m)
		}
		for i := range g.files {
			m := outMessage{doc: &g.files[i]}
			if len(parts) == 0 && i == len(g.files)-1 {
				m.buttons = g.buttons
			}
			out = append(out, m)
		}
	}
	return out
}

// markRoom is the most characters the "✓ label" mark of a pressed button
// adds under its message (closeKeyboard), in any language; 0 without
// buttons.
func (c *Chan) markRoom(buttons []bot.Button) int {
	room := 0
	for _, b := range buttons {
		for _, lang := range locale.Languages() {
			room = max(room, 2+chars(c.cat.Text(lang, "telegram.chosen", map[string]any{"Label": b.Label})))
		}
	}
	return room
}

// foldButtons moves the buttons of a reply that has neither text nor files
// (Telegram has no message to put them under) to the reply before it that
// has something to show; replies with nothing at all are left out. Buttons
// with nothing before them are logged and left out.
func (c *Chan) foldButtons(replies []bot.Reply) []bot.Reply {
	out := make([]bot.Reply, 0, len(replies))
	for _, r := range replies {
		shows := strings.TrimSpace(r.Text) != "" || len(r.Attachments) > 0
		if !shows && len(r.Buttons) == 0 {
			continue
		}
		if shows {
			out = append(out, r)
			continue
		}
		if len(out) == 0 {
			ids := make([]string, 0, len(r.Buttons))
			for _, b := range r.Buttons {
				ids = append(ids, clip(b.ID, 80))
			}
			c.log.Warn("leaving out buttons without a message to show them under", slog.Any("button_ids", ids))
			continue
		}
		prev := &out[len(out)-1]
		prev.Buttons = append(append([]bot.Button(nil), prev.Buttons...), r.Buttons...)
	}
	return out
}

// render turns replies into calls, one per message of their layout. In a
// group every message answers the member's message, so it is clear whom it
// is for (and whose buttons they are).
func (c *Chan) render(chat int64, replyTo int, replies []bot.Reply, p prio) []*call {
	var reply *models.ReplyParameters
	if replyTo != 0 {
		reply = &models.ReplyParameters{MessageID: replyTo, AllowSendingWithoutReply: true}
	}
	msgs := c.layout(replies)
	calls := make([]*call, 0, len(msgs))
	for _, m := range msgs {
		var markup models.ReplyMarkup
		if kb := makeKeyboard(m.buttons); kb != nil {
			markup = kb
		}
		if m.doc != nil {
			doc := m.doc
			calls = append(calls, &call{chat: chat, method: "sendDocument", prio: p, paced: true,
				do: func(ctx context.Context, api *tgbot.Bot) error {
					_, err := api.SendDocument(ctx, &tgbot.SendDocumentParams{
						ChatID:          chat,
						Document:        &models.InputFileUpload{Filename: doc.Name, Data: bytes.NewReader(doc.Data)},
						ReplyParameters: reply,
						ReplyMarkup:     markup,
					})
					return err
				}})
			continue
		}
		params := &tgbot.SendMessageParams{
			ChatID:             chat,
			Text:               escapeHTML(m.text),
			ParseMode:          models.ParseModeHTML,
			LinkPreviewOptions: noPreview(),
			ReplyParameters:    reply,
			ReplyMarkup:        markup,
		}
		calls = append(calls, &call{chat: chat, method: "sendMessage", prio: p, paced: true,
			do: func(ctx context.Context, api *tgbot.Bot) error {
				_, err := api.SendMessage(ctx, params)
				return err
			}})
	}
	return calls
}
