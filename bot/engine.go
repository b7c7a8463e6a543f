package bot

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"sportello/bot/locale"
	"sportello/bot/store"
)

// StateStore is the state backend the engine needs (see package store for
// the contract; storetest checks it).
type StateStore interface {
	Acquire(ctx context.Context, key string, lease time.Duration) (*store.Lease, error)
	Commit(ctx context.Context, l *store.Lease, w store.Write) error
	Release(ctx context.Context, l *store.Lease) error
}

// ErrStopping is returned by Handle once Shutdown has begun.
var ErrStopping = errors.New("engine is shutting down")

// Config wires an Engine. Store, Catalog and Vocabulary are required.
type Config struct {
	Store      StateStore
	Catalog    *locale.Catalog
	Vocabulary *Vocabulary
	Dialogs    []Dialog
	// Understander reads free text; nil means only commands and menus.
	Understander Understander
	// Menu lists the main menu entries in order; each is a dialog name.
	// An entry whose dialog is not registered says so honestly.
	Menu []string
	// Office is the Comune's name, shown in the greeting.
	Office string

	SessionTTL  time.Duration // idle expiry of a conversation; default 30m
	ProfileTTL  time.Duration // how long a silent citizen's profile is kept; default 1 year
	Lease       time.Duration // longest a turn may hold a conversation; default 30s
	TurnTimeout time.Duration // default 20s

	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
	// LogKey keys the conversation tags in logs (an HMAC, so a chat id
	// cannot be recovered from them); a random per-process key when nil.
	LogKey []byte
}

// DefaultMenu is the main menu of the issue that introduced it.
func DefaultMenu() []string {
	return []string{"faq", "book", "appointments", "reminders", "operator"}
}

// Engine routes each inbound message to the active dialog, handles global
// commands at any step and keeps conversation state in the store. Turns of one
// conversation run one at a time and in arrival order; different
// conversations run in parallel.
type Engine struct {
	cfg     Config
	dialogs map[string]Dialog
	serial  serializer
	log     *slog.Logger

	mu       sync.Mutex
	stopping bool
	inflight sync.WaitGroup
}

// New checks cfg and returns an engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Vocabulary == nil {
		return nil, errors.New("bot: Store, Catalog and Vocabulary are required")
	}
	if cfg.Menu == nil {
		cfg.Menu = DefaultMenu()
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.ProfileTTL <= 0 {
		cfg.ProfileTTL = 365 * 24 * time.Hour
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.TurnTimeout <= 0 {
		cfg.TurnTimeout = 20 * time.Second
	}
	if cfg.Lease <= cfg.TurnTimeout {
		return nil, fmt.Errorf("bot: the lease (%s) must be longer than the turn timeout (%s)", cfg.Lease, cfg.TurnTimeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.LogKey) == 0 {
		cfg.LogKey = make([]byte, 32)
		_, _ = rand.Read(cfg.LogKey)
	}
	e := &Engine{cfg: cfg, dialogs: map[string]Dialog{}, log: cfg.Logger}
	for _, d := range cfg.Dialogs {
		name := d.Name()
		if !ValidButtonID(name) || strings.Contains(name, ":") {
			return nil, fmt.Errorf("bot: dialog name %q is not a valid button prefix", name)
		}
		if _, dup := e.dialogs[name]; dup {
			return nil, fmt.Errorf("bot: two dialogs are named %q", name)
		}
		if slices.Contains([]string{"menu", "lang", "cmd", "go"}, name) {
			return nil, fmt.Errorf("bot: dialog name %q is reserved", name)
		}
		e.dialogs[name] = d
	}
	return e, nil
}

// Handle processes one inbound message and returns the replies. On a store
// failure it returns an apology to show the citizen together with the error,
// and nothing of the turn is kept: the citizen can simply send it again.
func (e *Engine) Handle(ctx context.Context, in Inbound) ([]Reply, error) {
	if !e.enter() {
		return nil, ErrStopping
	}
	defer e.inflight.Done()
	start := e.cfg.Now()
	in, cut := sanitize(in)
	if in.Conv.Channel == "" || in.Conv.User == "" {
		return nil, errors.New("bot: inbound message without channel or user")
	}

	unlock := e.serial.lock(in.Conv.Key())
	defer unlock()
	// A turn that has begun finishes even when the caller goes away (the
	// service shutting down): only the turn timeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.TurnTimeout)
	defer cancel()

	replies, outcome, err := e.turn(ctx, in, cut)
	e.cfg.Metrics.observe(in.Conv.Channel, outcome, e.cfg.Now().Sub(start))
	if err != nil {
		e.log.Warn("turn failed", slog.String("conv", e.convHash(in.Conv)), slog.String("outcome", outcome), slog.Any("error", err))
	}
	return replies, err
}

func (e *Engine) enter() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return false
	}
	e.inflight.Add(1)
	return true
}

// Shutdown stops taking new turns and waits for the ones in flight, or for
// ctx. It is safe to call more than once.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// The waiting goroutine ends with the last turn (each is bounded
		// by the turn timeout); at exit nobody waits for it.
		return fmt.Errorf("bot: shutdown: turns still in flight: %w", ctx.Err())
	}
}

func (e *Engine) turn(ctx context.Context, in Inbound, cut bool) ([]Reply, string, error) {
	lease, err := e.cfg.Store.Acquire(ctx, in.Conv.Key(), e.cfg.Lease)
	if err != nil {
		return e.apology(in, "", err), outcomeOf(err), fmt.Errorf("bot: load conversation: %w", err)
	}
	sess, hadSession := decodeSession(lease.Session)
	if in.ID != "" && sess.Last != nil && sess.Last.ID == in.ID {
		// A redelivery of the message this conversation applied last:
		// answer it again, change nothing.
		if err := e.cfg.Store.Release(ctx, lease); err != nil {
			e.log.Warn("release after duplicate", slog.String("conv", e.convHash(in.Conv)), slog.Any("error", err))
		}
		return sess.Last.replies(), "duplicate", nil
	}
	prof, hadProfile := decodeProfile(lease.Profile)
	now := e.cfg.Now()
	if !hadSession {
		sess = Session{Started: now}
	}
	if !hadProfile {
		prof = Profile{FirstSeen: now}
	}
	before, _ := json.Marshal(prof)

	t := &Turn{In: in, Now: now, Session: &sess, Profile: &prof, cat: e.cfg.Catalog}
	t.Lang = e.language(t)
	sess.Turns++
	e.route(ctx, t, !hadSession, !hadProfile, cut)

	sess.Last = nil
	if in.ID != "" {
		sess.Last = newDelivered(in.ID, t.replies)
	}
	w := store.Write{SessionTTL: e.cfg.SessionTTL, ProfileTTL: e.cfg.ProfileTTL}
	w.Session, err = json.Marshal(sess)
	if err != nil {
		_ = e.cfg.Store.Release(ctx, lease)
		return e.apology(in, t.Lang, err), "error", fmt.Errorf("bot: encode session: %w", err)
	}
	// The profile is rewritten when it changed and, to keep its retention
	// running from the last contact, on the first turn of each session.
	if after, _ := json.Marshal(prof); !hadSession || string(after) != string(before) {
		w.Profile = after
	}
	if err := e.cfg.Store.Commit(ctx, lease, w); err != nil {
		// Give the conversation back at once (the release is fenced by
		// the lease token), or the citizen's next message would wait for
		// the lease to run out.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if rerr := e.cfg.Store.Release(rctx, lease); rerr != nil {
			e.log.Warn("release after a failed commit", slog.String("conv", e.convHash(in.Conv)), slog.Any("error", rerr))
		}
		cancel()
		return e.apology(in, t.Lang, err), outcomeOf(err), fmt.Errorf("bot: save conversation: %w", err)
	}
	return t.replies, "ok", nil
}

// apology is what the citizen reads when the turn could not be kept.
func (e *Engine) apology(in Inbound, lang string, err error) []Reply {
	for _, l := range []string{lang, in.Lang, in.LangHint, locale.Italian} {
		if lang = locale.Normalize(l); lang != "" {
			break
		}
	}
	id := "error.unavailable"
	if errors.Is(err, store.ErrBusy) || errors.Is(err, store.ErrLeaseLost) {
		id = "error.busy"
	}
	return []Reply{{Text: e.cfg.Catalog.Text(lang, id, nil)}}
}

func outcomeOf(err error) string {
	switch {
	case errors.Is(err, store.ErrUnavailable):
		return "store_unavailable"
	case errors.Is(err, store.ErrBusy):
		return "busy"
	case errors.Is(err, store.ErrLeaseLost):
		return "lease_lost"
	default:
		return "error"
	}
}

// language decides the turn's language: a choice made in the channel or in
// the conversation always wins;
// otherwise a message clearly in one language, then what the conversation
// already used, then the channel's hint, then Italian.
func (e *Engine) language(t *Turn) string {
	p := t.Profile
	if l := locale.Normalize(t.In.Lang); l != "" {
		p.Lang, p.LangChosen = l, true
		return l
	}
	if p.LangChosen && p.Lang != "" {
		return p.Lang
	}
	if t.In.Text != "" {
		if l := e.cfg.Vocabulary.DetectLanguage(t.In.Text); l != "" {
			p.Lang = l
			return l
		}
	}
	if p.Lang != "" {
		return p.Lang
	}
	if l := locale.Normalize(t.In.LangHint); l != "" {
		p.Lang = l
		return l
	}
	p.Lang = locale.Italian
	return p.Lang
}

// route decides what the message is and who answers it.
func (e *Engine) route(ctx context.Context, t *Turn, newSession, newCitizen, cut bool) {
	in := t.In
	cmd := CmdNone
	if in.Button == "" {
		cmd = e.cfg.Vocabulary.Command(in.Text)
	}
	// A new conversation is greeted with the main menu. A citizen coming
	// back with a button (from a reminder, say) or asking for help gets
	// straight to it: the answer carries what they need.
	if newSession && (newCitizen || (in.Button == "" && cmd != CmdHelp)) {
		// A language switch as the very first message greets in the new
		// language.
		if cmd == CmdItalian || cmd == CmdEnglish {
			e.setLanguage(t, cmd)
		}
		e.greet(t, newCitizen)
		if in.Button == "" && (in.Text == "" || cmd == CmdStart || cmd == CmdMenu || cmd == CmdItalian || cmd == CmdEnglish ||
			e.cfg.Vocabulary.IsGreeting(in.Text)) {
			return
		}
	}
	if cut {
		t.SayT("input.truncated", map[string]any{"Limit": utf8.RuneCountInString(in.Text)})
	}
	switch {
	case in.Button != "":
		e.button(ctx, t)
	case in.Text == "":
		if t.Active() != "" {
			t.SayT("input.empty", nil)
			e.prompt(ctx, t)
		} else {
			t.SayT("input.empty", nil, e.menuButtons(t)...)
		}
	case cmd != CmdNone:
		e.command(ctx, t, cmd)
	case e.cfg.Vocabulary.MenuEntry(in.Text) != "":
		e.openEntry(ctx, t, e.cfg.Vocabulary.MenuEntry(in.Text), "")
	case strings.HasPrefix(in.Text, "/"):
		t.SayT("input.unknown_command", map[string]any{"Command": slashName(in.Text)}, e.menuButtons(t)...)
	case e.cfg.Vocabulary.IsGreeting(in.Text):
		t.Session.Misses = 0
		e.resume(ctx, t)
	default:
		e.text(ctx, t)
	}
}

func (e *Engine) greet(t *Turn, newCitizen bool) {
	id := "greeting.back"
	if newCitizen {
		id = "greeting.first"
	}
	t.SayT(id, map[string]any{"Office": e.cfg.Office}, e.menuButtons(t)...)
}

// menuButtons are the main menu entries as buttons.
func (e *Engine) menuButtons(t *Turn) []Button {
	b := make([]Button, 0, len(e.cfg.Menu))
	for _, entry := range e.cfg.Menu {
		b = append(b, t.Button("menu:"+entry, "menu."+entry, nil))
	}
	return b
}

func (e *Engine) showMenu(t *Turn) {
	t.SayT("menu.prompt", nil, e.menuButtons(t)...)
}

func (e *Engine) command(ctx context.Context, t *Turn, cmd Command) {
	t.Session.Misses = 0
	switch cmd {
	case CmdStart, CmdMenu:
		t.End()
		e.showMenu(t)
	case CmdHelp:
		t.SayT("help.text", nil)
		if t.Active() != "" {
			e.prompt(ctx, t)
		} else {
			e.showMenu(t)
		}
	case CmdLanguage:
		t.SayT("language.prompt", nil,
			Button{ID: "lang:it", Label: t.cat.Text(locale.Italian, "language.name", nil)},
			Button{ID: "lang:en", Label: t.cat.Text(locale.English, "language.name", nil)})
	case CmdItalian, CmdEnglish:
		e.setLanguage(t, cmd)
		t.SayT("language.set", nil)
		e.resume(ctx, t)
	case CmdCancel:
		if name := t.Active(); name != "" {
			t.End()
			t.SayT("cancel.done", nil, e.menuButtons(t)...)
		} else {
			t.SayT("cancel.nothing", nil, e.menuButtons(t)...)
		}
	case CmdOperator:
		e.openEntry(ctx, t, "operator", "")
	}
}

func (e *Engine) setLanguage(t *Turn, cmd Command) {
	t.Lang = locale.Italian
	if cmd == CmdEnglish {
		t.Lang = locale.English
	}
	t.Profile.Lang, t.Profile.LangChosen = t.Lang, true
}

