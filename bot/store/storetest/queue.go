package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"sportello/bot/schedule"
	"sportello/bot/store"
)

// Queue is the scheduler side of a backend, as the suite exercises it.
type Queue interface {
	schedule.Backend
	Schedule(ctx context.Context, j schedule.Job) error
	Cancel(ctx context.Context, queue, id string) error
	Get(ctx context.Context, queue, id string) (schedule.Job, bool, error)
	Pending(ctx context.Context, queue string) (int, error)
}

// FreshQueue returns a function that opens handles onto one new, empty data
// set; each handle is another client, as another replica would have.
type FreshQueue func(t *testing.T) (open func() Queue)

// RunQueue runs the scheduler conformance suite. Time is passed to Claim
// explicitly, so lease expiry is tested without waiting.
func RunQueue(t *testing.T, fresh FreshQueue) {
	tests := []struct {
		name string
		fn   func(*testing.T, func() Queue)
	}{
		{"RoundTrip", testQueueRoundTrip},
		{"NotDueNotClaimed", testQueueNotDue},
		{"UpsertReplaces", testQueueUpsert},
		{"ReplacedWhileClaimedWaitsForClaim", testQueueReplacedWhileClaimed},
		{"ReplacedWhileClaimedLeaseLapses", testQueueReplacedLeaseLapses},
		{"Cancel", testQueueCancel},
		{"LeaseExpiryReclaims", testQueueLeaseExpiry},
		{"RetryAndPostpone", testQueueRetry},
		{"OrderedByDue", testQueueOrder},
		{"BinarySafe", testQueueBinarySafe},
		{"QueuesAreIsolated", testQueueIsolation},
		{"RejectsBadNames", testQueueValidation},
		{"ConcurrentClaimersTakeEachJobOnce", testQueueConcurrentClaimers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, fresh(t))
		})
	}
}

const queueLease = time.Minute

// base is a fixed past instant in whole milliseconds (backends keep ms).
var base = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

func schedJob(t *testing.T, q Queue, j schedule.Job) {
	t.Helper()
	if err := q.Schedule(context.Background(), j); err != nil {
		t.Fatalf("Schedule(%s/%s) = %v", j.Queue, j.ID, err)
	}
}

func claim(t *testing.T, q Queue, queue string, now time.Time, limit int) []schedule.Job {
	t.Helper()
	jobs, err := q.Claim(context.Background(), queue, now, queueLease, limit)
	if err != nil {
		t.Fatalf("Claim(%s, %v) = %v", queue, now, err)
	}
	return jobs
}

func claimOne(t *testing.T, q Queue, queue string, now time.Time) schedule.Job {
	t.Helper()
	jobs := claim(t, q, queue, now, 10)
	if len(jobs) != 1 {
		t.Fatalf("Claim(%s, %v) returned %d jobs, want 1", queue, now, len(jobs))
	}
	return jobs[0]
}

func pending(t *testing.T, q Queue, queue string) int {
	t.Helper()
	n, err := q.Pending(context.Background(), queue)
	if err != nil {
		t.Fatalf("Pending(%s) = %v", queue, err)
	}
	return n
}

func getJob(t *testing.T, q Queue, queue, id string) (schedule.Job, bool) {
	t.Helper()
	j, ok, err := q.Get(context.Background(), queue, id)
	if err != nil {
		t.Fatalf("Get(%s, %s) = %v", queue, id, err)
	}
	return j, ok
}

