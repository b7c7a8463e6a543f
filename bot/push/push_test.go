package push_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sportello/bot"
	"sportello/bot/bottest"
	"sportello/bot/push"
	"sportello/bot/schedule"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
)

// backend is what the tests need from a store.
type backend interface {
	schedule.Backend
	schedule.Purger
	push.Store
	Get(ctx context.Context, queue, id string) (schedule.Job, bool, error)
	Pending(ctx context.Context, queue string) (int, error)
}

var (
	_ backend = (*boltstore.Store)(nil)
	_ backend = (*redisstore.Store)(nil)
)

// backends runs fn against bbolt and against Redis; open returns another
// handle onto the same data (another client, for Redis).
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

// delivery is one call of a recorder's Push.
type delivery struct {
	conv    bot.Conversation
	replies []bot.Reply
	info    push.Info
	hasInfo bool
	at      time.Time
}

// recorder is a channel's sender that records every call. behave, when
// set, decides each call's result (and may block).
type recorder struct {
	behave func(ctx context.Context, d delivery) error
	calls  chan delivery

	mu        sync.Mutex
	delivered map[string]int // push id -> successful deliveries
}

func newRecorder(behave func(ctx context.Context, d delivery) error) *recorder {
	return &recorder{behave: behave, calls: make(chan delivery, 1000), delivered: map[string]int{}}
}

func (r *recorder) Push(ctx context.Context, conv bot.Conversation, replies []bot.Reply) error {
	d := delivery{conv: conv, replies: replies, at: time.Now()}
	d.info, d.hasInfo = push.InfoFrom(ctx)
	r.calls <- d
	var err error
	if r.behave != nil {
		err = r.behave(ctx, d)
	}
	if err == nil {
		r.mu.Lock()
		r.delivered[d.info.ID]++
		r.mu.Unlock()
	}
	return err
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delivered[id]
}

func (r *recorder) next(t *testing.T, what string) delivery {
	t.Helper()
	select {
	case d := <-r.calls:
		return d
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no push after 10s", what)
		return delivery{}
	}
}

// run starts a deliverer until the test ends; stop cancels it and waits.
func run(t *testing.T, b schedule.Backend, senders map[string]push.Sender, opts ...push.Option) (*push.Deliverer, func()) {
	t.Helper()
	opts = append([]push.Option{
		push.WithRunnerOptions(schedule.WithPollInterval(5 * time.Millisecond)),
		push.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))), // shown with -v or on failure
	}, opts...)
	d, err := push.NewDeliverer(b, senders, opts...)
	if err != nil {
		t.Fatalf("NewDeliverer = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Deliverer.Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return d, stop
}

func send(t *testing.T, o *push.Outbox, id string, conv bot.Conversation, replies []bot.Reply, opts ...push.SendOption) {
	t.Helper()
	if err := o.Send(context.Background(), id, conv, replies, opts...); err != nil {
		t.Fatalf("Send(%s) = %v", id, err)
	}
}

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

func drained(t *testing.T, b backend, queues ...string) func() bool {
	return func() bool {
		for _, q := range queues {
			n, err := b.Pending(context.Background(), q)
			if err != nil {
				t.Fatalf("Pending = %v", err)
			}
			if n != 0 {
				return false
			}
		}
		return true
	}
}

var citizen = bot.Conversation{Channel: "telegram", User: "4242"}

func text(s string) []bot.Reply { return []bot.Reply{{Text: s}} }

func TestDeliversRepliesWithAttachments(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		ics := []byte("BEGIN:VCALENDAR\r\nX-BIN:\x00\xff\xfe\r\nEND:VCALENDAR\r\n")
		replies := []bot.Reply{
			{Text: "Promemoria: domani alle 9:00", Buttons: []bot.Button{{ID: "booking:confirm:ABC123", Label: "Confermo"}}},
			{Text: "calendar", Attachments: []bot.Attachment{{Name: "cie.ics", ContentType: "text/calendar", Data: ics}}},
		}
		rec := newRecorder(nil)
		run(t, open(), map[string]push.Sender{"telegram": rec})
		send(t, push.NewOutbox(b), "remind:ABC123", citizen, replies)
		d := rec.next(t, "push")
		if d.conv != citizen {
			t.Errorf("conversation = %+v, want %+v", d.conv, citizen)
		}
		if !reflect.DeepEqual(d.replies, replies) {
			t.Errorf("replies = %#v, want %#v (attachment bytes must survive)", d.replies, replies)
		}
		if !d.hasInfo || d.info.ID != "remind:ABC123" || d.info.Bulk || d.info.Attempt != 0 || d.info.Expires.Sub(d.info.Due) != push.DefaultMaxAge {
			t.Errorf("InfoFrom = %+v, %v; want id remind:ABC123, interactive, attempt 0, expiring after the default maximum age", d.info, d.hasInfo)
		}
		eventually(t, "the push is finished", drained(t, b, push.Queue("telegram")))
	})
}

