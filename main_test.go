package main

// End-to-end tests: they build the sportello binary once and run it as its
// own process, as an operator or a script would.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sportello/bot/store/redistest"
)

// binary is the sportello binary under test, fakeBinary the fake Telegram
// Bot API server (channels/telegram/internal/fakeapi/cmd/fakebotapi).
var binary, fakeBinary string

// testPIIKey stands in for SPORTELLO_PII_KEY where the store cannot
// generate one (it is down at start).
const testPIIKey = "0123456789abcdef0123456789abcdef"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sportello-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sportello")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sportello: %v\n%s", err, out)
		os.Exit(1)
	}
	fakeBinary = filepath.Join(dir, "fakebotapi")
	build = exec.Command("go", "build", "-o", fakeBinary, "./channels/telegram/internal/fakeapi/cmd/fakebotapi")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build fakebotapi: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sportello returns a command running the binary with only the given
// environment (plus PATH and HOME), in a fresh working directory.
func sportello(t *testing.T, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

type chatLine struct {
	Push    bool `json:"-"`
	Replies []struct {
		Text    string `json:"text"`
		Buttons []struct {
			ID    string `json:"id"`
			Label string `json:"label"`
		} `json:"buttons"`
		Attachments []struct {
			Name        string `json:"name"`
			ContentType string `json:"content_type"`
		} `json:"attachments"`
	} `json:"replies"`
	Error string `json:"error"`
}

func (l chatLine) text() string {
	var b strings.Builder
	for _, r := range l.Replies {
		b.WriteString(r.Text + "\n")
	}
	return b.String()
}

// chatJSON runs `sportello chat --json` over the input lines and returns
// one parsed output line per input line.
func chatJSON(t *testing.T, env map[string]string, input []string, args ...string) []chatLine {
	t.Helper()
	cmd := sportello(t, env, append([]string{"chat", "--json"}, args...)...)
	cmd.Stdin = strings.NewReader(strings.Join(input, "\n") + "\n")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sportello chat --json: %v\nstderr:\n%s", err, stderr.String())
	}
	var lines []chatLine
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l chatLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != len(input) {
		t.Fatalf("%d input lines gave %d output lines:\n%s\nstderr:\n%s", len(input), len(lines), out, stderr.String())
	}
	return lines
}

func TestChatJSONWithNothingConfigured(t *testing.T) {
	lines := chatJSON(t, nil, []string{
		"buongiorno",
		`{"button":"menu:faq"}`,
		"english",
		`{"text":"help"}`,
		`{"button":"lang:it"}`,
		"",
		`{"broken`,
	})
	if !strings.Contains(lines[0].text(), "Comune di Esempio") || len(lines[0].Replies[0].Buttons) != 5 {
		t.Errorf("greeting = %+v, want the demo Comune and a five-entry menu", lines[0])
	}
	if !strings.Contains(lines[2].text(), "English") {
		t.Errorf("after 'english': %q", lines[2].text())
	}
	if !strings.Contains(lines[3].text(), "“menu”") {
		t.Errorf("English help: %q", lines[3].text())
	}
	if !strings.Contains(lines[4].text(), "italiano") {
		t.Errorf("after lang:it: %q", lines[4].text())
	}
	if lines[6].Error == "" {
		t.Errorf("a broken JSON line gave no error: %+v", lines[6])
	}
}

func TestChatRemembersAcrossRuns(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"SPORTELLO_DATA_DIR": data}
	chatJSON(t, env, []string{"ciao", "english"}, "--user", "mario")
	lines := chatJSON(t, env, []string{"menu"}, "--user", "mario")
	if !strings.Contains(lines[0].text(), "What would you like to do?") {
		t.Errorf("second run forgot the language: %q", lines[0].text())
	}
	lines = chatJSON(t, env, []string{"menu"}, "--user", "anna", "--lang", "en")
	if !strings.Contains(lines[0].text(), "Hello!") {
		t.Errorf("--lang en for a new user: %q", lines[0].text())
	}
}

