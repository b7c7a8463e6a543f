package schedule

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Defaults for a Janitor.
const (
	DefaultPurgeInterval = time.Minute
	DefaultPurgeBatch    = 500

	// maxPurgeRounds bounds one purge (DefaultPurgeBatch*maxPurgeRounds
	// jobs); what is left waits for the next one.
	maxPurgeRounds = 100
)

// JanitorConfig configures a Janitor. Zero fields take the defaults shown.
type JanitorConfig struct {
	Every   time.Duration    // between purges; DefaultPurgeInterval
	Batch   int              // jobs deleted per backend call; DefaultPurgeBatch
	Logger  *slog.Logger     // slog.Default()
	Metrics *Metrics         // nil records nothing
	Now     func() time.Time // time.Now; tests move the clock
}

// Janitor deletes expired jobs (see Job.Expires and Purger) at start and
// then every Every, so that a job nobody claims, like a push to a channel
// that is not configured any more or to a terminal citizen who never opens
// the chat again, goes at its expiry with the personal data it carries.
// Every process may run one on the same store: purges never conflict.
type Janitor struct {
	p       Purger
	cfg     JanitorConfig
	started atomic.Bool
	failing bool // the last purge failed; touched only by Run
}

// NewJanitor returns a janitor purging p. Call Run to start it.
func NewJanitor(p Purger, cfg JanitorConfig) *Janitor {
	if cfg.Every <= 0 {
		cfg.Every = DefaultPurgeInterval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultPurgeBatch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Janitor{p: p, cfg: cfg}
}

// Run purges at once and then every Every until ctx ends. It returns nil
// after ctx ends, or an error when called a second time.
func (j *Janitor) Run(ctx context.Context) error {
	if !j.started.CompareAndSwap(false, true) {
		return errors.New("schedule: Janitor.Run called twice")
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		j.purge(ctx)
		t.Reset(j.cfg.Every)
	}
}

// purge runs one Purge and reports it: deletions at Info (they are pushes
// nobody delivered in time), the first failure of a run of them at Warn.
func (j *Janitor) purge(ctx context.Context) {
	n, err := j.Purge(ctx)
	log := j.cfg.Logger
	if n > 0 {
		log.Info("expired jobs deleted", slog.Int("jobs", n))
	}
	switch {
	case err != nil && ctx.Err() != nil:
		// Stopping.
	case err != nil && !j.failing:
		j.failing = true
		log.Warn("cannot delete expired jobs; will try again", slog.String("every", j.cfg.Every.String()), slog.Any("error", err))
	case err != nil:
		log.Debug("cannot delete expired jobs", slog.Any("error", err))
	case j.failing:
		j.failing = false
		log.Info("expired jobs are deleted again")
	}
}

// Purge deletes the jobs expired now, a batch per backend call, and
// reports how many it deleted.
func (j *Janitor) Purge(ctx context.Context) (int, error) {
	now := j.cfg.Now()
	total := 0
	for range maxPurgeRounds {
		cctx, cancel := context.WithTimeout(ctx, storeTimeout)
		n, err := j.p.PurgeExpired(cctx, now, j.cfg.Batch)
		cancel()
		total += n
		j.cfg.Metrics.purged(n)
		if err != nil {
			j.cfg.Metrics.storeError("*", "purge")
			return total, err
		}
		if n < j.cfg.Batch {
			break
		}
	}
	return total, nil
}
