package bot

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	in, cut := sanitize(Inbound{Text: strings.Repeat("è", 100_000), Button: "menu:faq"})
	if !cut || len(in.Text) > MaxTextBytes || !utf8.ValidString(in.Text) {
		t.Errorf("100 KB text: cut=%v len=%d valid=%v", cut, len(in.Text), utf8.ValidString(in.Text))
	}
	if in.Button != "menu:faq" {
		t.Errorf("valid button changed to %q", in.Button)
	}
	in, _ = sanitize(Inbound{Text: "  a\x00b\x1bc\xff  ", Button: "x y"})
	if in.Text != "abc\uFFFD" {
		t.Errorf("Text = %q, want %q", in.Text, "abc\uFFFD")
	}
	if in.Button != invalidButton {
		t.Errorf("button with a space kept as %q", in.Button)
	}
}

func TestValidButtonID(t *testing.T) {
	for id, want := range map[string]bool{
		"menu:faq": true, "book:slot:centrale:2026-12-01T08.30": true, "": false,
		strings.Repeat("a", 65): false, strings.Repeat("a", 64): true, "a b": false, "è": false, "a/b": false,
	} {
		if got := ValidButtonID(id); got != want {
			t.Errorf("ValidButtonID(%q) = %v, want %v", id, got, want)
		}
	}
}

// FuzzSanitize checks that whatever a channel hands in, the engine sees
// valid, bounded text and either a well-formed button id or the invalid mark.
func FuzzSanitize(f *testing.F) {
	f.Add("ciao", "menu:faq", "user", "it")
	f.Add("\xff\xfe\x00", "\x00", "\xff", "en-GB")
	f.Add(strings.Repeat("x", 5000), strings.Repeat("y", 70), "u", "")
	f.Fuzz(func(t *testing.T, text, button, user, hint string) {
		in, _ := sanitize(Inbound{Text: text, Button: button, Conv: Conversation{Channel: "c", User: user}, LangHint: hint})
		if !utf8.ValidString(in.Text) || len(in.Text) > MaxTextBytes {
			t.Fatalf("Text %q: valid=%v len=%d", in.Text, utf8.ValidString(in.Text), len(in.Text))
		}
		if !utf8.ValidString(in.Conv.User) || len(in.Conv.User) > MaxUserIDBytes {
			t.Fatalf("User %q not cleaned", in.Conv.User)
		}
		if in.Button != "" && in.Button != invalidButton && !ValidButtonID(in.Button) {
			t.Fatalf("Button %q passed sanitize", in.Button)
		}
		for _, r := range in.Text {
			if r < 0x20 && r != '\n' && r != '\t' {
				t.Fatalf("control character %U kept in %q", r, in.Text)
			}
		}
	})
}
