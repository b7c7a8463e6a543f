package schedule_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sportello/bot/bottest"
	"sportello/bot/schedule"
	"sportello/bot/store/redistest"
)

// backend is what the tests need from a store.
type backend interface {
	schedule.Backend
	Schedule(ctx context.Context, j schedule.Job) error
	Get(ctx context.Context, queue, id string) (schedule.Job, bool, error)
	Pending(ctx context.Context, queue string) (int, error)
}

// backends runs fn against bbolt and against Redis.
func backends(t *testing.T, fn func(t *testing.T, open func() backend)) {
	t.Run("bolt", func(t *testing.T) {
		s := bottest.EmbeddedStore(t, nil)
		fn(t, func() backend { return s })
	})
	t.Run("redis", func(t *testing.T) {
		url := redistest.URL(t)
		prefix := redistest.Prefix(t, url)
		fn(t, func() backend { return bottest.RedisStore(t, url, prefix) })
	})
}

// start runs r until the test ends; the returned stop cancels it and waits
// for Run to return, reporting its error.
func start(t *testing.T, r *schedule.Runner) (stop func() error) {
	t.Helper()
	return runUntilStopped(t, r.Run)
}

// runUntilStopped runs run (a Runner's or a Janitor's Run) until the test
// ends; the returned stop cancels it and waits for it to return.
func runUntilStopped(t *testing.T, run func(context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func newRunner(t *testing.T, b schedule.Backend, queues []schedule.Queue, opts ...schedule.Option) *schedule.Runner {
	t.Helper()
	// Logs show with -v or on failure; later options (a test's own logger) win.
	opts = append([]schedule.Option{schedule.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil)))}, opts...)
	r, err := schedule.NewRunner(b, queues, opts...)
	if err != nil {
		t.Fatalf("NewRunner = %v", err)
	}
	return r
}

func schedJob(t *testing.T, b backend, j schedule.Job) {
	t.Helper()
	if err := b.Schedule(context.Background(), j); err != nil {
		t.Fatalf("Schedule(%s) = %v", j.ID, err)
	}
}

// eventually polls cond until it holds or 10s pass. Backends finish a job
// after the handler returns, so the test has to look for it.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func pendingIs(t *testing.T, b backend, queue string, want int) func() bool {
	return func() bool {
		n, err := b.Pending(context.Background(), queue)
		if err != nil {
			t.Fatalf("Pending = %v", err)
		}
		return n == want
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing after 10s", what)
		panic("unreachable")
	}
}

// logBuffer collects log output from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func TestRunnerRunsDueJobs(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		got := make(chan schedule.Job, 10)
		r := newRunner(t, b, []schedule.Queue{{Name: "tasks", Handler: func(_ context.Context, j schedule.Job) error {
			got <- j
			return nil
		}}}, schedule.WithPollInterval(10*time.Millisecond))
		schedJob(t, b, schedule.Job{Queue: "tasks", ID: "now", Due: time.Now(), Payload: []byte("p")})
		schedJob(t, b, schedule.Job{Queue: "tasks", ID: "later", Due: time.Now().Add(time.Hour)})
		start(t, r)
		j := recv(t, got, "due job")
		if j.ID != "now" || string(j.Payload) != "p" || j.Attempt != 0 {
			t.Errorf("handler got %+v, want job now with payload p", j)
		}
		eventually(t, "the done job is deleted", pendingIs(t, b, "tasks", 1))
		if _, ok, _ := b.Get(context.Background(), "tasks", "later"); !ok {
			t.Error("the job not yet due is gone")
		}
		select {
		case j := <-got:
			t.Errorf("handler ran %s, which is not due", j.ID)
		default:
		}
	})
}

// claimCounter wraps a backend and tells the test about each Claim, so that
// a test can act after the runner's first look at a queue.
type claimCounter struct {
	schedule.Backend
	claims chan struct{}
}

func (c *claimCounter) Claim(ctx context.Context, queue string, now time.Time, lease time.Duration, limit int) ([]schedule.Job, error) {
	jobs, err := c.Backend.Claim(ctx, queue, now, lease, limit)
	select {
	case c.claims <- struct{}{}:
	default:
	}
	return jobs, err
}

func TestKickRunsWithoutWaitingForThePoll(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	cc := &claimCounter{Backend: b, claims: make(chan struct{}, 1)}
	got := make(chan string, 1)
	r := newRunner(t, cc, []schedule.Queue{{Name: "tasks", Handler: func(_ context.Context, j schedule.Job) error {
		got <- j.ID
		return nil
	}}}, schedule.WithPollInterval(time.Hour))
	start(t, r)
	recv(t, cc.claims, "the runner's first claim")
	schedJob(t, b, schedule.Job{Queue: "tasks", ID: "kicked", Due: time.Now()})
	r.Kick("tasks")
	r.Kick("not-served") // ignored
	if id := recv(t, got, "kicked job (the poll is an hour)"); id != "kicked" {
		t.Errorf("ran %q, want kicked", id)
	}
}

func TestRetryWithBackoffThenSuccess(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		type call struct {
			attempt int
			at      time.Time
		}
		calls := make(chan call, 10)
		r := newRunner(t, b, []schedule.Queue{{
			Name: "tasks", MinBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
			Handler: func(_ context.Context, j schedule.Job) error {
				calls <- call{j.Attempt, time.Now()}
				if j.Attempt < 2 {
					return errors.New("flaky")
				}
				return nil
			},
		}}, schedule.WithPollInterval(5*time.Millisecond))
		schedJob(t, b, schedule.Job{Queue: "tasks", ID: "flaky", Due: time.Now()})
		start(t, r)
		var last time.Time
		for want := range 3 {
			c := recv(t, calls, "attempt")
			if c.attempt != want {
				t.Fatalf("attempt = %d, want %d", c.attempt, want)
			}
			// Backoff after attempt n is within [MinBackoff<<n / 2, MinBackoff<<n].
			if want > 0 {
				if gap, least := c.at.Sub(last), (20*time.Millisecond<<(want-1))/2; gap < least {
					t.Errorf("retry %d came %v after the failed attempt, want at least %v", want, gap, least)
				}
			}
			last = c.at
		}
		eventually(t, "the job is done", pendingIs(t, b, "tasks", 0))
	})
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	reg := prometheus.NewPedanticRegistry()
	m := schedule.NewMetrics(reg)
	log, logs := testLogger()
	var calls atomic.Int32
	r := newRunner(t, b, []schedule.Queue{{
		Name: "tasks", MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		Handler: func(context.Context, schedule.Job) error {
			calls.Add(1)
			return errors.New("always broken")
		},
	}}, schedule.WithPollInterval(5*time.Millisecond), schedule.WithMetrics(m), schedule.WithLogger(log))
	schedJob(t, b, schedule.Job{Queue: "tasks", ID: "doomed", Due: time.Now()})
	start(t, r)
	eventually(t, "the job is given up", pendingIs(t, b, "tasks", 0))
	if got := calls.Load(); got != 3 {
		t.Errorf("handler calls = %d, want 3", got)
	}
	for _, c := range []struct {
		name string
		want float64
	}{
		{"sportello_scheduler_jobs_run_total", 3},
		{"sportello_scheduler_jobs_failed_total", 3},
		{"sportello_scheduler_jobs_given_up_total", 1},
	} {
		if got := counter(t, reg, c.name); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if s := logs.String(); !strings.Contains(s, `msg="job given up"`) || !strings.Contains(s, "job_id=doomed") {
		t.Errorf("log does not report the job given up:\n%s", s)
	}
}

// counter sums a counter family over its labels.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather = %v", err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func TestPanicIsRecoveredAndRetried(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	reg := prometheus.NewPedanticRegistry()
	log, logs := testLogger()
	attempts := make(chan int, 10)
	r := newRunner(t, b, []schedule.Queue{{
		Name: "tasks", MinBackoff: time.Millisecond,
		Handler: func(_ context.Context, j schedule.Job) error {
			attempts <- j.Attempt
			if j.Attempt == 0 {
				panic("boom")
			}
			return nil
		},
	}}, schedule.WithPollInterval(5*time.Millisecond), schedule.WithMetrics(schedule.NewMetrics(reg)), schedule.WithLogger(log))
	schedJob(t, b, schedule.Job{Queue: "tasks", ID: "p", Due: time.Now()})
	start(t, r)
	recv(t, attempts, "first attempt")
	if got := recv(t, attempts, "retry after the panic"); got != 1 {
		t.Errorf("retry attempt = %d, want 1", got)
	}
	eventually(t, "the job is done", pendingIs(t, b, "tasks", 0))
	if got := counter(t, reg, "sportello_scheduler_jobs_failed_total"); got != 1 {
		t.Errorf("failed = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "panic=boom") {
		t.Errorf("log does not show the panic:\n%s", logs)
	}
}

