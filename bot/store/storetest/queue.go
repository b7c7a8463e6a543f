package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"sportello/bot/schedule"
	"sportello/bot/store"
)

// Queue is the scheduler side of a backend, as the suite exercises it.
type Queue interface {
	schedule.Backend
	schedule.Purger
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
		{"ExpiresIsKept", testQueueExpiresKept},
		{"UnservedJobIsGoneAfterItsExpiry", testQueueUnservedPurged},
		{"ClaimedJobIsPurgedAfterItsExpiry", testQueueClaimedPurged},
		{"ReplacedJobKeepsItsOwnExpiry", testQueueReplacedExpiry},
		{"PurgeIsBounded", testQueuePurgeBounded},
		{"FinishedJobsLeaveNothingToPurge", testQueueFinishedNothingToPurge},
		{"ConcurrentSchedulesAndPurgesLoseNoExpiry", testQueueConcurrentPurge},
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

func purge(t *testing.T, q Queue, now time.Time, limit int) int {
	t.Helper()
	n, err := q.PurgeExpired(context.Background(), now, limit)
	if err != nil {
		t.Fatalf("PurgeExpired(%v, %d) = %v", now, limit, err)
	}
	return n
}

// purgeAll purges at now until nothing is left and reports how many jobs
// went.
func purgeAll(t *testing.T, q Queue, now time.Time) int {
	t.Helper()
	total := 0
	for range 1000 {
		n := purge(t, q, now, 100)
		total += n
		if n == 0 {
			return total
		}
	}
	t.Fatalf("PurgeExpired(%v) still deleting after 1000 rounds", now)
	return total
}

func testQueueExpiresKept(t *testing.T, open func() Queue) {
	ctx := context.Background()
	q := open()
	expires := base.Add(24 * time.Hour)
	schedJob(t, q, schedule.Job{Queue: "push:telegram", ID: "offer", Due: base, Expires: expires, Payload: []byte("p")})
	schedJob(t, q, schedule.Job{Queue: "push:telegram", ID: "plain", Due: base})
	if got, _ := getJob(t, open(), "push:telegram", "offer"); !got.Expires.Equal(expires) {
		t.Errorf("Got(Get.Expires) = %v, want %v", got.Expires, expires)
	}
	if got, _ := getJob(t, q, "push:telegram", "plain"); !got.Expires.IsZero() {
		t.Errorf("Got(Get.Expires) of a job without expiry = %v, want zero", got.Expires)
	}
	for _, j := range claim(t, q, "push:telegram", base, 10) {
		want := time.Time{}
		if j.ID == "offer" {
			want = expires
		}
		if !j.Expires.Equal(want) {
			t.Errorf("Got(Claim.Expires of %s) = %v, want %v", j.ID, j.Expires, want)
		}
		finish := q.Done
		if j.ID == "offer" {
			finish = func(ctx context.Context, j schedule.Job) error { return q.Retry(ctx, j, base.Add(time.Second)) }
		}
		if err := finish(ctx, j); err != nil {
			t.Fatalf("Retry or Done = %v", err)
		}
	}
	j, _ := getJob(t, q, "push:telegram", "offer")
	if !j.Expires.Equal(expires) {
		t.Errorf("Got(Expires after Retry) = %v, want %v", j.Expires, expires)
	}
	j = claimOne(t, q, "push:telegram", base.Add(time.Second))
	if !j.Expires.Equal(expires) {
		t.Errorf("Got(Claim.Expires after Retry) = %v, want %v", j.Expires, expires)
	}
	if err := q.Postpone(ctx, j, base.Add(time.Minute)); err != nil {
		t.Fatalf("Postpone = %v", err)
	}
	if j = claimOne(t, q, "push:telegram", base.Add(time.Minute)); !j.Expires.Equal(expires) {
		t.Errorf("Got(Claim.Expires after Postpone) = %v, want %v", j.Expires, expires)
	}
}

// testQueueUnservedPurged: a push waiting on a route nobody serves (a
// channel no longer configured, a terminal citizen who never comes back)
// is never claimed, and still goes at its expiry, with its payload.
func testQueueUnservedPurged(t *testing.T, open func() Queue) {
	q := open()
	const queue = "push:console-3f2a9c1d"
	expires := base.Add(7 * 24 * time.Hour)
	schedJob(t, q, schedule.Job{Queue: queue, ID: "confirm:ABC123", Due: base, Expires: expires, Payload: []byte(`{"user":"mario","code":"ABC123"}`)})
	schedJob(t, q, schedule.Job{Queue: queue, ID: "remind:ABC123", Due: base, Expires: expires.Add(time.Hour)})
	schedJob(t, q, schedule.Job{Queue: "tasks", ID: "sweep", Due: base}) // no expiry: kept
	if n := purge(t, open(), expires.Add(-time.Millisecond), 100); n != 0 {
		t.Errorf("Got(PurgeExpired before the expiry) = %d, want 0", n)
	}
	if _, ok := getJob(t, q, queue, "confirm:ABC123"); !ok {
		t.Fatal("the push was deleted before its expiry")
	}
	if n := purge(t, open(), expires, 100); n != 1 {
		t.Errorf("Got(PurgeExpired at the expiry) = %d, want 1", n)
	}
	if _, ok := getJob(t, q, queue, "confirm:ABC123"); ok {
		t.Error("the expired push is still stored")
	}
	if got := pending(t, q, queue); got != 1 {
		t.Errorf("Got(Pending) = %d, want 1: the push expiring an hour later stays", got)
	}
	if n := purgeAll(t, q, expires.Add(100*365*24*time.Hour)); n != 1 {
		t.Errorf("Got(PurgeExpired a century later) = %d, want 1", n)
	}
	if got := pending(t, q, queue); got != 0 {
		t.Errorf("Got(Pending) = %d, want 0", got)
	}
	if _, ok := getJob(t, q, "tasks", "sweep"); !ok {
		t.Error("a job without expiry was purged")
	}
	if jobs := claim(t, q, queue, expires.Add(time.Hour), 10); len(jobs) != 0 {
		t.Errorf("Got(Claim after the purge) = %d jobs, want 0", len(jobs))
	}
}

// testQueueClaimedPurged: a job whose worker holds it past its expiry is
// deleted too; the worker then loses it.
func testQueueClaimedPurged(t *testing.T, open func() Queue) {
	q := open()
	expires := base.Add(time.Minute)
	schedJob(t, q, schedule.Job{Queue: "push:telegram", ID: "offer", Due: base, Expires: expires})
	j := claimOne(t, q, "push:telegram", base)
	if n := purge(t, open(), expires, 10); n != 1 {
		t.Errorf("Got(PurgeExpired of a claimed job) = %d, want 1", n)
	}
	if err := q.Done(context.Background(), j); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Got(Done of a purged job) = %v, want ErrLeaseLost", err)
	}
	if got := pending(t, q, "push:telegram"); got != 0 {
		t.Errorf("Got(Pending) = %d, want 0", got)
	}
}