func testQueueRoundTrip(t *testing.T, open func() Queue) {
	ctx := context.Background()
	q := open()
	in := schedule.Job{Queue: "tasks", ID: "release:ABC123", Due: base, Payload: []byte(`{"b":"ABC123"}`)}
	schedJob(t, q, in)
	if got := pending(t, q, "tasks"); got != 1 {
		t.Errorf("Pending after Schedule = %d, want 1", got)
	}
	j := claimOne(t, open(), "tasks", base)
	if j.Queue != in.Queue || j.ID != in.ID || !j.Due.Equal(in.Due) || string(j.Payload) != string(in.Payload) || j.Attempt != 0 {
		t.Errorf("Claim = %+v, want %+v", j, in)
	}
	if j.Token == "" {
		t.Error("Claim returned an empty Token")
	}
	if again := claim(t, q, "tasks", base.Add(time.Second), 10); len(again) != 0 {
		t.Errorf("second Claim while leased = %d jobs, want 0", len(again))
	}
	if got, ok := getJob(t, q, "tasks", in.ID); !ok || got.Token != j.Token || string(got.Payload) != string(in.Payload) {
		t.Errorf("Get while claimed = %+v, %v; want the job with the claim's token", got, ok)
	}
	if got := pending(t, q, "tasks"); got != 1 {
		t.Errorf("Pending while claimed = %d, want 1", got)
	}
	if err := q.Done(ctx, j); err != nil {
		t.Fatalf("Done = %v", err)
	}
	if got := pending(t, q, "tasks"); got != 0 {
		t.Errorf("Pending after Done = %d, want 0", got)
	}
	if _, ok := getJob(t, q, "tasks", in.ID); ok {
		t.Error("Get after Done found the job")
	}
	if err := q.Done(ctx, j); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("second Done = %v, want ErrLeaseLost", err)
	}
	if jobs := claim(t, q, "tasks", base.Add(time.Hour), 10); len(jobs) != 0 {
		t.Errorf("Claim after Done = %d jobs, want 0", len(jobs))
	}
}

func testQueueNotDue(t *testing.T, open func() Queue) {
	q := open()
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "later", Due: base.Add(time.Hour)})
	if jobs := claim(t, q, "tasks", base, 10); len(jobs) != 0 {
		t.Fatalf("Claim before due = %d jobs, want 0", len(jobs))
	}
	if jobs := claim(t, q, "tasks", base.Add(time.Hour-time.Millisecond), 10); len(jobs) != 0 {
		t.Fatalf("Claim 1ms before due = %d jobs, want 0", len(jobs))
	}
	j := claimOne(t, q, "tasks", base.Add(time.Hour))
	if j.ID != "later" {
		t.Errorf("Claim at due = %q, want %q", j.ID, "later")
	}
	// The zero time is due at once.
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "asap"})
	if j := claimOne(t, q, "tasks", base); j.ID != "asap" {
		t.Errorf("Claim of a zero-due job = %q, want %q", j.ID, "asap")
	}
}

func testQueueUpsert(t *testing.T, open func() Queue) {
	q := open()
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "remind:1", Due: base, Payload: []byte("v1")})
	schedJob(t, open(), schedule.Job{Queue: "tasks", ID: "remind:1", Due: base.Add(time.Minute), Payload: []byte("v2")})
	if got := pending(t, q, "tasks"); got != 1 {
		t.Errorf("Pending after scheduling one ID twice = %d, want 1", got)
	}
	if jobs := claim(t, q, "tasks", base, 10); len(jobs) != 0 {
		t.Errorf("Claim at the old due time = %d jobs, want 0: the replacement moved it", len(jobs))
	}
	j := claimOne(t, q, "tasks", base.Add(time.Minute))
	if string(j.Payload) != "v2" {
		t.Errorf("claimed payload = %q, want %q", j.Payload, "v2")
	}
}

