// Command sportello is a citizen assistant for the registry office (Anagrafe)
// of an Italian Comune: it answers questions about the electronic identity
// card (CIE) in Italian and English.
//
//	sportello            run the service (HTTP probes, metrics, channels)
//	sportello chat       talk to the assistant in this terminal
//	sportello help       commands and configuration
//
// main wires configuration, the state store, the engine, its dialogs and the
// channels; everything else lives in bot/, dialogs/ and channels/.
package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"sportello/bot"
	"sportello/bot/admin"
	"sportello/bot/booking"
	"sportello/bot/comune"
	"sportello/bot/config"
	"sportello/bot/locale"
	"sportello/bot/push"
	"sportello/bot/schedule"
	"sportello/bot/server"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
	"sportello/channels/console"
	"sportello/channels/telegram"
	bookflow "sportello/dialogs/booking"
	"sportello/dialogs/expiry"
	"sportello/dialogs/faq"
	"sportello/locales"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || slices.Contains([]string{"-h", "-help", "--help"}, args[0])) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "chat":
		return chat(ctx, args, getenv, stdin, stdout, stderr)
	case "explain":
		return explain(args, stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "sportello: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  sportello [serve]                         run the service
  sportello chat [--json] [--user ID] [--lang it|en]
                                            chat with the assistant in this terminal
  sportello explain [--lang it|en] [QUESTION...]
                                            show how the FAQ matcher reads questions
                                            (one per argument, or one per line on stdin)
  sportello help                            this text

Configuration (environment variables):
`)
	for _, v := range append(config.Variables(), telegram.Variables()...) {
		fmt.Fprintf(w, "  %-28s %s\n  %-28s default: %s\n", v.Name, v.Meaning, "", v.Default)
	}
}

// stateStore is what main needs of a state backend: *redisstore.Store and
// *boltstore.Store are both one.
type stateStore interface {
	bot.StateStore
	booking.Store
	schedule.Backend
	schedule.Purger
	push.Store
	Ping(ctx context.Context) error
	Secret(ctx context.Context, name string, n int) ([]byte, error)
	Close() error
}

// app is everything both commands share.
type app struct {
	cfg     *config.Config
	mode    string // "serve" or "chat"
	log     *slog.Logger
	comune  *comune.Comune
	store   stateStore
	engine  *bot.Engine
	cat     *locale.Catalog
	reg     *prometheus.Registry
	booking *booking.Service
	outbox  *push.Outbox

	sched  *schedule.Metrics
	logKey []byte // keys the conversation tags in logs

	// Background loops (timed jobs, push delivery) run until stopLoops.
	loops   sync.WaitGroup
	stopCtx context.Context
	stop    context.CancelFunc
}

// build reads the configuration and assembles the engine and its store.
// Errors are for the operator: they name what to fix.
func build(ctx context.Context, mode string, getenv func(string) string, logOut io.Writer) (*app, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	if getenv("SPORTELLO_LOG_LEVEL") == "" && mode == "chat" {
		cfg.LogLevel = "warn" // a terminal chat shows only what goes wrong
	}
	log := newLogger(cfg, logOut)
	redis.SetLogger(&redisLogger{log: log}) // go-redis' own messages, in our format

	c := comune.Demo()
	if cfg.ComuneFile != "" {
		if c, err = comune.Load(cfg.ComuneFile); err != nil {
			return nil, err
		}
	}
	cat, err := locale.Load(locales.FS())
	if err != nil {
		return nil, err
	}
	vocab, err := bot.LoadVocabulary(locales.FS())
	if err != nil {
		return nil, err
	}
	// The FAQ knowledge base is read once, here; the matcher and the
	// dialogs only read it afterwards.
	knowledge, err := faq.Load(locales.FS())
	if err != nil {
		return nil, err
	}

	a := &app{cfg: cfg, mode: mode, log: log, comune: c, cat: cat, reg: prometheus.NewRegistry()}
	a.stopCtx, a.stop = context.WithCancel(context.WithoutCancel(ctx))
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.sched = schedule.NewMetrics(a.reg)
	if a.store, err = openStore(ctx, cfg, log); err != nil {
		return nil, err
	}
	if err := a.assemble(ctx, vocab, knowledge); err != nil {
		a.store.Close()
		return nil, err
	}
	log.Info("sportello ready", slog.String("comune", c.Name), slog.Int("offices", len(c.Offices)))
	return a, nil
}

// assemble builds the booking calendar, the push outbox, the dialogs and the
// engine on the open store.
func (a *app) assemble(ctx context.Context, vocab *bot.Vocabulary, knowledge *faq.Knowledge) error {
	key, err := a.piiKey(ctx)
	if err != nil {
		return err
	}
	// Each terminal chat prints its own citizen's pushes only.
	a.outbox = push.NewOutbox(a.store, push.PerUser(console.Channel))
	notifier, err := bookflow.NewNotifier(bookflow.NotifierConfig{
		Catalog: a.cat, Comune: a.comune,
		Sender: bookflow.SenderFunc(func(ctx context.Context, id string, conv bot.Conversation, r []bot.Reply, expires time.Time) error {
			var opts []push.SendOption
			if !expires.IsZero() {
				opts = append(opts, push.ExpiresAt(expires))
			}
			return a.outbox.Send(ctx, id, conv, r, opts...)
		}),
	})
	if err != nil {
		return err
	}
	// The deliverers report each push that reached its citizen
	// (background): a confirmation request or offer that never did costs
	// nobody their appointment or place in line.
	a.booking, err = booking.New(booking.Config{Comune: a.comune, Store: a.store, PIIKey: key, Notifier: notifier, Logger: a.log,
		DeliveryReceipts: true})
	if err != nil {
		return err
	}
	dialogs, err := bookflow.Dialogs(bookflow.Config{Service: a.booking, Catalog: a.cat, Logger: a.log})
	if err != nil {
		return err
	}
	dialogs = append(dialogs,
		faq.New(knowledge, a.comune),
		expiry.New(a.cat, expiry.Config{
			Location:         a.comune.Location(),
			RenewalDays:      knowledge.Facts.RenewalDays,
			PaperInvalidFrom: knowledge.Facts.PaperInvalidFrom,
		}))
	// One log key for every replica and channel, derived from the PII key,
	// so a conversation's tag in the logs is the same everywhere.
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sportello log tags"))
	a.logKey = m.Sum(nil)
	a.engine, err = bot.New(bot.Config{
		Store:        a.store,
		Catalog:      a.cat,
		Vocabulary:   vocab,
		Dialogs:      dialogs,
		Understander: faq.NewMatcher(knowledge, a.cat),
		Office:       a.comune.Name,
		SessionTTL:   a.cfg.SessionTTL,
		ProfileTTL:   a.cfg.ProfileTTL,
		Logger:       a.log,
		Metrics:      bot.NewMetrics(a.reg),
	})
	return err
}

// piiKey is SPORTELLO_PII_KEY, or a key generated once and kept in the store
// (so that `go run .` works with nothing configured and every replica on one
// Redis agrees on it).
func (a *app) piiKey(ctx context.Context) ([]byte, error) {
	if a.cfg.PIIKey != "" {
		return []byte(a.cfg.PIIKey), nil
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	key, err := a.store.Secret(sctx, "pii-key", 32)
	if err != nil {
		return nil, fmt.Errorf("SPORTELLO_PII_KEY is unset and the store could not provide the generated key (set SPORTELLO_PII_KEY, or make the store reachable): %w", err)
	}
	level := slog.LevelWarn
	if a.mode == "chat" {
		level = slog.LevelInfo // a warning for operators, not for someone trying the chat
	}
	a.log.Log(ctx, level, "SPORTELLO_PII_KEY is unset: fiscal code pseudonyms use a key generated and kept in the store; set SPORTELLO_PII_KEY in production")
	return key, nil
}

// background runs the timed jobs (the booking calendar's deadlines) and the
// delivery of pushes to the channels this process serves, until stopLoops.
func (a *app) background(senders map[string]push.Sender) error {
	grace := schedule.WithShutdownGrace(a.cfg.ShutdownTimeout / 2)
	tasks, err := schedule.NewRunner(a.store, []schedule.Queue{a.booking.Queue()},
		schedule.WithLogger(a.log), schedule.WithMetrics(a.sched), grace)
	if err != nil {
		return err
	}
	a.goLoop("timed jobs", tasks.Run)
	a.goLoop("booking sweep keeper", a.keepSweeping)
	// Expired jobs (pushes nobody delivered, with the personal data in
	// them) go even when no channel is served here.
	a.goLoop("expired jobs purge", schedule.NewJanitor(a.store, schedule.JanitorConfig{Logger: a.log, Metrics: a.sched}).Run)
	if len(senders) == 0 {
		return nil
	}
	deliverer, err := push.NewDeliverer(a.store, senders, push.WithLogger(a.log), push.WithMetrics(push.NewMetrics(a.reg)),
		push.WithRunnerOptions(schedule.WithMetrics(a.sched), grace), push.OnDelivered(a.delivered))
	if err != nil {
		return err
	}
	a.outbox.SetKicker(deliverer) // pushes due now go out without waiting for the next poll
	a.goLoop("push delivery", deliverer.Run)
	return nil
}

// delivered tells the booking calendar that one of its notices reached the
// citizen (other pushes are ignored there). A receipt lost here only makes
// the citizen be asked again.
func (a *app) delivered(ctx context.Context, info push.Info, _ bot.Conversation) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.booking.Delivered(ctx, info.ID); err != nil {
		a.log.WarnContext(ctx, "booking delivery receipt not recorded", slog.String("push_id", info.ID), slog.Any("error", err))
	}
}

// keepSweeping makes sure the booking calendar's sweep job exists: it drives
// the confirm-or-release deadlines, waitlist holds and the personal-data
// purge. It retries while the store is down (a replica may start during an
// outage) and checks again now and then (a Redis restarted empty loses it).
func (a *app) keepSweeping(ctx context.Context) error {
	wait, failing := time.Duration(0), false
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := a.booking.StartSweeping(ctx, a.store); err != nil {
			if ctx.Err() == nil {
				// Once per outage at Warn; the retries every 5 s at Debug.
				level := slog.LevelDebug
				if !failing {
					level = slog.LevelWarn
				}
				a.log.Log(ctx, level, "could not schedule the booking sweep; retrying", slog.Any("error", err))
			}
			failing, wait = true, 5*time.Second
			continue
		}
		if failing {
			a.log.Info("booking sweep scheduled again")
		}
		failing, wait = false, 5*time.Minute
	}
}

func (a *app) goLoop(name string, run func(context.Context) error) {
	a.loops.Add(1)
	go func() {
		defer a.loops.Done()
		if err := run(a.stopCtx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error(name+" stopped", slog.Any("error", err))
		}
	}()
}

// redisLogger sends go-redis' own messages (dial failures, Sentinel) to
// slog, so that JSON logs stay JSON during an outage. During an outage
// go-redis says the same thing twice a second: one Warn a minute is enough,
// the rest go to Debug.
type redisLogger struct {
	log  *slog.Logger
	mu   sync.Mutex
	last time.Time // of the last Warn
}

func (r *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.mu.Lock()
	level := slog.LevelDebug
	if now := time.Now(); now.Sub(r.last) >= time.Minute {
		level, r.last = slog.LevelWarn, now
	}
	r.mu.Unlock()
	r.log.Log(ctx, level, fmt.Sprintf(format, v...), slog.String("component", "redis"))
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens Redis when REDIS_URL is set, else the embedded store. A
// Redis that does not answer yet is not fatal: turns get a clear apology and
// /readyz says 503 until it answers.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (stateStore, error) {
	if cfg.RedisURL == "" {
		s, err := boltstore.Open(cfg.DataDir, boltstore.WithLogger(log))
		if err != nil {
			return nil, err
		}
		log.Info("state store: embedded", slog.String("dir", cfg.DataDir))
		return s, nil
	}
	rdb, err := redisstore.NewClient(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	s := redisstore.New(rdb, cfg.RedisPrefix)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		log.Error("redis is not answering yet; turns fail with an apology until it does",
			slog.String("redis", redisstore.Redacted(cfg.RedisURL)), slog.Any("error", err))
	} else if err := s.CheckLayout(pctx); err != nil {
		s.Close()
		return nil, err
	} else {
		log.Info("state store: redis", slog.String("redis", redisstore.Redacted(cfg.RedisURL)), slog.String("prefix", cfg.RedisPrefix))
	}
	return s, nil
}

// stopLoops stops the background loops and waits for them (each finishes
// or hands back the job it holds), until ctx ends.
func (a *app) stopLoops(ctx context.Context) {
	a.stop()
	done := make(chan struct{})
	go func() {
		a.loops.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// The waiting goroutine ends with the last loop; at exit nobody
		// waits for it.
		a.log.Error("shutdown: background loops still running at the deadline")
	}
}

// close stops the loops, shuts the engine down (finishing turns in
// flight) and closes the store, all before ctx's deadline.
func (a *app) close(ctx context.Context) {
	a.stopLoops(ctx)
	if err := a.engine.Shutdown(ctx); err != nil {
		a.log.Error("shutdown", slog.Any("error", err))
	}
	if err := a.store.Close(); err != nil {
		a.log.Error("close store", slog.Any("error", err))
	}
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// Every configuration problem is reported at once.
	tgCfg, tgOn, tgErr := telegram.ConfigFromEnv(getenv)
	a, err := build(ctx, "serve", getenv, stderr)
	if err != nil || tgErr != nil {
		fmt.Fprintf(stderr, "sportello: %v\n", errors.Join(err, tgErr))
		if a != nil {
			a.shutdown(a.cfg.ShutdownTimeout, nil)
		}
		return 1
	}
	// Whatever happens from here on, the process stops in order.
	var tg *telegram.Chan
	grace := a.cfg.ShutdownTimeout / 4 // for HTTP requests in flight: webhooks only record updates
	defer func() { a.shutdown(a.cfg.ShutdownTimeout-grace, tg) }()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "sportello: %v\n", err)
		return 1
	}

	srv := server.New(a.cfg.Addr, a.reg, a.store.Ping, a.log)
	staff, err := admin.New(admin.Config{Token: a.cfg.AdminToken, Service: a.booking, Logger: a.log})
	if err != nil {
		return fail(err)
	}
	srv.Handle("/api/v1/", staff)
	var ch *telegram.Chan
	if tgOn {
		if ch, err = newTelegram(tgCfg, a); err != nil {
			return fail(err)
		}
		if path := tgCfg.WebhookPath(); path != "" {
			srv.Handle(path, ch.WebhookHandler())
		}
	}
	l, err := srv.Listen()
	if err != nil {
		return fail(err)
	}
	a.log.Info("http server listening", slog.String("addr", l.Addr().String()))
	if ch != nil {
		tg = ch // shut down on the way out, even if Start fails half way
		// The socket is open, so webhook deliveries wait for Serve.
		if err := ch.Start(ctx); err != nil {
			return fail(err)
		}
	} else {
		a.log.Info("no chat channel is configured: set TELEGRAM_BOT_TOKEN, or try `go run . chat` in a terminal")
	}
	senders := map[string]push.Sender{}
	if tg != nil {
		senders[telegram.Channel] = tg
	}
	if err := a.background(senders); err != nil {
		return fail(err)
	}
	if a.cfg.AdminToken == "" {
		a.log.Info("staff API is off: set SPORTELLO_ADMIN_TOKEN to turn it on")
	}

	if err := srv.Serve(ctx, l, grace); err != nil {
		a.log.Error("http server stopped", slog.Any("error", err))
		return 1
	}
	a.log.Info("shutting down: finishing turns in flight")
	return 0
}

// shutdown stops everything in order within d: the timed jobs and push
// delivery while the channels can still send, then the Telegram channel
// (its intake and the updates it holds, replies included), then the
// engine's turns, then the store.
func (a *app) shutdown(d time.Duration, tg *telegram.Chan) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	a.stopLoops(ctx)
	if tg != nil {
		if err := tg.Shutdown(ctx); err != nil {
			a.log.Error("telegram shutdown", slog.Any("error", err))
		}
	}
	a.close(ctx)
}

// newTelegram builds the Telegram channel on the app's engine and store.
func newTelegram(cfg telegram.Config, a *app) (*telegram.Chan, error) {
	inbox, err := telegram.InboxFor(a.store)
	if err != nil {
		return nil, err
	}
	return telegram.New(cfg, telegram.Options{
		Engine: a.engine, Inbox: inbox, Catalog: a.cat, Logger: a.log, Metrics: a.reg, LogKey: a.logKey,
	})
}

func chat(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonMode := fs.Bool("json", false, "one JSON line in, one JSON line out (for scripts and tests)")
	user := fs.String("user", "console", "the citizen's id in this terminal")
	lang := fs.String("lang", "", "language: it or en (default: detected, Italian first)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *lang != "" && locale.Normalize(*lang) == "" {
		fmt.Fprintf(stderr, "sportello chat: --lang must be it or en, not %q\n", *lang)
		return 2
	}
	if strings.TrimSpace(*user) == "" || len(*user) > bot.MaxUserIDBytes {
		fmt.Fprintf(stderr, "sportello chat: --user must be 1 to %d bytes\n", bot.MaxUserIDBytes)
		return 2
	}
	a, err := build(ctx, "chat", getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sportello: %v\n", err)
		return 1
	}
	defer a.shutdown(a.cfg.ShutdownTimeout, nil)

	con := console.New(a.engine, stdin, stdout, console.Options{User: *user, Lang: locale.Normalize(*lang), JSON: *jsonMode})
	if err := a.background(map[string]push.Sender{a.outbox.Route(con.Conversation()): con}); err != nil {
		fmt.Fprintf(stderr, "sportello: %v\n", err)
		return 1
	}
	if err := con.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "sportello chat: %v\n", err)
		return 1
	}
	return 0
}

// explain prints how the FAQ matcher reads questions: the concept each word
// gave, the best topics with the evidence behind their scores, and what the
// engine does with them. For whoever edits locales/knowledge.yaml.
func explain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lang := fs.String("lang", "it", "language of the questions: it or en")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	l := locale.Normalize(*lang)
	if l == "" {
		fmt.Fprintf(stderr, "sportello explain: --lang must be it or en, not %q\n", *lang)
		return 2
	}
	cat, err := locale.Load(locales.FS())
	if err != nil {
		fmt.Fprintf(stderr, "sportello explain: %v\n", err)
		return 1
	}
	k, err := faq.Load(locales.FS())
	if err != nil {
		fmt.Fprintf(stderr, "sportello explain: %v\n", err)
		return 1
	}
	m := faq.NewMatcher(k, cat)
	if fs.NArg() > 0 {
		for _, q := range fs.Args() {
			fmt.Fprintln(stdout, m.Explain(l, q))
		}
		return 0
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if q := strings.TrimSpace(sc.Text()); q != "" {
			fmt.Fprintln(stdout, m.Explain(l, q))
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "sportello explain: %v\n", err)
		return 1
	}
	return 0
}