func TestSameIDIsSentOnce(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		o := push.NewOutbox(b)
		send(t, o, "confirm:ABC123", citizen, text("first"))
		send(t, push.NewOutbox(open()), "confirm:ABC123", citizen, text("second"))
		if n, err := b.Pending(context.Background(), push.Queue("telegram")); err != nil || n != 1 {
			t.Fatalf("Pending after two sends of one id = %d, %v; want 1", n, err)
		}
		rec := newRecorder(nil)
		send(t, o, "barrier", citizen, text("barrier"), push.At(time.Now().Add(50*time.Millisecond)))
		run(t, b, map[string]push.Sender{"telegram": rec})
		eventually(t, "both pushes delivered", func() bool { return rec.count("barrier") == 1 })
		eventually(t, "queue drained", drained(t, b, push.Queue("telegram")))
		if got := rec.count("confirm:ABC123"); got != 1 {
			t.Errorf("confirm:ABC123 delivered %d times, want 1", got)
		}
		close(rec.calls)
		for d := range rec.calls {
			if d.info.ID == "confirm:ABC123" && d.replies[0].Text != "second" {
				t.Errorf("delivered %q, want the replacement %q", d.replies[0].Text, "second")
			}
		}
	})
}

func TestDueTimeIsKept(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	rec := newRecorder(nil)
	run(t, b, map[string]push.Sender{"telegram": rec})
	due := time.Now().Add(200 * time.Millisecond)
	send(t, push.NewOutbox(b), "later", citizen, text("later"), push.At(due))
	// Due times are kept in whole milliseconds.
	if d := rec.next(t, "push"); d.at.Before(due.Truncate(time.Millisecond)) {
		t.Errorf("delivered at %v, before its due time %v", d.at, due)
	}
}

func TestExpiredPushIsDropped(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		reg := prometheus.NewPedanticRegistry()
		o := push.NewOutbox(b)
		now := time.Now()
		send(t, o, "offer:1", citizen, text("slot free for 15 minutes"), push.ExpiresAt(now.Add(15*time.Minute)))
		send(t, o, "closure:1", citizen, text("closed tomorrow"), push.Bulk(), push.ExpiresAt(now.Add(time.Hour)))
		send(t, o, "remind:1", citizen, text("see you tomorrow"))
		rec := newRecorder(nil)
		// The deliverer's clock is 20 minutes ahead: the offer has expired.
		run(t, b, map[string]push.Sender{"telegram": rec}, push.WithMetrics(push.NewMetrics(reg)),
			push.WithClock(func() time.Time { return time.Now().Add(20 * time.Minute) }))
		eventually(t, "queues drained", drained(t, b, push.Queue("telegram"), push.BulkQueue("telegram")))
		if got := rec.count("offer:1"); got != 0 {
			t.Errorf("expired offer delivered %d times, want 0", got)
		}
		if rec.count("remind:1") != 1 || rec.count("closure:1") != 1 {
			t.Errorf("unexpired pushes delivered %d and %d times, want 1 each", rec.count("remind:1"), rec.count("closure:1"))
		}
		if got := outcome(t, reg, "expired"); got != 1 {
			t.Errorf("expired metric = %v, want 1", got)
		}
	})
}

// TestEveryPushExpires: a push without ExpiresAt expires at its due time
// plus the outbox's maximum age, and an ExpiresAt later than that is
// brought forward to it.
func TestEveryPushExpires(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		due := time.Now().Add(time.Hour).Truncate(time.Millisecond)
		tests := []struct {
			name string
			opts []push.OutboxOption
			send []push.SendOption
			want time.Time
		}{
			{"default", nil, nil, due.Add(push.DefaultMaxAge)},
			{"max age", []push.OutboxOption{push.WithMaxAge(48 * time.Hour)}, nil, due.Add(48 * time.Hour)},
			{"non-positive max age keeps the default", []push.OutboxOption{push.WithMaxAge(0)}, nil, due.Add(push.DefaultMaxAge)},
			{"earlier expiry kept", nil, []push.SendOption{push.ExpiresAt(due.Add(15 * time.Minute))}, due.Add(15 * time.Minute)},
			{"later expiry capped", []push.OutboxOption{push.WithMaxAge(time.Hour)}, []push.SendOption{push.ExpiresAt(due.Add(30 * 24 * time.Hour))}, due.Add(time.Hour)},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				id := fmt.Sprintf("remind:%d", i)
				send(t, push.NewOutbox(b, tc.opts...), id, citizen, text("x"), append(tc.send, push.At(due))...)
				j, ok, err := b.Get(context.Background(), push.Queue("telegram"), id)
				if err != nil || !ok {
					t.Fatalf("Get = %v, %v", ok, err)
				}
				if !j.Expires.Equal(tc.want) {
					t.Errorf("Got(stored Expires) = %v, want %v", j.Expires, tc.want)
				}
			})
		}
	})
}

// TestUnservedPushIsPurged: pushes to routes nobody serves (Telegram not
// configured any more; a terminal citizen who never opens the chat again)
// are never claimed, and the janitor deletes them, with the chat id and the
// booking code in them, once they expire.
func TestUnservedPushIsPurged(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		o := push.NewOutbox(b, push.PerUser("console"))
		mario := bot.Conversation{Channel: "console", User: "mario"}
		send(t, o, "confirm:ABC123", mario, text("Confirm ABC123 on Tuesday"))
		send(t, o, "confirm:XYZ789", citizen, text("Confirm XYZ789 on Tuesday"))
		send(t, o, "notice:1", citizen, text("Closed on Friday"), push.Bulk())
		queues := []string{push.Queue(o.Route(mario)), push.Queue("telegram"), push.BulkQueue("telegram")}
		purge := func(after time.Duration) int {
			j := schedule.NewJanitor(b, schedule.JanitorConfig{Now: func() time.Time { return time.Now().Add(after) }})
			n, err := j.Purge(context.Background())
			if err != nil {
				t.Fatalf("Purge = %v", err)
			}
			return n
		}
		if n := purge(push.DefaultMaxAge - time.Minute); n != 0 {
			t.Errorf("Got(purged before the maximum age) = %d, want 0", n)
		}
		if drained(t, b, queues...)() {
			t.Fatal("pushes deleted before their maximum age")
		}
		if n := purge(push.DefaultMaxAge + time.Second); n != 3 {
			t.Errorf("Got(purged after the maximum age) = %d, want 3", n)
		}
		if !drained(t, b, queues...)() {
			t.Error("unserved pushes are still stored after their maximum age")
		}
	})
}