// testQueueReplacedWhileClaimed: a job scheduled again while a worker holds
// it does not run concurrently, and the worker's Done does not delete it.
func testQueueReplacedWhileClaimed(t *testing.T, open func() Queue) {
	ctx := context.Background()
	q := open()
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "hold:7", Due: base, Payload: []byte("v1")})
	old := claimOne(t, q, "tasks", base)
	schedJob(t, open(), schedule.Job{Queue: "tasks", ID: "hold:7", Due: base, Payload: []byte("v2")})
	if jobs := claim(t, q, "tasks", base.Add(time.Second), 10); len(jobs) != 0 {
		t.Fatalf("Claim of a job replaced while claimed = %d jobs, want 0 until the claim ends", len(jobs))
	}
	if err := q.Done(ctx, old); err != nil {
		t.Fatalf("Done by the claim's worker = %v", err)
	}
	got, ok := getJob(t, q, "tasks", "hold:7")
	if !ok || string(got.Payload) != "v2" || got.Token != "" {
		t.Fatalf("after the old claim's Done: Get = %+v, %v; want the waiting replacement v2", got, ok)
	}
	j := claimOne(t, q, "tasks", base.Add(time.Second))
	if string(j.Payload) != "v2" || j.Attempt != 0 || j.Token == old.Token {
		t.Errorf("replacement claimed as %+v, want v2, attempt 0, a new token", j)
	}
	// A Retry by a stale worker loses to the replacement too.
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "hold:7", Due: base.Add(time.Hour), Payload: []byte("v3")})
	if err := q.Retry(ctx, j, base.Add(time.Second)); err != nil {
		t.Fatalf("Retry by the claim's worker = %v", err)
	}
	if jobs := claim(t, q, "tasks", base.Add(time.Minute), 10); len(jobs) != 0 {
		t.Errorf("Claim before the replacement's due = %d jobs, want 0 (Retry must not move it)", len(jobs))
	}
	if j := claimOne(t, q, "tasks", base.Add(time.Hour)); string(j.Payload) != "v3" || j.Attempt != 0 {
		t.Errorf("claimed %q attempt %d, want v3 attempt 0", j.Payload, j.Attempt)
	}
}

// testQueueReplacedLeaseLapses: the worker holding a replaced job crashes;
// when its lease ends the replacement runs at its own due time.
func testQueueReplacedLeaseLapses(t *testing.T, open func() Queue) {
	ctx := context.Background()
	q := open()
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "x", Due: base, Payload: []byte("v1")})
	old := claimOne(t, q, "tasks", base)
	later := base.Add(2 * queueLease)
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "x", Due: later, Payload: []byte("v2")})
	if jobs := claim(t, q, "tasks", base.Add(queueLease+time.Second), 10); len(jobs) != 0 {
		t.Fatalf("Claim after the lease lapsed but before the replacement's due = %d jobs, want 0", len(jobs))
	}
	if err := q.Done(ctx, old); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Done by the crashed worker = %v, want ErrLeaseLost", err)
	}
	j := claimOne(t, q, "tasks", later)
	if string(j.Payload) != "v2" || j.Attempt != 0 {
		t.Errorf("claimed %q attempt %d, want v2 attempt 0", j.Payload, j.Attempt)
	}
}

func testQueueCancel(t *testing.T, open func() Queue) {
	ctx := context.Background()
	q := open()
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "a", Due: base})
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "b", Due: base})
	if err := open().Cancel(ctx, "tasks", "a"); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	if err := q.Cancel(ctx, "tasks", "never-scheduled"); err != nil {
		t.Errorf("Cancel of a missing job = %v, want nil", err)
	}
	if got := pending(t, q, "tasks"); got != 1 {
		t.Errorf("Pending after Cancel = %d, want 1", got)
	}
	j := claimOne(t, q, "tasks", base)
	if j.ID != "b" {
		t.Fatalf("Claim after cancelling a = %q, want b", j.ID)
	}
	// Cancelling a claimed job deletes it; the worker's Done then finds nothing.
	if err := q.Cancel(ctx, "tasks", "b"); err != nil {
		t.Fatalf("Cancel of a claimed job = %v", err)
	}
	if err := q.Done(ctx, j); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Done of a cancelled job = %v, want ErrLeaseLost", err)
	}
	if err := q.Retry(ctx, j, base); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Retry of a cancelled job = %v, want ErrLeaseLost", err)
	}
	if got := pending(t, q, "tasks"); got != 0 {
		t.Errorf("Pending = %d, want 0: a cancelled job came back", got)
	}
}

