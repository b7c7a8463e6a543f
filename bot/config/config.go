// Package config reads Sportello's configuration from environment variables,
// validated once at start. Every problem is reported together, each naming its
// variable, so an operator fixes them in one go.
package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is the service's configuration. Channel-specific settings (Telegram,
// Slack) are read by their channel packages from the same environment.
type Config struct {
	// Addr is where the HTTP server listens (SPORTELLO_ADDR).
	Addr string
	// DataDir holds the embedded store's file (SPORTELLO_DATA_DIR).
	DataDir string
	// RedisURL selects the Redis store when set (REDIS_URL).
	RedisURL string
	// RedisPrefix namespaces Sportello's keys (SPORTELLO_REDIS_PREFIX).
	RedisPrefix string
	// ComuneFile is the Comune file; "" means the embedded demo
	// (SPORTELLO_COMUNE).
	ComuneFile string
	// LogFormat is "text" or "json" (SPORTELLO_LOG_FORMAT).
	LogFormat string
	// LogLevel is debug, info, warn or error (SPORTELLO_LOG_LEVEL).
	LogLevel string
	// SessionTTL is a conversation's idle expiry (SPORTELLO_SESSION_TTL).
	SessionTTL time.Duration
	// ProfileTTL is how long a silent citizen's language and subscriptions
	// are kept (SPORTELLO_PROFILE_TTL).
	ProfileTTL time.Duration
	// ShutdownTimeout bounds the graceful shutdown (SPORTELLO_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// PIIKey keys the pseudonyms of fiscal codes (SPORTELLO_PII_KEY).
	PIIKey string
	// AdminToken protects the staff API (SPORTELLO_ADMIN_TOKEN); "" disables it.
	AdminToken string
}

// Variable describes one environment variable, for the README table and
// `sportello help`.
type Variable struct {
	Name, Default, Meaning string
}

// Variables lists the variables this package reads.
func Variables() []Variable {
	return []Variable{
		{"SPORTELLO_ADDR", "127.0.0.1:8080", "HTTP listen address (/healthz, /readyz, /metrics, webhooks, staff API)"},
		{"SPORTELLO_DATA_DIR", "./data", "directory of the embedded store (used when REDIS_URL is unset)"},
		{"REDIS_URL", "(unset: embedded store)", "Redis URL: redis://host:6379/0, rediss://..., ?master_name=... for Sentinel, ?addr=...&addr=... for Cluster"},
		{"SPORTELLO_REDIS_PREFIX", "sportello", "key prefix in Redis, to share one Redis between Comuni"},
		{"SPORTELLO_COMUNE", "(embedded demo Comune)", "path of the Comune file (see deploy/comune.example.yaml)"},
		{"SPORTELLO_LOG_FORMAT", "text", "text or json"},
		{"SPORTELLO_LOG_LEVEL", "info", "debug, info, warn or error"},
		{"SPORTELLO_SESSION_TTL", "30m", "idle time after which a conversation starts over"},
		{"SPORTELLO_PROFILE_TTL", "8760h", "how long a citizen's language and subscriptions are kept after their last message"},
		{"SPORTELLO_SHUTDOWN_TIMEOUT", "20s", "the whole graceful shutdown on SIGINT/SIGTERM (a second signal stops at once)"},
		{"SPORTELLO_PII_KEY", "(generated and kept in the store)", "secret key (at least 32 characters) for pseudonyms of fiscal codes"},
		{"SPORTELLO_ADMIN_TOKEN", "(unset: staff API off)", "bearer token of the staff API (at least 16 characters)"},
	}
}

// Load reads the configuration through getenv (os.Getenv in main).
func Load(getenv func(string) string) (*Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	duration := func(name, def string) time.Duration {
		raw := get(name, def)
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			bad(name, "%q is not a positive duration (examples: 30m, 1h30m, 8760h)", raw)
			d, _ = time.ParseDuration(def)
		}
		return d
	}
	c := &Config{
		Addr:            get("SPORTELLO_ADDR", "127.0.0.1:8080"),
		DataDir:         get("SPORTELLO_DATA_DIR", "./data"),
		RedisURL:        get("REDIS_URL", ""),
		RedisPrefix:     get("SPORTELLO_REDIS_PREFIX", "sportello"),
		ComuneFile:      get("SPORTELLO_COMUNE", ""),
		LogFormat:       strings.ToLower(get("SPORTELLO_LOG_FORMAT", "text")),
		LogLevel:        strings.ToLower(get("SPORTELLO_LOG_LEVEL", "info")),
		SessionTTL:      duration("SPORTELLO_SESSION_TTL", "30m"),
		ProfileTTL:      duration("SPORTELLO_PROFILE_TTL", "8760h"),
		ShutdownTimeout: duration("SPORTELLO_SHUTDOWN_TIMEOUT", "20s"),
		PIIKey:          getenv("SPORTELLO_PII_KEY"),
		AdminToken:      getenv("SPORTELLO_ADMIN_TOKEN"),
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("SPORTELLO_ADDR", "%q is not host:port (example: 127.0.0.1:8080, :8080)", c.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("SPORTELLO_ADDR", "port %q is not a number from 0 to 65535", port)
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		bad("REDIS_URL", "must start with redis:// or rediss://")
	}
	if strings.ContainsAny(c.RedisPrefix, " {}:") {
		bad("SPORTELLO_REDIS_PREFIX", "%q must not contain spaces, braces or colons", c.RedisPrefix)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("SPORTELLO_LOG_FORMAT", "must be text or json, not %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("SPORTELLO_LOG_LEVEL", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.PIIKey != "" && len(c.PIIKey) < 32 {
		bad("SPORTELLO_PII_KEY", "is too short: use at least 32 random characters (for example: openssl rand -hex 32)")
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		bad("SPORTELLO_ADMIN_TOKEN", "is too short: use at least 16 random characters")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}
