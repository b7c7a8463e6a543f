package telegram

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
)

// secretHeader carries TELEGRAM_WEBHOOK_SECRET on every webhook request.
const secretHeader = "X-Telegram-Bot-Api-Secret-Token"

// maxUpdateBytes bounds a webhook body; real updates are a few KB.
const maxUpdateBytes = 1 << 20

func hashSecret(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// WebhookHandler serves Telegram's webhook requests; mount it at
// Config.WebhookPath() on Sportello's HTTP server.
//
//   - A request without the right X-Telegram-Bot-Api-Secret-Token gets 401
//     and its body is not even read (the comparison takes constant time).
//   - An update is answered 200 only once it is durably in the inbox (or
//     was already: a redelivery); if the store cannot record it the answer
//     is 503 and Telegram delivers it again later.
//   - An update that cannot be read, but whose update_id can, is logged and
//     skipped with a 200, as the poller confirms it: answering anything else
//     would have Telegram deliver it again for a day.
//   - A body that is not an update at all (not JSON, no update_id) gets 400.
//
// The library's own webhook handler is not used: it answers 200 to a wrong
// secret and queues updates in memory only.
func (c *Chan) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := hashSecret(r.Header.Get(secretHeader))
		if c.cfg.WebhookSecret == "" || subtle.ConstantTimeCompare(got[:], c.secretHash[:]) != 1 {
			c.log.Warn("webhook request with a wrong or missing secret token", slog.String("remote", r.RemoteAddr))
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpdateBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "update too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "could not read the update", http.StatusBadRequest)
			return
		}
		it, err := readHead(body)
		if err != nil {
			id := updateID(body)
			if id == 0 {
				http.Error(w, "not a Telegram update", http.StatusBadRequest)
				return
			}
			// An update, but one Sportello cannot read: skip it, as the
			// poller does, and acknowledge it, or Telegram would deliver
			// it again and again for a day.
			c.log.Warn("skipping an unreadable update", slog.Int64("update_id", id), slog.Any("error", err))
			c.metrics.update("failed", 1)
			w.WriteHeader(http.StatusOK)
			return
		}
		if it.Chat == 0 {
			// Nothing Sportello handles: acknowledge so it is not resent.
			c.metrics.update("ignored", 1)
			w.WriteHeader(http.StatusOK)
			return
		}
		n, err := c.inbox.add(r.Context(), []item{it}, c.cfg.DedupeTTL)
		if err != nil {
			c.log.Warn("could not record a webhook update; Telegram will resend it", slog.Int64("update_id", it.UpdateID), slog.Any("error", err))
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		if n == 0 {
			c.metrics.update("duplicate", 1)
		} else {
			c.metrics.update("queued", 1)
			c.answerCallbacks([]item{it})
			c.poke(1)
		}
		w.WriteHeader(http.StatusOK)
	})
}