func testQueueLeaseExpiry(t *testing.T, open func() Queue) {
	ctx := context.Background()
	a, b := open(), open()
	schedJob(t, a, schedule.Job{Queue: "tasks", ID: "crash", Due: base, Payload: []byte("p")})
	first := claimOne(t, a, "tasks", base)
	if jobs := claim(t, b, "tasks", base.Add(queueLease-time.Millisecond), 10); len(jobs) != 0 {
		t.Fatalf("Claim before the lease ends = %d jobs, want 0", len(jobs))
	}
	second := claimOne(t, b, "tasks", base.Add(queueLease))
	if second.Token == first.Token || second.Token == "" {
		t.Errorf("reclaimed token = %q, first %q: want a new token", second.Token, first.Token)
	}
	if second.Attempt != 1 || !second.Due.Equal(base) || string(second.Payload) != "p" {
		t.Errorf("reclaimed job = %+v, want attempt 1, the original due and payload", second)
	}
	for name, err := range map[string]error{
		"Done":     a.Done(ctx, first),
		"Retry":    a.Retry(ctx, first, base),
		"Postpone": a.Postpone(ctx, first, base),
	} {
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("%s with the lapsed token = %v, want ErrLeaseLost", name, err)
		}
	}
	if got, ok := getJob(t, a, "tasks", "crash"); !ok || got.Token != second.Token {
		t.Errorf("after stale calls: Get = %+v, %v; want the second claim intact", got, ok)
	}
	if err := b.Done(ctx, second); err != nil {
		t.Errorf("Done with the current token = %v", err)
	}
}

func testQueueRetry(t *testing.T, open func() Queue) {
	ctx := context.Background()
	q := open()
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "flaky", Due: base, Payload: []byte("p")})
	j := claimOne(t, q, "tasks", base)
	next := base.Add(10 * time.Second)
	if err := q.Retry(ctx, j, next); err != nil {
		t.Fatalf("Retry = %v", err)
	}
	if err := q.Retry(ctx, j, next); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("second Retry with the same token = %v, want ErrLeaseLost", err)
	}
	if jobs := claim(t, q, "tasks", next.Add(-time.Millisecond), 10); len(jobs) != 0 {
		t.Fatalf("Claim before the retry's due = %d jobs, want 0", len(jobs))
	}
	j = claimOne(t, q, "tasks", next)
	if j.Attempt != 1 || !j.Due.Equal(next) || string(j.Payload) != "p" {
		t.Errorf("after Retry claimed %+v, want attempt 1 due %v payload p", j, next)
	}
	later := next.Add(time.Minute)
	if err := q.Postpone(ctx, j, later); err != nil {
		t.Fatalf("Postpone = %v", err)
	}
	j = claimOne(t, q, "tasks", later)
	if j.Attempt != 1 {
		t.Errorf("after Postpone Attempt = %d, want 1 (postponing is not an attempt)", j.Attempt)
	}
	if err := q.Retry(ctx, j, later); err != nil {
		t.Fatalf("Retry = %v", err)
	}
	if j = claimOne(t, q, "tasks", later); j.Attempt != 2 {
		t.Errorf("after second Retry Attempt = %d, want 2", j.Attempt)
	}
}

func testQueueOrder(t *testing.T, open func() Queue) {
	q := open()
	const n = 30
	perm := rand.Perm(n)
	for _, i := range perm {
		schedJob(t, q, schedule.Job{Queue: "tasks", ID: fmt.Sprintf("job-%02d", i), Due: base.Add(time.Duration(i-n/2) * time.Hour)})
	}
	// One job far before the epoch, to check the ordering of negative times.
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "ancient", Due: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)})
	var got []string
	for {
		jobs := claim(t, q, "tasks", base.Add(n*time.Hour), 7)
		if len(jobs) == 0 {
			break
		}
		if len(jobs) > 7 {
			t.Fatalf("Claim with limit 7 returned %d jobs", len(jobs))
		}
		for _, j := range jobs {
			got = append(got, j.ID)
		}
	}
	want := []string{"ancient"}
	for i := range n {
		want = append(want, fmt.Sprintf("job-%02d", i))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("claim order = %v, want %v", got, want)
	}
}

