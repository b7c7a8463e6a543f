package bot

import (
	"fmt"
	"io/fs"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Command is a global command the citizen can give at any step.
type Command string

// Global commands.
const (
	CmdNone     Command = ""
	CmdStart    Command = "start"
	CmdMenu     Command = "menu"
	CmdHelp     Command = "help"
	CmdLanguage Command = "language" // show the language choice
	CmdItalian  Command = "italian"  // switch to Italian
	CmdEnglish  Command = "english"  // switch to English
	CmdCancel   Command = "cancel"
	CmdOperator Command = "operator"
)

// Vocabulary is what citizens type for global commands and greetings, and the
// words that tell Italian from English. It lives in locales/vocabulary.yaml.
type Vocabulary struct {
	Commands map[Command]struct {
		Slash []string `yaml:"slash"`
		IT    []string `yaml:"it"`
		EN    []string `yaml:"en"`
	} `yaml:"commands"`
	// MenuSlash maps slash commands to main menu entries (/prenota -> book).
	MenuSlash map[string][]string `yaml:"menu_slash"`
	Greetings struct {
		IT []string `yaml:"it"`
		EN []string `yaml:"en"`
	} `yaml:"greetings"`
	LanguageWords struct {
		IT []string `yaml:"it"`
		EN []string `yaml:"en"`
	} `yaml:"language_words"`

	phrases  map[string]Command // normalised phrase -> command
	slash    map[string]Command // "/name" -> command
	menu     map[string]string  // "/name" -> menu entry
	greetIT  map[string]bool
	greetEN  map[string]bool
	wordsIT  map[string]bool
	wordsEN  map[string]bool
	greetMax int // longest greeting, in words
}

// LoadVocabulary reads vocabulary.yaml from the locale files.
func LoadVocabulary(fsys fs.FS) (*Vocabulary, error) {
	data, err := fs.ReadFile(fsys, "vocabulary.yaml")
	if err != nil {
		return nil, fmt.Errorf("vocabulary: %w", err)
	}
	var v Vocabulary
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("vocabulary.yaml: %w", err)
	}
	v.phrases = map[string]Command{}
	v.slash = map[string]Command{}
	v.menu = map[string]string{}
	for cmd, words := range v.Commands {
		for _, w := range words.Slash {
			v.slash["/"+strings.ToLower(w)] = cmd
		}
		for _, w := range append(append([]string{}, words.IT...), words.EN...) {
			p := Normalize(w)
			if prev, dup := v.phrases[p]; dup && prev != cmd {
				return nil, fmt.Errorf("vocabulary.yaml: %q means both %s and %s", w, prev, cmd)
			}
			v.phrases[p] = cmd
		}
	}
	for entry, names := range v.MenuSlash {
		for _, n := range names {
			v.menu["/"+strings.ToLower(n)] = entry
		}
	}
	set := func(words []string) map[string]bool {
		m := map[string]bool{}
		for _, w := range words {
			m[Normalize(w)] = true
		}
		return m
	}
	v.greetIT, v.greetEN = set(v.Greetings.IT), set(v.Greetings.EN)
	v.wordsIT, v.wordsEN = set(v.LanguageWords.IT), set(v.LanguageWords.EN)
	for g := range v.greetIT {
		v.greetMax = max(v.greetMax, len(strings.Fields(g)))
	}
	for g := range v.greetEN {
		v.greetMax = max(v.greetMax, len(strings.Fields(g)))
	}
	return &v, nil
}

// Command recognises a global command: a slash command (with an optional
// @botname suffix, as Telegram sends in groups) or a whole message that is one
// of the command's phrases. Commands inside a longer sentence are not
// commands: "come annullo un appuntamento?" is a question, not "cancel".
func (v *Vocabulary) Command(text string) Command {
	if cmd, ok := v.slash[slashName(text)]; ok {
		return cmd
	}
	return v.phrases[Normalize(text)]
}

// MenuEntry returns the main menu entry a slash command opens ("/prenota" ->
// "book"), or "".
func (v *Vocabulary) MenuEntry(text string) string { return v.menu[slashName(text)] }

// slashName returns "/name" for "/Name@SportelloBot args", or "".
func slashName(text string) string {
	if !strings.HasPrefix(text, "/") {
		return ""
	}
	name, _, _ := strings.Cut(text, " ")
	name, _, _ = strings.Cut(name, "@")
	return strings.ToLower(name)
}

// IsGreeting reports whether text is only a greeting ("buongiorno!", "hi
// there"), with nothing asked.
func (v *Vocabulary) IsGreeting(text string) bool {
	n := Normalize(text)
	if n == "" {
		return false
	}
	if v.greetIT[n] || v.greetEN[n] {
		return true
	}
	// "ciao sportello", "hello there": a greeting plus one filler word.
	words := strings.Fields(n)
	if len(words) <= v.greetMax+1 {
		for i := len(words) - 1; i > 0; i-- {
			head := strings.Join(words[:i], " ")
			if v.greetIT[head] || v.greetEN[head] {
				return len(words)-i <= 1
			}
		}
	}
	return false
}

// DetectLanguage guesses whether text is Italian or English. It returns "" when
// the text gives no clear sign (numbers, "ok", a fiscal code, an emoji).
func (v *Vocabulary) DetectLanguage(text string) string {
	it, en := 0, 0
	n := Normalize(text)
	words := strings.Fields(n)
	for i, w := range words {
		if v.wordsIT[w] {
			it++
		}
		if v.wordsEN[w] {
			en++
		}
		if v.greetIT[w] {
			it += 2
		}
		if v.greetEN[w] {
			en += 2
		}
		if i+1 < len(words) {
			pair := w + " " + words[i+1]
			if v.greetIT[pair] {
				it += 2
			}
			if v.greetEN[pair] {
				en += 2
			}
		}
	}
	switch {
	case it > en && it >= 1 && (en == 0 || it >= 2*en):
		return "it"
	case en > it && en >= 1 && (it == 0 || en >= 2*it):
		return "en"
	}
	return ""
}

// Normalize lowers case, removes accents and punctuation and folds spaces, so
// that "Perché??  " and "perche" compare equal. Digits are kept.
func Normalize(s string) string {
	folded := s
	if !isASCII(s) {
		t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
		if f, _, err := transform.String(t, s); err == nil {
			folded = f
		}
	}
	var b strings.Builder
	b.Grow(len(folded))
	space := true
	for _, r := range strings.ToLower(folded) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
			space = false
		case r == '\'' || r == '’':
			// l'identità -> l identita: apostrophes separate words in Italian.
			fallthrough
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	return strings.TrimSpace(b.String())
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