func TestChatOnRedis(t *testing.T) {
	url := redistest.URL(t)
	env := map[string]string{"REDIS_URL": url, "SPORTELLO_REDIS_PREFIX": redistest.Prefix(t, url)}
	chatJSON(t, env, []string{"hello"}, "--user", "r1")
	lines := chatJSON(t, env, []string{"menu"}, "--user", "r1")
	if !strings.Contains(lines[0].text(), "What would you like to do?") {
		t.Errorf("Redis did not keep the conversation: %q", lines[0].text())
	}
}

// TestSeveralProcessesShareOneConversation runs chat processes concurrently
// for the same citizen on one Redis: every turn is recorded once.
func TestSeveralProcessesShareOneConversation(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	env := map[string]string{"REDIS_URL": url, "SPORTELLO_REDIS_PREFIX": prefix}
	const procs, perProc = 4, 25
	input := make([]string, perProc)
	for i := range input {
		input[i] = fmt.Sprintf("messaggio %d", i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// t.Fatal must not be called from another goroutine: report.
			cmd := sportello(t, env, "chat", "--json", "--user", "shared")
			cmd.Stdin = strings.NewReader(strings.Join(input, "\n") + "\n")
			out, err := cmd.Output()
			if err != nil {
				errs <- err
				return
			}
			if got := strings.Count(string(out), "\n"); got != len(input) {
				errs <- fmt.Errorf("%d input lines gave %d output lines", len(input), got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("chat process: %v", err)
	}
	opts, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	raw, err := rdb.HGet(context.Background(), prefix+":{console:shared}:session", "d").Result()
	if err != nil {
		t.Fatalf("read session: %v", err)
	}
	var sess struct{ Turns int }
	if err := json.Unmarshal([]byte(raw), &sess); err != nil {
		t.Fatal(err)
	}
	if sess.Turns != procs*perProc {
		t.Errorf("session recorded %d turns, want %d", sess.Turns, procs*perProc)
	}
}

func TestChatRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"chat", "--lang", "de"}, {"chat", "--nope"}, {"frobnicate"}} {
		cmd := sportello(t, nil, args...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("sportello %v succeeded: %s", args, out)
		}
	}
}

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SPORTELLO_LOG_FORMAT": "xml"}, "SPORTELLO_LOG_FORMAT"},
		{map[string]string{"REDIS_URL": "localhost:6379"}, "REDIS_URL"},
		{map[string]string{"SPORTELLO_COMUNE": "/nonexistent/comune.yaml"}, "SPORTELLO_COMUNE"},
	}
	for _, tc := range tests {
		cmd := sportello(t, tc.env, "chat", "--json")
		cmd.Stdin = strings.NewReader("ciao\n")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("env %v: err=%v output %q, want a failure naming %s", tc.env, err, out, tc.want)
		}
	}
}

func TestInvalidComuneFileNamesTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "comune.yaml")
	os.WriteFile(path, []byte("name: X\nfees: {cie: \"22.21\", cie_duplicate: \"27.37\"}\nnon_residents: perhaps\noffices: []\n"), 0o600)
	cmd := sportello(t, map[string]string{"SPORTELLO_COMUNE": path}, "chat", "--json")
	cmd.Stdin = strings.NewReader("ciao\n")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "line 3") || !strings.Contains(string(out), "non_residents") {
		t.Errorf("invalid Comune file: err=%v output %q", err, out)
	}
}

