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
	// Notifier may be nil until the dialogs are wired: notices then stay
	// pending (and are sent once a Service with a Notifier sweeps).
	Notifier Notifier
	Now      func() time.Time
	Logger   *slog.Logger

	// RateLimit is the most booking attempts (book, move) per person and per
	// conversation within RateWindow (defaults 20 per hour).
	RateLimit  int
	RateWindow time.Duration
	// MaxActivePerConversation caps active bookings made from one chat
	// whatever fiscal codes it types (default: 4, a parent with children);
	// max_active_per_person of the Comune file caps them per fiscal code.
	MaxActivePerConversation int
	// IdempotencyTTL is how long a Request.IdempotencyKey is remembered
	// (default 24h).
	IdempotencyTTL time.Duration
	// SweepEvery is how often Run looks for due deadlines (default 15s).
	SweepEvery time.Duration
}

// Service is the booking calendar. It is safe for concurrent use, and
// several Services (replicas) may share one Store.
type Service struct {
	cfg Config
	c   *comune.Comune
	st  Store
	log *slog.Logger
	now func() time.Time
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
	return &Service{cfg: cfg, c: cfg.Comune, st: cfg.Store, log: cfg.Logger, now: cfg.Now}, nil
}

// Comune returns the Comune the Service books for.
func (s *Service) Comune() *comune.Comune { return s.c }

var errTODO = errors.New("booking: not implemented yet")

// Days returns the days from the day of from (in the Comune's time zone)
// to the end of the horizon that have free places at office ("" = any
// office), respecting min_notice_hours, earliest first.
func (s *Service) Days(ctx context.Context, office string, from time.Time) ([]Day, error) {
	return nil, errTODO
}

// Times returns the free slots of office ("" = every office) on the day of
// day, by start (then office).
func (s *Service) Times(ctx context.Context, office string, day time.Time) ([]FreeSlot, error) {
	return nil, errTODO
}

// FirstFree returns the earliest free slot at office ("" = any office), or
// ErrNoFreeSlot.
func (s *Service) FirstFree(ctx context.Context, office string) (FreeSlot, error) {
	return FreeSlot{}, errTODO
}

// Alternatives returns up to n free slots nearest in time to slot: at the
// same office first, then at others.
func (s *Service) Alternatives(ctx context.Context, slot Slot, n int) ([]FreeSlot, error) {
	return nil, errTODO
}

// Book takes a place in r.Slot. Errors: *SlotTakenError (ErrSlotTaken, with
// alternatives), ErrTooManyActive, *RateLimitError (ErrRateLimited),
// ErrOutsideHorizon, ErrTooSoon, ErrClosed, ErrUnknownOffice,
// ErrNonResident, ErrInvalid, store.ErrUnavailable. The same
// IdempotencyKey returns the first call's booking.
func (s *Service) Book(ctx context.Context, r Request) (*Booking, error) {
	return nil, errTODO
}

// Get returns the booking code if who owns it, else ErrNotFound.
func (s *Service) Get(ctx context.Context, code string, who Owner) (*Booking, error) {
	return nil, errTODO
}

// Lookup returns the booking code without an ownership check: for staff and
// internal use only, never for a citizen's request.
func (s *Service) Lookup(ctx context.Context, code string) (*Booking, error) {
	return nil, errTODO
}

// Mine returns who's current bookings, offers and waitlist entries (status
// waiting, offered, booked, confirmed), by start (waitlist entries last).
func (s *Service) Mine(ctx context.Context, who Owner) ([]*Booking, error) {
	return nil, errTODO
}

// Cancel cancels the booking (or waitlist entry, or offer) code owned by
// who. Its place goes to the first in line on the waitlist. Cancelling twice
// is not an error. Errors: ErrNotFound, ErrNotActive (released, expired...).
func (s *Service) Cancel(ctx context.Context, code string, who Owner) (*Booking, error) {
	return nil, errTODO
}

// Move moves the booking code owned by who to the slot to, atomically: the
// old place is released only when the new one is held; on failure the
// booking stays where it was. The code stays the same; confirmation starts
// again for the new date. Errors as Book, plus ErrNotFound, ErrNotActive.
func (s *Service) Move(ctx context.Context, code string, who Owner, to Slot) (*Booking, error) {
	return nil, errTODO
}

// Confirm confirms the booking code (answer to NoticeConfirm). Confirming
// twice is not an error; ErrNotActive when it was released already.
func (s *Service) Confirm(ctx context.Context, code string, who Owner) (*Booking, error) {
	return nil, errTODO
}

// Join puts the citizen on the waitlist for r.Office ("" = any office) and
// returns the entry (Status waiting; Code identifies it for Cancel). Joining
// again for the same office returns the same entry. Errors: ErrFreeSlots
// (book one instead), ErrTooManyActive, ErrUnknownOffice, ErrInvalid,
// ErrNonResident.
func (s *Service) Join(ctx context.Context, r WaitRequest) (*Booking, error) {
	return nil, errTODO
}

// Accept takes the slot offered to who (answer to NoticeOffer) before the
// hold ends: the offer becomes a booking with the same code. Errors:
// ErrNotFound, ErrNotActive (the hold ended and the slot went on).
func (s *Service) Accept(ctx context.Context, code string, who Owner) (*Booking, error) {
	return nil, errTODO
}

// Decline turns the offer down; the slot goes to the next in line.
func (s *Service) Decline(ctx context.Context, code string, who Owner) (*Booking, error) {
	return nil, errTODO
}

// Appointments returns the office's bookings on the calendar day of date,
// for staff: every status (filter on Status.Active for who is coming), by
// start. Name and FiscalCode are plain: mask them where shown.
func (s *Service) Appointments(ctx context.Context, office string, date time.Time) ([]*Booking, error) {
	return nil, errTODO
}

// Sweep does everything due now: confirmation requests, releases of
// unconfirmed bookings, expired offers passed on, expired waitlist entries,
// purges, and notices not yet sent. It returns how many records it handled.
// Several replicas may sweep at once: each step is atomic and notices carry
// stable ids.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	return 0, errTODO
}

// Run sweeps every SweepEvery until ctx is done, then returns.
func (s *Service) Run(ctx context.Context) error {
	return errTODO
}