// resume asks the active flow's question again, or shows the menu.
func (e *Engine) resume(ctx context.Context, t *Turn) {
	if t.Active() != "" {
		e.prompt(ctx, t)
		return
	}
	e.showMenu(t)
}

func (e *Engine) prompt(ctx context.Context, t *Turn) {
	d := e.dialogs[t.Active()]
	if d == nil {
		t.End()
		return
	}
	e.run(t, d, func() error { return d.Prompt(ctx, t) })
}

// button handles a pressed button. Ids are "menu:<entry>", "lang:<it|en>",
// "cmd:<command>", "go:<dialog>:<arg>" (a reading offered by the engine) or
// "<dialog>:<...>" (a dialog's own step buttons).
func (e *Engine) button(ctx context.Context, t *Turn) {
	t.Session.Misses = 0
	prefix, arg, _ := strings.Cut(t.In.Button, ":")
	switch prefix {
	case "menu":
		if slices.Contains(e.cfg.Menu, arg) {
			e.openEntry(ctx, t, arg, "")
			return
		}
	case "lang":
		switch arg {
		case locale.Italian:
			e.command(ctx, t, CmdItalian)
			return
		case locale.English:
			e.command(ctx, t, CmdEnglish)
			return
		}
	case "cmd":
		if cmd := Command(arg); slices.Contains([]Command{CmdMenu, CmdHelp, CmdLanguage, CmdCancel, CmdOperator}, cmd) {
			e.command(ctx, t, cmd)
			return
		}
	case "go":
		name, darg, _ := strings.Cut(arg, ":")
		if d := e.dialogs[name]; d != nil {
			e.startAndResume(ctx, t, d, darg)
			return
		}
		// A reading offered for a menu entry that has no flow yet gets the
		// same honest answer as the entry itself.
		if name == "operator" || slices.Contains(e.cfg.Menu, name) {
			e.openEntry(ctx, t, name, darg)
			return
		}
	default:
		if d := e.dialogs[prefix]; d != nil {
			if t.Active() == prefix {
				err := e.run(t, d, func() error { return d.Continue(ctx, t) })
				if errors.Is(err, ErrStale) || errors.Is(err, ErrNotUnderstood) {
					e.stale(ctx, t)
				}
				return
			}
			if isOneShot(d) {
				e.startAndResume(ctx, t, d, arg)
				return
			}
		}
	}
	e.stale(ctx, t)
}

// stale answers a button that no longer means anything here.
func (e *Engine) stale(ctx context.Context, t *Turn) {
	t.SayT("button.stale", nil)
	e.resume(ctx, t)
}

// text handles free text that is not a command.
func (e *Engine) text(ctx context.Context, t *Turn) {
	if name := t.Active(); name != "" {
		if d := e.dialogs[name]; d != nil {
			err := e.run(t, d, func() error { return d.Continue(ctx, t) })
			if !errors.Is(err, ErrNotUnderstood) {
				t.Session.Misses = 0
				return
			}
		}
	}
	e.understand(ctx, t)
}

// understand reads free text with the Understander: act on a sure reading,
// offer likely ones, or say what Sportello can do.
func (e *Engine) understand(ctx context.Context, t *Turn) {
	var matches []Match
	if e.cfg.Understander != nil {
		for _, m := range e.cfg.Understander.Understand(t.Lang, t.In.Text) {
			if m.Dialog == "operator" || e.dialogs[m.Dialog] != nil || slices.Contains(e.cfg.Menu, m.Dialog) {
				matches = append(matches, m)
			}
		}
	}
	if len(matches) > 0 && matches[0].Score >= SureScore {
		t.Session.Misses = 0
		best := matches[0]
		d := e.dialogs[best.Dialog]
		if d == nil {
			e.openEntry(ctx, t, best.Dialog, best.Arg)
			return
		}
		resume := e.start(ctx, t, d, best.Arg)
		// Offer the runner-up when the question asked two things.
		if len(matches) > 1 && matches[1].Score >= SureScore && matches[1].Dialog != "" {
			t.AddButtons(Button{ID: "go:" + matches[1].Dialog + ":" + matches[1].Arg, Label: matches[1].Label})
		}
		if resume {
			e.prompt(ctx, t)
		}
		return
	}
	t.Session.Misses++
	var offers []Button
	for _, m := range matches {
		if m.Score < MaybeScore || len(offers) == 3 {
			break
		}
		id := "go:" + m.Dialog + ":" + m.Arg
		if ValidButtonID(id) {
			offers = append(offers, Button{ID: id, Label: m.Label})
		}
	}
	switch {
	case t.Session.Misses >= 2:
		t.SayT("fallback.person", nil, append(offers,
			t.Button("cmd:operator", "menu.operator", nil),
			t.Button("cmd:menu", "fallback.menu", nil))...)
	case len(offers) > 0:
		t.SayT("fallback.did_you_mean", nil, append(offers, t.Button("cmd:menu", "fallback.menu", nil))...)
	default:
		t.SayT("fallback.unknown", nil, e.menuButtons(t)...)
	}
	if t.Active() != "" {
		e.prompt(ctx, t)
	}
}