func TestExampleComuneFileRuns(t *testing.T) {
	abs, _ := filepath.Abs(filepath.Join("deploy", "comune.example.yaml"))
	lines := chatJSON(t, map[string]string{"SPORTELLO_COMUNE": abs}, []string{"ciao"})
	if !strings.Contains(lines[0].text(), "Comune di Esempio") {
		t.Errorf("greeting = %q", lines[0].text())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// service starts `sportello` (serve) and waits until /healthz answers.
func service(t *testing.T, env map[string]string) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	addr := freePort(t)
	if env == nil {
		env = map[string]string{}
	}
	cmd, logs := serviceOn(t, addr, env)
	return cmd, "http://" + addr, logs
}

// serviceOn starts `sportello` (serve) with env on addr and waits until
// /healthz answers.
func serviceOn(t *testing.T, addr string, env map[string]string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	env["SPORTELLO_ADDR"] = addr
	cmd := sportello(t, env)
	logs := &strings.Builder{}
	cmd.Stderr = &lockedWriter{w: logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return cmd, logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not answer on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM = %v, want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20s of SIGTERM")
	}
}

func TestServiceWithNothingConfigured(t *testing.T) {
	cmd, base, logs := service(t, nil)
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Errorf("GET /readyz = %d %s", code, body)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics = %d", code)
	}
	stop(t, cmd)
	if !strings.Contains(logs.String(), "go run . chat") {
		t.Errorf("logs do not tell a new user how to chat:\n%s", logs.String())
	}
}

func TestServiceJSONLogs(t *testing.T) {
	down := redistest.Start(t)
	down.Stop()
	for name, env := range map[string]map[string]string{
		"embedded store": {"SPORTELLO_LOG_FORMAT": "json"},
		// go-redis logs dial failures itself: they must come out as JSON too.
		"redis down": {"SPORTELLO_LOG_FORMAT": "json", "REDIS_URL": down.URL() + "?dial_timeout=100ms&max_retries=1", "SPORTELLO_PII_KEY": testPIIKey},
	} {
		t.Run(name, func(t *testing.T) {
			cmd, base, logs := service(t, env)
			get(t, base+"/readyz")
			stop(t, cmd)
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if !json.Valid([]byte(l)) {
					t.Errorf("log line is not JSON: %q", l)
				}
			}
		})
	}
}

// TestServiceRedisOutage starts the service against a Redis that is down:
// it runs, /readyz says 503, and once Redis is up /readyz says 200.
func TestServiceRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	cmd, base, logs := service(t, map[string]string{"REDIS_URL": srv.URL() + "?dial_timeout=200ms&max_retries=1", "SPORTELLO_PII_KEY": testPIIKey})
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Errorf("GET /readyz with Redis down = %d, want 503", code)
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get(t, base+"/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still not 200 after Redis came back\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop(t, cmd)
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("logs mention a panic:\n%s", logs.String())
	}
}

func TestChatWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	lines := chatJSON(t, map[string]string{"REDIS_URL": srv.URL() + "?dial_timeout=200ms&max_retries=1", "SPORTELLO_PII_KEY": testPIIKey}, []string{"ciao", "menu"})
	for _, l := range lines {
		if l.Error == "" || !strings.Contains(l.text(), "problema tecnico") {
			t.Errorf("turn with Redis down = %+v, want an apology and an error", l)
		}
	}
}

func TestEmbeddedStoreInUse(t *testing.T) {
	data := t.TempDir()
	cmd, _, _ := service(t, map[string]string{"SPORTELLO_DATA_DIR": data})
	chat := sportello(t, map[string]string{"SPORTELLO_DATA_DIR": data}, "chat", "--json")
	chat.Stdin = strings.NewReader("ciao\n")
	out, err := chat.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another Sportello process") {
		t.Errorf("second process on the same data dir: err=%v %q", err, out)
	}
	stop(t, cmd)
}

// TestChatAnswersCIEQuestions asks the built binary what a new citizen
// would, in both languages, by free text and by buttons.
func TestChatAnswersCIEQuestions(t *testing.T) {
	lines := chatJSON(t, nil, []string{
		"quanto costa la carta d'identità?",
		`{"button":"menu:faq"}`,
		`{"button":"faq:cat.documents"}`,
		`{"button":"faq:docs_loss"}`,
		"quando scade la mia carta?",
		"12/03/1980",
		"5 maggio 2019",
		"la mia carta cartacea è ancora valida?",
		"english",
		"how much is the ID card?",
		"Wie viel kostet der Ausweis?",
	})
	want := []string{"22,21 €", "Documenti da portare", "Carta persa", "denuncia", "data di nascita", "rilasciata",
		"il 12 marzo 2030", "dal 3 agosto 2026", "English", "€22.21", "Sorry, I only speak Italian and English"}
	for i, w := range want {
		got := lines[i].text()
		for _, r := range lines[i].Replies {
			for _, b := range r.Buttons {
				got += "\n" + b.Label
			}
		}
		if !strings.Contains(got, w) {
			t.Errorf("Got(reply %d) = %q, want %q in it", i, got, w)
		}
	}
}

