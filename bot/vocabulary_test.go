package bot_test

import (
	"testing"
	"unicode/utf8"

	"sportello/bot"
	"sportello/locales"
)

func vocabulary(t testing.TB) *bot.Vocabulary {
	t.Helper()
	v, err := bot.LoadVocabulary(locales.FS())
	if err != nil {
		t.Fatalf("LoadVocabulary = %v", err)
	}
	return v
}

func TestDetectLanguage(t *testing.T) {
	v := vocabulary(t)
	tests := map[string]string{
		"hello":                             "en",
		"Hi!":                               "en",
		"good morning":                      "en",
		"buongiorno":                        "it",
		"Buonasera, vorrei informazioni":    "it",
		"ciao":                              "it",
		"how much does the card cost?":      "en",
		"quanto costa la carta d'identità?": "it",
		"I lost my identity card":           "en",
		"ho perso la carta":                 "it",
		"quanto costa la carta, please":     "it",
		"ok":                                "",
		"RSSMRA80A01H501U":                  "",
		"12/03/1980":                        "",
		"🙂":                                 "",
		"":                                  "",
		"Guten Tag, ich habe meinen Ausweis verloren": "",
	}
	for text, want := range tests {
		if got := v.DetectLanguage(text); got != want {
			t.Errorf("DetectLanguage(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestCommand(t *testing.T) {
	v := vocabulary(t)
	tests := map[string]bot.Command{
		"menu": bot.CmdMenu, "Menù": bot.CmdMenu, "/menu": bot.CmdMenu, "/start": bot.CmdStart,
		"/START@SportelloBot": bot.CmdStart, "aiuto": bot.CmdHelp, "Help?": bot.CmdHelp,
		"/lingua": bot.CmdLanguage, "/language": bot.CmdLanguage, "english": bot.CmdEnglish,
		"English please": bot.CmdEnglish, "italiano": bot.CmdItalian, "annulla": bot.CmdCancel,
		"/annulla": bot.CmdCancel, "operatore": bot.CmdOperator, "talk to a person": bot.CmdOperator,
		"come annullo un appuntamento": bot.CmdNone, "voglio il menu del ristorante": bot.CmdNone,
		"": bot.CmdNone, "/nosuch": bot.CmdNone,
	}
	for text, want := range tests {
		if got := v.Command(text); got != want {
			t.Errorf("Command(%q) = %q, want %q", text, got, want)
		}
	}
	if got := v.MenuEntry("/prenota"); got != "book" {
		t.Errorf("MenuEntry(/prenota) = %q, want book", got)
	}
}

func TestIsGreeting(t *testing.T) {
	v := vocabulary(t)
	for text, want := range map[string]bool{
		"ciao": true, "Buongiorno!": true, "hello there": true, "ciao sportello": true, "good morning": true,
		"ciao, quanto costa la carta?": false, "hello, I lost my card": false, "": false, "carta": false,
	} {
		if got := v.IsGreeting(text); got != want {
			t.Errorf("IsGreeting(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := map[string]string{
		"Perché??  ":          "perche",
		"L'identità":          "l identita",
		"CARTA  d’Identità!!": "carta d identita",
		"già\tscaduta\n":      "gia scaduta",
		"RSSMRA80A01H501U":    "rssmra80a01h501u",
		"":                    "",
		"🙂🙂":                  "",
		"Ñandú":               "nandu",
	}
	for in, want := range tests {
		if got := bot.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDetectLanguage(f *testing.F) {
	v := vocabulary(f)
	for _, s := range []string{"hello", "buongiorno", "ho perso la carta", "\xff\xfe", "l'identità", "/start@bot x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		switch got := v.DetectLanguage(s); got {
		case "", "it", "en":
		default:
			t.Fatalf("DetectLanguage(%q) = %q", s, got)
		}
		n := bot.Normalize(s)
		if !utf8.ValidString(n) && utf8.ValidString(s) {
			t.Fatalf("Normalize(%q) = %q is not valid UTF-8", s, n)
		}
		if bot.Normalize(n) != n {
			t.Fatalf("Normalize is not idempotent on %q: %q then %q", s, n, bot.Normalize(n))
		}
		v.Command(s)
		v.IsGreeting(s)
	})
}
