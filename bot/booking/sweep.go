package booking

import (
	"context"
	"log/slog"
	"time"

	"sportello/bot/schedule"
)

// SweepQueue is the scheduler queue of the Service's sweep job, and
// sweepJob its one job.
const (
	SweepQueue = "booking"
	sweepJob   = "sweep"
)

// Scheduler is the part of the durable scheduler the Service uses:
// *redisstore.Store and *boltstore.Store implement it.
type Scheduler interface {
	Schedule(ctx context.Context, j schedule.Job) error
}

// Queue returns the scheduler queue that sweeps the calendar: give it
// to the schedule.Runner, and call StartSweeping once at start (every
// replica may: it is idempotent). The runner hands the job to one replica at
// a time, which sweeps and asks to run again after SweepEvery; a failed
// sweep is retried the same way, so the job never gives up.
//
// The deadlines themselves (confirmation, release, holds, purge) are kept in
// the booking store, written in the same atomic step as the booking they
// belong to, so none is lost between two writes; the job only says when to
// look. Run is the same loop without a scheduler.
func (s *Service) Queue() schedule.Queue {
	return schedule.Queue{Name: SweepQueue, Handler: s.handleSweep, Concurrency: 1, Lease: 5 * time.Minute}
}

// StartSweeping schedules the sweep job to run now.
func (s *Service) StartSweeping(ctx context.Context, sch Scheduler) error {
	return sch.Schedule(ctx, schedule.Job{Queue: SweepQueue, ID: sweepJob, Due: time.Now()})
}

func (s *Service) handleSweep(ctx context.Context, _ schedule.Job) error {
	n, err := s.Sweep(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "booking sweep", slog.Any("error", err))
	} else if n > 0 {
		s.log.DebugContext(ctx, "booking sweep", slog.Int("steps", n))
	}
	return &schedule.RetryAfterError{After: s.cfg.SweepEvery, Err: err}
}