func testQueueBinarySafe(t *testing.T, open func() Queue) {
	q := open()
	payload := make([]byte, 0, 300)
	for i := range 256 {
		payload = append(payload, byte(i))
	}
	payload = append(payload, "|0|x|1 \x00{}\"'\\ è 🙂"...)
	ids := []string{"a|b|c|0", "with space", "è🙂", "{tag}", "x\x00y", "0"}
	for _, id := range ids {
		schedJob(t, q, schedule.Job{Queue: "push:bin", ID: id, Due: base, Payload: payload})
	}
	schedJob(t, q, schedule.Job{Queue: "push:bin", ID: "empty", Due: base})
	jobs := claim(t, q, "push:bin", base, 100)
	if len(jobs) != len(ids)+1 {
		t.Fatalf("claimed %d jobs, want %d", len(jobs), len(ids)+1)
	}
	seen := map[string]bool{}
	for _, j := range jobs {
		seen[j.ID] = true
		want := payload
		if j.ID == "empty" {
			want = nil
		}
		if !bytes.Equal(j.Payload, want) {
			t.Errorf("payload of %q changed in the round trip: %q", j.ID, j.Payload)
		}
		if err := q.Done(context.Background(), j); err != nil {
			t.Errorf("Done(%q) = %v", j.ID, err)
		}
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("job %q was not claimed", id)
		}
	}
}

func testQueueIsolation(t *testing.T, open func() Queue) {
	q := open()
	schedJob(t, q, schedule.Job{Queue: "push:telegram", ID: "same", Due: base, Payload: []byte("t")})
	schedJob(t, q, schedule.Job{Queue: "push:console", ID: "same", Due: base, Payload: []byte("c")})
	schedJob(t, q, schedule.Job{Queue: "push:telegram:bulk", ID: "same", Due: base, Payload: []byte("b")})
	for queue, want := range map[string]string{"push:telegram": "t", "push:console": "c", "push:telegram:bulk": "b"} {
		j := claimOne(t, q, queue, base)
		if string(j.Payload) != want {
			t.Errorf("queue %s gave payload %q, want %q", queue, j.Payload, want)
		}
		if err := q.Done(context.Background(), j); err != nil {
			t.Errorf("Done = %v", err)
		}
	}
}

func testQueueValidation(t *testing.T, open func() Queue) {
	ctx := context.Background()
	q := open()
	for _, j := range []schedule.Job{
		{Queue: "", ID: "x"},
		{Queue: "tasks", ID: ""},
		{Queue: "ta\x00sks", ID: "x"},
		{Queue: string(make([]byte, schedule.MaxQueueBytes+1)), ID: "x"},
		{Queue: "tasks", ID: string(make([]byte, schedule.MaxIDBytes+1))},
		{Queue: "tasks", ID: "x", Attempt: -1},
	} {
		if err := q.Schedule(ctx, j); err == nil {
			t.Errorf("Schedule(%q, %q, attempt %d) = nil, want an error", j.Queue, j.ID, j.Attempt)
		}
	}
	if _, err := q.Claim(ctx, "", base, queueLease, 1); err == nil {
		t.Error("Claim of queue \"\" = nil error, want an error")
	}
	if got := pending(t, q, "tasks"); got != 0 {
		t.Errorf("Pending = %d after rejected Schedules, want 0", got)
	}
}

// testQueueConcurrentClaimers has many workers on several handles claim and
// finish many jobs: each job must be claimed exactly once.
func testQueueConcurrentClaimers(t *testing.T, open func() Queue) {
	const handles, workers, jobs = 4, 16, 300
	ctx := context.Background()
	qs := make([]Queue, handles)
	for i := range qs {
		qs[i] = open()
	}
	now := time.Now()
	for i := range jobs {
		schedJob(t, qs[i%handles], schedule.Job{Queue: "tasks", ID: fmt.Sprintf("j%d", i), Due: now.Add(-time.Duration(i) * time.Millisecond)})
	}
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := qs[w%handles]
			for {
				got, err := q.Claim(ctx, "tasks", now, queueLease, 1+w%5)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				for _, j := range got {
					mu.Lock()
					counts[j.ID]++
					mu.Unlock()
					if err := q.Done(ctx, j); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("worker: %v", err)
	}
	if len(counts) != jobs {
		t.Errorf("%d distinct jobs claimed, want %d", len(counts), jobs)
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("job %s claimed %d times, want 1", id, n)
		}
	}
	if got := pending(t, qs[0], "tasks"); got != 0 {
		t.Errorf("Pending after all Done = %d, want 0", got)
	}
}
