package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"sportello/bot"
	"sportello/bot/locale"
	"sportello/bot/store/boltstore"
	"sportello/channels/console"
	"sportello/locales"
)

func engine(t *testing.T) (*bot.Engine, *locale.Catalog) {
	t.Helper()
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cat, err := locale.Load(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	vocab, err := bot.LoadVocabulary(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	e, err := bot.New(bot.Config{Store: s, Catalog: cat, Vocabulary: vocab, Office: "Comune di Prova"})
	if err != nil {
		t.Fatal(err)
	}
	return e, cat
}

type line struct {
	Replies []struct {
		Text        string       `json:"text"`
		Buttons     []bot.Button `json:"buttons"`
		Attachments []struct {
			Name        string `json:"name"`
			ContentType string `json:"content_type"`
		} `json:"attachments"`
	} `json:"replies"`
	Push  *json.RawMessage `json:"push"`
	Error string           `json:"error"`
}

func runJSON(t *testing.T, input string, opts console.Options) []line {
	t.Helper()
	e, _ := engine(t)
	var out strings.Builder
	opts.JSON = true
	c := console.New(e, strings.NewReader(input), &out, opts)
	if err := c.Run(context.Background()); err != nil {
		t.Fatalf("Run = %v", err)
	}
	var lines []line
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("output line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

func TestJSONOneLineInOneLineOut(t *testing.T) {
	inputs := []string{
		"ciao",
		`{"text":"english"}`,
		`{"button":"menu:faq"}`,
		"",
		"   ",
		`{"text":`,
		`{"text":"a","button":"b"}`,
		`{"nope":1}`,
		`{}`,
		`{"text":"a"} {"text":"b"}`,
		strings.Repeat("x", 2<<20), // longer than MaxLineBytes
		"\xff\xfe",
		`{"button":"../../etc/passwd"}`,
		"/frobnicate",
		`{"button":"lang:it"}`,
	}
	lines := runJSON(t, strings.Join(inputs, "\n")+"\n", console.Options{})
	if len(lines) != len(inputs) {
		t.Fatalf("%d input lines gave %d output lines, want exactly one each", len(inputs), len(lines))
	}
	for i, l := range lines {
		if l.Replies == nil {
			t.Errorf("line %d (%.40q): no replies array", i, inputs[i])
		}
		if len(l.Replies) == 0 && l.Error == "" {
			t.Errorf("line %d (%.40q): neither a reply nor an error", i, inputs[i])
		}
	}
	for _, i := range []int{5, 6, 7, 8, 9} {
		if lines[i].Error == "" {
			t.Errorf("malformed input %q gave no error", inputs[i])
		}
	}
	if len(lines[0].Replies[0].Buttons) == 0 {
		t.Error("the greeting has no menu buttons")
	}
}

func TestJSONLastLineWithoutNewline(t *testing.T) {
	if lines := runJSON(t, "ciao\nmenu", console.Options{}); len(lines) != 2 {
		t.Errorf("got %d lines, want 2", len(lines))
	}
}

func TestLangAndUserFlags(t *testing.T) {
	e, cat := engine(t)
	var out strings.Builder
	c := console.New(e, strings.NewReader("buongiorno\n"), &out, console.Options{JSON: true, Lang: "en", User: "alice"})
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(cat.Text("en", "greeting.first", map[string]any{"Office": "Comune di Prova"}))
	if !strings.Contains(out.String(), strings.Trim(string(want), `"`)) {
		t.Errorf("--lang en did not answer in English: %s", out.String())
	}
	// Another user is another conversation: greeted as new.
	var out2 strings.Builder
	c2 := console.New(e, strings.NewReader("buongiorno\n"), &out2, console.Options{JSON: true, User: "bob"})
	if err := c2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out2.String(), "Buongiorno! Sono Sportello") {
		t.Errorf("user bob was not greeted in Italian: %s", out2.String())
	}
}

func TestLangFlagDoesNotUndoASwitch(t *testing.T) {
	e, cat := engine(t)
	var out strings.Builder
	c := console.New(e, strings.NewReader("ciao\nitaliano\nmenu\n"), &out, console.Options{JSON: true, Lang: "en"})
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want, _ := json.Marshal(cat.Text("it", "menu.prompt", nil))
	if len(lines) != 3 || !strings.Contains(lines[2], strings.Trim(string(want), `"`)) {
		t.Errorf("after --lang en and \"italiano\", \"menu\" = %s, want the Italian menu", lines[len(lines)-1])
	}
}

func TestPushLines(t *testing.T) {
	e, _ := engine(t)
	pr, pw := io.Pipe()
	var out strings.Builder
	c := console.New(e, pr, &out, console.Options{JSON: true, User: "alice"})
	done := make(chan error)
	go func() { done <- c.Run(context.Background()) }()
	err := c.Push(context.Background(), c.Conversation(), []bot.Reply{{Text: "reminder", Buttons: []bot.Button{{ID: "x:y", Label: "Y"}}}})
	if err != nil {
		t.Fatalf("Push = %v", err)
	}
	if err := c.Push(context.Background(), bot.Conversation{Channel: "console", User: "bob"}, []bot.Reply{{Text: "not for alice"}}); err == nil {
		t.Error("Push for another user succeeded")
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := `{"push":{"text":"reminder","buttons":[{"id":"x:y","label":"Y"}],"attachments":[]}}` + "\n"
	if out.String() != want {
		t.Errorf("push output = %q, want %q", out.String(), want)
	}
}

func TestInteractiveNumbersPressButtons(t *testing.T) {
	e, cat := engine(t)
	var out strings.Builder
	// The console greets first; "5" presses the fifth menu entry.
	c := console.New(e, strings.NewReader("5\n\nenglish\n"), &out, console.Options{})
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		cat.Text("it", "greeting.first", map[string]any{"Office": "Comune di Prova"}),
		"[1] " + cat.Text("it", "menu.faq", nil),
		cat.Text("it", "operator.unavailable", map[string]any{"Office": "Comune di Prova"}),
		cat.Text("en", "language.set", nil),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("interactive output lacks %q:\n%s", want, got)
		}
	}
}

func TestParseInput(t *testing.T) {
	tests := []struct {
		line    string
		want    bot.Inbound
		wantErr bool
	}{
		{line: "ciao", want: bot.Inbound{Text: "ciao"}},
		{line: `{"text":"ciao"}`, want: bot.Inbound{Text: "ciao"}},
		{line: ` {"button":"menu:faq"} `, want: bot.Inbound{Button: "menu:faq"}},
		{line: `{"text":""}`, want: bot.Inbound{Text: ""}},
		{line: `{"text":1}`, wantErr: true},
		{line: `{`, wantErr: true},
		{line: `{"text":"a","extra":1}`, wantErr: true},
	}
	for _, tc := range tests {
		got, err := console.ParseInput(tc.line)
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("ParseInput(%q) = %+v, %v; want %+v, error %v", tc.line, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzParseInput(f *testing.F) {
	for _, s := range []string{"ciao", `{"text":"x"}`, `{"button":"menu:faq"}`, `{`, `{"text":"a"}{}`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		in, err := console.ParseInput(line)
		if err == nil && in.Text != "" && in.Button != "" {
			t.Fatalf("ParseInput(%q) gave both text and button", line)
		}
	})
}
