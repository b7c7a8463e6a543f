package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sportello/bot/server"
)

func TestProbesAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "sportello_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Inc()
	var down atomic.Bool
	s := server.New("127.0.0.1:0", reg, func(context.Context) error {
		if down.Load() {
			return errors.New("store unavailable")
		}
		return nil
	}, slog.New(slog.DiscardHandler))
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, l, time.Second) }()
	base := "http://" + l.Addr().String()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("GET /healthz = %d, want 200", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("GET /readyz = %d, want 200", code)
	}
	down.Store(true)
	if code, body := get("/readyz"); code != 503 || strings.Contains(body, "store unavailable") {
		t.Errorf("GET /readyz with the store down = %d %q, want 503 without internal details", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "sportello_test_total 1") {
		t.Errorf("GET /metrics = %d %q", code, body)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("GET /nope = %d, want 404", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
}

func TestListenReportsPortInUse(t *testing.T) {
	s1 := server.New("127.0.0.1:0", prometheus.NewRegistry(), nil, slog.New(slog.DiscardHandler))
	l, err := s1.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s2 := server.New(l.Addr().String(), prometheus.NewRegistry(), nil, slog.New(slog.DiscardHandler))
	if _, err := s2.Listen(); err == nil || !strings.Contains(err.Error(), "SPORTELLO_ADDR") {
		t.Errorf("Listen on a busy port = %v, want an error naming SPORTELLO_ADDR", err)
	}
}
