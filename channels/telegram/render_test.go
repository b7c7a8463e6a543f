package telegram

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"sportello/bot"
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
	f.Fuzz(func(t *testing.T, raw []byte) {
		it, err := readHead(raw)
		if err == nil && it.UpdateID <= 0 {
			t.Fatalf("Got(readHead) = %+v without error, want an error for update_id <= 0", it)
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