// outcome reads sportello_push_total{outcome}.
func outcome(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather = %v", err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != "sportello_push_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == name {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

func TestSenderDeadlineIsTheExpiry(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	expires := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	deadlines := make(chan time.Time, 1)
	rec := newRecorder(func(ctx context.Context, d delivery) error {
		dl, _ := ctx.Deadline() // zero when there is none
		deadlines <- dl
		return nil
	})
	run(t, b, map[string]push.Sender{"telegram": rec})
	send(t, push.NewOutbox(b), "offer", citizen, text("x"), push.ExpiresAt(expires))
	select {
	case dl := <-deadlines:
		if dl.IsZero() || dl.After(expires) {
			t.Errorf("sender's deadline = %v, want at or before the expiry %v", dl, expires)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no push after 10s")
	}
}

func TestUnreachableIsNotRetried(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		reg := prometheus.NewPedanticRegistry()
		rec := newRecorder(func(context.Context, delivery) error {
			return fmt.Errorf("telegram: 403 Forbidden: bot was blocked by the user: %w", push.ErrUnreachable)
		})
		told := make(chan bot.Conversation, 10)
		run(t, b, map[string]push.Sender{"telegram": rec}, push.WithMetrics(push.NewMetrics(reg)),
			push.OnUnreachable(func(_ context.Context, conv bot.Conversation, err error) {
				if !errors.Is(err, push.ErrUnreachable) {
					t.Errorf("OnUnreachable error %v does not wrap ErrUnreachable", err)
				}
				told <- conv
			}))
		send(t, push.NewOutbox(b), "remind:9", citizen, text("x"))
		rec.next(t, "push attempt")
		eventually(t, "the push is dropped", drained(t, b, push.Queue("telegram")))
		select {
		case conv := <-told:
			if conv != citizen {
				t.Errorf("OnUnreachable told about %+v, want %+v", conv, citizen)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("OnUnreachable was not called")
		}
		if n := len(rec.calls); n != 0 {
			t.Errorf("sender called %d more times after ErrUnreachable, want none", n)
		}
		if got := outcome(t, reg, "unreachable"); got != 1 {
			t.Errorf("unreachable metric = %v, want 1", got)
		}
	})
}

func TestRetryAfterIsRespected(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		var calls atomic.Int32
		rec := newRecorder(func(context.Context, delivery) error {
			if calls.Add(1) == 1 {
				return &push.RetryAfterError{After: 200 * time.Millisecond, Err: errors.New("429 Too Many Requests")}
			}
			return nil
		})
		// One attempt allowed: a retry-after that counted would give up.
		run(t, b, map[string]push.Sender{"telegram": rec}, push.WithQueueSettings(schedule.Queue{MaxAttempts: 1}))
		send(t, push.NewOutbox(b), "remind:7", citizen, text("x"))
		first := rec.next(t, "first attempt")
		second := rec.next(t, "attempt after retry-after")
		if d := second.at.Sub(first.at); d < 190*time.Millisecond {
			t.Errorf("second attempt %v after the first, want at least the 200ms asked for", d)
		}
		if second.info.Attempt != 0 {
			t.Errorf("attempt after retry-after = %d, want 0", second.info.Attempt)
		}
		eventually(t, "delivered", drained(t, b, push.Queue("telegram")))
		if got := rec.count("remind:7"); got != 1 {
			t.Errorf("delivered %d times, want 1", got)
		}
	})
}

func TestOtherErrorsAreRetried(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	var calls atomic.Int32
	rec := newRecorder(func(context.Context, delivery) error {
		if calls.Add(1) == 1 {
			return errors.New("telegram: 502 Bad Gateway")
		}
		return nil
	})
	run(t, b, map[string]push.Sender{"telegram": rec}, push.WithQueueSettings(schedule.Queue{MinBackoff: 10 * time.Millisecond}))
	send(t, push.NewOutbox(b), "remind:8", citizen, text("x"))
	rec.next(t, "first attempt")
	if d := rec.next(t, "retry"); d.info.Attempt != 1 {
		t.Errorf("retry attempt = %d, want 1", d.info.Attempt)
	}
	eventually(t, "delivered", drained(t, b, push.Queue("telegram")))
}

