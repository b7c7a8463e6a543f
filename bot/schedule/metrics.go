package schedule

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the scheduler's Prometheus metrics, shared by every Runner of
// a process. A nil *Metrics records nothing.
type Metrics struct {
	runs        *prometheus.CounterVec
	failures    *prometheus.CounterVec
	givenUp     *prometheus.CounterVec
	droppedJobs *prometheus.CounterVec
	lost        *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
	lagSeconds  *prometheus.HistogramVec
	expired     prometheus.Counter
}

// NewMetrics registers the scheduler's metrics with reg. Create it once per
// registry and pass it to every Runner with WithMetrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		runs:        counter("sportello_scheduler_jobs_run_total", "Job handler runs, by queue.", "queue"),
		failures:    counter("sportello_scheduler_jobs_failed_total", "Job handler runs that failed (errors and panics) and were retried or given up, by queue.", "queue"),
		givenUp:     counter("sportello_scheduler_jobs_given_up_total", "Jobs dropped after their last attempt failed, by queue.", "queue"),
		droppedJobs: counter("sportello_scheduler_jobs_dropped_total", "Jobs dropped because their handler reported a permanent failure, by queue.", "queue"),
		lost:        counter("sportello_scheduler_jobs_lease_lost_total", "Jobs cancelled, replaced or re-claimed while their handler ran, by queue.", "queue"),
		storeErrors: counter("sportello_scheduler_store_errors_total", "Failed backend calls of the scheduler, by queue (\"*\" for the purge of every queue) and operation.", "queue", "op"),
		lagSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sportello_scheduler_lag_seconds",
			Help:    "Delay between a job's due time and its start, by queue.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}, []string{"queue"}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sportello_scheduler_jobs_expired_total",
			Help: "Jobs deleted by the Janitor because their expiry passed, claimed or not (pushes nobody delivered in time).",
		}),
	}
	reg.MustRegister(m.runs, m.failures, m.givenUp, m.droppedJobs, m.lost, m.storeErrors, m.lagSeconds, m.expired)
	return m
}

func (m *Metrics) ran(queue string) {
	if m != nil {
		m.runs.WithLabelValues(queue).Inc()
	}
}

func (m *Metrics) failed(queue string) {
	if m != nil {
		m.failures.WithLabelValues(queue).Inc()
	}
}

func (m *Metrics) gaveUp(queue string) {
	if m != nil {
		m.givenUp.WithLabelValues(queue).Inc()
	}
}

func (m *Metrics) dropped(queue string) {
	if m != nil {
		m.droppedJobs.WithLabelValues(queue).Inc()
	}
}

func (m *Metrics) leaseLost(queue string) {
	if m != nil {
		m.lost.WithLabelValues(queue).Inc()
	}
}

func (m *Metrics) storeError(queue, op string) {
	if m != nil {
		m.storeErrors.WithLabelValues(queue, op).Inc()
	}
}

func (m *Metrics) lag(queue string, d time.Duration) {
	if m != nil {
		m.lagSeconds.WithLabelValues(queue).Observe(max(d, 0).Seconds())
	}
}

func (m *Metrics) purged(n int) {
	if m != nil && n > 0 {
		m.expired.Add(float64(n))
	}
}
