package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sportello/bot/bottest"
	"sportello/bot/schedule"
	"sportello/bot/store"
	"sportello/bot/store/redistest"
	"sportello/bot/store/storetest"
)

func TestQueueConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunQueue(t, func(t *testing.T) func() storetest.Queue {
		prefix := redistest.Prefix(t, url)
		return func() storetest.Queue { return bottest.RedisStore(t, url, prefix) }
	})
}

// TestQueueConformanceCluster runs the suite on a real three-master Redis
// Cluster, where the expiry index and the queues live in different slots.
func TestQueueConformanceCluster(t *testing.T) {
	url := redistest.StartCluster(t)
	storetest.RunQueue(t, func(t *testing.T) func() storetest.Queue {
		prefix := redistest.NewPrefix() // the keys vanish with the cluster
		return func() storetest.Queue { return bottest.RedisStore(t, url, prefix) }
	})
}

// TestPurgeLeavesNoJobData: once the purge has deleted every expired job,
// no key holds any of them; what stays is bookkeeping without payloads
// (the expiry index's registration counts and the queues' floors, which
// expire a day after the last purge).
func TestPurgeLeavesNoJobData(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	s := bottest.RedisStore(t, url, prefix)
	ctx := context.Background()
	now := time.Now()
	for i, queue := range []string{"push:telegram", "push:console-3f2a9c1d", "push:console-3f2a9c1d:bulk"} {
		j := schedule.Job{Queue: queue, ID: "confirm:ABC123", Due: now, Expires: now.Add(time.Duration(i+1) * time.Hour), Payload: []byte("chat 4242, ABC123")}
		if err := s.Schedule(ctx, j); err != nil {
			t.Fatalf("Schedule = %v", err)
		}
	}
	n := 0
	for range 10 {
		k, err := s.PurgeExpired(ctx, now.Add(24*time.Hour), 100)
		if err != nil {
			t.Fatalf("PurgeExpired = %v", err)
		}
		n += k
		if k == 0 {
			break
		}
	}
	if n != 3 {
		t.Errorf("Got(purged) = %d, want 3", n)
	}
	iter := s.Client().Scan(ctx, 0, prefix+":*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if !strings.HasSuffix(k, ":floor") && k != prefix+":{"+prefix+":qexp}:gen" {
			t.Errorf("key %s is left after the purge", k)
			continue
		}
		if ttl := s.Client().PTTL(ctx, k).Val(); strings.HasSuffix(k, ":floor") && ttl <= 0 {
			t.Errorf("Got(PTTL(%s)) = %v, want a time to live", k, ttl)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("Scan = %v", err)
	}
}

