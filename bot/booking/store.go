package booking

import (
	"context"
	"time"
)

// Store keeps bookings. Every method that changes something is one atomic
// step on the backend (a single Lua script over keys sharing one hash tag on
// Redis, one transaction on bbolt), so the checks it makes (capacity, limits,
// status) hold when it writes. *redisstore.Store and *boltstore.Store
// implement it; storetest.RunBooking checks both the same way.
//
// Connection failures wrap store.ErrUnavailable. Rule violations are the
// sentinel errors of this package (ErrSlotTaken without alternatives: the
// Service adds them).
type Store interface {
	// Insert adds b (Status booked or confirmed with Office and Start set,
	// or waiting), after, in this order: when lim.IdempotencyKey was used
	// within lim.IdempotencyTTL, returning the booking it made and nothing
	// else; counting one attempt against lim.RateLimit for b.Person and
	// b.Conv (ErrRateLimited); checking that neither has lim.MaxActive
	// (lim.MaxActiveConv) active bookings whose slot starts after lim.Now
	// (ErrTooManyActive: an appointment that is over no longer counts) --
	// for a waitlist entry, first that the person is not already waiting
	// for the same office, in which case the existing entry is returned,
	// and after that that the conversation's upcoming bookings and waitlist
	// entries together are fewer than lim.MaxActiveConv
	// (ErrTooManyActive); checking the slot has fewer than
	// lim.Capacity active bookings (ErrSlotTaken); checking b.Code is unused
	// (ErrCodeTaken). A waitlist entry gets the next Seq.
	Insert(ctx context.Context, b *Booking, lim Limits) (*Booking, error)

	// Move moves the active booking code to the slot to with the plan p,
	// counting one attempt against the rate limit: the new place is taken
	// (fewer than lim.Capacity there, else ErrSlotTaken) in the same step
	// that frees the old one, and the freed place is offered to the
	// waitlist. Moving to the slot it is in already changes nothing.
	Move(ctx context.Context, code string, to Slot, p Plan, lim Limits) (*Result, error)

	// End ends code with status to (cancelled, declined): an active
	// booking frees its place, which is offered to the waitlist, and is
	// purged lim.Ended later at most; a waitlist entry leaves the line and
	// is purged at once. Cancelling a booking already in status to
	// returns it unchanged; any other inactive status is ErrNotActive.
	// Declined is only for offered bookings.
	End(ctx context.Context, code string, to Status, lim Limits) (*Result, error)

	// Confirm turns code from booked into confirmed (no change when already
	// confirmed; ErrNotActive otherwise). For an offered booking it is the
	// acceptance: the booking gets plan p (Status, AskAt, ConfirmBy).
	Confirm(ctx context.Context, code string, p Plan, lim Limits) (*Result, error)

	// Advance applies what is due on code at lim.Now:
	//   - an offer whose hold ended expires (purged lim.Ended later at
	//     most) and the place goes to the next in line (skipping, as
	//     cancelled, anyone who has MaxActive upcoming bookings by now);
	//     but one never told (its notice still pending, never handed
	//     over, or with lim.Receipts not reported delivered: !Told) is
	//     held again (Until lim.OfferUntil, told from lim.OfferAt) while its
	//     slot starts at or after lim.OfferFrom, and else goes back in line
	//     (waiting, with WaitOffice, WaitUntil and its Seq; the place is
	//     freed);
	//   - a booking is asked to confirm at AskAt, with at least
	//     lim.AnswerWindow to answer (ConfirmBy moves later when the ask
	//     comes late), or kept as confirmed when it is too late to ask;
	//   - at ConfirmBy an unconfirmed booking whose request was
	//     acknowledged (Ack), and with lim.Receipts reported delivered
	//     (Told), is released (purged lim.Ended later at most); one whose
	//     request was never told is asked again with a new deadline
	//     instead (kept as confirmed when it is too late to ask);
	//   - a waitlist entry expires at Until;
	//   - the record is deleted at PurgeAt once no notice is pending, and
	//     lim.Ended after PurgeAt in any case (a notice that could not be
	//     sent by then is dropped).
	// A transition that must be told to the citizen sets Booking.Notice,
	// replacing an unsent one.
	Advance(ctx context.Context, code string, lim Limits) (*Result, error)

	// Offer holds a free place in slot for the first in line (slot's
	// office waitlist or the any-office one, whoever joined first), with
	// the same rules as a freed place: not before lim.OfferFrom, only while
	// the slot has fewer than lim.Capacities[office] places held, skipping
	// (as cancelled) anyone with MaxActive upcoming bookings. Result.Offered
	// is the offer (Notice set), or nil when nothing was offered. Every
	// offer, of a freed place too, is held until lim.OfferUntil and its
	// notice waits until lim.OfferAt (NoticeAt); it keeps the entry's
	// office and end of wait in WaitOffice and WaitUntil.
	Offer(ctx context.Context, slot Slot, lim Limits) (*Result, error)

	// Waiting returns how many entries wait on the waitlist of each of
	// offices ("" is the any-office waitlist). Offices nobody waits for may
	// be absent.
	Waiting(ctx context.Context, offices []string) (map[string]int, error)

	// Ack records that notice kind of code was sent (clears Booking.Notice
	// when it still is kind).
	Ack(ctx context.Context, code string, kind NoticeKind, lim Limits) error

	// Delivered records that notice kind of code (a confirmation request
	// or an offer) whose deadline was the minute of deadline (ConfirmBy,
	// Until) reached the citizen at lim.Now: Told, and the notice
	// acknowledged. A request delivered late gets at least
	// lim.AnswerWindow from now (never past MinNotice before the start), an
	// offer its hold from now (Until lim.OfferUntil when later). A receipt
	// for another deadline, kind or status changes nothing.
	Delivered(ctx context.Context, code string, kind NoticeKind, deadline time.Time, lim Limits) error

	// NoticeFailed records that notice kind of code could not be sent, when it is
	// still the pending one: it counts the failure (Booking.NoticeTries)
	// and makes the record due again at at, instead of now, so that a
	// notice that keeps failing waits its turn behind other deadlines.
	// Setting a new notice starts NoticeTries from 0.
	NoticeFailed(ctx context.Context, code string, kind NoticeKind, at time.Time, lim Limits) error

	// Due returns up to limit codes with something due at or before now
	// (a pending notice, a deadline, a purge), earliest first.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)

	// Booking returns the booking code, or ErrNotFound.
	Booking(ctx context.Context, code string) (*Booking, error)

	// Find returns the records (every status, until purged) of the person
	// pseudonym and of the conversation key, each once; either may be "".
	Find(ctx context.Context, person, conv string) ([]*Booking, error)

	// Taken returns, for the office's slots starting in [from, to), how many
	// places are held (active bookings), by slot start in unix minutes.
	// Slots with none are absent.
	Taken(ctx context.Context, office string, from, to time.Time) (map[int64]int, error)

	// Calendar returns the office's bookings (every status, until purged)
	// starting in [from, to), by start.
	Calendar(ctx context.Context, office string, from, to time.Time) ([]*Booking, error)
}