// TestChatAnswersWithTheComuneFile: the same build answers with another
// Comune's fees and offices.
func TestChatAnswersWithTheComuneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "comune.yaml")
	file := `name: Comune di Prova
fees: {cie: "25.00", cie_duplicate: "30.00"}
non_residents: not_allowed
offices:
  - {id: unico, name: Ufficio unico, address: Piazza Grande 1, slot_minutes: 20, desks: 1, hours: {monday: ["09:00-12:00"]}}
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := chatJSON(t, map[string]string{"SPORTELLO_COMUNE": path}, []string{
		"quanto costa?", "dove siete? orari?", "non sono residente, posso fare la carta da voi?",
	})
	for i, w := range []string{"25,00 €", "Piazza Grande 1", "solo ai propri residenti"} {
		if !strings.Contains(lines[i].text(), w) {
			t.Errorf("Got(reply %d) = %q, want %q in it", i, lines[i].text(), w)
		}
	}
}

func TestRedisDownAtStartWithoutPIIKeyNamesTheVariable(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	cmd := sportello(t, map[string]string{"REDIS_URL": srv.URL() + "?dial_timeout=200ms&max_retries=1"}, "chat", "--json")
	cmd.Stdin = strings.NewReader("ciao\n")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "SPORTELLO_PII_KEY") {
		t.Errorf("err=%v output %q, want a failure naming SPORTELLO_PII_KEY", err, out)
	}
}

// chatProcess is a running `sportello chat --json` for one citizen.
type chatProcess struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan chatLine
	cmd   *exec.Cmd
}

func startChat(t *testing.T, env map[string]string, user string) *chatProcess {
	t.Helper()
	cmd := sportello(t, env, "chat", "--json", "--user", user)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &chatProcess{t: t, stdin: stdin, lines: make(chan chatLine, 16), cmd: cmd}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l chatLine
			var push struct {
				Push *json.RawMessage `json:"push"`
			}
			if json.Unmarshal(sc.Bytes(), &push) == nil && push.Push != nil {
				var r struct {
					Text    string `json:"text"`
					Buttons []struct {
						ID    string `json:"id"`
						Label string `json:"label"`
					} `json:"buttons"`
				}
				json.Unmarshal(*push.Push, &r)
				l.Push = true
				l.Replies = append(l.Replies, struct {
					Text    string `json:"text"`
					Buttons []struct {
						ID    string `json:"id"`
						Label string `json:"label"`
					} `json:"buttons"`
					Attachments []struct {
						Name        string `json:"name"`
						ContentType string `json:"content_type"`
					} `json:"attachments"`
				}{Text: r.Text, Buttons: r.Buttons})
			} else if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("stdout line %q is not JSON", sc.Text())
				return
			}
			c.lines <- l
		}
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		c.cmd.Wait()
	})
	return c
}

// say sends one input line and returns its one output line.
func (c *chatProcess) say(line string) chatLine {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
	return c.next(false)
}

func (c *chatProcess) next(push bool) chatLine {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatal("chat process ended")
		}
		if l.Push != push {
			c.t.Fatalf("got push=%v line %+v, want push=%v", l.Push, l, push)
		}
		return l
	case <-time.After(30 * time.Second):
		c.t.Fatalf("no output within 30s (waiting for push=%v)", push)
	}
	return chatLine{}
}

func (l chatLine) buttons() []string {
	var ids []string
	for _, r := range l.Replies {
		for _, b := range r.Buttons {
			ids = append(ids, b.ID)
		}
	}
	return ids
}

func press(id string) string { return `{"button":"` + id + `"}` }

// oneSlotComune writes a Comune file whose calendar holds a single place,
// three days from now, with waitlist offers at any hour (the tests run at
// any time of day), and returns its path.
func oneSlotComune(t *testing.T) string {
	t.Helper()
	day := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	path := filepath.Join(t.TempDir(), "comune.yaml")
	err := os.WriteFile(path, []byte(`name: Comune di Prova
