package booking_test

import (
	"strings"
	"testing"

	"sportello/bot"
	"sportello/bot/bottest"
)

// FuzzConversation sends arbitrary text and button ids at every step of the
// booking and appointments dialogs: the engine must always answer, and never
// with the "something went wrong" apology of a failed dialog.
func FuzzConversation(f *testing.F) {
	h := newHarness(f)
	broken := h.msg("it", "error.dialog", nil)
	for _, seed := range []struct {
		steps       uint8
		button, txt string
	}{
		{0, "book:reason:renewal", ""},
		{2, "book:slot:centrale.zzzzzzzz", ""},
		{2, "book:day:99999999", "31/02"},
		{3, "", "RSSMRA80A01H501X"},
		{4, "", "RSSMRA80A01H501U"},
		{5, "book:exc:7", "sì"},
		{6, "book:confirm", "no"},
		{1, "appointments:cancel:ZZZZZZ", "ABC-234"},
		{1, "appt:accept:AAAAAA", "lunedì prossimo alle 9"},
		{3, "book:cf:ok", "?"},
		{2, "book:times:100", "25:61"},
		{2, "book:days:3", "dopodomani pomeriggio"},
	} {
		f.Add(seed.steps, seed.button, seed.txt)
	}
	n := 0
	f.Fuzz(func(t *testing.T, steps uint8, button, text string) {
		n++
		user := "fuzz-" + strings.Repeat("x", n%7) + string(rune('a'+n%26))
		h.t = t
		// Walk some way into the booking first.
		script := []bot.Inbound{
			{Text: "/prenota"}, {Button: "book:reason:renewal"}, {Button: "book:office:nord"},
			{Button: "book:day:20261201"}, {Text: "9:00"}, {Text: "Mario Rossi"}, {Text: "RSSMRA80A01H501U"},
		}
		if steps%8 == 7 {
			script = []bot.Inbound{{Text: "/appuntamenti"}}
		}
		for _, in := range script[:min(int(steps%8), len(script))] {
			h.send(user, in)
		}
		for _, in := range []bot.Inbound{{Button: button}, {Text: text}} {
			if in.Button == "" && in.Text == "" {
				continue
			}
			r := h.send(user, in)
			if strings.Contains(bottest.All(r), broken) {
				t.Fatalf("%+v after %d steps broke the dialog:\n%s", in, steps%8, bottest.All(r))
			}
		}
		h.text(user, "annulla")
	})
}