// TestOnDeliveredTellsDeliveriesOnly: the hook hears of a push once it
// reached the citizen (after a failed attempt too), never of a push that
// failed for good or expired undelivered.
func TestOnDeliveredTellsDeliveriesOnly(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	var calls atomic.Int32
	rec := newRecorder(func(_ context.Context, d delivery) error {
		switch {
		case d.info.ID == "gone:2":
			return fmt.Errorf("403: %w", push.ErrUnreachable)
		case calls.Add(1) == 1:
			return errors.New("telegram: 502 Bad Gateway")
		}
		return nil
	})
	told := make(chan push.Info, 10)
	run(t, b, map[string]push.Sender{"telegram": rec}, push.WithQueueSettings(schedule.Queue{MinBackoff: 10 * time.Millisecond}),
		push.OnDelivered(func(_ context.Context, info push.Info, conv bot.Conversation) {
			if conv != citizen {
				t.Errorf("OnDelivered conv = %+v, want %+v", conv, citizen)
			}
			told <- info
		}))
	o := push.NewOutbox(b)
	send(t, o, "gone:2", citizen, text("x"))
	send(t, o, "ok:1", citizen, text("y"))
	send(t, o, "late:3", citizen, text("z"), push.At(time.Now().Add(-time.Hour)), push.ExpiresAt(time.Now().Add(-time.Minute)))
	eventually(t, "every push settled", drained(t, b, push.Queue("telegram")))
	select {
	case info := <-told:
		if info.ID != "ok:1" || info.Attempt != 1 {
			t.Errorf("OnDelivered(%s, attempt %d), want ok:1 on attempt 1", info.ID, info.Attempt)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnDelivered was not called for the delivered push")
	}
	if n := len(told); n != 0 {
		t.Errorf("OnDelivered called %d more times, want once", n)
	}
}

// TestHungDelivererIsTakenOver: one deliverer claims a push and never
// finishes (its sender hangs, ignoring its context). When the lease runs
// out another deliverer delivers it, exactly once.
func TestHungDelivererIsTakenOver(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		hang := make(chan struct{})
		hung := newRecorder(func(context.Context, delivery) error {
			<-hang
			return errors.New("woke up too late")
		})
		lease := schedule.Queue{Lease: 300 * time.Millisecond, Concurrency: 1}
		_, stopHung := run(t, open(), map[string]push.Sender{"telegram": hung}, push.WithQueueSettings(lease))
		var wake sync.Once
		t.Cleanup(func() { wake.Do(func() { close(hang) }) }) // runs before run's cleanup
		send(t, push.NewOutbox(b), "remind:crash", citizen, text("x"))
		hung.next(t, "the hung deliverer's attempt")

		good := newRecorder(nil)
		run(t, open(), map[string]push.Sender{"telegram": good}, push.WithQueueSettings(lease))
		d := good.next(t, "delivery by the second deliverer")
		if d.info.Attempt != 1 {
			t.Errorf("attempt = %d, want 1 (the hung claim counts)", d.info.Attempt)
		}
		eventually(t, "the push is finished", drained(t, b, push.Queue("telegram")))
		wake.Do(func() { close(hang) })
		stopHung()
		if got := good.count("remind:crash") + hung.count("remind:crash"); got != 1 {
			t.Errorf("delivered %d times, want exactly once", got)
		}
		if n, _ := b.Pending(context.Background(), push.Queue("telegram")); n != 0 {
			t.Errorf("Pending = %d: the hung deliverer's late failure brought the push back", n)
		}
	})
}

// TestCrashedClaimIsDelivered: a process claims a push and dies; after the
// lease a deliverer delivers it once.
func TestCrashedClaimIsDelivered(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		send(t, push.NewOutbox(b), "remind:dead", citizen, text("x"))
		if jobs, err := open().Claim(context.Background(), push.Queue("telegram"), time.Now(), 200*time.Millisecond, 10); err != nil || len(jobs) != 1 {
			t.Fatalf("the dying process's Claim = %v, %v", jobs, err)
		}
		rec := newRecorder(nil)
		run(t, open(), map[string]push.Sender{"telegram": rec})
		rec.next(t, "delivery after the lease")
		eventually(t, "finished", drained(t, b, push.Queue("telegram")))
		if got := rec.count("remind:dead"); got != 1 {
			t.Errorf("delivered %d times, want 1", got)
		}
	})
}

// TestSeveralDeliverersShareOneRedis: three deliverers, each with its own
// Redis client, serve two channels; every push is delivered exactly once.
func TestSeveralDeliverersShareOneRedis(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	const deliverers, pushes = 3, 200
	var recs []*recorder
	for range deliverers {
		tg, con := newRecorder(nil), newRecorder(nil)
		recs = append(recs, tg, con)
		run(t, bottest.RedisStore(t, url, prefix), map[string]push.Sender{"telegram": tg, "console": con},
			push.WithQueueSettings(schedule.Queue{Concurrency: 8}), push.WithBulkConcurrency(2))
	}
	o := push.NewOutbox(bottest.RedisStore(t, url, prefix))
	for i := range pushes {
		conv := bot.Conversation{Channel: []string{"telegram", "console"}[i%2], User: fmt.Sprint(i)}
		var opts []push.SendOption
		if i%3 == 0 {
			opts = append(opts, push.Bulk())
		}
		send(t, o, fmt.Sprintf("p%d", i), conv, text(fmt.Sprint(i)), opts...)
	}
	b := bottest.RedisStore(t, url, prefix)
	eventually(t, "all pushes finished", drained(t, b, push.Queue("telegram"), push.BulkQueue("telegram"), push.Queue("console"), push.BulkQueue("console")))
	busy := 0
	for i := range pushes {
		n := 0
		for _, r := range recs {
			n += r.count(fmt.Sprintf("p%d", i))
		}
		if n != 1 {
			t.Errorf("push p%d delivered %d times, want 1", i, n)
		}
	}
	for _, r := range recs {
		r.mu.Lock()
		if len(r.delivered) > 0 {
			busy++
		}
		r.mu.Unlock()
	}
	if busy < 2 {
		t.Logf("only %d of %d senders got work", busy, len(recs))
	}
}

