package config_test

import (
	"strings"
	"testing"
	"time"

	"sportello/bot/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatalf("Load(empty) = %v", err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.RedisURL != "" || c.SessionTTL != 30*time.Minute ||
		c.LogFormat != "text" || c.LogLevel != "info" || c.RedisPrefix != "sportello" || c.ShutdownTimeout != 20*time.Second {
		t.Errorf("defaults = %+v", c)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	_, err := config.Load(env(map[string]string{
		"SPORTELLO_ADDR":        "nonsense",
		"REDIS_URL":             "http://x",
		"SPORTELLO_LOG_FORMAT":  "xml",
		"SPORTELLO_LOG_LEVEL":   "loud",
		"SPORTELLO_SESSION_TTL": "thirty",
		"SPORTELLO_PII_KEY":     "short",
		"SPORTELLO_ADMIN_TOKEN": "short",
	}))
	if err == nil {
		t.Fatal("Load accepted invalid values")
	}
	for _, name := range []string{"SPORTELLO_ADDR", "REDIS_URL", "SPORTELLO_LOG_FORMAT", "SPORTELLO_LOG_LEVEL", "SPORTELLO_SESSION_TTL", "SPORTELLO_PII_KEY", "SPORTELLO_ADMIN_TOKEN"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "short\"") {
		t.Errorf("error %q repeats a secret's value", err)
	}
}

func TestValues(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"SPORTELLO_ADDR": ":9090", "REDIS_URL": "redis://localhost:6379/1", "SPORTELLO_SESSION_TTL": "45m",
		"SPORTELLO_LOG_FORMAT": "JSON", "SPORTELLO_PII_KEY": strings.Repeat("k", 32),
	}))
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if c.Addr != ":9090" || c.RedisURL != "redis://localhost:6379/1" || c.SessionTTL != 45*time.Minute || c.LogFormat != "json" {
		t.Errorf("got %+v", c)
	}
}

func TestVariablesAreDocumented(t *testing.T) {
	for _, v := range config.Variables() {
		if v.Name == "" || v.Meaning == "" || v.Default == "" {
			t.Errorf("variable %+v is not fully documented", v)
		}
	}
}
