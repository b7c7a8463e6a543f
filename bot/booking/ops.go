package booking

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"sportello/bot"
	"sportello/bot/comune"
)

// NormalizeFiscalCode upper-cases a fiscal code and drops spaces.
func NormalizeFiscalCode(fc string) string {
	return strings.ToUpper(strings.Join(strings.Fields(fc), ""))
}

// pseudonym is the lookup key of a fiscal code: HMAC-SHA256 under the PII
// key, 128 bits in hex.
func (s *Service) pseudonym(fc string) string {
	m := hmac.New(sha256.New, s.cfg.PIIKey)
	m.Write([]byte(NormalizeFiscalCode(fc)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// requestDigest identifies what a booking request asks for (slot, reason,
// person, residence), keyed like the pseudonym so that no fiscal code can be
// guessed from it: joined to Request.IdempotencyKey, it makes a changed
// request a new one even when the caller kept the same key.
func (s *Service) requestDigest(slot Slot, reason Reason, name, fc string, nonResident bool) string {
	m := hmac.New(sha256.New, s.cfg.PIIKey)
	for _, part := range []string{"book", slot.String(), string(reason), name, fc, strconv.FormatBool(nonResident)} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// owns reports whether who may see or change b.
func (s *Service) owns(b *Booking, who Owner) bool {
	if who.FiscalCode != "" && hmac.Equal([]byte(s.pseudonym(who.FiscalCode)), []byte(b.Person)) {
		return true
	}
	return who.Conv != (bot.Conversation{}) && who.Conv == b.Conv
}

// validFiscalCode checks the shape only (16 characters for a person, 11
// digits for a temporary code); the dialog checks the checksum.
func validFiscalCode(fc string) bool {
	if len(fc) != 16 && len(fc) != 11 {
		return false
	}
	for i := 0; i < len(fc); i++ {
		c := fc[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// person checks the personal part of a request.
func (s *Service) person(reason Reason, name, fc string, conv bot.Conversation, nonResident bool) (string, string, error) {
	name = strings.Join(strings.Fields(name), " ")
	fc = NormalizeFiscalCode(fc)
	switch {
	case !reason.Valid():
		return "", "", fmt.Errorf("%w: unknown reason %q", ErrInvalid, reason)
	case name == "" || len(name) > 200:
		return "", "", fmt.Errorf("%w: name", ErrInvalid)
	case !validFiscalCode(fc):
		return "", "", fmt.Errorf("%w: fiscal code", ErrInvalid)
	case conv.Channel == "" || conv.User == "":
		return "", "", fmt.Errorf("%w: no conversation", ErrInvalid)
	case nonResident && s.c.NonResidents == comune.NonResidentsNotAllowed:
		return "", "", ErrNonResident
	}
	return name, fc, nil
}

// Book takes a place in r.Slot. Errors: *SlotTakenError (ErrSlotTaken, with
// alternatives), ErrTooManyActive, *RateLimitError (ErrRateLimited),
// ErrOutsideHorizon, ErrTooSoon, ErrClosed, ErrUnknownOffice,
// ErrNonResident, ErrInvalid, store.ErrUnavailable. The same
// IdempotencyKey with the same request returns the first call's booking; a
// request that differs in slot, reason, name, fiscal code or residence is a
// new one whatever its key.
func (s *Service) Book(ctx context.Context, r Request) (*Booking, error) {
	now := s.now()
	name, fc, err := s.person(r.Reason, r.Name, r.FiscalCode, r.Conv, r.NonResident)
	if err != nil {
		return nil, err
	}
	r.Slot.Start = r.Slot.Start.UTC()
	if _, err := s.checkSlot(r.Slot, now); err != nil {
		return nil, err
	}
	p := s.plan(r.Slot, now)
	b := &Booking{
		Office: r.Slot.Office, Start: r.Slot.Start, Reason: r.Reason, Status: p.Status,
		Person: s.pseudonym(fc), Name: name, FiscalCode: fc,
		Conv: r.Conv, Lang: r.Lang, NonResident: r.NonResident, CreatedAt: now.UTC(),
		AskAt: p.AskAt, ConfirmBy: p.ConfirmBy, PurgeAt: p.PurgeAt,
	}
	lim := s.limits(now, r.Slot.Office)
	if r.IdempotencyKey != "" {
		lim.IdempotencyKey = "book:" + r.IdempotencyKey + ":" + s.requestDigest(r.Slot, r.Reason, name, fc, r.NonResident)
	}
	got, err := s.insert(ctx, b, lim)
	if err != nil {
		return nil, s.explain(ctx, err, r.Slot, now)
	}
	s.log.InfoContext(ctx, "booking booked", slog.String("code", got.Code), slog.String("office", got.Office),
		slog.Time("start", got.Start))
	return got, nil
}

// insert stores b under a fresh code, retrying the rare code collision.
func (s *Service) insert(ctx context.Context, b *Booking, lim Limits) (*Booking, error) {
	for range 8 {
		b.Code = NewCode()
		got, err := s.st.Insert(ctx, b, lim)
		if !errors.Is(err, ErrCodeTaken) {
			return got, err
		}
	}
	return nil, fmt.Errorf("booking: no unused code after 8 tries: %w", ErrCodeTaken)
}

// explain adds what the citizen needs to a Store error: the alternatives to
// a taken slot, when to retry after the rate limit.
func (s *Service) explain(ctx context.Context, err error, slot Slot, now time.Time) error {
	switch {
	case errors.Is(err, ErrSlotTaken):
		alt, aerr := s.Alternatives(ctx, slot, 3)
		if aerr != nil {
			s.log.WarnContext(ctx, "booking alternatives", slog.Any("error", aerr))
		}
		return &SlotTakenError{Slot: slot, Alternatives: alt}
	case errors.Is(err, ErrRateLimited):
		// The stores count attempts in windows of RateWindow from the Unix
		// epoch (time.Truncate would count from year 1).
		w := max(s.cfg.RateWindow.Milliseconds(), 1)
		into := now.UnixMilli() % w
		return &RateLimitError{RetryAfter: time.Duration(w-into) * time.Millisecond}
	}
	return err
}

// Get returns the booking code if who owns it, else ErrNotFound.
func (s *Service) Get(ctx context.Context, code string, who Owner) (*Booking, error) {
	b, err := s.Lookup(ctx, code)
	if err != nil {
		return nil, err
	}
	if !s.owns(b, who) {
		return nil, ErrNotFound
	}
	return b, nil
}

// Lookup returns the booking code without an ownership check: for staff and
// internal use only, never for a citizen's request.
func (s *Service) Lookup(ctx context.Context, code string) (*Booking, error) {
	code, err := ParseCode(code)
	if err != nil {
		return nil, ErrNotFound
	}
	return s.st.Booking(ctx, code)
}

// Mine returns who's current bookings, offers and waitlist entries (status
// waiting, offered, booked, confirmed), by start (waitlist entries last).
// Appointments that are over (Booking.Over) are not current: they are left
// out.
func (s *Service) Mine(ctx context.Context, who Owner) ([]*Booking, error) {
	var person, conv string
	if who.FiscalCode != "" {
		person = s.pseudonym(who.FiscalCode)
	}
	if who.Conv != (bot.Conversation{}) {
		conv = who.Conv.Key()
	}
	if person == "" && conv == "" {
		return nil, nil
	}
	all, err := s.st.Find(ctx, person, conv)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []*Booking
	for _, b := range all {
		if (b.Status.Active() || b.Status == StatusWaiting) && !b.Over(now) && s.owns(b, who) {
			out = append(out, b)
		}
	}
	slices.SortStableFunc(out, func(a, b *Booking) int {
		switch {
		case a.Start.IsZero() != b.Start.IsZero():
			if a.Start.IsZero() {
				return 1
			}
			return -1
		case !a.Start.Equal(b.Start):
			return a.Start.Compare(b.Start)
		}
		return strings.Compare(a.Code, b.Code)
	})
	return out, nil
}

// Cancel cancels the booking (or waitlist entry, or offer) code owned by
// who. Its place goes to the first in line on the waitlist. Cancelling twice
// is not an error. Errors: ErrNotFound, ErrNotActive (released, expired,
// over...).
func (s *Service) Cancel(ctx context.Context, code string, who Owner) (*Booking, error) {
	return s.end(ctx, code, who, StatusCancelled)
}

// Decline turns the offer down; the slot goes to the next in line.
func (s *Service) Decline(ctx context.Context, code string, who Owner) (*Booking, error) {
	return s.end(ctx, code, who, StatusDeclined)
}

func (s *Service) end(ctx context.Context, code string, who Owner, to Status) (*Booking, error) {
	b, err := s.Get(ctx, code, who)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if b.Status.Active() && b.Over(now) {
		return nil, fmt.Errorf("%w: %s", ErrOver, b.Code)
	}
	r, err := s.st.End(ctx, b.Code, to, s.limits(now, b.Office))
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "booking "+string(to), slog.String("code", b.Code))
	s.deliver(ctx, r)
	return r.Booking, nil
}

// Move moves the booking code owned by who to the slot to, atomically: the
// old place is released only when the new one is held; on failure the
// booking stays where it was. The code stays the same; confirmation starts
// again for the new date. Errors as Book, plus ErrNotFound, ErrNotActive.
func (s *Service) Move(ctx context.Context, code string, who Owner, to Slot) (*Booking, error) {
	b, err := s.Get(ctx, code, who)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if b.Status != StatusBooked && b.Status != StatusConfirmed {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotActive, b.Code, b.Status)
	}
	if b.Over(now) {
		return nil, fmt.Errorf("%w: %s", ErrOver, b.Code)
	}
	to.Start = to.Start.UTC()
	if _, err := s.checkSlot(to, now); err != nil {
		return nil, err
	}
	r, err := s.st.Move(ctx, b.Code, to, s.plan(to, now), s.limits(now, to.Office))
	if err != nil {
		return nil, s.explain(ctx, err, to, now)
	}
	s.log.InfoContext(ctx, "booking moved", slog.String("code", b.Code), slog.String("office", to.Office),
		slog.Time("start", to.Start))
	s.deliver(ctx, r)
	return r.Booking, nil
}

// Confirm confirms the booking code (answer to NoticeConfirm). Confirming
// twice is not an error; ErrNotActive when it was released already.
func (s *Service) Confirm(ctx context.Context, code string, who Owner) (*Booking, error) {
	b, err := s.Get(ctx, code, who)
	if err != nil {
		return nil, err
	}
	if b.Status == StatusOffered {
		return nil, fmt.Errorf("%w: %s is an offer: accept it", ErrNotActive, b.Code)
	}
	now := s.now()
	if b.Over(now) {
		return nil, fmt.Errorf("%w: %s", ErrOver, b.Code)
	}
	r, err := s.st.Confirm(ctx, b.Code, Plan{}, s.limits(now, b.Office))
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "booking confirmed", slog.String("code", b.Code))
	return r.Booking, nil
}

// Accept takes the slot offered to who (answer to NoticeOffer) before the
// hold ends: the offer becomes a booking with the same code. Errors:
// ErrNotFound, ErrNotActive (the hold ended and the slot went on).
func (s *Service) Accept(ctx context.Context, code string, who Owner) (*Booking, error) {
	b, err := s.Get(ctx, code, who)
	if err != nil {
		return nil, err
	}
	switch b.Status {
	case StatusBooked, StatusConfirmed:
		return b, nil
	case StatusOffered:
	default:
		return nil, fmt.Errorf("%w: %s is %s", ErrNotActive, b.Code, b.Status)
	}
	now := s.now()
	r, err := s.st.Confirm(ctx, b.Code, s.plan(b.Slot(), now), s.limits(now, b.Office))
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "booking offer accepted", slog.String("code", b.Code))
	return r.Booking, nil
}

// Join puts the citizen on the waitlist for r.Office ("" = any office) and
// returns the entry (Status waiting; Code identifies it for Cancel). Joining
// again for the same office returns the same entry. One chat holds at most
// MaxActivePerConversation upcoming bookings and entries together. Errors:
// ErrFreeSlots (book one instead), ErrTooManyActive, ErrUnknownOffice,
// ErrInvalid, ErrNonResident, ErrRateLimited.
func (s *Service) Join(ctx context.Context, r WaitRequest) (*Booking, error) {
	name, fc, err := s.person(r.Reason, r.Name, r.FiscalCode, r.Conv, r.NonResident)
	if err != nil {
		return nil, err
	}
	switch _, err := s.FirstFree(ctx, r.Office); {
	case err == nil:
		return nil, ErrFreeSlots
	case !errors.Is(err, ErrNoFreeSlot):
		return nil, err
	}
	now := s.now()
	// The wait lasts the horizon, and ends (and is told) in the morning
	// after its last day.
	_, end := s.window(now)
	end = s.awake(end)
	b := &Booking{
		Office: r.Office, Reason: r.Reason, Status: StatusWaiting,
		Person: s.pseudonym(fc), Name: name, FiscalCode: fc,
		Conv: r.Conv, Lang: r.Lang, NonResident: r.NonResident, CreatedAt: now.UTC(),
		Until: end.UTC(), PurgeAt: end.UTC(),
	}
	got, err := s.insert(ctx, b, s.limits(now, r.Office))
	if err != nil {
		return nil, s.explain(ctx, err, Slot{}, now)
	}
	s.log.InfoContext(ctx, "booking waitlist joined", slog.String("code", got.Code), slog.String("office", got.Office))
	return got, nil
}

// Appointments returns the office's bookings on the calendar day of date,
// for staff: every status (filter on Status.Active for who is coming), by
// start. Name and FiscalCode are plain: mask them where shown.
func (s *Service) Appointments(ctx context.Context, office string, date time.Time) ([]*Booking, error) {
	if s.c.Office(office) == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownOffice, office)
	}
	d := s.midnight(date)
	return s.st.Calendar(ctx, office, d, d.AddDate(0, 0, 1))
}

// noticeID is the stable id of the notice kind about b in its current slot
// (and, for a confirmation request, with its deadline: a request asked
// again with a new deadline is a new message).
func noticeID(b *Booking) string {
	id := "booking:" + b.Code + ":" + string(b.Notice)
	if !b.Start.IsZero() {
		id += ":" + strconv.FormatInt(b.Start.Unix()/60, 36)
	}
	if b.Notice == NoticeConfirm && !b.ConfirmBy.IsZero() {
		id += ":" + strconv.FormatInt(b.ConfirmBy.Unix()/60, 36)
	}
	// An offer held again (it could not be told in time) is a new message
	// with its new hold.
	if b.Notice == NoticeOffer && !b.Until.IsZero() {
		id += ":" + strconv.FormatInt(b.Until.Unix()/60, 36)
	}
	return id
}

// Delivered records that the push id reached the citizen: wire it to
// push.OnDelivered with Config.DeliveryReceipts. Only the ids of this
// Service's confirmation requests and offers count (see noticeID); any
// other id is ignored. A receipt lost (a crash, a store error) errs on the
// citizen's side: they are asked again, never released unasked.
func (s *Service) Delivered(ctx context.Context, id string) error {
	code, kind, deadline, ok := parseNoticeID(id)
	if !ok {
		return nil
	}
	if err := s.st.Delivered(ctx, code, kind, deadline, s.limits(s.now(), "")); err != nil {
		return fmt.Errorf("booking: delivery of %s %s: %w", kind, code, err)
	}
	return nil
}

// parseNoticeID reads the code, kind and deadline (to the minute) of a
// confirmation request's or offer's noticeID.
func parseNoticeID(id string) (code string, kind NoticeKind, deadline time.Time, ok bool) {
	parts := strings.Split(id, ":")
	if len(parts) != 5 || parts[0] != "booking" {
		return "", "", time.Time{}, false
	}
	kind = NoticeKind(parts[2])
	if kind != NoticeConfirm && kind != NoticeOffer {
		return "", "", time.Time{}, false
	}
	m, err := strconv.ParseInt(parts[4], 36, 64)
	if err != nil {
		return "", "", time.Time{}, false
	}
	return parts[1], kind, time.Unix(m*60, 0).UTC(), true
}

// deliver sends the pending notices of r's records and acknowledges them.
// A failure leaves the notice pending for the next sweep; deliver then
// reports false. A notice not to be sent yet (NoticeAt, an offer made at
// night) stays pending: the sweep sends it when it is due.
func (s *Service) deliver(ctx context.Context, r *Result) bool {
	if r == nil {
		return true
	}
	ok := true
	for _, b := range []*Booking{r.Booking, r.Offered} {
		if b == nil || b.Notice == "" || b.NoticeAt.After(s.now()) {
			continue
		}
		if s.cfg.Notifier == nil {
			s.log.WarnContext(ctx, "booking notice dropped: no notifier", slog.String("code", b.Code),
				slog.String("notice", string(b.Notice)))
		} else if err := s.cfg.Notifier.Notify(ctx, Notice{ID: noticeID(b), Kind: b.Notice, Booking: b}); err != nil {
			now := s.now()
			at := retryAt(b, now)
			s.log.WarnContext(ctx, "booking notice not sent; will retry", slog.String("code", b.Code),
				slog.String("notice", string(b.Notice)), slog.Int("tries", b.NoticeTries+1),
				slog.Time("retry_at", at), slog.Any("error", err))
			if err := s.st.NoticeFailed(ctx, b.Code, b.Notice, at, s.limits(now, b.Office)); err != nil {
				s.log.WarnContext(ctx, "booking notice failed", slog.String("code", b.Code), slog.Any("error", err))
			}
			ok = false
			continue
		}
		if err := s.st.Ack(ctx, b.Code, b.Notice, s.limits(s.now(), b.Office)); err != nil {
			s.log.WarnContext(ctx, "booking notice ack", slog.String("code", b.Code), slog.Any("error", err))
			ok = false
		}
	}
	return ok
}

// Backoff of a notice that could not be sent: 30s after the first failure,
// doubling up to 30 minutes.
const (
	noticeBackoff    = 30 * time.Second
	maxNoticeBackoff = 30 * time.Minute
)

// retryAt is when to try b's failed notice again: later after each failure,
// but never after b's next deadline, which must not wait for the notice.
func retryAt(b *Booking, now time.Time) time.Time {
	wait := maxNoticeBackoff
	if b.NoticeTries < 10 {
		wait = min(noticeBackoff<<b.NoticeTries, maxNoticeBackoff)
	}
	at := now.Add(wait)
	next := *b
	next.Notice = ""
	if d := DueAt(&next, now); d.After(now) && d.Before(at) {
		at = d
	}
	return at
}

// maxSteps bounds how many steps Sweep takes on one record in one go (a
// booking found long overdue is asked, released and purged in one sweep).
const maxSteps = 6

// Sweep does everything due now: confirmation requests, releases of
// unconfirmed bookings, expired offers passed on, expired waitlist entries,
// purges, and notices not yet sent; then, while people wait, it offers them
// the free places of the horizon (a new day that became bookable). It
// returns how many steps it took.
// Several replicas may sweep at once: each step is atomic and notices carry
// stable ids.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	const batch = 100
	steps := 0
	seen := map[string]bool{}
	for {
		now := s.now()
		codes, err := s.st.Due(ctx, now, batch)
		if err != nil {
			return steps, err
		}
		fresh := 0
		for _, code := range codes {
			if seen[code] {
				continue // its notice failed: retried on the next sweep
			}
			seen[code] = true
			fresh++
			n, err := s.advance(ctx, code, now)
			steps += n
			if err != nil {
				return steps, err
			}
		}
		if len(codes) < batch || fresh == 0 {
			break
		}
	}
	n, err := s.offerFree(ctx)
	return steps + n, err
}

// maxOffers bounds how many free places one sweep offers to the waitlist.
const maxOffers = 50

// offerFree offers the free places of the horizon to the people waiting:
// places that no freed booking brought (a new day entering the horizon, a
// place freed too close to be offered then and not booked since). Each goes
// to the first in line for its office or any office, with the usual hold.
// It returns how many it offered.
func (s *Service) offerFree(ctx context.Context) (int, error) {
	ids := []string{""}
	for _, o := range s.c.Offices {
		ids = append(ids, o.ID)
	}
	waiting, err := s.st.Waiting(ctx, ids)
	if err != nil {
		return 0, err
	}
	var offices []*comune.Office
	for _, o := range s.c.Offices {
		if waiting[""] > 0 || waiting[o.ID] > 0 {
			offices = append(offices, o)
		}
	}
	if len(offices) == 0 {
		return 0, nil
	}
	now := s.now()
	_, end := s.window(now)
	// Only places that can be offered: min notice after the offer is told
	// (in the morning when it is night).
	from := s.limits(now, "").OfferFrom
	free, err := s.free(ctx, offices, from, end)
	if err != nil {
		return 0, err
	}
	offered := 0
	exhausted := map[string]bool{} // nobody left in line for the office
	for _, f := range free {
		for range f.Free {
			if exhausted[f.Slot.Office] || offered == maxOffers {
				break
			}
			r, err := s.st.Offer(ctx, f.Slot, s.limits(now, f.Slot.Office))
			if err != nil {
				return offered, err
			}
			if r.Offered == nil {
				exhausted[f.Slot.Office] = true
				break
			}
			offered++
			s.log.InfoContext(ctx, "booking free place offered", slog.String("code", r.Offered.Code),
				slog.String("office", f.Slot.Office), slog.Time("start", f.Slot.Start))
			s.deliver(ctx, r)
		}
	}
	return offered, nil
}

// advance takes the steps due on code at now.
func (s *Service) advance(ctx context.Context, code string, now time.Time) (int, error) {
	for step := range maxSteps {
		r, err := s.st.Advance(ctx, code, s.limits(now, ""))
		if errors.Is(err, ErrNotFound) {
			return step, nil // purged by another replica
		}
		if err != nil {
			return step, err
		}
		if r.Booking == nil {
			s.log.DebugContext(ctx, "booking purged", slog.String("code", code))
			return step + 1, nil
		}
		if !s.deliver(ctx, r) {
			return step + 1, nil
		}
		next := *r.Booking
		next.Notice = ""
		if DueAt(&next, now).After(now) {
			return step + 1, nil
		}
	}
	return maxSteps, nil
}

// Run sweeps now and every SweepEvery until ctx is done, then returns nil.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepEvery)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "booking sweep", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
