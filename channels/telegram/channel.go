package telegram

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"github.com/prometheus/client_golang/prometheus"

	"sportello/bot"
	"sportello/bot/locale"
)

// Engine is what the channel needs of the conversation engine.
type Engine interface {
	Handle(ctx context.Context, in bot.Inbound) ([]bot.Reply, error)
}

// Options are the channel's collaborators.
type Options struct {
	Engine  Engine          // required
	Inbox   Inbox           // required: InboxFor(the state store)
	Catalog *locale.Catalog // required
	Logger  *slog.Logger
	Metrics prometheus.Registerer
	// OnUnreachable is called when a citizen blocks the bot (a 403 on
	// send, or Telegram's my_chat_member update). Pushes to them are
	// dropped from then on, until they write again.
	OnUnreachable func(ctx context.Context, conv bot.Conversation)
	// HTTPClient makes the Bot API requests; nil means a client with
	// sensible timeouts.
	HTTPClient *http.Client
	// LogKey keys the conversation tags in logs (bot.LogTag); pass the
	// engine's. A random key when nil.
	LogKey []byte
}

// Chan is the Telegram channel. Start it, mount WebhookHandler in webhook
// mode, push through Push, and Shutdown at exit.
type Chan struct {
	cfg           Config
	engine        Engine
	inbox         Inbox
	cat           *locale.Catalog
	log           *slog.Logger
	metrics       *metrics
	onUnreachable func(context.Context, bot.Conversation)
	logKey        []byte
	api           *tgbot.Bot
	httpc         *http.Client
	send          *sender
	me            atomic.Pointer[identity]
	secretHash    [32]byte

	wake chan struct{} // work was queued here

	mu       sync.Mutex
	started  bool
	stopping bool
	stop     chan struct{} // closed when Shutdown begins
	hard     chan struct{} // closed when Shutdown's deadline passes
	workers  sync.WaitGroup
	poller   sync.WaitGroup
	// observe, when set (benchmarks), sees each update's replies as they
	// are handed to the sender.
	observe func(updateID int64)
}

// New builds the channel; nothing is sent before Start.
func New(cfg Config, opts Options) (*Chan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Engine == nil || opts.Inbox == nil || opts.Catalog == nil {
		return nil, errors.New("telegram: Engine, Inbox and Catalog are required")
	}
	cfg = cfg.withDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("channel", Channel))
	httpc := opts.HTTPClient
	if httpc == nil {
		httpc = &http.Client{Timeout: cfg.PollTimeout + 15*time.Second}
	}
	api, err := tgbot.New(cfg.Token,
		tgbot.WithSkipGetMe(),
		tgbot.WithServerURL(cfg.APIURL),
		tgbot.WithHTTPClient(cfg.PollTimeout, httpc),
		tgbot.WithErrorsHandler(func(err error) { log.Warn("telegram library error", slog.Any("error", err)) }),
		tgbot.WithDefaultHandler(func(context.Context, *tgbot.Bot, *models.Update) {}),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	c := &Chan{
		cfg:           cfg,
		engine:        opts.Engine,
		inbox:         opts.Inbox,
		cat:           opts.Catalog,
		log:           log,
		metrics:       newMetrics(opts.Metrics),
		onUnreachable: opts.OnUnreachable,
		logKey:        opts.LogKey,
		api:           api,
		httpc:         httpc,
		wake:          make(chan struct{}, cfg.Workers),
		stop:          make(chan struct{}),
		hard:          make(chan struct{}),
	}
	if len(c.logKey) == 0 {
		c.logKey = make([]byte, 32)
		_, _ = rand.Read(c.logKey)
	}
	c.secretHash = hashSecret(cfg.WebhookSecret)
	c.send = newSender(api, cfg, log, c.metrics, c.blocked)
	return c, nil
}

// Config returns the configuration in use, defaults filled in.
func (c *Chan) Config() Config { return c.cfg }