func TestPermanentErrorDrops(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	reg := prometheus.NewPedanticRegistry()
	var calls atomic.Int32
	r := newRunner(t, b, []schedule.Queue{{
		Name: "tasks",
		Handler: func(context.Context, schedule.Job) error {
			calls.Add(1)
			return schedule.Permanent(errors.New("corrupt payload"))
		},
	}}, schedule.WithPollInterval(5*time.Millisecond), schedule.WithMetrics(schedule.NewMetrics(reg)))
	schedJob(t, b, schedule.Job{Queue: "tasks", ID: "bad", Due: time.Now()})
	start(t, r)
	eventually(t, "the job is dropped", pendingIs(t, b, "tasks", 0))
	if got := calls.Load(); got != 1 {
		t.Errorf("handler calls = %d, want 1", got)
	}
	if got := counter(t, reg, "sportello_scheduler_jobs_dropped_total"); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
	if got := counter(t, reg, "sportello_scheduler_jobs_failed_total"); got != 0 {
		t.Errorf("failed = %v, want 0", got)
	}
}

func TestRetryAfterDoesNotCountAnAttempt(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	type call struct {
		attempt int
		at      time.Time
	}
	calls := make(chan call, 10)
	var n atomic.Int32
	r := newRunner(t, b, []schedule.Queue{{
		Name: "tasks", MaxAttempts: 1,
		Handler: func(_ context.Context, j schedule.Job) error {
			calls <- call{j.Attempt, time.Now()}
			if n.Add(1) == 1 {
				return &schedule.RetryAfterError{After: 150 * time.Millisecond, Err: errors.New("429")}
			}
			return nil
		},
	}}, schedule.WithPollInterval(5*time.Millisecond))
	schedJob(t, b, schedule.Job{Queue: "tasks", ID: "limited", Due: time.Now()})
	start(t, r)
	first := recv(t, calls, "first call")
	second := recv(t, calls, "call after retry-after")
	if second.attempt != 0 {
		t.Errorf("attempt after retry-after = %d, want 0 (MaxAttempts 1 would have given up)", second.attempt)
	}
	if d := second.at.Sub(first.at); d < 140*time.Millisecond {
		t.Errorf("second call %v after the first, want at least the 150ms asked for", d)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	const limit, jobs = 3, 10
	var running, most atomic.Int32
	started := make(chan struct{}, jobs)
	release := make(chan struct{})
	r := newRunner(t, b, []schedule.Queue{{
		Name: "tasks", Concurrency: limit,
		Handler: func(context.Context, schedule.Job) error {
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			started <- struct{}{}
			<-release
			running.Add(-1)
			return nil
		},
	}}, schedule.WithPollInterval(5*time.Millisecond))
	for i := range jobs {
		schedJob(t, b, schedule.Job{Queue: "tasks", ID: fmt.Sprint(i), Due: time.Now()})
	}
	start(t, r)
	for range limit {
		recv(t, started, "job start")
	}
	for i := range jobs {
		release <- struct{}{}
		if i+limit < jobs {
			recv(t, started, "next job start after a slot freed")
		}
	}
	eventually(t, "all jobs done", pendingIs(t, b, "tasks", 0))
	if got := most.Load(); got != limit {
		t.Errorf("most jobs running at once = %d, want %d", got, limit)
	}
}

func TestShutdownWaitsForRunningJobs(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	entered := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	r := newRunner(t, b, []schedule.Queue{{Name: "tasks", Handler: func(ctx context.Context, _ schedule.Job) error {
		close(entered)
		<-release
		finished.Store(true)
		return ctx.Err() // not cancelled within the grace period
	}}}, schedule.WithPollInterval(5*time.Millisecond), schedule.WithShutdownGrace(time.Minute))
	schedJob(t, b, schedule.Job{Queue: "tasks", ID: "slow", Due: time.Now()})
	stop := start(t, r)
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a job was still running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := recv(t, stopped, "Run returning after the job"); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if !finished.Load() {
		t.Error("Run returned before the handler finished")
	}
	if n, _ := b.Pending(context.Background(), "tasks"); n != 0 {
		t.Errorf("Pending = %d after shutdown, want 0: the finished job was not recorded", n)
	}
	if err := stop(); err != nil {
		t.Errorf("second stop = %v", err)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("Run after Run = nil, want an error")
	}
}

// TestShutdownGraceReleasesJobs: a handler still running when the grace
// period ends is cancelled, and its job goes back to the queue untouched,
// at once claimable by another runner.
func TestShutdownGraceReleasesJobs(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		entered := make(chan struct{})
		r := newRunner(t, b, []schedule.Queue{{Name: "tasks", Handler: func(ctx context.Context, _ schedule.Job) error {
			close(entered)
			<-ctx.Done()
			return ctx.Err()
		}}}, schedule.WithPollInterval(5*time.Millisecond), schedule.WithShutdownGrace(20*time.Millisecond))
		schedJob(t, b, schedule.Job{Queue: "tasks", ID: "long", Due: time.Now()})
		stop := start(t, r)
		<-entered
		if err := stop(); err != nil {
			t.Fatalf("Run = %v", err)
		}
		j, ok, err := b.Get(context.Background(), "tasks", "long")
		if err != nil || !ok || j.Token != "" || j.Attempt != 0 {
			t.Fatalf("after shutdown Get = %+v, %v, %v; want the job waiting at attempt 0", j, ok, err)
		}
		got := make(chan int, 1)
		next := newRunner(t, open(), []schedule.Queue{{Name: "tasks", Handler: func(_ context.Context, j schedule.Job) error {
			got <- j.Attempt
			return nil
		}}}, schedule.WithPollInterval(5*time.Millisecond))
		start(t, next)
		if a := recv(t, got, "the released job on another runner"); a != 0 {
			t.Errorf("attempt = %d, want 0", a)
		}
	})
}

