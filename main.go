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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"sportello/bot"
	"sportello/bot/comune"
	"sportello/bot/config"
	"sportello/bot/locale"
	"sportello/bot/server"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
	"sportello/channels/console"
	"sportello/locales"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "chat":
		return chat(ctx, args, getenv, stdin, stdout, stderr)
	case "help":
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
  sportello help                            this text

Configuration (environment variables):
`)
	for _, v := range config.Variables() {
		fmt.Fprintf(w, "  %-28s %s\n  %-28s default: %s\n", v.Name, v.Meaning, "", v.Default)
	}
}

// stateStore is what main needs of a state backend.
type stateStore interface {
	bot.StateStore
	Ping(ctx context.Context) error
	Close() error
}

// app is everything both commands share.
type app struct {
	cfg    *config.Config
	log    *slog.Logger
	comune *comune.Comune
	store  stateStore
	engine *bot.Engine
	reg    *prometheus.Registry
}

// build reads the configuration and assembles the engine and its store.
// Errors are for the operator: they name what to fix.
func build(ctx context.Context, getenv func(string) string, logOut io.Writer, defaultLevel string) (*app, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	if getenv("SPORTELLO_LOG_LEVEL") == "" {
		cfg.LogLevel = defaultLevel
	}
	log := newLogger(cfg, logOut)

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

	a := &app{cfg: cfg, log: log, comune: c, reg: prometheus.NewRegistry()}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.store, err = openStore(ctx, cfg, log); err != nil {
		return nil, err
	}
	a.engine, err = bot.New(bot.Config{
		Store:      a.store,
		Catalog:    cat,
		Vocabulary: vocab,
		Office:     c.Name,
		SessionTTL: cfg.SessionTTL,
		ProfileTTL: cfg.ProfileTTL,
		Logger:     log,
		Metrics:    bot.NewMetrics(a.reg),
	})
	if err != nil {
		a.store.Close()
		return nil, err
	}
	log.Info("sportello ready", slog.String("comune", c.Name), slog.Int("offices", len(c.Offices)))
	return a, nil
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
		s, err := boltstore.Open(cfg.DataDir)
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
	} else {
		log.Info("state store: redis", slog.String("redis", redisstore.Redacted(cfg.RedisURL)), slog.String("prefix", cfg.RedisPrefix))
	}
	return s, nil
}

// close shuts the engine down (finishing turns in flight) and closes the
// store.
func (a *app) close() {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
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
	a, err := build(ctx, getenv, stderr, "info")
	if err != nil {
		fmt.Fprintf(stderr, "sportello: %v\n", err)
		return 1
	}
	defer a.close()

	srv := server.New(a.cfg.Addr, a.reg, a.store.Ping, a.log)
	l, err := srv.Listen()
	if err != nil {
		fmt.Fprintf(stderr, "sportello: %v\n", err)
		return 1
	}
	a.log.Info("http server listening", slog.String("addr", l.Addr().String()))
	a.log.Info("no chat channel is configured: set TELEGRAM_BOT_TOKEN, or try `go run . chat` in a terminal")

	if err := srv.Serve(ctx, l, a.cfg.ShutdownTimeout); err != nil {
		a.log.Error("http server stopped", slog.Any("error", err))
		return 1
	}
	a.log.Info("shutting down: finishing turns in flight")
	return 0
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
	a, err := build(ctx, getenv, stderr, "warn")
	if err != nil {
		fmt.Fprintf(stderr, "sportello: %v\n", err)
		return 1
	}
	defer a.close()

	con := console.New(a.engine, stdin, stdout, console.Options{User: *user, Lang: locale.Normalize(*lang), JSON: *jsonMode})
	if err := con.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "sportello chat: %v\n", err)
		return 1
	}
	return 0
}