fees: {cie: "22.21", cie_duplicate: "27.37"}
booking: {horizon_days: 30, min_notice_hours: 2, confirm_days_before: 0, waitlist_offer_hours: "00:00-24:00"}
offices:
  - id: unica
    name: Sede unica
    address: Via Roma 1
    slot_minutes: 30
    desks: 1
    openings:
      - {date: `+day+`, hours: ["09:00-09:30"]}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWaitlistOfferIsPushedToTheWaitingChat: two citizens in two chat
// processes on one Redis; the second joins the waitlist for the only slot;
// when the first cancels, the second's terminal prints the offer as a push
// line, and accepting it books the slot.
func TestWaitlistOfferIsPushedToTheWaitingChat(t *testing.T) {
	url := redistest.URL(t)
	comuneFile := oneSlotComune(t)
	env := map[string]string{"REDIS_URL": url, "SPORTELLO_REDIS_PREFIX": redistest.Prefix(t, url), "SPORTELLO_COMUNE": comuneFile}

	a := startChat(t, env, "a")
	a.say("ciao")
	a.say(press("menu:book"))
	days := a.say(press("book:reason:renewal")).buttons()
	if len(days) == 0 || !strings.HasPrefix(days[0], "book:slot:") {
		t.Fatalf("day buttons = %v, want the only slot first", days)
	}
	a.say(press(days[0]))
	a.say("Mario Rossi RSSMRA80A01H501U")
	a.say(press("book:res:yes")) // asked under non_residents: allowed too
	if got := a.say(press("book:confirm")).text(); !strings.Contains(got, "prenotato") {
		t.Fatalf("booking A: %q", got)
	}

	b := startChat(t, env, "b")
	b.say("ciao")
	b.say(press("menu:book"))
	if ids := b.say(press("book:reason:renewal")).buttons(); len(ids) != 1 || ids[0] != "book:wait" {
		t.Fatalf("with the only slot taken, buttons = %v, want book:wait", ids)
	}
	b.say(press("book:wait"))
	b.say("Anna Bianchi BNCNNA85M41F205Q")
	b.say(press("book:res:yes"))
	if got := b.say(press("book:confirm")).text(); !strings.Contains(got, "lista d'attesa") {
		t.Fatalf("waitlist B: %q", got)
	}

	list := a.say(press("menu:appointments")).buttons()
	a.say(press(list[len(list)-1])) // cancel
	a.say(press("appointments:cancel:yes"))

	offer := b.next(true)
	var accept string
	for _, id := range offer.buttons() {
		if strings.HasPrefix(id, "appt:accept:") {
			accept = id
		}
	}
	if accept == "" {
		t.Fatalf("offer push %+v has no accept button", offer)
	}
	if got := b.say(press(accept)).text(); !strings.Contains(got, "09:00") {
		t.Errorf("accepting the offer: %q", got)
	}
}

func TestExplainArgumentsAndInput(t *testing.T) {
	var out, errs strings.Builder
	if code := run(context.Background(), []string{"explain", "--lang", "en", "how much is it?"}, os.Getenv, strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("explain exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "=> answers cost (Cost)") {
		t.Errorf("Got(explain) =\n%s\nwant the cost topic, labelled in English", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"explain"}, os.Getenv, strings.NewReader("ho perso la carta\n\nquanto costa?\n"), &out, &errs); code != 0 {
		t.Fatalf("explain exit %d: %s", code, errs.String())
	}
	if got := strings.Count(out.String(), "=> "); got != 2 {
		t.Errorf("Got(verdicts for two lines of input) = %d, want 2:\n%s", got, out.String())
	}
	if code := run(context.Background(), []string{"explain", "--lang", "de", "x"}, os.Getenv, strings.NewReader(""), &out, &errs); code != 2 {
		t.Errorf("explain --lang de exit = %d, want 2", code)
	}
}