// testQueueReplacedExpiry: only the job's own stored expiry counts; a
// replacement with a later expiry, or none, survives the first one.
func testQueueReplacedExpiry(t *testing.T, open func() Queue) {
	first := base.Add(time.Hour)
	later := base.Add(3 * time.Hour)
	tests := []struct {
		name          string
		claimed       bool      // the first version is claimed when it is replaced
		replacement   time.Time // zero: the replacement has no expiry
		survivesUntil time.Time // zero: survives for ever
	}{
		{"later expiry", false, later, later},
		{"later expiry while claimed", true, later, later},
		{"no expiry", false, time.Time{}, time.Time{}},
		{"earlier expiry", false, base.Add(30 * time.Minute), base.Add(30 * time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := open()
			queue := "push:r-" + strings.ReplaceAll(tc.name, " ", "-")
			schedJob(t, q, schedule.Job{Queue: queue, ID: "remind:1", Due: base, Expires: first, Payload: []byte("v1")})
			if tc.claimed {
				claimOne(t, q, queue, base)
			}
			schedJob(t, open(), schedule.Job{Queue: queue, ID: "remind:1", Due: base, Expires: tc.replacement, Payload: []byte("v2")})
			check := tc.survivesUntil
			if check.IsZero() {
				check = base.Add(100 * 365 * 24 * time.Hour)
			}
			// Just before its own expiry (and after the first one's, if later).
			if n := purgeAll(t, q, check.Add(-time.Millisecond)); n != 0 {
				t.Errorf("Got(PurgeExpired before the replacement's expiry) = %d, want 0", n)
			}
			got, ok := getJob(t, q, queue, "remind:1")
			if !ok || string(got.Payload) != "v2" || !got.Expires.Equal(tc.replacement) {
				t.Fatalf("Got(Get) = %+v, %v; want the replacement v2 expiring at %v", got, ok, tc.replacement)
			}
			n := purgeAll(t, q, check)
			if tc.survivesUntil.IsZero() {
				if n != 0 {
					t.Errorf("Got(PurgeExpired of a replacement without expiry) = %d, want 0", n)
				}
				return
			}
			if n != 1 {
				t.Errorf("Got(PurgeExpired at the replacement's expiry) = %d, want 1", n)
			}
			if _, ok := getJob(t, q, queue, "remind:1"); ok {
				t.Error("the replacement is still stored after its expiry")
			}
		})
	}
}