// TestBulkDoesNotHoldUpInteractive: while the bulk lane is stuck on a long
// broadcast, an interactive push still goes out, and the sender can tell
// them apart.
func TestBulkDoesNotHoldUpInteractive(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		release := make(chan struct{})
		rec := newRecorder(func(_ context.Context, d delivery) error {
			if d.info.Bulk {
				<-release
			}
			return nil
		})
		o := push.NewOutbox(b)
		for i := range 20 {
			send(t, o, fmt.Sprintf("closure:%d", i), bot.Conversation{Channel: "telegram", User: fmt.Sprint(i)}, text("closed"), push.Bulk())
		}
		run(t, open(), map[string]push.Sender{"telegram": rec})
		// The bulk lane (concurrency 1) is now blocked in its first push.
		send(t, o, "remind:1", citizen, text("reminder"))
		for {
			d := rec.next(t, "interactive push")
			if !d.info.Bulk {
				if d.info.ID != "remind:1" {
					t.Errorf("interactive push %q, want remind:1", d.info.ID)
				}
				break
			}
		}
		close(release)
		eventually(t, "bulk lane drained", drained(t, b, push.BulkQueue("telegram")))
	})
}

func TestKickSendsWithoutWaitingForThePoll(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	rec := newRecorder(nil)
	d, _ := run(t, b, map[string]push.Sender{"telegram": rec}, push.WithRunnerOptions(schedule.WithPollInterval(time.Hour)))
	o := push.NewOutbox(b, push.WithKicker(d))
	// Whether or not the deliverer has made its first claim yet, nothing but
	// the kick can make it claim within the hour-long poll.
	send(t, o, "one", citizen, text("1"))
	rec.next(t, "first push")
	send(t, o, "two", citizen, text("2"))
	if got := rec.next(t, "second push (kicked)"); got.info.ID != "two" {
		t.Errorf("pushed %q, want two", got.info.ID)
	}
}

// TestSetKickerAfterConstruction: main builds the outbox before the
// deliverer (which needs the channels, built on the engine, whose dialogs
// send through the outbox) and attaches the kicker afterwards, while other
// goroutines may already be sending.
func TestSetKickerAfterConstruction(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	o := push.NewOutbox(b)
	rec := newRecorder(nil)
	d, _ := run(t, b, map[string]push.Sender{"telegram": rec}, push.WithRunnerOptions(schedule.WithPollInterval(time.Hour)))
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for i := range cap(errs) {
		wg.Go(func() {
			// Due later, so that only the kick under test can deliver sooner
			// than the hour-long poll; these race with SetKicker (-race).
			errs <- o.Send(context.Background(), fmt.Sprintf("later-%d", i), citizen, text("later"), push.At(time.Now().Add(time.Hour)))
		})
	}
	o.SetKicker(d)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send = %v", err)
		}
	}
	send(t, o, "one", citizen, text("1"))
	rec.next(t, "first push")
	send(t, o, "two", citizen, text("2"))
	if got := rec.next(t, "second push (kicked)"); got.info.ID != "two" {
		t.Errorf("pushed %q, want two", got.info.ID)
	}
	o.SetKicker(nil) // detaching is allowed; sending still works
	send(t, o, "three", citizen, text("3"), push.At(time.Now().Add(time.Hour)))
}

func TestCancel(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		b := open()
		o := push.NewOutbox(b)
		later := push.At(time.Now().Add(time.Hour))
		send(t, o, "remind:X", citizen, text("x"), later)
		send(t, o, "notice:X", citizen, text("x"), later, push.Bulk())
		for _, id := range []string{"remind:X", "notice:X", "missing"} {
			if err := o.Cancel(context.Background(), citizen, id); err != nil {
				t.Fatalf("Cancel(%s) = %v", id, err)
			}
		}
		if !drained(t, b, push.Queue("telegram"), push.BulkQueue("telegram"))() {
			t.Error("pushes left after Cancel")
		}
		if err := o.Cancel(context.Background(), bot.Conversation{Channel: "Tele:gram", User: "1"}, "x"); err == nil {
			t.Error("Cancel on an invalid channel = nil, want an error")
		}
	})
}

func TestSendRejectsBadInput(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	o := push.NewOutbox(b)
	now := time.Now()
	tests := []struct {
		name    string
		id      string
		conv    bot.Conversation
		replies []bot.Reply
		opts    []push.SendOption
		want    string
	}{
		{"empty id", "", citizen, text("x"), nil, "empty id"},
		{"no channel", "a", bot.Conversation{User: "1"}, text("x"), nil, "channel name"},
		{"channel with colon", "a", bot.Conversation{Channel: "tele:bulk", User: "1"}, text("x"), nil, "channel name"},
		{"no user", "a", bot.Conversation{Channel: "telegram"}, text("x"), nil, "without user"},
		{"no replies", "a", citizen, nil, nil, "nothing to send"},
		{"expires before due", "a", citizen, text("x"), []push.SendOption{push.At(now.Add(time.Hour)), push.ExpiresAt(now.Add(time.Minute))}, "not after it is due"},
		{"already expired", "a", citizen, text("x"), []push.SendOption{push.ExpiresAt(now.Add(-time.Minute))}, "not after it is due"},
		{"too big", "a", citizen, []bot.Reply{{Text: "x", Attachments: []bot.Attachment{{Name: "big", Data: make([]byte, push.MaxPayloadBytes)}}}}, nil, "byte limit"},
		{"id too long", strings.Repeat("x", schedule.MaxIDBytes+1), citizen, text("x"), nil, "job id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := o.Send(context.Background(), tc.id, tc.conv, tc.replies, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Send = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if !drained(t, b, push.Queue("telegram"), push.BulkQueue("telegram"))() {
		t.Error("a rejected push was stored")
	}
}

func TestNewDelivererRejectsBadSenders(t *testing.T) {
	b := bottest.EmbeddedStore(t, nil)
	for name, senders := range map[string]map[string]push.Sender{
		"none":      nil,
		"bad name":  {"Tele Gram": newRecorder(nil)},
		"nil value": {"telegram": nil},
	} {
		if _, err := push.NewDeliverer(b, senders); err == nil {
			t.Errorf("NewDeliverer(%s) = nil error, want one", name)
		}
	}
}

// TestPerUserRoutes: on a per-user channel each citizen's deliverer gets
// only that citizen's pushes, however many other deliverers poll.
func TestPerUserRoutes(t *testing.T) {
	backends(t, func(t *testing.T, open func() backend) {
		o := push.NewOutbox(open(), push.PerUser("console"))
		a := bot.Conversation{Channel: "console", User: "alice"}
		b := bot.Conversation{Channel: "console", User: "bob"}
		if ra, rb := o.Route(a), o.Route(b); ra == rb || ra == "console" {
			t.Fatalf("Route(alice) = %q, Route(bob) = %q: want distinct per-user routes", ra, rb)
		}
		recA, recB := newRecorder(nil), newRecorder(nil)
		run(t, open(), map[string]push.Sender{push.Route(a, true): recA})
		run(t, open(), map[string]push.Sender{push.Route(b, true): recB})
		for i := range 5 {
			send(t, o, fmt.Sprintf("for-bob-%d", i), b, text("bob"))
			send(t, o, fmt.Sprintf("for-alice-%d", i), a, text("alice"))
		}
		for range 5 {
			if d := recB.next(t, "bob's push"); d.conv != b {
				t.Errorf("bob's deliverer got a push for %v", d.conv)
			}
			if d := recA.next(t, "alice's push"); d.conv != a {
				t.Errorf("alice's deliverer got a push for %v", d.conv)
			}
		}
		if err := o.Cancel(context.Background(), b, "for-bob-0"); err != nil {
			t.Errorf("Cancel on a per-user route = %v", err)
		}
	})
}
