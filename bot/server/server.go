// Package server is Sportello's HTTP server: health and readiness probes,
// Prometheus metrics, and a mux where channels (webhooks) and the staff API
// mount their handlers.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves HTTP until its context is cancelled.
type Server struct {
	mux   *http.ServeMux
	srv   *http.Server
	ready func(context.Context) error
	log   *slog.Logger

	notReady atomic.Bool // last readiness seen, to log changes only
}

// New builds a server. ready reports whether the service can take traffic
// (the state store answers); gatherer serves /metrics.
func New(addr string, gatherer prometheus.Gatherer, ready func(context.Context) error, log *slog.Logger) *Server {
	s := &Server{mux: http.NewServeMux(), ready: ready, log: log}
	s.srv = &http.Server{
		Addr:              addr,
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	return s
}

// Handle mounts a handler on the server's mux (Go 1.22 patterns).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// readyz answers 503 while the state store does not answer. The cause goes
// to the log, once per change, not to whoever probes (the port also serves
// public webhooks).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		if !s.notReady.Swap(true) {
			s.log.Warn("not ready: the state store does not answer", slog.Any("error", err))
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	if s.notReady.Swap(false) {
		s.log.Info("ready again: the state store answers")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Listen opens the listening socket, so that a port already in use is
// reported at start, before anything else runs.
func (s *Server) Listen() (net.Listener, error) {
	l, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return nil, fmt.Errorf("SPORTELLO_ADDR %s: %w", s.srv.Addr, err)
	}
	return l, nil
}

// Serve serves on l until ctx is cancelled, then stops taking requests and
// waits up to grace for the ones in flight.
func (s *Server) Serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("http server shutdown: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