func testQueuePurgeBounded(t *testing.T, open func() Queue) {
	q := open()
	for i := range 25 {
		schedJob(t, q, schedule.Job{Queue: fmt.Sprintf("push:ch%d", i%3), ID: fmt.Sprintf("old-%d", i), Due: base, Expires: base.Add(time.Duration(i+1) * time.Second)})
		schedJob(t, q, schedule.Job{Queue: fmt.Sprintf("push:ch%d", i%3), ID: fmt.Sprintf("new-%d", i), Due: base, Expires: base.Add(time.Hour)})
	}
	now := base.Add(time.Minute)
	var got []int
	for {
		n := purge(t, q, now, 10)
		if n > 10 {
			t.Fatalf("Got(PurgeExpired with limit 10) = %d", n)
		}
		got = append(got, n)
		if n == 0 || len(got) > 20 {
			break
		}
	}
	total := 0
	for _, n := range got {
		total += n
	}
	if total != 25 || got[0] != 10 {
		t.Errorf("Got(purged per call) = %v, want 10 first and 25 in all", got)
	}
	for i := range 3 {
		if n := pending(t, q, fmt.Sprintf("push:ch%d", i)); n < 8 || n > 9 {
			t.Errorf("Got(Pending(push:ch%d)) = %d, want its unexpired jobs only", i, n)
		}
	}
	if n := purge(t, q, base.Add(time.Hour), 100); n != 25 {
		t.Errorf("Got(PurgeExpired of the rest) = %d, want 25", n)
	}
	if n := purge(t, q, base, 0); n != 0 {
		t.Errorf("Got(PurgeExpired with limit 0) = %d, want 0", n)
	}
}

// testQueueFinishedNothingToPurge: jobs done or cancelled before their
// expiry leave nothing behind for the purge, and the queue's later jobs
// are still purged.
func testQueueFinishedNothingToPurge(t *testing.T, open func() Queue) {
	ctx := context.Background()
	q := open()
	schedJob(t, q, schedule.Job{Queue: "push:telegram", ID: "a", Due: base, Expires: base.Add(time.Hour)})
	schedJob(t, q, schedule.Job{Queue: "push:telegram", ID: "b", Due: base.Add(time.Hour), Expires: base.Add(2 * time.Hour)})
	if err := q.Done(ctx, claimOne(t, q, "push:telegram", base)); err != nil {
		t.Fatalf("Done = %v", err)
	}
	if err := q.Cancel(ctx, "push:telegram", "b"); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	if n := purgeAll(t, q, base.Add(3*time.Hour)); n != 0 {
		t.Errorf("Got(PurgeExpired after Done and Cancel) = %d, want 0", n)
	}
	// The queue is used again after the purge found it empty.
	schedJob(t, open(), schedule.Job{Queue: "push:telegram", ID: "c", Due: base, Expires: base.Add(4 * time.Hour)})
	if n := purgeAll(t, q, base.Add(4*time.Hour)); n != 1 {
		t.Errorf("Got(PurgeExpired of a job scheduled after the queue was emptied) = %d, want 1", n)
	}
	if got := pending(t, q, "push:telegram"); got != 0 {
		t.Errorf("Got(Pending) = %d, want 0", got)
	}
}

// testQueueConcurrentPurge schedules jobs with expiries while other
// handles purge at an instant among those expiries. Whatever the
// interleaving, no job escapes the expiry index: purging again at that
// instant leaves no job expired by then (none was left behind late), and
// purging past every expiry leaves nothing (none was forgotten). Queue
// push:a only gets jobs expired at the purge instant, so the purges keep
// finding it empty while jobs are being written to it.
func testQueueConcurrentPurge(t *testing.T, open func() Queue) {
	const writers, purgers, jobs = 6, 3, 60
	ctx := context.Background()
	at := base.Add(jobs / 2 * time.Millisecond) // the purgers' now
	queues := []string{"push:a", "push:b"}
	var wg, purgersWG sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, writers+purgers)
	for range purgers {
		q := open()
		purgersWG.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := q.PurgeExpired(ctx, at, 7); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for w := range writers {
		q := open()
		wg.Go(func() {
			for i := range jobs {
				queue := queues[(w+i)%len(queues)]
				expires := base.Add(time.Duration(i) * time.Millisecond)
				if queue == "push:a" {
					expires = base.Add(time.Duration(i%(jobs/2)) * time.Millisecond)
				}
				j := schedule.Job{Queue: queue, ID: fmt.Sprintf("w%d-%d", w, i%(jobs/3)), Due: base, Expires: expires}
				// Purging without pause makes Redis refuse some Schedules
				// (ErrUnavailable, nothing stored), as a caller would see
				// under a purge storm: try again, as a caller would.
				var err error
				for range 100 {
					if err = q.Schedule(ctx, j); !errors.Is(err, store.ErrUnavailable) {
						break
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	purgersWG.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Schedule/PurgeExpired: %v", err)
	}
	q := open()
	purgeAll(t, q, at)
	for _, queue := range queues {
		for w := range writers {
			for i := range jobs / 3 {
				if j, ok := getJob(t, q, queue, fmt.Sprintf("w%d-%d", w, i)); ok && !j.Expires.After(at) {
					t.Errorf("Got(%s/%s) = expires %v, still stored after a purge at %v: the index lost it", queue, j.ID, j.Expires, at)
				}
			}
		}
	}
	purgeAll(t, q, base.Add(time.Hour))
	for _, queue := range queues {
		if n := pending(t, q, queue); n != 0 {
			t.Errorf("Got(Pending(%s) after purging past every expiry) = %d, want 0: a job escaped the expiry index", queue, n)
		}
	}
}
