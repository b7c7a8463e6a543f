package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"sportello/bot/store"
)

// Handler runs one job. It must be idempotent: a job whose worker crashed
// runs again. Its context ends a little before the job's lease does; a
// handler that outlives its lease may see the job run elsewhere.
//
// The error decides what happens next: nil finishes the job; an error
// wrapping ErrPermanent (see Permanent) drops it; a *RetryAfterError runs it
// again after the given delay without counting an attempt; any other error
// (or a panic) retries it with exponential backoff until Queue.MaxAttempts.
// A *RetryAfterError without Err is routine (a repeating job) and is logged
// at Debug only.
type Handler func(ctx context.Context, j Job) error

// Queue configures how a Runner serves one queue. Zero fields take the
// defaults shown.
type Queue struct {
	Name        string
	Handler     Handler
	Concurrency int           // jobs of this queue run at once by this runner; 4
	Lease       time.Duration // how long a claimed job stays hidden from other workers; 1 minute
	MaxAttempts int           // attempts before the job is given up; 8
	MinBackoff  time.Duration // delay before the first retry, doubled for each further one; 1 second
	MaxBackoff  time.Duration // longest delay between retries; 1 hour
}

// Defaults for Queue and Runner settings.
const (
	DefaultConcurrency   = 4
	DefaultLease         = time.Minute
	DefaultMaxAttempts   = 8
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = time.Hour
	DefaultPollInterval  = time.Second
	DefaultShutdownGrace = 10 * time.Second

	// minRetryAfter keeps a handler that keeps asking for "retry after 0"
	// from spinning.
	minRetryAfter = 100 * time.Millisecond
	// storeTimeout bounds each backend call the runner makes.
	storeTimeout = 10 * time.Second
)

// Runner claims due jobs from its queues and runs their handlers. Several
// runners, in one process or many, can serve the same queues: the backend
// hands each job to one of them at a time.
type Runner struct {
	backend Backend
	queues  []*queueRunner
	byName  map[string]*queueRunner
	poll    time.Duration
	grace   time.Duration
	log     *slog.Logger
	metrics *Metrics
	started atomic.Bool
}

// Option configures a Runner.
type Option func(*Runner)

// WithPollInterval sets how often each queue is checked for due jobs when
// nothing wakes the runner sooner (default 1s).
func WithPollInterval(d time.Duration) Option {
	return func(r *Runner) {
		if d > 0 {
			r.poll = d
		}
	}
}