// Start asks Telegram who the bot is, registers the "/" menu, points
// Telegram at the webhook (webhook mode) or clears it (polling mode), and
// starts the workers and, in polling mode, the poller. It returns once all
// that is done; the work goes on until Shutdown.
func (c *Chan) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.started || c.stopping {
		c.mu.Unlock()
		return errors.New("telegram: Start called twice or after Shutdown")
	}
	c.started = true
	c.mu.Unlock()

	me, err := c.getMe(ctx)
	if err != nil {
		return err
	}
	c.me.Store(me)
	if err := setCommands(ctx, c.api, c.cat); err != nil {
		// The menu is a convenience: commands work without it.
		c.log.Warn("could not register the command menu", slog.Any("error", err))
	}
	if c.cfg.Webhook() {
		_, err = c.api.SetWebhook(ctx, &tgbot.SetWebhookParams{
			URL:            c.cfg.WebhookURL,
			SecretToken:    c.cfg.WebhookSecret,
			AllowedUpdates: allowedUpdates(),
		})
		if err != nil {
			return fmt.Errorf("telegram: setWebhook: %w", err)
		}
	} else {
		if _, err := c.api.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{}); err != nil {
			return fmt.Errorf("telegram: deleteWebhook (needed for long polling): %w", err)
		}
		c.poller.Add(1)
		go c.poll()
	}
	for i := 0; i < c.cfg.Workers; i++ {
		c.workers.Add(1)
		go c.worker()
	}
	c.log.Info("telegram channel started", slog.Any("config", c.cfg), slog.String("bot", me.Username))
	return nil
}

// getMe asks Telegram who the bot is, retrying transient failures a few
// times.
func (c *Chan) getMe(ctx context.Context) (*identity, error) {
	var err error
	for try := 0; try < 5; try++ {
		var u *models.User
		if u, err = c.api.GetMe(ctx); err == nil {
			return &identity{ID: u.ID, Username: u.Username}, nil
		}
		if errors.Is(err, tgbot.ErrorUnauthorized) || errors.Is(err, tgbot.ErrorNotFound) {
			return nil, fmt.Errorf("telegram: getMe: TELEGRAM_BOT_TOKEN was refused: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("telegram: getMe: %w", ctx.Err())
		case <-time.After(time.Duration(1<<try) * 200 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("telegram: getMe: %w", err)
}

// Shutdown stops taking work, lets the workers finish the updates they hold
// (their replies included) and the sender send what is queued, then returns.
// When ctx ends first, what is left stays in the inbox for the next start.
// It is safe to call more than once.
func (c *Chan) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if !c.stopping {
		c.stopping = true
		close(c.stop)
	}
	c.mu.Unlock()

	done := make(chan struct{})
	go func() {
		c.poller.Wait()
		c.workers.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		c.mu.Lock()
		select {
		case <-c.hard:
		default:
			close(c.hard)
		}
		c.mu.Unlock()
		err = fmt.Errorf("telegram: shutdown: updates still in flight: %w", ctx.Err())
	}
	if serr := c.send.close(ctx); serr != nil && err == nil {
		err = serr
	}
	<-done
	return err
}

// blocked records that a chat blocked the bot (the sender saw a 403).
func (c *Chan) blocked(chat int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.markUnreachable(ctx, chat)
}

func (c *Chan) markUnreachable(ctx context.Context, chat int64) {
	if err := c.inbox.setUnreachable(ctx, chat, true); err != nil {
		c.log.Warn("could not record an unreachable chat", slog.Any("error", err))
	}
	c.log.Info("citizen unreachable on telegram", slog.String("conv", c.chatTag(chat)))
	if c.onUnreachable != nil {
		c.onUnreachable(ctx, bot.Conversation{Channel: Channel, User: strconv.FormatInt(chat, 10)})
	}
}

// poke wakes up to n idle workers.
func (c *Chan) poke(n int) {
	for i := 0; i < n; i++ {
		select {
		case c.wake <- struct{}{}:
		default:
			return
		}
	}
}
