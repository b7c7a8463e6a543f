// Package push sends messages that Sportello starts itself (reminders,
// "confirm your booking", waitlist offers, closure notices) through a
// durable outbox: Outbox.Send stores the push as a scheduled job, and a
// Deliverer in some process that serves the channel hands it to the
// channel's Sender, retrying until it is delivered, expired or given up.
//
// Pushes survive crashes and restarts and are delivered by one replica at a
// time. A crash mid-delivery means the push is delivered again later, so a
// Sender may, rarely, deliver twice; it never delivers twice at once.
//
// Each channel has two queues ("lanes"): Queue(channel) for pushes a
// citizen waits for, and BulkQueue(channel) for broadcasts, served with
// little concurrency so that a closure notice to thousands of citizens
// never holds up a reminder. Senders learn which lane a push came from
// through InfoFrom, to put bulk pushes behind interactive replies in their
// own rate limits.
//
// A push waits under its route: the channel's name, or, for a channel whose
// citizens are each served by a process of their own (the terminal chat,
// declared with PerUser), the channel's name and a tag of the citizen, so
// that only that citizen's process claims it.
//
// Every push expires: at the time given with ExpiresAt, and never later
// than its due time plus the outbox's maximum age (WithMaxAge, 7 days by
// default). An expired push is not delivered, and the store deletes it with
// the personal data it carries (chat id, appointment, booking code) even
// when no deliverer ever claims it, for instance on a route nobody serves
// any more: run a schedule.Janitor on the store.
package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"sportello/bot"
	"sportello/bot/schedule"
)

// Queue is the queue of the pushes on a route, "push:<route>".
func Queue(route string) string { return "push:" + route }

// Route is where conv's pushes wait: its channel, or, when perUser, its
// channel and a tag of its user ("console-3f2a...").
func Route(conv bot.Conversation, perUser bool) string {
	if !perUser {
		return conv.Channel
	}
	h := sha256.Sum256([]byte(conv.User))
	return conv.Channel + "-" + hex.EncodeToString(h[:8])
}

// BulkQueue is the queue of the bulk pushes on a route, "push:<route>:bulk".
func BulkQueue(route string) string { return "push:" + route + ":bulk" }

// Store is where an Outbox keeps pushes: *redisstore.Store or
// *boltstore.Store.
type Store interface {
	Schedule(ctx context.Context, j schedule.Job) error
	Cancel(ctx context.Context, queue, id string) error
}

// Kicker is told about a push due now, so that a deliverer in this process
// sends it without waiting for its next poll. *Deliverer is one.
type Kicker interface {
	Kick(queue string)
}

// DefaultMaxAge is how long after its due time a push expires when the
// outbox has no WithMaxAge.
const DefaultMaxAge = 7 * 24 * time.Hour

// Outbox enqueues pushes. It is safe for concurrent use.
type Outbox struct {
	store   Store
	kick    atomic.Pointer[kicker] // nil: nobody to wake
	now     func() time.Time
	perUser map[string]bool
	maxAge  time.Duration
}

// kicker boxes a Kicker for an atomic pointer.
type kicker struct{ Kicker }

// OutboxOption configures an Outbox.
type OutboxOption func(*Outbox)

// WithKicker wakes k when a push is due at once (usually this process's
// Deliverer). See SetKicker when k is built after the outbox.
func WithKicker(k Kicker) OutboxOption { return func(o *Outbox) { o.SetKicker(k) } }

// WithMaxAge sets how long after its due time a push may still be
// delivered (default DefaultMaxAge). A push sent without ExpiresAt expires
// then, and an ExpiresAt later than that is brought forward to it. A
// duration that is not positive keeps the default.
func WithMaxAge(d time.Duration) OutboxOption {
	return func(o *Outbox) {
		if d > 0 {
			o.maxAge = d
		}
	}
}

// PerUser routes the pushes of these channels per citizen (see Route): use
// it for channels where each citizen's process delivers their own pushes.
func PerUser(channels ...string) OutboxOption {
	return func(o *Outbox) {
		if o.perUser == nil {
			o.perUser = map[string]bool{}
		}
		for _, c := range channels {
			o.perUser[c] = true
		}
	}
}

// SetKicker makes the outbox wake k when a push is due at once, from now
// on; nil stops waking anyone. It is for a deliverer built after the
// outbox (the deliverer needs the channels, which need the engine, whose
// dialogs send through the outbox), and is safe to call while Send runs.
// Until it is called, pushes due now wait for the deliverer's next poll.
func (o *Outbox) SetKicker(k Kicker) {
	if k == nil {
		o.kick.Store(nil)
		return
	}
	o.kick.Store(&kicker{k})
}

// Route is where the outbox puts conv's pushes.
func (o *Outbox) Route(conv bot.Conversation) string { return Route(conv, o.perUser[conv.Channel]) }

// NewOutbox returns an outbox storing pushes in s.
func NewOutbox(s Store, opts ...OutboxOption) *Outbox {
	o := &Outbox{store: s, now: time.Now, maxAge: DefaultMaxAge}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// SendOption changes how a push is sent.
type SendOption func(*sendOptions)

type sendOptions struct {
	due     time.Time
	expires time.Time
	bulk    bool
}

// At delivers the push at t instead of now.
func At(t time.Time) SendOption { return func(o *sendOptions) { o.due = t } }

// ExpiresAt drops the push instead of delivering it at or after t (a
// waitlist offer that nobody can take any more). Without it, a push
// expires at its due time plus the outbox's maximum age (see WithMaxAge).
func ExpiresAt(t time.Time) SendOption { return func(o *sendOptions) { o.expires = t } }

// Bulk sends the push on the channel's bulk lane (broadcasts, notices).
func Bulk() SendOption { return func(o *sendOptions) { o.bulk = true } }

// Send enqueues replies for conv under id. Producers are idempotent: sending
// the same id to the same channel and lane again replaces the push still
// waiting (so "confirm:ABC123" sent twice is delivered once), and a push
// replaced while it is being delivered is delivered again afterwards. The id
// must be unique per channel: build it from what the push is about
// ("remind:<booking code>").
func (o *Outbox) Send(ctx context.Context, id string, conv bot.Conversation, replies []bot.Reply, opts ...SendOption) error {
	var so sendOptions
	for _, opt := range opts {
		opt(&so)
	}
	now := o.now()
	if so.due.IsZero() {
		so.due = now
	}
	if err := validChannel(conv.Channel); err != nil {
		return err
	}
	switch {
	case id == "":
		return errors.New("push: empty id")
	case conv.User == "":
		return fmt.Errorf("push %s: conversation without user", id)
	case len(replies) == 0:
		return fmt.Errorf("push %s: nothing to send", id)
	case !so.expires.IsZero() && !so.expires.After(so.due):
		return fmt.Errorf("push %s: expires at %s, not after it is due at %s", id, so.expires.Format(time.RFC3339), so.due.Format(time.RFC3339))
	}
	if latest := so.due.Add(o.maxAge); so.expires.IsZero() || so.expires.After(latest) {
		so.expires = latest
	}
	b, err := newPayload(conv, replies, so.bulk, so.expires).encode()
	if err != nil {
		return fmt.Errorf("push %s: %w", id, err)
	}
	queue := Queue(o.Route(conv))
	if so.bulk {
		queue = BulkQueue(o.Route(conv))
	}
	if err := o.store.Schedule(ctx, schedule.Job{Queue: queue, ID: id, Due: so.due, Expires: so.expires, Payload: b}); err != nil {
		return fmt.Errorf("push %s: %w", id, err)
	}
	if k := o.kick.Load(); k != nil && !so.due.After(now) {
		k.Kick(queue)
	}
	return nil
}

// Cancel withdraws the push id to conv, from both lanes. A push already
// being delivered may still arrive. Cancelling a missing push is not an
// error.
func (o *Outbox) Cancel(ctx context.Context, conv bot.Conversation, id string) error {
	if err := validChannel(conv.Channel); err != nil {
		return err
	}
	route := o.Route(conv)
	for _, q := range []string{Queue(route), BulkQueue(route)} {
		if err := o.store.Cancel(ctx, q, id); err != nil {
			return fmt.Errorf("push %s: cancel: %w", id, err)
		}
	}
	return nil
}