// WithShutdownGrace sets how long in-flight handlers may keep running once
// Run's context ends (default 10s). After that their contexts are cancelled,
// and jobs they give back unfinished are released for another worker
// without counting an attempt.
func WithShutdownGrace(d time.Duration) Option {
	return func(r *Runner) {
		if d >= 0 {
			r.grace = d
		}
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(r *Runner) {
		if l != nil {
			r.log = l
		}
	}
}

// WithMetrics records the runner's work in m (see NewMetrics).
func WithMetrics(m *Metrics) Option { return func(r *Runner) { r.metrics = m } }

// NewRunner returns a runner for queues on b. Call Run to start it.
func NewRunner(b Backend, queues []Queue, opts ...Option) (*Runner, error) {
	r := &Runner{
		backend: b,
		byName:  map[string]*queueRunner{},
		poll:    DefaultPollInterval,
		grace:   DefaultShutdownGrace,
		log:     slog.Default(),
	}
	for _, o := range opts {
		o(r)
	}
	if len(queues) == 0 {
		return nil, errors.New("schedule: a runner needs at least one queue")
	}
	for _, q := range queues {
		if err := ValidateQueue(q.Name); err != nil {
			return nil, err
		}
		if q.Handler == nil {
			return nil, fmt.Errorf("schedule: queue %s has no handler", q.Name)
		}
		if r.byName[q.Name] != nil {
			return nil, fmt.Errorf("schedule: queue %s given twice", q.Name)
		}
		q = q.withDefaults()
		qr := &queueRunner{Queue: q, r: r, kick: make(chan struct{}, 1)}
		r.queues = append(r.queues, qr)
		r.byName[q.Name] = qr
	}
	return r, nil
}

func (q Queue) withDefaults() Queue {
	if q.Concurrency <= 0 {
		q.Concurrency = DefaultConcurrency
	}
	if q.Lease <= 0 {
		q.Lease = DefaultLease
	}
	if q.MaxAttempts <= 0 {
		q.MaxAttempts = DefaultMaxAttempts
	}
	if q.MinBackoff <= 0 {
		q.MinBackoff = DefaultMinBackoff
	}
	if q.MaxBackoff < q.MinBackoff {
		q.MaxBackoff = max(DefaultMaxBackoff, q.MinBackoff)
	}
	return q
}

// Kick makes the runner check queue now instead of at its next poll, for a
// job just scheduled due now in this process. It never blocks; a queue the
// runner does not serve is ignored.
func (r *Runner) Kick(queue string) {
	if q := r.byName[queue]; q != nil {
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
}

// Run serves the queues until ctx ends, then stops claiming and waits for
// the handlers in flight (cancelling them after the shutdown grace). It
// returns nil after a shutdown, or an error when called a second time.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("schedule: Runner.Run called twice")
	}
	// Handlers keep running through the grace period after ctx ends.
	hctx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	var loops sync.WaitGroup
	for _, q := range r.queues {
		loops.Go(func() { q.loop(ctx, hctx) })
	}
	stopped := make(chan struct{})
	go func() { // owned by Run: it returns only after stopped is closed
		loops.Wait()
		close(stopped)
	}()
	<-ctx.Done()
	grace := time.NewTimer(r.grace)
	defer grace.Stop()
	select {
	case <-stopped:
	case <-grace.C:
		r.log.Warn("scheduler shutdown grace over, cancelling running jobs", slog.Duration("grace", r.grace))
		cancelHandlers()
		<-stopped
	}
	return nil
}

// queueRunner serves one queue.
type queueRunner struct {
	Queue
	r       *Runner
	kick    chan struct{}
	failing bool // the last Claim failed; touched only by loop
}

// loop claims and starts jobs while slots are free, until ctx ends; then it
// waits for the jobs it started.
func (q *queueRunner) loop(ctx, hctx context.Context) {
	var jobs sync.WaitGroup
	defer jobs.Wait()
	finished := make(chan struct{}, q.Concurrency)
	busy := 0
	more := false // the last claim filled every free slot: more may be due
	wake := time.NewTimer(0)
	defer wake.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-finished:
			busy--
			if !more {
				continue
			}
		case <-wake.C:
		case <-q.kick:
		}
		if busy == q.Concurrency {
			more = true // claim as soon as a slot frees
			continue
		}
		if ctx.Err() != nil {
			return
		}
		free := q.Concurrency - busy
		at := time.Now() // the leases run from here
		claimed, err := q.claim(ctx, at, free)
		more = err == nil && len(claimed) == free
		for _, j := range claimed {
			busy++
			jobs.Go(func() {
				defer func() { finished <- struct{}{} }()
				q.run(hctx, j, at)
			})
		}
		wake.Reset(q.r.poll)
	}
}

func (q *queueRunner) claim(ctx context.Context, now time.Time, limit int) ([]Job, error) {
	// A claim already sent completes even when ctx ends meanwhile, so that
	// its jobs are not left leased for nothing.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	jobs, err := q.r.backend.Claim(cctx, q.Name, now, q.Lease, limit)
	switch {
	case err != nil && !q.failing:
		q.failing = true
		q.r.log.Error("scheduler cannot claim jobs", slog.String("queue", q.Name), slog.Any("error", err))
	case err != nil:
		q.r.log.Debug("scheduler cannot claim jobs", slog.String("queue", q.Name), slog.Any("error", err))
	case q.failing:
		q.failing = false
		q.r.log.Info("scheduler claims jobs again", slog.String("queue", q.Name))
	}
	if err != nil {
		q.r.metrics.storeError(q.Name, "claim")
	}
	return jobs, err
}

// run runs one job claimed at claimed and records its outcome.
func (q *queueRunner) run(hctx context.Context, j Job, claimed time.Time) {
	m, log := q.r.metrics, q.r.log.With(slog.String("queue", q.Name), slog.String("job_id", j.ID), slog.Int("attempt", j.Attempt))
	m.lag(q.Name, claimed.Sub(j.Due))
	if j.Attempt >= q.MaxAttempts {
		// Its worker kept dying (lease expiries count as attempts).
		log.Error("job given up", slog.String("error", "lease ran out on every attempt"))
		m.gaveUp(q.Name)
		q.finish(hctx, log, "done", j, time.Time{})
		return
	}
	jctx, cancel := context.WithDeadline(hctx, claimed.Add(q.Lease*9/10))
	err := q.call(jctx, j)
	cancel()
	m.ran(q.Name)

	var retryAfter *RetryAfterError
	switch {
	case err == nil:
		q.finish(hctx, log, "done", j, time.Time{})
	case errors.Is(err, ErrPermanent):
		log.Warn("job dropped", slog.Any("error", err))
		m.dropped(q.Name)
		q.finish(hctx, log, "done", j, time.Time{})
	case hctx.Err() != nil:
		// Shutting down: give the job back untouched for another worker.
		log.Info("job released at shutdown", slog.Any("error", err))
		q.finish(hctx, log, "postpone", j, j.Due)
	case errors.As(err, &retryAfter):
		d := max(retryAfter.After, minRetryAfter)
		if retryAfter.Err == nil {
			// A job asking to run again later (a periodic sweep): routine.
			log.Debug("job postponed", slog.Duration("after", d))
		} else {
			log.Info("job postponed", slog.Duration("after", d), slog.Any("error", err))
		}
		q.finish(hctx, log, "postpone", j, time.Now().Add(d))
	case j.Attempt+1 >= q.MaxAttempts:
		m.failed(q.Name)
		m.gaveUp(q.Name)
		log.Error("job given up", slog.Any("error", err))
		q.finish(hctx, log, "done", j, time.Time{})
	default:
		m.failed(q.Name)
		d := q.backoff(j.Attempt)
		log.Warn("job failed, will retry", slog.Duration("after", d), slog.Any("error", err))
		q.finish(hctx, log, "retry", j, time.Now().Add(d))
	}
}

// call runs the handler, turning a panic into an error.
func (q *queueRunner) call(ctx context.Context, j Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			q.r.log.Error("job handler panicked", slog.String("queue", q.Name), slog.String("job_id", j.ID),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("schedule: handler of %s panicked: %v", q.Name, p)
		}
	}()
	return q.Handler(ctx, j)
}

// finish records the job's outcome in the backend. When that fails the job
// stays claimed until its lease runs out and then runs again.
func (q *queueRunner) finish(hctx context.Context, log *slog.Logger, op string, j Job, due time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(hctx), storeTimeout)
	defer cancel()
	var err error
	switch op {
	case "done":
		err = q.r.backend.Done(ctx, j)
	case "retry":
		err = q.r.backend.Retry(ctx, j, due)
	default:
		err = q.r.backend.Postpone(ctx, j, due)
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrLeaseLost):
		// Cancelled, replaced or re-claimed after the lease ran out while
		// the handler ran: whoever holds it now decides.
		log.Info("job changed while it ran", slog.String("op", op))
		q.r.metrics.leaseLost(q.Name)
	default:
		log.Error("cannot record job outcome; it will run again after its lease", slog.String("op", op), slog.Any("error", err))
		q.r.metrics.storeError(q.Name, op)
	}
}

// backoff is the delay before retrying after failed attempt n (from 0):
// MinBackoff doubled n times, capped at MaxBackoff, jittered down by up to
// half so that jobs failing together do not retry together.
func (q Queue) backoff(n int) time.Duration {
	d := q.MinBackoff
	for i := 0; i < n && d < q.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, q.MaxBackoff)
	return d - rand.N(d/2+1)
}