func TestHandlerContextEndsBeforeTheLease(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	deadlines := make(chan time.Duration, 1)
	r := newRunner(t, b, []schedule.Queue{{Name: "tasks", Lease: 10 * time.Second, Handler: func(ctx context.Context, _ schedule.Job) error {
		d, ok := ctx.Deadline()
		if !ok {
			deadlines <- -1
			return nil
		}
		deadlines <- time.Until(d)
		return nil
	}}}, schedule.WithPollInterval(5*time.Millisecond))
	schedJob(t, b, schedule.Job{Queue: "tasks", ID: "x", Due: time.Now()})
	start(t, r)
	if d := recv(t, deadlines, "handler"); d <= 0 || d >= 10*time.Second {
		t.Errorf("handler deadline in %v, want within the 10s lease", d)
	}
}

// TestCrashedWorkersJobRunsAgain: a worker claims a job and dies; when the
// lease runs out, a runner runs it, with Attempt 1.
func TestCrashedWorkersJobRunsAgain(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		schedJob(t, b, schedule.Job{Queue: "tasks", ID: "orphan", Due: time.Now()})
		if jobs, err := open().Claim(context.Background(), "tasks", time.Now(), 200*time.Millisecond, 1); err != nil || len(jobs) != 1 {
			t.Fatalf("crashing worker's Claim = %v, %v", jobs, err)
		}
		got := make(chan schedule.Job, 2)
		r := newRunner(t, b, []schedule.Queue{{Name: "tasks", Handler: func(_ context.Context, j schedule.Job) error {
			got <- j
			return nil
		}}}, schedule.WithPollInterval(10*time.Millisecond))
		start(t, r)
		if j := recv(t, got, "the orphaned job"); j.Attempt != 1 {
			t.Errorf("attempt = %d, want 1", j.Attempt)
		}
		eventually(t, "the job is done", pendingIs(t, b, "tasks", 0))
	})
}

// TestSeveralRunnersRunEachJobOnce runs several runners, each with its own
// Redis client, over one queue: each job must run exactly once.
func TestSeveralRunnersRunEachJobOnce(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	const runners, jobs = 4, 300
	var mu sync.Mutex
	counts := map[string]int{}
	all := make(chan struct{})
	handler := func(_ context.Context, j schedule.Job) error {
		mu.Lock()
		defer mu.Unlock()
		counts[j.ID]++
		if len(counts) == jobs && counts[j.ID] == 1 {
			close(all)
		}
		return nil
	}
	b := bottest.RedisStore(t, url, prefix)
	for i := range jobs {
		schedJob(t, b, schedule.Job{Queue: "tasks", ID: fmt.Sprint(i), Due: time.Now()})
	}
	for range runners {
		start(t, newRunner(t, bottest.RedisStore(t, url, prefix), []schedule.Queue{{Name: "tasks", Handler: handler, Concurrency: 8}},
			schedule.WithPollInterval(5*time.Millisecond)))
	}
	recv(t, all, "all jobs run")
	eventually(t, "all jobs done", pendingIs(t, b, "tasks", 0))
	mu.Lock()
	defer mu.Unlock()
	for id, n := range counts {
		if n != 1 {
			t.Errorf("job %s ran %d times, want once", id, n)
		}
	}
}

