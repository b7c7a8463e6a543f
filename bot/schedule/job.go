// Package schedule runs durable timed jobs: reminders, pushes, the release of
// an unconfirmed booking at its deadline, the end of a waitlist hold.
//
// A job lives in a state backend (redisstore for several replicas, boltstore
// for a single process) until a handler has finished it, so it survives
// crashes and restarts. The backend contract, kept by both and checked by
// storetest.RunQueue:
//
//   - Schedule upserts by Queue+ID: producers are idempotent, and scheduling an
//     existing ID replaces it. A job replaced while a worker runs it waits until
//     that worker finishes (or its lease runs out), so one ID never runs twice
//     at the same time.
//   - Claim atomically takes up to limit jobs due at now (earliest first),
//     hides them until now+lease and stamps each with a fresh Token.
//   - Done, Retry and Postpone act only while the job still carries the
//     claim's token; otherwise they change nothing and report
//     store.ErrLeaseLost. A stale worker never deletes a replacement.
//   - A claimed job whose lease runs out without Done, Retry or Postpone is
//     claimable again with Attempt+1: this is how a crashed worker's job is
//     run again. Handlers must therefore be idempotent.
//   - A job with Expires is deleted by PurgeExpired once Expires has passed,
//     waiting or claimed, even if nobody ever claims it (a push to a route
//     nobody serves): jobs that carry personal data do not outlive their
//     use. Only the job's own stored Expires counts: a job replaced with a
//     later Expires, or none, is kept. Retry and Postpone keep Expires. A
//     Janitor runs the purge periodically.
//
// Claim's now comes from the caller's clock, so replicas sharing one Redis
// need synchronised clocks (NTP): a skew shortens or lengthens a lease by as
// much. There is no lease extension: a Runner ends a handler's context at
// nine tenths of the lease, so pick a lease well above a handler's run time.
//
// A Runner polls queues, claims jobs and calls their handlers with bounded
// concurrency, retrying failures with exponential backoff.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits on names, enforced by Validate (and so by every backend).
const (
	MaxQueueBytes = 200
	MaxIDBytes    = 512
)

// Job is one durable unit of work.
type Job struct {
	Queue   string    // e.g. "tasks", "push:telegram", "push:console"
	ID      string    // unique within the queue; scheduling an existing ID replaces it (idempotent producers)
	Due     time.Time // when the job should run; stored with millisecond precision
	Payload []byte    // opaque to the scheduler, binary-safe
	Attempt int       // 0 on first run, incremented on retry and when a lease runs out
	Token   string    // set by Claim; Done/Retry/Postpone only act while the token matches
	// Expires, when set, is when the job stops being wanted: from then on
	// PurgeExpired deletes it, claimed or not. Zero keeps it until it is
	// done. Stored with millisecond precision. The runner itself does not
	// look at it: a handler that must not act late checks it (the push
	// deliverer does).
	Expires time.Time
}

// Validate reports whether j can be stored: a queue name of 1 to
// MaxQueueBytes bytes without NUL, and an ID of 1 to MaxIDBytes bytes.
func (j Job) Validate() error {
	if err := ValidateQueue(j.Queue); err != nil {
		return err
	}
	if j.ID == "" || len(j.ID) > MaxIDBytes {
		return fmt.Errorf("schedule: job id must be 1 to %d bytes, got %d", MaxIDBytes, len(j.ID))
	}
	if j.Attempt < 0 {
		return fmt.Errorf("schedule: job %s: negative attempt %d", j.ID, j.Attempt)
	}
	return nil
}

// ValidateQueue reports whether name is a usable queue name.
func ValidateQueue(name string) error {
	if name == "" || len(name) > MaxQueueBytes || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("schedule: queue name must be 1 to %d bytes without NUL, got %q", MaxQueueBytes, name)
	}
	return nil
}

// Backend is what a Runner needs from a state backend. *redisstore.Store and
// *boltstore.Store implement it.
type Backend interface {
	// Claim takes up to limit jobs of queue due at now, hides them until
	// now+lease and returns them with a fresh Token, earliest due first.
	Claim(ctx context.Context, queue string, now time.Time, lease time.Duration, limit int) ([]Job, error)
	// Done deletes the claimed job j.
	Done(ctx context.Context, j Job) error
	// Retry reschedules the claimed job j at due with Attempt+1.
	Retry(ctx context.Context, j Job, due time.Time) error
	// Postpone reschedules the claimed job j at due without counting an
	// attempt (the job did not fail: it was asked to wait, or the runner
	// is shutting down).
	Postpone(ctx context.Context, j Job, due time.Time) error
}

// Purger deletes expired jobs. *redisstore.Store and *boltstore.Store
// implement it; a Janitor calls it periodically.
type Purger interface {
	// PurgeExpired deletes up to limit jobs, of any queue, waiting or
	// claimed, whose stored Expires is at or before now, and reports how
	// many it deleted. A worker holding a deleted job finds ErrLeaseLost
	// when it finishes.
	PurgeExpired(ctx context.Context, now time.Time, limit int) (int, error)
}

// ErrPermanent marks a handler error that no retry can fix (a corrupt
// payload, a recipient that blocked the bot): the runner drops the job.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so that the runner drops the job instead of retrying.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// RetryAfterError asks the runner to run the job again after After without
// counting a failed attempt (a rate limit said "come back in 3 seconds").
// Err is the cause, if any: a job that simply repeats (a sweep every 15
// seconds) leaves it nil, and its postponement is logged at Debug only.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("retry after %s", e.After)
	}
	return fmt.Sprintf("retry after %s: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }
