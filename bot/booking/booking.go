// Package booking runs the Comune's CIE appointment calendar: which slots are
// free, booking, moving and cancelling them, the confirm-or-release step, the
// waitlist, and the purge of personal data after the appointment.
//
// A slot is never given beyond its capacity (the office's desks), on any
// backend, with several replicas, crashes and retries: every change is one
// atomic step of the Store (a Lua script on Redis, one transaction on bbolt).
//
// Personal data: lookups use a pseudonym of the fiscal code (keyed
// HMAC-SHA256). The plain name and fiscal code are kept on the booking only
// for the office and deleted with the booking a set time after the
// appointment (pii_retention_days), or a day after a booking ends without
// one (cancelled, released, an offer declined or not accepted; a waitlist
// entry that ends goes at once). Log the booking code, never them.
package booking

import (
	"errors"
	"fmt"
	"time"

	"sportello/bot"
)

// Reason is why the citizen needs a CIE.
type Reason string

// Reasons, as the Comune file and buttons spell them.
const (
	ReasonFirstIssue Reason = "first_issue"
	ReasonRenewal    Reason = "renewal"
	ReasonLoss       Reason = "loss"
	ReasonTheft      Reason = "theft"
	ReasonDamaged    Reason = "damaged"
	ReasonMinor      Reason = "minor"
)

// Reasons lists every reason in the order a menu shows them.
func Reasons() []Reason {
	return []Reason{ReasonFirstIssue, ReasonRenewal, ReasonLoss, ReasonTheft, ReasonDamaged, ReasonMinor}
}

// Valid reports whether r is one of Reasons.
func (r Reason) Valid() bool {
	for _, x := range Reasons() {
		if r == x {
			return true
		}
	}
	return false
}

// Status is where a booking (or a waitlist entry) stands.
type Status string

// Statuses. Offered, booked and confirmed hold a place in their slot
// (Active); the others do not. An active booking whose slot has started is
// Over: it counts against no limit any more.
const (
	// StatusWaiting: on the waitlist, no slot yet (Office "" = any office).
	StatusWaiting Status = "waiting"
	// StatusOffered: a freed slot is held for this waitlisted citizen until
	// Until; Accept makes it a booking, Decline or the deadline passes it on.
	// Offers are told, and their holds run, in waking hours only
	// (Config.OfferHours).
	StatusOffered Status = "offered"
	// StatusBooked: booked; asked to confirm at AskAt when the Comune has a
	// confirmation step, released at ConfirmBy if still unconfirmed.
	StatusBooked Status = "booked"
	// StatusConfirmed: booked and confirmed (or booked inside the
	// confirmation window, where asking would make no sense).
	StatusConfirmed Status = "confirmed"
	// StatusCancelled: cancelled by the citizen (or left the waitlist).
	StatusCancelled Status = "cancelled"
	// StatusReleased: not confirmed by ConfirmBy; the slot went back.
	StatusReleased Status = "released"
	// StatusDeclined: a waitlist offer the citizen declined.
	StatusDeclined Status = "declined"
	// StatusExpired: a waitlist offer not accepted in time, or a waitlist
	// entry that reached the end of the horizon without an offer.
	StatusExpired Status = "expired"
)

// Active reports whether the status holds a place in a slot.
func (s Status) Active() bool {
	return s == StatusOffered || s == StatusBooked || s == StatusConfirmed
}

// NoticeKind names a message Sportello sends a citizen without being asked.
type NoticeKind string

// Notices the Service asks the Notifier to send.
const (
	// NoticeConfirm asks the citizen to confirm (buttons: confirm, cancel).
	// ConfirmBy is the deadline.
	NoticeConfirm NoticeKind = "confirm_request"
	// NoticeReleased tells the citizen the unconfirmed booking was released.
	NoticeReleased NoticeKind = "released"
	// NoticeOffer offers a waitlisted citizen the slot in Start, held until
	// Until (buttons: accept, decline).
	NoticeOffer NoticeKind = "offer"
	// NoticeOfferExpired tells the citizen the offer passed to the next in
	// line because it was not accepted in time.
	NoticeOfferExpired NoticeKind = "offer_expired"
	// NoticeWaitExpired tells the citizen the waitlist entry ended without a
	// free slot (it lasts horizon_days).
	NoticeWaitExpired NoticeKind = "waitlist_expired"
)

// Booking is one appointment, or one waitlist entry (Status waiting, no
// slot yet; it becomes an offered booking with the same Code when a slot
// frees up).
type Booking struct {
	// Code is the short code the citizen and the office use (see NewCode).
	Code string `json:"code"`
	// Office is the office id; "" for a waitlist entry on any office.
	Office string `json:"office"`
	// Start is the appointment's instant; zero for a waitlist entry. Show it
	// in the Comune's time zone.
	Start  time.Time `json:"start"`
	Reason Reason    `json:"reason"`
	Status Status    `json:"status"`
	// Person is the pseudonym of the fiscal code: what lookups use.
	Person string `json:"person"`
	// Name and FiscalCode are plain, for the office only: never log them,
	// mask them where operators see them. Deleted with the booking at
	// PurgeAt.
	Name       string `json:"name"`
	FiscalCode string `json:"fiscal_code"`
	// Conv and Lang are where and how to notify the citizen.
	Conv        bot.Conversation `json:"conv"`
	Lang        string           `json:"lang"`
	NonResident bool             `json:"non_resident"`
	CreatedAt   time.Time        `json:"created_at"`
	// AskAt is when the citizen is asked to confirm and ConfirmBy the
	// deadline; both zero when no confirmation is needed.
	AskAt     time.Time `json:"ask_at,omitzero"`
	ConfirmBy time.Time `json:"confirm_by,omitzero"`
	// Asked is true once the confirmation request was issued.
	Asked bool `json:"asked,omitempty"`
	// Told is true once the current confirmation request or offer was
	// reported delivered to the citizen (Service.Delivered).
	Told bool `json:"told,omitempty"`
	// Until is the end of the hold for an offered booking, and the end of
	// the wait for a waitlist entry.
	Until time.Time `json:"until,omitzero"`
	// PurgeAt is when the record, personal data included, is deleted.
	PurgeAt time.Time `json:"purge_at"`
	// Notice is a notice decided but not yet acknowledged as sent, and
	// NoticeTries how many times sending it failed (bookkeeping of the
	// Service; the dialog ignores them).
	Notice      NoticeKind `json:"notice,omitempty"`
	NoticeTries int        `json:"notice_tries,omitempty"`
	// NoticeAt, when set, is the earliest moment the pending notice may go:
	// an offer made outside waking hours is told in the morning.
	NoticeAt time.Time `json:"notice_at,omitzero"`
	// Seq orders the waitlist (lower is first in line).
	Seq int64 `json:"seq,omitempty"`
	// WaitOffice and WaitUntil keep, on an offer, the waitlist entry it was
	// made from (its office, "" for any, and the end of its wait): an offer
	// that could not be told before its hold ended, and cannot be held
	// again, puts the citizen back in line with them and Seq.
	WaitOffice string    `json:"wait_office,omitempty"`
	WaitUntil  time.Time `json:"wait_until,omitzero"`
}

// Slot returns the booking's slot (zero for a waitlist entry).
func (b *Booking) Slot() Slot { return Slot{Office: b.Office, Start: b.Start} }

// Over reports whether b's slot has started at now: the appointment is past
// (or under way), so it counts against no limit, is not listed among the
// citizen's appointments and can no longer be moved or cancelled. The
// record stays, for the office, until PurgeAt. A waitlist entry is never
// over.
func (b *Booking) Over(now time.Time) bool { return !b.Start.IsZero() && !b.Start.After(now) }

// Slot is one appointment time at one office.
type Slot struct {
	Office string
	Start  time.Time
}

func (s Slot) String() string {
	return s.Office + "@" + s.Start.UTC().Format(time.RFC3339)
}

// FreeSlot is a slot with places left.
type FreeSlot struct {
	Slot Slot
	// Free is how many places are left (1..desks).
	Free int
}

// Day is a calendar day with free places.
type Day struct {
	// Date is midnight of the day in the Comune's time zone.
	Date time.Time
	// Free is the number of free places that day (over every office when
	// asked for any office).
	Free int
}

// Owner proves a citizen may see or change a booking: the fiscal code it was
// booked with, or the conversation that booked it. Either one is enough; an
// empty Owner matches nothing.
type Owner struct {
	FiscalCode string
	Conv       bot.Conversation
}

// Request asks for a booking.
type Request struct {
	Slot   Slot
	Reason Reason
	// Name and FiscalCode of the person the card is for (for a minor, the
	// minor's). The dialog validates the fiscal code's checksum; the
	// Service only normalises it (upper case, no spaces).
	Name        string
	FiscalCode  string
	Conv        bot.Conversation
	Lang        string
	NonResident bool
	// IdempotencyKey makes a retried request (a redelivered update, a re-run
	// turn) return the booking the first one made instead of booking twice.
	// Use something stable for the citizen's final "confirm" press, e.g. the
	// conversation key plus the session's booking attempt id. Only the same
	// request is a retry: the Service joins the key to a digest of Slot,
	// Reason, Name, FiscalCode and NonResident, so a request changed under
	// the same key (another time, another person) books anew.
	IdempotencyKey string
}

// WaitRequest asks to join the waitlist.
type WaitRequest struct {
	// Office is the office id, or "" for any office.
	Office      string
	Reason      Reason
	Name        string
	FiscalCode  string
	Conv        bot.Conversation
	Lang        string
	NonResident bool
}

// Notice is a message to send to a citizen: Kind says which, Booking holds
// everything the text needs (Code, Start, Office, Until, ConfirmBy) and where
// to send it (Conv, Lang).
type Notice struct {
	// ID is stable for one notice: a sender that dedupes by it (the push
	// outbox) sends it once even when the Service retries.
	ID      string
	Kind    NoticeKind
	Booking *Booking
}

// Errors. Check them with errors.Is; ErrSlotTaken comes as a *SlotTakenError
// (errors.As) with the nearest alternatives.
var (
	// ErrSlotTaken: the slot is full (somebody booked it in between).
	ErrSlotTaken = errors.New("booking: slot taken")
	// ErrTooManyActive: the person (fiscal code) or the conversation already
	// has the most active bookings allowed (max_active_per_person); only
	// appointments still to come count.
	ErrTooManyActive = errors.New("booking: too many active bookings")
	// ErrRateLimited: too many booking attempts in a short time by this
	// person or conversation; comes as a *RateLimitError with RetryAfter.
	ErrRateLimited = errors.New("booking: too many attempts")
	// ErrOutsideHorizon: the slot is beyond horizon_days.
	ErrOutsideHorizon = errors.New("booking: beyond the booking horizon")
	// ErrTooSoon: the slot starts within min_notice_hours (or is past).
	ErrTooSoon = errors.New("booking: too soon")
	// ErrClosed: no such slot: the office is closed that day (holiday,
	// closure, no hours) or the time is not a slot start.
	ErrClosed = errors.New("booking: no such slot")
	// ErrUnknownOffice: the office id is not in the Comune file.
	ErrUnknownOffice = errors.New("booking: unknown office")
	// ErrNonResident: the Comune does not serve non-residents.
	ErrNonResident = errors.New("booking: the Comune does not serve non-residents")
	// ErrInvalid: the request is incomplete (no name, no fiscal code, an
	// unknown reason, no conversation).
	ErrInvalid = errors.New("booking: invalid request")
	// ErrNotFound: no booking with that code for that owner. A wrong owner
	// gets this too, so codes cannot be probed.
	ErrNotFound = errors.New("booking: not found")
	// ErrNotActive: the booking cannot change any more (cancelled,
	// released, expired, over, or, for Accept, not an offer).
	ErrNotActive = errors.New("booking: not active")
	// ErrOver is ErrNotActive for an appointment that is over (its slot
	// has started): errors.Is matches both.
	ErrOver = fmt.Errorf("%w: the appointment is over", ErrNotActive)
	// ErrNoFreeSlot: nothing is free within the horizon (at that office);
	// the citizen may join the waitlist.
	ErrNoFreeSlot = errors.New("booking: no free slot")
	// ErrFreeSlots: Join was refused because slots are free: book one.
	ErrFreeSlots = errors.New("booking: there are free slots")
	// ErrCodeTaken is internal: a Store reports that a new booking's code
	// exists already; the Service retries with another code.
	ErrCodeTaken = errors.New("booking: code already used")
)

// SlotTakenError is ErrSlotTaken with the nearest free slots (same office
// first, closest in time; possibly empty).
type SlotTakenError struct {
	Slot         Slot
	Alternatives []FreeSlot
}

func (e *SlotTakenError) Error() string {
	return fmt.Sprintf("%v: %s (%d alternatives)", ErrSlotTaken, e.Slot, len(e.Alternatives))
}

// Is makes errors.Is(err, ErrSlotTaken) true.
func (e *SlotTakenError) Is(target error) bool { return target == ErrSlotTaken }

// RateLimitError is ErrRateLimited with when to try again.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: retry after %s", ErrRateLimited, e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }
