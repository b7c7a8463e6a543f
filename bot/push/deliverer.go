package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sportello/bot"
	"sportello/bot/schedule"
)

// Sender delivers pushes on one channel. Channels implement it.
//
// A Sender returns an error wrapping ErrUnreachable when the recipient can
// never be reached (Telegram's 403 "bot was blocked by the user"): the push
// is dropped, not retried. It returns a *RetryAfterError when the channel
// asks to slow down: the push is tried again after that delay without
// counting a failed attempt. Any other error is retried with backoff.
type Sender interface {
	Push(ctx context.Context, conv bot.Conversation, replies []bot.Reply) error
}

// ErrUnreachable marks a recipient that cannot be reached any more.
var ErrUnreachable = errors.New("recipient unreachable")

// RetryAfterError asks for the push to be tried again after After.
type RetryAfterError struct {
	After time.Duration
	Err   error // the channel's own error, if any
}

func (e *RetryAfterError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("push: retry after %s", e.After)
	}
	return fmt.Sprintf("push: retry after %s: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// Info describes the push a Sender is delivering.
type Info struct {
	ID      string
	Bulk    bool      // from the bulk lane: may wait behind interactive replies
	Attempt int       // 0 on the first delivery attempt
	Due     time.Time // when this attempt was due
	Expires time.Time // when the push expires (every push from an Outbox does)
}

type infoKey struct{}

// InfoFrom returns the push being delivered, from a Sender's context.
func InfoFrom(ctx context.Context) (Info, bool) {
	i, ok := ctx.Value(infoKey{}).(Info)
	return i, ok
}

// Deliverer delivers the pushes of the channels this process serves.
type Deliverer struct {
	runner      *schedule.Runner
	senders     map[string]Sender // by queue
	unreachable func(ctx context.Context, conv bot.Conversation, err error)
	delivered   func(ctx context.Context, info Info, conv bot.Conversation)
	log         *slog.Logger
	metrics     *Metrics
	now         func() time.Time
}

// Option configures a Deliverer.
type Option func(*delivererConfig)

type delivererConfig struct {
	d      *Deliverer
	lane   schedule.Queue
	bulk   int
	runner []schedule.Option
}

// OnUnreachable calls fn (synchronously, so keep it short) when a push is
// dropped because its recipient is unreachable, for example to end the
// citizen's subscriptions. InfoFrom(ctx) tells which push it was.
func OnUnreachable(fn func(ctx context.Context, conv bot.Conversation, err error)) Option {
	return func(c *delivererConfig) { c.d.unreachable = fn }
}

// OnDelivered calls fn (synchronously, so keep it short) each time a push
// reached its recipient: its Sender returned nil. Producers that must know
// a push arrived, not only that it was queued (a request to confirm a
// booking), learn it here by the push's id (info.ID). A crash right after
// the delivery loses the call; a push is never reported undelivered here.
func OnDelivered(fn func(ctx context.Context, info Info, conv bot.Conversation)) Option {
	return func(c *delivererConfig) { c.d.delivered = fn }
}

// WithQueueSettings sets Concurrency, Lease, MaxAttempts, MinBackoff and
// MaxBackoff of each channel's interactive lane (Name and Handler are
// ignored); zero fields keep the schedule package's defaults. The bulk lane
// uses the same settings with its own concurrency.
func WithQueueSettings(q schedule.Queue) Option {
	return func(c *delivererConfig) { c.lane = q }
}

// WithBulkConcurrency sets how many bulk pushes per channel this process
// delivers at once (default 1).
func WithBulkConcurrency(n int) Option {
	return func(c *delivererConfig) {
		if n > 0 {
			c.bulk = n
		}
	}
}

// WithRunnerOptions passes options to the underlying schedule.Runner (poll
// interval, shutdown grace, scheduler metrics).
func WithRunnerOptions(opts ...schedule.Option) Option {
	return func(c *delivererConfig) { c.runner = append(c.runner, opts...) }
}

// WithLogger sets the logger of the deliverer and its runner.
func WithLogger(l *slog.Logger) Option {
	return func(c *delivererConfig) {
		if l != nil {
			c.d.log = l
		}
	}
}

// WithMetrics records deliveries in m (see NewMetrics).
func WithMetrics(m *Metrics) Option { return func(c *delivererConfig) { c.d.metrics = m } }

// WithClock replaces time.Now for expiry decisions, for tests.
func WithClock(now func() time.Time) Option { return func(c *delivererConfig) { c.d.now = now } }

// NewDeliverer returns a deliverer of the pushes for the routes in senders
// (keyed by route: a channel name, or Route(conv, true) for a per-user
// channel), claiming them from b. Call Run.
func NewDeliverer(b schedule.Backend, senders map[string]Sender, opts ...Option) (*Deliverer, error) {
	if len(senders) == 0 {
		return nil, errors.New("push: a deliverer needs at least one sender")
	}
	d := &Deliverer{senders: map[string]Sender{}, log: slog.Default(), now: time.Now}
	c := &delivererConfig{d: d, bulk: 1}
	for _, o := range opts {
		o(c)
	}
	var queues []schedule.Queue
	for _, ch := range slices.Sorted(maps.Keys(senders)) {
		if err := validChannel(ch); err != nil {
			return nil, err
		}
		if senders[ch] == nil {
			return nil, fmt.Errorf("push: nil sender for channel %s", ch)
		}
		d.senders[Queue(ch)], d.senders[BulkQueue(ch)] = senders[ch], senders[ch]
		lane := c.lane
		lane.Name, lane.Handler = Queue(ch), d.deliver
		queues = append(queues, lane)
		lane.Name, lane.Concurrency = BulkQueue(ch), c.bulk
		queues = append(queues, lane)
	}
	r, err := schedule.NewRunner(b, queues, append([]schedule.Option{schedule.WithLogger(d.log)}, c.runner...)...)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	d.runner = r
	return d, nil
}

// Run delivers pushes until ctx ends, then waits for deliveries in flight.
func (d *Deliverer) Run(ctx context.Context) error { return d.runner.Run(ctx) }

// Kick makes the deliverer look at queue now (see Kicker).
func (d *Deliverer) Kick(queue string) { d.runner.Kick(queue) }

// deliver is the runner's handler for every push queue.
func (d *Deliverer) deliver(ctx context.Context, j schedule.Job) error {
	p, err := decodePayload(j.Payload)
	if err != nil {
		return schedule.Permanent(fmt.Errorf("push %s: %w", j.ID, err))
	}
	log := d.log.With(slog.String("push_id", j.ID), slog.String("channel", p.Channel))
	s := d.senders[j.Queue]
	if s == nil {
		return schedule.Permanent(fmt.Errorf("push %s: queue %s not served here", j.ID, j.Queue))
	}
	expires := p.expires()
	if expires.IsZero() {
		expires = j.Expires // a job scheduled without the outbox
	}
	if !expires.IsZero() {
		if !d.now().Before(expires) {
			log.Info("push expired before delivery, dropped", slog.Int("attempt", j.Attempt))
			d.metrics.count(p.Channel, "expired")
			return nil
		}
		// Never deliver after the expiry, even from a slow send.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, expires)
		defer cancel()
	}
	info := Info{ID: j.ID, Bulk: p.Bulk, Attempt: j.Attempt, Due: j.Due, Expires: expires}
	ctx = context.WithValue(ctx, infoKey{}, info)
	err = s.Push(ctx, p.conv(), p.replies())
	var ra *RetryAfterError
	switch {
	case err == nil:
		d.metrics.count(p.Channel, "delivered")
		if d.delivered != nil {
			// Delivered even when the expiry passes right now: tell it.
			d.delivered(context.WithoutCancel(ctx), info, p.conv())
		}
		return nil
	case errors.Is(err, ErrUnreachable):
		d.metrics.count(p.Channel, "unreachable")
		if d.unreachable != nil {
			d.unreachable(ctx, p.conv(), err)
		}
		return schedule.Permanent(fmt.Errorf("push %s: %w", j.ID, err))
	case errors.As(err, &ra):
		d.metrics.count(p.Channel, "retry_after")
		return &schedule.RetryAfterError{After: ra.After, Err: err}
	default:
		d.metrics.count(p.Channel, "failed")
		return fmt.Errorf("push %s: %w", j.ID, err)
	}
}

// Metrics counts push deliveries. A nil *Metrics records nothing.
type Metrics struct {
	pushes *prometheus.CounterVec
}

// NewMetrics registers the push metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sportello_push_total",
		Help: "Push delivery attempts by channel and outcome (delivered, expired, unreachable, retry_after, failed).",
	}, []string{"channel", "outcome"})}
	reg.MustRegister(m.pushes)
	return m
}

func (m *Metrics) count(channel, outcome string) {
	if m != nil {
		m.pushes.WithLabelValues(channel, outcome).Inc()
	}
}
