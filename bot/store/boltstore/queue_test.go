package boltstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"sportello/bot/schedule"
	"sportello/bot/store"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/storetest"
)

func TestQueueConformance(t *testing.T) {
	storetest.RunQueue(t, func(t *testing.T) func() storetest.Queue {
		s, err := boltstore.Open(t.TempDir())
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return func() storetest.Queue { return s }
	})
}

// TestQueueSurvivesRestart: a job scheduled, and one claimed by a process that
// then stopped, are both there after reopening; the claimed one comes back
// when its lease runs out.
func TestQueueSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	now := time.Now()
	s, err := boltstore.Open(dir)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	for _, id := range []string{"waiting", "claimed"} {
		if err := s.Schedule(ctx, schedule.Job{Queue: "tasks", ID: id, Due: now, Payload: []byte(id)}); err != nil {
			t.Fatalf("Schedule = %v", err)
		}
	}
	if _, err := s.Claim(ctx, "tasks", now, time.Minute, 1); err != nil {
		t.Fatalf("Claim = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}

	s, err = boltstore.Open(dir)
	if err != nil {
		t.Fatalf("reopen = %v", err)
	}
	defer s.Close()
	jobs, err := s.Claim(ctx, "tasks", now, time.Minute, 10)
	if err != nil || len(jobs) != 1 || jobs[0].Attempt != 0 {
		t.Fatalf("Claim after restart = %+v, %v; want the other job at attempt 0", jobs, err)
	}
	if err := s.Done(ctx, jobs[0]); err != nil {
		t.Fatalf("Done = %v", err)
	}
	jobs, err = s.Claim(ctx, "tasks", now.Add(time.Minute), time.Minute, 10)
	if err != nil || len(jobs) != 1 || jobs[0].Attempt != 1 {
		t.Fatalf("Claim after the lease = %+v, %v; want the crashed claim back at attempt 1", jobs, err)
	}
}

func TestQueueClosedStore(t *testing.T) {
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	s.Close()
	ctx := context.Background()
	if err := s.Schedule(ctx, schedule.Job{Queue: "q", ID: "x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Schedule after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Claim(ctx, "q", time.Now(), time.Minute, 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Claim after Close = %v, want ErrClosed", err)
	}
}
