package bot

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	turns        *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	errors       *prometheus.CounterVec
	dialogErrors *prometheus.CounterVec
}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sportello_turns_total",
			Help: "Inbound messages handled, by channel and outcome.",
		}, []string{"channel", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sportello_turn_duration_seconds",
			Help:    "Time to handle one inbound message, store round trips included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"channel"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sportello_turn_errors_total",
			Help: "Turns that failed, by reason (store_unavailable, busy, lease_lost, error).",
		}, []string{"reason"}),
		dialogErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sportello_dialog_errors_total",
			Help: "Unexpected dialog failures, by dialog.",
		}, []string{"dialog"}),
	}
	reg.MustRegister(m.turns, m.latency, m.errors, m.dialogErrors)
	return m
}

func (m *Metrics) observe(channel, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.turns.WithLabelValues(channel, outcome).Inc()
	m.latency.WithLabelValues(channel).Observe(d.Seconds())
	if outcome != "ok" && outcome != "duplicate" {
		m.errors.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) dialogError(dialog string) {
	if m == nil {
		return
	}
	m.dialogErrors.WithLabelValues(dialog).Inc()
}