// Limits are the Comune's rules and the moment, computed by the Service for
// one Store call.
type Limits struct {
	Now time.Time
	// Capacity is the number of desks of the slot being taken.
	Capacity int
	// MaxActive is the most active bookings per person (fiscal code), and
	// MaxActiveConv per conversation.
	MaxActive     int
	MaxActiveConv int
	// RateLimit is the most booking attempts (Insert, Move) per person and
	// per conversation within RateWindow.
	RateLimit  int
	RateWindow time.Duration
	// IdempotencyKey (Insert) and how long it is remembered.
	IdempotencyKey string
	IdempotencyTTL time.Duration
	// OfferAt is when an offer made now is told: Now in waking hours, else
	// the next morning (the offer's NoticeAt). OfferUntil is the end of its
	// hold: waitlist_hold_minutes counted in waking hours from OfferAt.
	OfferAt    time.Time
	OfferUntil time.Time
	// OfferFrom: a freed slot starting before this is not offered to the
	// waitlist (it is too close: min notice after OfferAt); it just
	// becomes free.
	OfferFrom time.Time
	// MinNotice is the Comune's min_notice_hours.
	MinNotice time.Duration
	// Retention is how long after its start a booking is kept (the purge).
	Retention time.Duration
	// AnswerWindow is the least time a citizen gets to answer a
	// confirmation request: one asked late (the sweep did not run at
	// AskAt), or asked again because the request could not be handed to
	// the Notifier by ConfirmBy, gets ConfirmBy = Now+AnswerWindow, but
	// never later than MinNotice before the start (a place released later
	// could be neither offered nor booked); past that the booking is kept
	// (confirmed) without asking.
	AnswerWindow time.Duration
	// Receipts: deliveries are reported (Store.Delivered), so a
	// confirmation request or offer not reported delivered (!Told) by its
	// deadline counts as never told.
	Receipts bool
	// Ended is how long a booking that ends without the appointment
	// (cancelled, declined, released, an offer not accepted) is kept at
	// most: its PurgeAt becomes min(PurgeAt, Now+Ended), so the citizen's
	// name and fiscal code go soon after nobody needs them. It is also how
	// long past PurgeAt a notice that cannot be sent may delay the purge.
	Ended time.Duration
	// Capacities gives the desks of any office, for offers made from a
	// freed place (keyed by office id).
	Capacities map[string]int
}

// Plan is what a booking in a given slot gets from the Comune's rules:
// whether it must be confirmed, when it is asked and by when, and when it is
// purged.
type Plan struct {
	Status    Status // booked, or confirmed when no confirmation is due
	AskAt     time.Time
	ConfirmBy time.Time
	PurgeAt   time.Time
}

// Result is what a Store step changed: the booking it was about and, when
// a place was freed and went to the first in line, that citizen's offer.
// Records whose Notice is set must be told (then Ack'ed).
type Result struct {
	Booking *Booking
	Offered *Booking
}

// DueAt is when something is next due on b, for Stores keeping a due index:
// now when a notice is pending (set; NoticeAt if later), else the end of an
// offer's hold or of a wait, the confirmation request and deadline of a
// booking that needs one, and otherwise the purge.
func DueAt(b *Booking, set time.Time) time.Time {
	switch {
	case b.Notice != "" && b.NoticeAt.After(set):
		return b.NoticeAt
	case b.Notice != "":
		return set
	case b.Status == StatusOffered || b.Status == StatusWaiting:
		return b.Until
	case b.Status == StatusBooked && !b.AskAt.IsZero() && !b.Asked:
		return b.AskAt
	case b.Status == StatusBooked && !b.ConfirmBy.IsZero():
		return b.ConfirmBy
	}
	return b.PurgeAt
}
