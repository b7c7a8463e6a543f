package telegram

import (
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	const tok = testToken
	for _, tc := range []struct {
		name    string
		env     map[string]string
		ok      bool
		wantErr string // substring; "" means no error
		path    string
	}{
		{name: "nothing set", env: nil},
		{name: "polling", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok}, ok: true},
		{name: "webhook", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_WEBHOOK_URL": "https://s.example.it/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": "abc_DEF-123"}, ok: true, path: "/telegram/webhook"},
		{name: "webhook on loopback http", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_WEBHOOK_URL": "http://127.0.0.1:8080/tg", "TELEGRAM_WEBHOOK_SECRET": "x"}, ok: true, path: "/tg"},
		{name: "rate", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_RATE": "20"}, ok: true},
		{name: "secret without token", env: map[string]string{"TELEGRAM_WEBHOOK_SECRET": "abc"}, wantErr: "TELEGRAM_BOT_TOKEN is required when TELEGRAM_WEBHOOK_SECRET"},
		{name: "bad token", env: map[string]string{"TELEGRAM_BOT_TOKEN": "hello"}, wantErr: "TELEGRAM_BOT_TOKEN"},
		{name: "webhook without secret", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_WEBHOOK_URL": "https://s.example.it/tg"}, wantErr: "TELEGRAM_WEBHOOK_SECRET is required"},
		{name: "bad secret", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_WEBHOOK_URL": "https://s.example.it/tg", "TELEGRAM_WEBHOOK_SECRET": "no spaces allowed"}, wantErr: "TELEGRAM_WEBHOOK_SECRET must be"},
		{name: "secret too long", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_WEBHOOK_URL": "https://s.example.it/tg", "TELEGRAM_WEBHOOK_SECRET": strings.Repeat("a", 257)}, wantErr: "TELEGRAM_WEBHOOK_SECRET must be"},
		{name: "secret without webhook", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_WEBHOOK_SECRET": "abc"}, wantErr: "TELEGRAM_WEBHOOK_URL is not"},
		{name: "plain http", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_WEBHOOK_URL": "http://s.example.it/tg", "TELEGRAM_WEBHOOK_SECRET": "abc"}, wantErr: "must use https"},
		{name: "no path", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_WEBHOOK_URL": "https://s.example.it", "TELEGRAM_WEBHOOK_SECRET": "abc"}, wantErr: "needs a path"},
		{name: "relative", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_WEBHOOK_URL": "/tg", "TELEGRAM_WEBHOOK_SECRET": "abc"}, wantErr: "absolute https URL"},
		{name: "bad api url", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_API_URL": "ftp://x"}, wantErr: "TELEGRAM_API_URL"},
		{name: "bad rate", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_RATE": "fast"}, wantErr: "TELEGRAM_RATE"},
		{name: "rate zero", env: map[string]string{"TELEGRAM_BOT_TOKEN": tok, "TELEGRAM_RATE": "0"}, wantErr: "TELEGRAM_RATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, ok, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Got(error) = %v, want one containing %q", err, tc.wantErr)
				}
				for _, secret := range []string{tc.env["TELEGRAM_WEBHOOK_SECRET"], tc.env["TELEGRAM_BOT_TOKEN"]} {
					if len(secret) > 3 && strings.Contains(err.Error(), secret) {
						t.Errorf("Got(error) = %v, which repeats a secret", err)
					}
				}
				return
			}
			if err != nil || ok != tc.ok {
				t.Fatalf("Got(ConfigFromEnv) = %v, %v, want ok=%v, nil", ok, err, tc.ok)
			}
			if got := cfg.WebhookPath(); got != tc.path {
				t.Errorf("Got(WebhookPath) = %q, want %q", got, tc.path)
			}
		})
	}
}

func TestConfigLogValueHidesSecrets(t *testing.T) {
	cfg := Config{Token: testToken, WebhookURL: "https://s.example.it/tg", WebhookSecret: "verysecret"}
	got := cfg.LogValue().String()
	if strings.Contains(got, testToken) || strings.Contains(got, "verysecret") {
		t.Errorf("Got(LogValue) = %s, want no token or secret", got)
	}
}