// TestQueueKeysShareHashSlot checks that a queue's keys land in one cluster
// slot, which its Lua scripts need on Redis Cluster.
func TestQueueKeysShareHashSlot(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	s := bottest.RedisStore(t, url, prefix)
	ctx := context.Background()
	if err := s.Schedule(ctx, schedule.Job{Queue: "push:telegram", ID: "x", Due: time.Now(), Payload: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	iter := s.Client().Scan(ctx, 0, prefix+":*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) != 3 {
		t.Fatalf("keys = %v, want 3 (due, meta, data)", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix+":{"+prefix+":q:push:telegram}:") {
			t.Errorf("key %q has no {<prefix>:q:push:telegram} hash tag", k)
		}
	}
}

// TestHelperClaimer is not a test: it is the body of the helper processes
// started by TestSeveralProcessesClaimOneQueue. It claims and finishes jobs
// from four goroutines until the queue is empty, printing "done <id>" for
// every job it finished.
func TestHelperClaimer(t *testing.T) {
	if os.Getenv("SPORTELLO_HELPER") != "claim" {
		t.Skip("helper process only")
	}
	s := bottest.RedisStore(t, os.Getenv("SPORTELLO_HELPER_URL"), os.Getenv("SPORTELLO_HELPER_PREFIX"))
	ctx := context.Background()
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				jobs, err := s.Claim(ctx, "tasks", time.Now(), time.Minute, 3)
				if err != nil {
					t.Errorf("Claim = %v", err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				for _, j := range jobs {
					if err := s.Done(ctx, j); err != nil {
						t.Errorf("Done(%s) = %v", j.ID, err)
						return
					}
					mu.Lock()
					fmt.Fprintf(w, "done %s\n", j.ID)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

// TestSeveralProcessesClaimOneQueue starts this test binary several times as
// separate OS processes that drain one queue together: every job must be
// finished by exactly one of them.
func TestSeveralProcessesClaimOneQueue(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	s := bottest.RedisStore(t, url, prefix)
	ctx := context.Background()
	const procs, jobs = 4, 400
	for i := range jobs {
		if err := s.Schedule(ctx, schedule.Job{Queue: "tasks", ID: strconv.Itoa(i), Due: time.Now()}); err != nil {
			t.Fatalf("Schedule = %v", err)
		}
	}
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperClaimer$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"SPORTELLO_HELPER=claim",
			"SPORTELLO_HELPER_URL="+url,
			"SPORTELLO_HELPER_PREFIX="+prefix)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start helper: %v", err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	counts := map[string]int{}
	busy := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
		n := 0
		for line := range strings.Lines(outs[i].String()) {
			if id, ok := strings.CutPrefix(strings.TrimSpace(line), "done "); ok {
				counts[id]++
				n++
			}
		}
		if n > 0 {
			busy++
		}
	}
	if len(counts) != jobs {
		t.Errorf("%d distinct jobs finished, want %d", len(counts), jobs)
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("job %s finished %d times, want once", id, n)
		}
	}
	if busy < 2 {
		t.Logf("only %d of %d processes got work; the test still checked exclusivity", busy, procs)
	}
	if n, err := s.Pending(ctx, "tasks"); err != nil || n != 0 {
		t.Errorf("Pending = %d, %v; want 0", n, err)
	}
}

// TestQueueOutageAndRecovery stops a private Redis under a working store:
// every queue call fails fast with ErrUnavailable, and works again once
// Redis is back.
func TestQueueOutageAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	s := bottest.RedisStore(t, srv.URL()+"?dial_timeout=200ms&read_timeout=200ms&write_timeout=200ms&max_retries=1", "outage")
	ctx := context.Background()
	now := time.Now()
	job := schedule.Job{Queue: "tasks", ID: "x", Due: now, Payload: []byte("p")}
	if err := s.Schedule(ctx, job); err != nil {
		t.Fatalf("Schedule before outage = %v", err)
	}
	claimed, err := s.Claim(ctx, "tasks", now, time.Minute, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("Claim before outage = %v, %v", claimed, err)
	}

	srv.Stop()
	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"Schedule", func(ctx context.Context) error { return s.Schedule(ctx, job) }},
		{"Claim", func(ctx context.Context) error { _, err := s.Claim(ctx, "tasks", now, time.Minute, 1); return err }},
		{"Done", func(ctx context.Context) error { return s.Done(ctx, claimed[0]) }},
		{"Retry", func(ctx context.Context) error { return s.Retry(ctx, claimed[0], now) }},
		{"Postpone", func(ctx context.Context) error { return s.Postpone(ctx, claimed[0], now) }},
		{"Cancel", func(ctx context.Context) error { return s.Cancel(ctx, "tasks", "x") }},
		{"Get", func(ctx context.Context) error { _, _, err := s.Get(ctx, "tasks", "x"); return err }},
		{"Pending", func(ctx context.Context) error { _, err := s.Pending(ctx, "tasks"); return err }},
	}
	for _, c := range calls {
		ctx5, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.call(ctx5)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s during outage = %v, want ErrUnavailable", c.name, err)
		}
		if ctx5.Err() != nil {
			t.Errorf("%s during outage waited for the whole deadline; want a fast failure", c.name)
		}
		cancel()
	}

	srv.Restart()
	// The server came back empty (no persistence): the queue must simply work.
	if err := s.Schedule(ctx, job); err != nil {
		t.Fatalf("Schedule after recovery = %v", err)
	}
	got, err := s.Claim(ctx, "tasks", now, time.Minute, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("Claim after recovery = %v, %v", got, err)
	}
	if err := s.Done(ctx, got[0]); err != nil {
		t.Errorf("Done after recovery = %v", err)
	}
}