// openEntry opens a main menu entry: its dialog, or an honest note that the
// feature is not there yet.
func (e *Engine) openEntry(ctx context.Context, t *Turn, entry, arg string) {
	if d := e.dialogs[entry]; d != nil {
		e.startAndResume(ctx, t, d, arg)
		return
	}
	// Nothing to start: say so, and carry on with the flow in progress.
	var buttons []Button
	if t.Active() == "" {
		buttons = e.menuButtons(t)
	}
	if entry == "operator" {
		t.SayT("operator.unavailable", map[string]any{"Office": e.cfg.Office}, buttons...)
	} else {
		t.SayT("menu.unavailable", map[string]any{"Feature": t.T("menu."+entry, nil)}, buttons...)
	}
	if t.Active() != "" {
		e.prompt(ctx, t)
	}
}

// start begins dialog d. A one-shot answer leaves a flow in progress alone.
// It reports whether a flow is waiting for its question to be asked again
// (after the caller has added what belongs to the answer).
func (e *Engine) start(ctx context.Context, t *Turn, d Dialog, arg string) (resume bool) {
	if isOneShot(d) {
		saved := *t.Session
		saved.Data = maps.Clone(saved.Data) // the answer must not touch the flow's values
		e.run(t, d, func() error { return d.Start(ctx, t, arg) })
		t.Session.Dialog, t.Session.Step, t.Session.Data = saved.Dialog, saved.Step, saved.Data
		return saved.Dialog != "" && saved.Dialog != d.Name()
	}
	e.run(t, d, func() error { return d.Start(ctx, t, arg) })
	return false
}

// startAndResume starts d and then asks a waiting flow's question again.
func (e *Engine) startAndResume(ctx context.Context, t *Turn, d Dialog, arg string) {
	if e.start(ctx, t, d, arg) {
		e.prompt(ctx, t)
	}
}

// run calls a dialog and turns its unexpected errors into an apology, so a
// broken dialog never leaves the citizen without an answer or in a loop.
func (e *Engine) run(t *Turn, d Dialog, call func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("dialog %s panicked: %v\n%s", d.Name(), r, debug.Stack())
		}
		if err != nil && !errors.Is(err, ErrNotUnderstood) && !errors.Is(err, ErrStale) {
			e.log.Error("dialog failed", slog.String("dialog", d.Name()), slog.String("step", t.Step()), slog.Any("error", err))
			e.cfg.Metrics.dialogError(d.Name())
			if isOneShot(d) {
				// The flow in progress, if any, is kept: only this answer
				// failed. Its question is asked again after; without a
				// flow, the menu is at hand.
				var buttons []Button
				if t.Active() == "" {
					buttons = e.menuButtons(t)
				}
				t.SayT("error.answer", nil, buttons...)
				return
			}
			t.End()
			t.SayT("error.dialog", nil, e.menuButtons(t)...)
		}
	}()
	return call()
}

func isOneShot(d Dialog) bool {
	o, ok := d.(OneShot)
	return ok && o.OneShot()
}

// convHash identifies a conversation in logs without its channel user id.
func (e *Engine) convHash(c Conversation) string { return LogTag(e.cfg.LogKey, c) }

// LogTag identifies a conversation in logs without its channel user id: a
// hash keyed with key, so the id cannot be found by trying candidates, and
// the same on every replica and channel that share the key.
func LogTag(key []byte, c Conversation) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(c.Key()))
	return c.Channel + ":" + hex.EncodeToString(m.Sum(nil)[:6])
}

// serializer runs the turns of one key one at a time, in arrival order.
type serializer struct {
	mu   sync.Mutex
	tail map[string]chan struct{}
}

func (s *serializer) lock(key string) (unlock func()) {
	s.mu.Lock()
	if s.tail == nil {
		s.tail = map[string]chan struct{}{}
	}
	prev := s.tail[key]
	mine := make(chan struct{})
	s.tail[key] = mine
	s.mu.Unlock()
	if prev != nil {
		<-prev
	}
	return func() {
		s.mu.Lock()
		if s.tail[key] == mine {
			delete(s.tail, key)
		}
		s.mu.Unlock()
		close(mine)
	}
}