// TestRunnerSurvivesRedisOutage: while Redis is down the runner logs and
// keeps polling; once Redis is back, new jobs run.
func TestRunnerSurvivesRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	b := bottest.RedisStore(t, srv.URL()+"?dial_timeout=100ms&read_timeout=200ms&max_retries=1", "outage")
	log, logs := testLogger()
	got := make(chan string, 10)
	r := newRunner(t, b, []schedule.Queue{{Name: "tasks", Handler: func(_ context.Context, j schedule.Job) error {
		got <- j.ID
		return nil
	}}}, schedule.WithPollInterval(20*time.Millisecond), schedule.WithLogger(log))
	start(t, r)
	schedJob(t, b, schedule.Job{Queue: "tasks", ID: "before", Due: time.Now()})
	recv(t, got, "job before the outage")
	srv.Stop()
	eventually(t, "the runner notices the outage", func() bool {
		return strings.Contains(logs.String(), "scheduler cannot claim jobs")
	})
	srv.Restart()
	eventually(t, "the job after the outage is scheduled", func() bool {
		return b.Schedule(context.Background(), schedule.Job{Queue: "tasks", ID: "after", Due: time.Now()}) == nil
	})
	if id := recv(t, got, "job after the outage"); id != "after" {
		t.Errorf("ran %q, want after", id)
	}
	eventually(t, "the runner reports recovery", func() bool {
		return strings.Contains(logs.String(), "scheduler claims jobs again")
	})
}

func TestNewRunnerRejectsBadQueues(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	h := func(context.Context, schedule.Job) error { return nil }
	tests := []struct {
		name   string
		queues []schedule.Queue
	}{
		{"none", nil},
		{"no name", []schedule.Queue{{Handler: h}}},
		{"no handler", []schedule.Queue{{Name: "tasks"}}},
		{"twice", []schedule.Queue{{Name: "tasks", Handler: h}, {Name: "tasks", Handler: h}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := schedule.NewRunner(b, tc.queues); err == nil {
				t.Errorf("NewRunner(%s) = nil error, want one", tc.name)
			}
		})
	}
}

// TestRetryAfterLogLevel: a job that asks to run again later without an
// error (a periodic sweep) is routine and logged at Debug only, with no
// error attribute; a retry-after caused by an error is logged at Info.
func TestRetryAfterLogLevel(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantLevel string
		wantError bool
	}{
		{"repeating job", &schedule.RetryAfterError{After: time.Millisecond}, "DEBUG", false},
		{"rate limited", &schedule.RetryAfterError{After: time.Millisecond, Err: errors.New("429 too many requests")}, "INFO", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bottest.EmbeddedStore(t, nil)
			log, logs := testLogger()
			calls := make(chan int, 10)
			var n atomic.Int32
			r := newRunner(t, b, []schedule.Queue{{Name: "tasks", Handler: func(context.Context, schedule.Job) error {
				k := n.Add(1)
				calls <- int(k)
				if k == 1 {
					return tc.err
				}
				return nil
			}}}, schedule.WithPollInterval(5*time.Millisecond), schedule.WithLogger(log))
			schedJob(t, b, schedule.Job{Queue: "tasks", ID: "sweep", Due: time.Now()})
			start(t, r)
			recv(t, calls, "first run")
			recv(t, calls, "run after the postponement")
			var line string
			for l := range strings.Lines(logs.String()) {
				if strings.Contains(l, `msg="job postponed"`) {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("no \"job postponed\" line in the log:\n%s", logs)
			}
			if got := strings.Contains(line, "level="+tc.wantLevel+" "); !got {
				t.Errorf("Got(level in %q) = false, want level %s", line, tc.wantLevel)
			}
			if got := strings.Contains(line, "error="); got != tc.wantError {
				t.Errorf("Got(error attribute in %q) = %v, want %v", line, got, tc.wantError)
			}
		})
	}
}
