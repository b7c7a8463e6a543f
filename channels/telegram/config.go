package telegram

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sportello/bot/config"
)

// DefaultAPIURL is Telegram's own Bot API server.
const DefaultAPIURL = "https://api.telegram.org"

// Config is the Telegram channel's configuration. ConfigFromEnv reads it from
// the environment; tests build it directly.
type Config struct {
	// Token is the bot token from BotFather (TELEGRAM_BOT_TOKEN).
	Token string
	// APIURL is the Bot API base URL (TELEGRAM_API_URL): Telegram's by
	// default, a self-hosted Bot API server, or a test server.
	APIURL string
	// WebhookURL switches to webhook mode when set (TELEGRAM_WEBHOOK_URL).
	// Its path is where WebhookHandler must be mounted.
	WebhookURL string
	// WebhookSecret is the secret_token Telegram echoes in every webhook
	// request (TELEGRAM_WEBHOOK_SECRET); required in webhook mode.
	WebhookSecret string
	// Rate is the most messages per second sent overall (TELEGRAM_RATE,
	// default 30).
	Rate int

	// Tuning; zero values mean the defaults in brackets.
	Workers      int           // updates handled at once [16]
	ChatInterval time.Duration // one message per chat per interval, after a burst [1s]
	ChatBurst    int           // messages a chat may get at once [3]
	GroupPerMin  int           // messages per minute to one group [20]
	Lease        time.Duration // how long a worker owns a chat's queue without renewing [60s]
	IdlePoll     time.Duration // how often idle workers look for work queued elsewhere [500ms]
	PollTimeout  time.Duration // getUpdates long-poll timeout [50s]
	DedupeTTL    time.Duration // how long an update_id is remembered [25h]
	MaxAttempts  int           // tries in a row of an update whose turn fails on the store [4]
	// RetryBackoff is the first pause before a request that failed for a
	// transient reason (network, 5xx) is made again; later pauses grow
	// [200ms].
	RetryBackoff time.Duration
	// MaxSendAttempts bounds the tries of an update whose replies could not
	// be sent for a transient reason: each try replays the turn's recorded
	// replies [10].
	MaxSendAttempts int
}

var (
	tokenRE  = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$`)
	secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// ConfigFromEnv reads the channel's variables with getenv (os.Getenv in
// main). ok is false, with no error, when Telegram is not configured at all.
// Errors name the variable and never repeat a secret.
func ConfigFromEnv(getenv func(string) string) (cfg Config, ok bool, err error) {
	cfg = Config{
		Token:         strings.TrimSpace(getenv("TELEGRAM_BOT_TOKEN")),
		APIURL:        strings.TrimSpace(getenv("TELEGRAM_API_URL")),
		WebhookURL:    strings.TrimSpace(getenv("TELEGRAM_WEBHOOK_URL")),
		WebhookSecret: strings.TrimSpace(getenv("TELEGRAM_WEBHOOK_SECRET")),
	}
	rate := strings.TrimSpace(getenv("TELEGRAM_RATE"))
	if cfg.Token == "" {
		for _, v := range []string{"TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_URL", "TELEGRAM_RATE"} {
			if strings.TrimSpace(getenv(v)) != "" {
				return Config{}, false, fmt.Errorf("TELEGRAM_BOT_TOKEN is required when %s is set", v)
			}
		}
		return Config{}, false, nil
	}
	if rate != "" {
		n, err := strconv.Atoi(rate)
		if err != nil || n < 1 || n > 1000 {
			return Config{}, false, fmt.Errorf("TELEGRAM_RATE must be a whole number of messages per second from 1 to 1000, got %q", rate)
		}
		cfg.Rate = n
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, false, err
	}
	return cfg, true, nil
}

// Validate checks the configuration; ConfigFromEnv calls it.
func (c Config) Validate() error {
	if !tokenRE.MatchString(c.Token) {
		return errors.New("TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then letters, digits, _ or -)")
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("TELEGRAM_API_URL must be an http(s) URL such as %s, got %q", DefaultAPIURL, c.APIURL)
		}
	}
	if c.WebhookURL == "" {
		if c.WebhookSecret != "" {
			return errors.New("TELEGRAM_WEBHOOK_SECRET is set but TELEGRAM_WEBHOOK_URL is not: set both for webhook mode, or neither for long polling")
		}
		return nil
	}
	u, err := url.Parse(c.WebhookURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("TELEGRAM_WEBHOOK_URL must be an absolute https URL such as https://sportello.example.it/telegram/webhook, got %q", c.WebhookURL)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return fmt.Errorf("TELEGRAM_WEBHOOK_URL must use https (Telegram refuses plain http), got %q", c.WebhookURL)
	}
	if u.Path == "" || u.Path == "/" {
		return fmt.Errorf("TELEGRAM_WEBHOOK_URL needs a path for Sportello to serve, such as /telegram/webhook, got %q", c.WebhookURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("TELEGRAM_WEBHOOK_URL must not have a query or fragment, got %q", c.WebhookURL)
	}
	if c.WebhookSecret == "" {
		return errors.New("TELEGRAM_WEBHOOK_SECRET is required in webhook mode (TELEGRAM_WEBHOOK_URL is set): 1 to 256 characters A-Z, a-z, 0-9, _ and -")
	}
	if !secretRE.MatchString(c.WebhookSecret) {
		return errors.New("TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters A-Z, a-z, 0-9, _ and - (Telegram's secret_token rules)")
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Webhook reports whether the channel runs in webhook mode.
func (c Config) Webhook() bool { return c.WebhookURL != "" }

// WebhookPath is the path of TELEGRAM_WEBHOOK_URL, where WebhookHandler is to
// be mounted ("" in polling mode).
func (c Config) WebhookPath() string {
	if c.WebhookURL == "" {
		return ""
	}
	u, err := url.Parse(c.WebhookURL)
	if err != nil {
		return ""
	}
	return u.Path
}

// LogValue shows the configuration without its secrets.
func (c Config) LogValue() slog.Value {
	mode := "polling"
	if c.Webhook() {
		mode = "webhook"
	}
	return slog.GroupValue(
		slog.String("mode", mode),
		slog.String("api_url", c.apiURL()),
		slog.String("webhook_url", c.WebhookURL),
		slog.Int("rate", c.withDefaults().Rate),
	)
}

func (c Config) apiURL() string {
	if c.APIURL == "" {
		return DefaultAPIURL
	}
	return strings.TrimRight(c.APIURL, "/")
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&c.Rate, 30)
	defInt(&c.Workers, 16)
	defInt(&c.ChatBurst, 3)
	defInt(&c.GroupPerMin, 20)
	defInt(&c.MaxAttempts, 4)
	defInt(&c.MaxSendAttempts, 10)
	def(&c.RetryBackoff, 200*time.Millisecond)
	def(&c.ChatInterval, time.Second)
	def(&c.Lease, time.Minute)
	def(&c.IdlePoll, 500*time.Millisecond)
	def(&c.PollTimeout, 50*time.Second)
	def(&c.DedupeTTL, 25*time.Hour)
	c.APIURL = c.apiURL()
	return c
}

// Variables lists the environment variables ConfigFromEnv reads, for
// `sportello help` and the README.
func Variables() []config.Variable {
	return []config.Variable{
		{Name: "TELEGRAM_BOT_TOKEN", Default: "(unset: no Telegram)", Meaning: "bot token from BotFather; turns the Telegram channel on (long polling)"},
		{Name: "TELEGRAM_WEBHOOK_URL", Default: "(unset: long polling)", Meaning: "public https URL of the webhook; its path is served by SPORTELLO_ADDR"},
		{Name: "TELEGRAM_WEBHOOK_SECRET", Default: "(required with a webhook)", Meaning: "secret_token Telegram sends with each webhook request: 1-256 of A-Z a-z 0-9 _ -"},
		{Name: "TELEGRAM_API_URL", Default: DefaultAPIURL, Meaning: "Bot API server (a self-hosted one, or a test server)"},
		{Name: "TELEGRAM_RATE", Default: "30", Meaning: "most messages per second sent overall"},
	}
}
