package storetest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"sportello/bot/schedule"
)

// BenchClaimDone measures the scheduler's hot path on q: b.N due jobs are
// scheduled (untimed), then workers claim them batch at a time and finish
// each with Done. It reports jobs/s. measure, if not nil, is called when the
// timed part starts (to reset a round-trip counter).
func BenchClaimDone(b *testing.B, q Queue, batch, workers int, measure func()) {
	ctx := context.Background()
	b.StopTimer()
	queue := "bench-" + strconv.Itoa(batch) + "-" + strconv.Itoa(workers) + "-" + strconv.Itoa(b.N)
	due := time.Now().Add(-time.Second)
	payload := make([]byte, 256)
	for i := range b.N {
		if err := q.Schedule(ctx, schedule.Job{Queue: queue, ID: strconv.Itoa(i), Due: due, Payload: payload}); err != nil {
			b.Fatalf("Schedule = %v", err)
		}
	}
	if measure != nil {
		measure()
	}
	b.StartTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				jobs, err := q.Claim(ctx, queue, time.Now(), time.Minute, batch)
				if err != nil {
					b.Errorf("Claim = %v", err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				for _, j := range jobs {
					if err := q.Done(ctx, j); err != nil {
						b.Errorf("Done = %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
	if n, err := q.Pending(ctx, queue); err != nil || n != 0 {
		b.Fatalf("Pending after the benchmark = %d, %v; want 0", n, err)
	}
}

// BenchSchedule measures Schedule on q: b.N jobs with a 256-byte payload,
// each with an expiry when expires is set (then the backend also keeps its
// expiry index). It reports jobs/s. measure, if not nil, is called when the
// timed part starts.
func BenchSchedule(b *testing.B, q Queue, expires bool, measure func()) {
	ctx := context.Background()
	queue := "bench-schedule-" + strconv.FormatBool(expires) + "-" + strconv.Itoa(b.N)
	due := time.Now().Add(time.Hour)
	payload := make([]byte, 256)
	if measure != nil {
		measure()
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		j := schedule.Job{Queue: queue, ID: strconv.Itoa(i), Due: due, Payload: payload}
		if expires {
			j.Expires = due.Add(7 * 24 * time.Hour)
		}
		if err := q.Schedule(ctx, j); err != nil {
			b.Fatalf("Schedule = %v", err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}

// BenchPurge measures PurgeExpired on q: b.N expired jobs spread over
// eight queues are scheduled (untimed), then purged batch at a time until
// none is left. One op = one purged job. measure, if not nil, is called
// when the timed part starts.
func BenchPurge(b *testing.B, q Queue, batch int, measure func()) {
	ctx := context.Background()
	b.StopTimer()
	now := time.Now()
	prefix := "bench-purge-" + strconv.Itoa(batch) + "-" + strconv.Itoa(b.N) + "-"
	payload := make([]byte, 256)
	for i := range b.N {
		j := schedule.Job{Queue: prefix + strconv.Itoa(i%8), ID: strconv.Itoa(i), Due: now, Expires: now.Add(-time.Minute), Payload: payload}
		if err := q.Schedule(ctx, j); err != nil {
			b.Fatalf("Schedule = %v", err)
		}
	}
	if measure != nil {
		measure()
	}
	b.StartTimer()
	start := time.Now()
	total := 0
	for {
		n, err := q.PurgeExpired(ctx, now, batch)
		if err != nil {
			b.Fatalf("PurgeExpired = %v", err)
		}
		total += n
		if n == 0 {
			break
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
	if total != b.N {
		b.Fatalf("purged %d jobs, want %d", total, b.N)
	}
}
