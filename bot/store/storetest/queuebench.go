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
