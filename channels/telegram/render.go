package telegram

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"sportello/bot"
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

// makeKeyboard lays buttons out: long labels alone on a row, short ones up
// to three a row, in the given order. Buttons whose id is not a valid
// callback_data are left out (the engine never makes one).
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
		if !bot.ValidButtonID(b.ID) || strings.TrimSpace(b.Label) == "" {
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
