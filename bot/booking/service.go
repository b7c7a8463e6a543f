package booking

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"sportello/bot/comune"
)

// Notifier sends the notices the Service decides on (confirmation requests,
// releases, waitlist offers). The dialog package implements it: it renders
// the texts from locales in Booking.Lang, with buttons, and hands them to the
// push outbox with Notice.ID as the outbox id, so a notice retried after a
// crash is delivered once. Notify returning nil means "accepted for
// delivery"; an error makes the Service retry on its next sweep.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Config wires a Service. Comune, Store and PIIKey are required.
type Config struct {
	Comune *comune.Comune
	Store  Store
	// PIIKey is the secret key of the fiscal code pseudonym (from
	// SPORTELLO_PII_KEY), at least 16 bytes. Changing it orphans every
	// existing booking's lookups.
	PIIKey []byte
	// Notifier may be nil until the dialogs are wired: notices are then
	// logged (code and kind only) and dropped.
	Notifier Notifier
	Now      func() time.Time
	Logger   *slog.Logger

	// RateLimit is the most booking attempts (book, move) per person and per
	// conversation within RateWindow (defaults 20 per hour).
	RateLimit  int
	RateWindow time.Duration
	// MaxActivePerConversation caps the upcoming bookings made from one
	// chat whatever fiscal codes it types (default: 4, a parent with
	// children), and its bookings and waitlist entries together, so one
	// account cannot line up made-up people ahead of real citizens;
	// max_active_per_person of the Comune file caps bookings per fiscal
	// code.
	MaxActivePerConversation int
	// IdempotencyTTL is how long a Request.IdempotencyKey is remembered
	// (default 24h).
	IdempotencyTTL time.Duration
	// SweepEvery is how often the sweep (Run, or the scheduler job of
	// Queue) looks for due deadlines (default 15s).
	SweepEvery time.Duration
	// DeliveryReceipts says that the Notifier's messages report their
	// delivery (push.OnDelivered wired to Service.Delivered): a
	// confirmation request or offer then counts as told only once
	// delivered, so one handed over but never delivered by its deadline
	// is asked again (or the place held again) instead of costing the
	// citizen their appointment or place in line. Leave it false when
	// nothing reports deliveries: a request handed over counts as asked.
	DeliveryReceipts bool
	// OfferHours are the waking hours, in the Comune's time zone, in which
	// waitlist offers are told and their holds run (default: the Comune
	// file's booking.waitlist_offer_hours, itself 08:00-20:00 by default;
	// Hours{0, 24 * time.Hour} for any time). A place freed, or a day
	// opened, at night is held for the first in line and told in the
	// morning, with the whole hold from then, so nobody loses their place
	// in line while asleep.
	OfferHours Hours
}

// Service is the booking calendar. It is safe for concurrent use, and
// several Services (replicas) may share one Store.
type Service struct {
	cfg Config
	c   *comune.Comune
	st  Store
	log *slog.Logger
	now func() time.Time

	cache slotCache
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Comune == nil || cfg.Store == nil {
		return nil, errors.New("booking: Comune and Store are required")
	}
	if len(cfg.PIIKey) < 16 {
		return nil, errors.New("booking: SPORTELLO_PII_KEY must be at least 16 bytes")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 20
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = time.Hour
	}
	if cfg.MaxActivePerConversation <= 0 {
		cfg.MaxActivePerConversation = 4
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = 15 * time.Second
	}
	if cfg.OfferHours == (Hours{}) {
		cfg.OfferHours = comuneHours(cfg.Comune.Booking.WaitlistOfferHours)
	}
	if err := cfg.OfferHours.check(); err != nil {
		return nil, err
	}
	clock := cfg.Now
	// Milliseconds are what every Store keeps of an instant.
	now := func() time.Time { return clock().Truncate(time.Millisecond) }
	return &Service{cfg: cfg, c: cfg.Comune, st: cfg.Store, log: cfg.Logger, now: now}, nil
}

// Comune returns the Comune the Service books for.
func (s *Service) Comune() *comune.Comune { return s.c }

// endedRetention is how long a booking that ended without the appointment
// (cancelled, declined, released, expired offer) keeps the citizen's data:
// long enough for its notice and calendar file, no longer.
const endedRetention = 24 * time.Hour

// answerWindow is the least time a citizen gets to answer a confirmation
// request: the shortest window plan gives (the Comune file guarantees
// confirm_days_before leaves it before min notice).
const answerWindow = comune.AnswerWindow

// limits returns the Store limits at now for taking a place at office.
func (s *Service) limits(now time.Time, office string) Limits {
	b := s.c.Booking
	told := s.awake(now)
	lim := Limits{
		Now:            now,
		MaxActive:      b.MaxActivePerPerson,
		MaxActiveConv:  s.cfg.MaxActivePerConversation,
		RateLimit:      s.cfg.RateLimit,
		RateWindow:     s.cfg.RateWindow,
		IdempotencyTTL: s.cfg.IdempotencyTTL,
		OfferAt:        told,
		OfferUntil:     s.wakingAdd(told, time.Duration(b.WaitlistHoldMinutes)*time.Minute),
		OfferFrom:      told.Add(s.minNotice()),
		MinNotice:      s.minNotice(),
		Retention:      time.Duration(s.c.PIIRetentionDays) * 24 * time.Hour,
		Ended:          endedRetention,
		AnswerWindow:   answerWindow,
		Receipts:       s.cfg.DeliveryReceipts,
		Capacities:     make(map[string]int, len(s.c.Offices)),
	}
	for _, o := range s.c.Offices {
		lim.Capacities[o.ID] = o.Desks
	}
	if o := s.c.Office(office); o != nil {
		lim.Capacity = o.Desks
	}
	return lim
}

// plan returns what a booking in slot gets when made at now.
func (s *Service) plan(slot Slot, now time.Time) Plan {
	p := Plan{Status: StatusBooked, PurgeAt: slot.Start.Add(time.Duration(s.c.PIIRetentionDays) * 24 * time.Hour)}
	n := s.c.Booking.ConfirmDaysBefore
	if n <= 0 {
		return p
	}
	// Asked n days before at the same wall-clock time, answered a day
	// later, but 12 hours before the appointment at the latest, and no
	// later than min notice before it: a place released after that could
	// be neither offered to the waitlist nor booked (the stores apply the
	// same cap to a request that goes late).
	ask := slot.Start.In(s.c.Location()).AddDate(0, 0, -n)
	by := ask.Add(24 * time.Hour)
	for _, latest := range []time.Time{slot.Start.Add(-12 * time.Hour), slot.Start.Add(-s.minNotice())} {
		if latest.Before(by) {
			by = latest
		}
	}
	// The Comune file makes n days leave the answer window; a day
	// shortened by daylight saving time may not: ask earlier then.
	if by.Sub(ask) < answerWindow {
		ask = by.Add(-answerWindow)
	}
	if !now.Before(ask) {
		p.Status = StatusConfirmed // booked inside the window: nothing to ask
		return p
	}
	p.AskAt, p.ConfirmBy = ask.UTC(), by.UTC()
	return p
}

// minNotice is the Comune's min_notice_hours.
func (s *Service) minNotice() time.Duration {
	return time.Duration(s.c.Booking.MinNoticeHours) * time.Hour
}
