package telegram

import (
	"errors"

	tgbot "github.com/go-telegram/bot"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the channel's Prometheus metrics. A nil *metrics records
// nothing.
type metrics struct {
	updates *prometheus.CounterVec
	sent    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sportello_telegram_updates_total",
			Help: "Telegram updates received, by outcome (queued, duplicate, handled, ignored, retried, failed).",
		}, []string{"outcome"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sportello_telegram_requests_total",
			Help: "Bot API requests made by the sender, by method and result (ok, too_many_requests, forbidden, error).",
		}, []string{"method", "result"}),
	}
	reg.MustRegister(m.updates, m.sent)
	return m
}

func (m *metrics) update(outcome string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.updates.WithLabelValues(outcome).Add(float64(n))
}

func (m *metrics) sentResult(method string, err error) {
	if m == nil {
		return
	}
	var tooMany *tgbot.TooManyRequestsError
	result := "ok"
	switch {
	case err == nil:
	case errors.As(err, &tooMany):
		result = "too_many_requests"
	case errors.Is(err, tgbot.ErrorForbidden):
		result = "forbidden"
	default:
		result = "error"
	}
	m.sent.WithLabelValues(method, result).Inc()
}
