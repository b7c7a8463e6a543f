package schedule_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sportello/bot/bottest"
	"sportello/bot/schedule"
	"sportello/bot/store/redistest"
)

// purgingBackend is what the janitor tests need from a store.
type purgingBackend interface {
	backend
	schedule.Purger
}

// startJanitor runs j until the test ends; the returned stop cancels it and
// waits for Run to return.
func startJanitor(t *testing.T, j *schedule.Janitor) (stop func() error) {
	t.Helper()
	return runUntilStopped(t, j.Run)
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather = %v", err)
	}
	for _, f := range families {
		if f.GetName() == name {
			sum := 0.0
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	return 0
}

// TestJanitorPurgesUnclaimedJobs: jobs on a queue no runner serves go at
// their expiry, at the janitor's start and at each later round; jobs not
// yet expired and jobs without expiry stay.
func TestJanitorPurgesUnclaimedJobs(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open().(purgingBackend)
		now := time.Now()
		schedJob(t, b, schedule.Job{Queue: "push:gone", ID: "expired", Due: now.Add(-time.Hour), Expires: now.Add(-time.Minute)})
		schedJob(t, b, schedule.Job{Queue: "push:gone", ID: "tomorrow", Due: now, Expires: now.Add(24 * time.Hour)})
		schedJob(t, b, schedule.Job{Queue: "tasks", ID: "forever", Due: now.Add(time.Hour)})
		reg := prometheus.NewPedanticRegistry()
		log, logs := testLogger()
		j := schedule.NewJanitor(b, schedule.JanitorConfig{Every: 10 * time.Millisecond, Logger: log, Metrics: schedule.NewMetrics(reg)})
		stop := startJanitor(t, j)
		eventually(t, "the expired job is purged", pendingIs(t, b, "push:gone", 1))
		// A job that expires while the janitor runs goes at a later round.
		schedJob(t, b, schedule.Job{Queue: "push:gone", ID: "soon", Due: now, Expires: time.Now().Add(20 * time.Millisecond)})
		eventually(t, "the job expiring later is purged", func() bool {
			_, ok, err := b.Get(context.Background(), "push:gone", "soon")
			return err == nil && !ok
		})
		if err := stop(); err != nil {
			t.Fatalf("Run = %v", err)
		}
		for queue, id := range map[string]string{"push:gone": "tomorrow", "tasks": "forever"} {
			if _, ok, err := b.Get(context.Background(), queue, id); err != nil || !ok {
				t.Errorf("Got(Get(%s/%s)) = %v, %v; want the job kept", queue, id, ok, err)
			}
		}
		if got := counterValue(t, reg, "sportello_scheduler_jobs_expired_total"); got != 2 {
			t.Errorf("Got(sportello_scheduler_jobs_expired_total) = %v, want 2", got)
		}
		if !strings.Contains(logs.String(), `msg="expired jobs deleted" jobs=1`) {
			t.Errorf("no \"expired jobs deleted\" line in the log:\n%s", logs)
		}
		if err := j.Run(context.Background()); err == nil {
			t.Error("Got(second Run) = nil, want an error")
		}
	})
}

// TestJanitorPurgeTakesEveryBatch: one Purge goes on until a batch comes
// back short, however many batches that takes.
func TestJanitorPurgeTakesEveryBatch(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	now := time.Now()
	for i := range 25 {
		schedJob(t, b, schedule.Job{Queue: fmt.Sprintf("push:q%d", i%2), ID: fmt.Sprint(i), Due: now, Expires: now.Add(time.Duration(i) * time.Millisecond)})
	}
	j := schedule.NewJanitor(b, schedule.JanitorConfig{Batch: 10, Now: func() time.Time { return now.Add(time.Second) }})
	if n, err := j.Purge(context.Background()); n != 25 || err != nil {
		t.Errorf("Got(Purge) = %d, %v; want 25, nil", n, err)
	}
}

// TestJanitorSurvivesRedisOutage: a purge that fails is reported once,
// and the recovery too; expired jobs are purged once Redis is back.
func TestJanitorSurvivesRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	b := bottest.RedisStore(t, srv.URL()+"?dial_timeout=100ms&read_timeout=200ms&max_retries=1", "outage")
	log, logs := testLogger()
	startJanitor(t, schedule.NewJanitor(b, schedule.JanitorConfig{Every: 20 * time.Millisecond, Logger: log}))
	srv.Stop()
	eventually(t, "the janitor notices the outage", func() bool {
		return strings.Contains(logs.String(), "cannot delete expired jobs; will try again")
	})
	srv.Restart()
	now := time.Now()
	eventually(t, "a job is scheduled after the outage", func() bool {
		return b.Schedule(context.Background(), schedule.Job{Queue: "push:gone", ID: "x", Due: now, Expires: now.Add(time.Millisecond)}) == nil
	})
	eventually(t, "the expired job is purged", pendingIs(t, b, "push:gone", 0))
	eventually(t, "the janitor reports recovery", func() bool {
		return strings.Contains(logs.String(), "expired jobs are deleted again")
	})
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("Got(WARN lines) = %d, want 1 for the whole outage:\n%s", n, logs)
	}
}
