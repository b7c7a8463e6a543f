package telegram

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"sportello/bot"
	"sportello/bot/locale"
	"sportello/locales"
)

func TestEscapeHTML(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a < b > c & d", "a &lt; b &gt; c &amp; d"},
		{"<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"},
		{"&amp;", "&amp;amp;"},
		{`"quoted" 'single'`, `"quoted" 'single'`},
		{"città € 🙂", "città € 🙂"},
	} {
		if got := escapeHTML(tc.in); got != tc.want {
			t.Errorf("Got(escapeHTML(%q)) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitText(t *testing.T) {
	p := func(c string, n int) string { return strings.Repeat(c, n) }
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"fits", "hello", 10, []string{"hello"}},
		{"paragraphs", "aaaa\n\nbbbb\n\ncccc", 10, []string{"aaaa\n\nbbbb", "cccc"}},
		{"early paragraph: a full line instead", "ab\n\ncccc\ndddd\neeee", 12, []string{"ab\n\ncccc", "dddd\neeee"}},
		{"early paragraph: no stub", "Code: X\n\nbring:\n1 a\n2 b\n3 c\n\nkeep it", 20, []string{"Code: X\n\nbring:\n1 a", "2 b\n3 c\n\nkeep it"}},
		{"early paragraph rather than a hard cut", "ab\n\n" + p("c", 20), 12, []string{"ab", "cccccccccccc", "cccccccc"}},
		{"lines", "aaaa\nbbbb\ncccc", 10, []string{"aaaa\nbbbb", "cccc"}},
		{"words", "aaa bbb ccc ddd", 8, []string{"aaa bbb", "ccc ddd"}},
		{"hard cut", p("a", 12), 5, []string{"aaaaa", "aaaaa", "aa"}},
		{"utf16 emoji counts twice", p("🙂", 6), 4, []string{"🙂🙂", "🙂🙂", "🙂🙂"}},
		{"empty", "  ", 5, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := splitText(tc.in, tc.max)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("Got(splitText(%q, %d)) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func FuzzSplitText(f *testing.F) {
	f.Add("Uno.\n\nDue.\n\nTre.", 5)
	f.Add(strings.Repeat("parola ", 1000), 4096)
	f.Add("🙂🙂🙂 a", 1)
	f.Fuzz(func(t *testing.T, text string, max int) {
		if max < 2 || max > 5000 || !utf8.ValidString(text) {
			return
		}
		parts := splitText(text, max)
		for _, part := range parts {
			if part == "" || chars(part) > max {
				t.Fatalf("Got(piece) = %q (%d chars), want 1..%d chars", part, chars(part), max)
			}
		}
		// Nothing lost but whitespace at the cuts.
		if got, want := strings.Join(strings.Fields(strings.Join(parts, " ")), ""), strings.Join(strings.Fields(text), ""); got != want {
			t.Fatalf("Got(text rejoined) = %q, want %q", got, want)
		}
	})
}

func TestKeyboard(t *testing.T) {
	kb := makeKeyboard([]bot.Button{
		{ID: "lang:it", Label: "Italiano"}, {ID: "lang:en", Label: "English"},
		{ID: "menu:faq", Label: "Domande sulla carta d'identità"},
		{ID: "a", Label: "A"}, {ID: "b", Label: "B"}, {ID: "c", Label: "C"}, {ID: "d", Label: "D"},
		{ID: "bad id with spaces", Label: "X"},
	})
	var rows []string
	for _, r := range kb.Rows {
		var ids []string
		for _, b := range r {
			ids = append(ids, b.Data)
		}
		rows = append(rows, strings.Join(ids, ","))
	}
	want := "lang:it,lang:en|menu:faq|a,b,c|d"
	if got := strings.Join(rows, "|"); got != want {
		t.Errorf("Got(rows) = %q, want %q", got, want)
	}
	data, _ := json.Marshal(kb)
	if strings.Contains(string(data), "copy_text") {
		t.Errorf("Got(keyboard JSON) = %s, want no copy_text", data)
	}
	if makeKeyboard(nil) != nil {
		t.Errorf("Got(makeKeyboard(nil)) non-nil, want nil")
	}
}

func FuzzReadHead(f *testing.F) {
	f.Add([]byte(`{"update_id":5,"message":{"chat":{"id":-100}}}`))
	f.Add([]byte(`{"update_id":6,"callback_query":{"from":{"id":3}}}`))
	f.Add([]byte(`{"update_id":0}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"update_id":7,"message":{"chat":{"id":"x"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		it, err := readHead(raw)
		if err == nil && it.UpdateID <= 0 {
			t.Fatalf("Got(readHead) = %+v without error, want an error for update_id <= 0", it)
		}
		// What the webhook acknowledges (200) is what has an update_id:
		// the update itself, or one it skips.
		id := updateID(raw)
		if err == nil && id != it.UpdateID {
			t.Fatalf("Got(updateID) = %d, want %d as readHead reads it", id, it.UpdateID)
		}
		if id > 0 && !json.Valid(raw) {
			t.Fatalf("Got(updateID(%q)) = %d, want 0 for a body that is not JSON", raw, id)
		}
	})
}

func TestStripMention(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"@SportelloBot quanto costa?", "quanto costa?"},
		{"ciao @sportellobot!", "ciao !"},
		{"@SportelloBotX ciao", "@SportelloBotX ciao"},
		{"nessuna menzione", "nessuna menzione"},
	} {
		if got := stripMention(tc.in, "SportelloBot"); got != tc.want {
			t.Errorf("Got(stripMention(%q)) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// testChan is a channel with what rendering needs: the catalog (for the
// room the "✓ label" mark takes) and a logger.
func testChan(t testing.TB) *Chan {
	t.Helper()
	cat, err := locale.Load(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	return &Chan{cat: cat, log: slog.New(slog.DiscardHandler)}
}

// describe writes laid-out messages as "text|button ids" and "[doc name]|button ids".
func describe(msgs []outMessage) []string {
	var out []string
	for _, m := range msgs {
		var ids []string
		for _, b := range m.buttons {
			ids = append(ids, b.ID)
		}
		head := m.text
		if m.doc != nil {
			head = "[" + m.doc.Name + "]"
		}
		out = append(out, head+"|"+strings.Join(ids, " "))
	}
	return out
}

func TestLayoutJoinsReplies(t *testing.T) {
	c := testChan(t)
	btn := func(ids ...string) []bot.Button {
		var out []bot.Button
		for _, id := range ids {
			out = append(out, bot.Button{ID: id, Label: "L" + id})
		}
		return out
	}
	file := func(name string) []bot.Attachment { return []bot.Attachment{{Name: name, Data: []byte("X")}} }
	p := func(n int) string { return strings.Repeat("a", n) }
	// The longest mark a button labelled "Lok" gets, with its blank line.
	room := 0
	for _, lang := range locale.Languages() {
		room = max(room, chars("\n\n"+c.cat.Text(lang, "telegram.chosen", map[string]any{"Label": "Lok"})))
	}
	for _, tc := range []struct {
		name    string
		replies []bot.Reply
		want    []string
	}{
		{"one reply", []bot.Reply{{Text: "Ciao", Buttons: btn("x")}}, []string{"Ciao|x"}},
		{"texts are joined with a blank line", []bot.Reply{{Text: "Uno."}, {Text: " Due.\n"}, {Text: "Tre."}},
			[]string{"Uno.\n\nDue.\n\nTre.|"}},
		{"the language switch and the menu", []bot.Reply{{Text: "All right, let's continue in English."}, {Text: "What can I do?", Buttons: btn("menu:a", "menu:b")}},
			[]string{"All right, let's continue in English.\n\nWhat can I do?|menu:a menu:b"}},
		{"buttons end a message", []bot.Reply{{Text: "Scegli", Buttons: btn("x")}, {Text: "Poi"}, {Text: "Ancora", Buttons: btn("y")}},
			[]string{"Scegli|x", "Poi\n\nAncora|y"}},
		{"the summary and its question", []bot.Reply{{Text: "Riepilogo"}, {Text: "Confermi?", Buttons: btn("ok", "no")}},
			[]string{"Riepilogo\n\nConfermi?|ok no"}},
		{"buttons without text join the message before", []bot.Reply{{Text: "Uno"}, {Text: "Due"}, {Buttons: btn("x")}},
			[]string{"Uno\n\nDue|x"}},
		{"a file follows the joined text it came with", []bot.Reply{{Text: "Prenotato."}, {Text: "Il calendario:", Attachments: file("a.ics")}},
			[]string{"Prenotato.\n\nIl calendario:|", "[a.ics]|"}},
		{"a file ends a message", []bot.Reply{{Text: "Il calendario:", Attachments: file("a.ics")}, {Text: "Altro?", Buttons: btn("x")}},
			[]string{"Il calendario:|", "[a.ics]|", "Altro?|x"}},
		{"a file with buttons", []bot.Reply{{Text: "Fatto."}, {Text: "Il calendario:", Buttons: btn("x"), Attachments: file("a.ics")}},
			[]string{"Fatto.\n\nIl calendario:|x", "[a.ics]|"}},
		{"a file without text stays on its own", []bot.Reply{{Text: "Fatto."}, {Attachments: file("a.ics"), Buttons: btn("x")}},
			[]string{"Fatto.|", "[a.ics]|x"}},
		{"empty replies are nothing", []bot.Reply{{Text: "Uno"}, {Text: " "}, {Text: "Due"}},
			[]string{"Uno\n\nDue|"}},
		{"buttons after an empty reply", []bot.Reply{{Text: "Il calendario:", Attachments: file("a.ics")}, {}, {Buttons: btn("x")}},
			[]string{"Il calendario:|x", "[a.ics]|"}},
		{"joined up to the limit", []bot.Reply{{Text: p(2000)}, {Text: p(2094)}, {Text: "b"}},
			[]string{p(2000) + "\n\n" + p(2094) + "|", "b|"}},
		{"counted as Telegram counts, after parsing", []bot.Reply{{Text: strings.Repeat("&", 2000)}, {Text: strings.Repeat("<", 2094)}},
			[]string{strings.Repeat("&", 2000) + "\n\n" + strings.Repeat("<", 2094) + "|"}},
		{"not joined past the limit", []bot.Reply{{Text: p(2000)}, {Text: p(2095)}},
			[]string{p(2000) + "|", p(2095) + "|"}},
		{"a long text is split as before, not joined", []bot.Reply{{Text: "Prima"}, {Text: p(3000) + "\n\n" + p(3000), Buttons: btn("x")}, {Text: "Dopo"}},
			[]string{"Prima|", p(3000) + "|", p(3000) + "|x", "Dopo|"}},
		{"room for the mark under pressed buttons", []bot.Reply{{Text: p(2000)}, {Text: p(4094 - 2000 - room + 1), Buttons: btn("ok")}},
			[]string{p(2000) + "|", p(4094-2000-room+1) + "|ok"}},
		{"with room for the mark", []bot.Reply{{Text: p(2000)}, {Text: p(4094 - 2000 - room), Buttons: btn("ok")}},
			[]string{p(2000) + "\n\n" + p(4094-2000-room) + "|ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := describe(c.layout(tc.replies))
			if strings.Join(got, "\n--\n") != strings.Join(tc.want, "\n--\n") {
				t.Errorf("Got(layout) = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzLayout: whatever the replies, the messages fit Telegram's limit and
// say everything in the replies' order: each reply's text, then its
// buttons, then its files (a file without text before it carries the
// buttons).
func FuzzLayout(f *testing.F) {
	f.Add("Uno.", "Due.", "Tre?", uint16(0b100_000_000))
	f.Add("Prenotato.", "", "Il calendario:", uint16(0b110_000_010))
	f.Add(strings.Repeat("parola ", 600), "Confermi?", "", uint16(0b010_011_001))
	c := testChan(f)
	f.Fuzz(func(t *testing.T, a, b, d string, flags uint16) {
		if !utf8.ValidString(a + b + d) {
			return
		}
		var replies []bot.Reply
		for i, text := range []string{a, b, d} {
			r := bot.Reply{Text: text}
			bits := flags >> (3 * i)
			if bits&1 != 0 {
				r.Buttons = []bot.Button{{ID: fmt.Sprintf("b:%d", i), Label: "B"}}
			}
			if bits&2 != 0 {
				r.Attachments = []bot.Attachment{{Name: fmt.Sprintf("f%d.ics", i)}}
			}
			if bits&4 != 0 {
				r.Text = strings.Repeat(text+" ", 1+int(flags>>9)%8)
			}
			replies = append(replies, r)
		}
		msgs := c.layout(replies)
		var got, want []string
		for _, m := range msgs {
			if m.doc != nil {
				got = append(got, "[file "+m.doc.Name+"]")
			} else {
				if m.text == "" || chars(m.text) > MaxMessageChars {
					t.Fatalf("Got(message) = %q (%d chars), want 1..%d chars", m.text, chars(m.text), MaxMessageChars)
				}
				got = append(got, strings.Fields(m.text)...)
			}
			for _, btn := range m.buttons {
				got = append(got, "[button "+btn.ID+"]")
			}
		}
		for _, r := range c.foldButtons(replies) {
			want = append(want, strings.Fields(r.Text)...)
			var buttons []string
			for _, btn := range r.Buttons {
				buttons = append(buttons, "[button "+btn.ID+"]")
			}
			if strings.TrimSpace(r.Text) != "" {
				want, buttons = append(want, buttons...), nil
			}
			for _, file := range r.Attachments {
				want = append(want, "[file "+file.Name+"]")
			}
			want = append(want, buttons...)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("Got(layout of %q) = %q, want %q", replies, got, want)
		}
		// Rendering the same replies again (a replay) gives the same
		// messages.
		if again := describe(c.layout(replies)); strings.Join(again, "\x00") != strings.Join(describe(msgs), "\x00") {
			t.Fatalf("Got(layout again) = %q, want %q", again, describe(msgs))
		}
	})
}
