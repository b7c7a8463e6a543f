package storetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sportello/bot"
	"sportello/bot/booking"
	"sportello/bot/bottest"
	"sportello/bot/comune"
)

// BookingFresh returns a function that opens handles onto one new, empty
// booking data set (each handle as another replica would have).
type BookingFresh func(t *testing.T) (open func() booking.Store)

// TestComune is the Comune the booking suite books in: two offices, a
// confirmation step two days before, holidays on.
const TestComune = `
name: Comune di Prova
timezone: Europe/Rome
fees: {cie: "22.21", cie_duplicate: "27.37"}
non_residents: allowed
booking:
  horizon_days: 20
  min_notice_hours: 2
  max_active_per_person: 1
  confirm_days_before: 2
  waitlist_hold_minutes: 15
pii_retention_days: 30
offices:
  - id: centrale
    name: Sede centrale
    address: Via Larga 12
    slot_minutes: 30
    desks: 2
    hours:
      monday: ["09:00-12:00"]
      wednesday: ["09:00-12:00"]
    closures:
      - {from: 2026-03-11, to: 2026-03-11, reason: {it: Inventario, en: Stocktaking}}
  - id: nord
    name: Delegazione Nord
    address: Via dei Mille 5
    slot_minutes: 60
    desks: 1
    hours:
      tuesday: ["09:00-10:00"]
`

// tinyComune has four places in its horizon, to fill it and test the
// waitlist.
const tinyComune = `
name: Comune Piccolo
timezone: Europe/Rome
fees: {cie: "22.21", cie_duplicate: "27.37"}
booking:
  horizon_days: 13
  min_notice_hours: 2
  max_active_per_person: 1
  confirm_days_before: 0
  waitlist_hold_minutes: 15
offices:
  - id: solo
    name: Solo
    address: Via Uno 1
    slot_minutes: 60
    desks: 1
    hours: {tuesday: ["09:00-10:00"]}
  - id: altro
    name: Altro
    address: Via Due 2
    slot_minutes: 60
    desks: 1
    hours: {thursday: ["09:00-10:00"]}
`

// Rome is the test Comunes' time zone.
func Rome() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err)
	}
	return loc
}

// T0 is when the suite's clock starts: Monday 2 March 2026, 08:00 in Rome.
var T0 = time.Date(2026, 3, 2, 8, 0, 0, 0, Rome())

// Clock is a settable clock for the Service.
type Clock = bottest.Clock

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return bottest.NewClock(t) }

// Inbox records the notices a Service sends: it stands in for the dialogs'
// notifier, which renders them and hands them to the push outbox.
type Inbox struct {
	mu      sync.Mutex
	got     []booking.Notice
	all     []booking.Notice // every notice, for ID
	seen    map[string]bool
	fail    bool
	failFor map[string]bool // booking codes whose notices fail
	tries   map[string]int  // notices asked for, by booking code
}

// FailFor makes every notice about the booking code fail.
func (in *Inbox) FailFor(code string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.failFor == nil {
		in.failFor = map[string]bool{}
	}
	in.failFor[code] = true
}

// FailOnlyFor makes notices about code fail, and those about any other
// booking go through again.
func (in *Inbox) FailOnlyFor(code string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.failFor = map[string]bool{code: true}
}

// Tries returns how many times a notice about code was asked for.
func (in *Inbox) Tries(code string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.tries[code]
}

// Notify records n once per ID (as the outbox dedupes by id).
func (in *Inbox) Notify(_ context.Context, n booking.Notice) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.tries == nil {
		in.tries = map[string]int{}
	}
	in.tries[n.Booking.Code]++
	if in.fail || in.failFor[n.Booking.Code] {
		return errors.New("outbox unavailable")
	}
	if in.seen == nil {
		in.seen = map[string]bool{}
	}
	if !in.seen[n.ID] {
		in.seen[n.ID] = true
		in.got = append(in.got, n)
		in.all = append(in.all, n)
	}
	return nil
}

// ID returns the id of the last notice kind about code received, or "".
func (in *Inbox) ID(kind booking.NoticeKind, code string) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	id := ""
	for _, n := range in.all {
		if n.Kind == kind && n.Booking.Code == code {
			id = n.ID
		}
	}
	return id
}

// Take returns and forgets the notices received so far, as "kind code".
func (in *Inbox) Take() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, n := range in.got {
		out = append(out, string(n.Kind)+" "+n.Booking.Code)
	}
	in.got = nil
	return out
}

// PIIKey is the suite's pseudonym key.
var PIIKey = []byte("test-pii-key-0123456789abcdef")

// NewService builds a Service for the suite on st, with the Comune file
// text yml, the clock and the inbox.
func NewService(t testing.TB, st booking.Store, yml string, clock *Clock, inbox booking.Notifier, tune func(*booking.Config)) *booking.Service {
	t.Helper()
	c, err := comune.Parse([]byte(yml), "test.yaml")
	if err != nil {
		t.Fatalf("comune.Parse = %v", err)
	}
	cfg := booking.Config{Comune: c, Store: st, PIIKey: PIIKey, Notifier: inbox, Now: clock.Now,
		Logger: slog.New(slog.DiscardHandler)}
	if tune != nil {
		tune(&cfg)
	}
	s, err := booking.New(cfg)
	if err != nil {
		t.Fatalf("booking.New = %v", err)
	}
	return s
}

// Citizen returns a request for citizen n at slot (fiscal code, name and a
// conversation of their own).
func Citizen(n int, slot booking.Slot) booking.Request {
	return booking.Request{
		Slot: slot, Reason: booking.ReasonRenewal, Name: fmt.Sprintf("Cittadino %d", n),
		FiscalCode: citizenCode(n), Conv: bot.Conversation{Channel: "test", User: fmt.Sprint(n)}, Lang: "it",
	}
}

// citizenCode makes 16-character codes distinct for any n < 36^4.
func citizenCode(n int) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := []byte("RSSMRA80A01H0000")
	for i := 15; i >= 12; i-- {
		b[i] = digits[n%36]
		n /= 36
	}
	return string(b)
}

// Owner is the owner of citizen n's bookings, by conversation.
func Owner(n int) booking.Owner {
	return booking.Owner{Conv: bot.Conversation{Channel: "test", User: fmt.Sprint(n)}}
}

// At returns the slot at office at the wall-clock time in Rome.
func At(office string, year int, month time.Month, day, hour, min int) booking.Slot {
	return booking.Slot{Office: office, Start: time.Date(year, month, day, hour, min, 0, 0, Rome()).UTC()}
}

// RunBooking runs the booking conformance suite.
func RunBooking(t *testing.T, fresh BookingFresh) {
	tests := []struct {
		name string
		fn   func(*testing.T, func() booking.Store)
	}{
		{"BookGetMine", testBookGetMine},
		{"CapacityRespected", testCapacity},
		{"SlotRules", testSlotRules},
		{"CalendarAndDST", testCalendarDST},
		{"MaxActivePerPerson", testMaxActive},
		{"MaxActivePerConversation", testMaxActiveConv},
		{"PastAppointmentsDoNotCount", testPastNotActive},
		{"WaitlistAfterPastAppointment", testWaitlistAfterPast},
		{"RateLimit", testRateLimit},
		{"RateLimitRetryAfter", testRetryAfter},
		{"CancelFrees", testCancelFrees},
		{"MoveIsAtomic", testMove},
		{"Idempotency", testIdempotency},
		{"ConfirmOrRelease", testConfirmOrRelease},
		{"NoticesRetried", testNoticesRetried},
		{"ConfirmRequestLateOrUnsent", testConfirmLate},
		{"ConfirmWindowWithLongNotice", testConfirmLongNotice},
		{"ConfirmRequestNotDelivered", testConfirmNotDelivered},
		{"OfferNotDelivered", testOfferNotDelivered},
		{"FailingNoticesBackOff", testNoticesBackOff},
		{"WaitlistOrderAndHolds", testWaitlist},
		{"WaitlistAnyOffice", testWaitlistAnyOffice},
		{"WaitlistCappedPerChat", testWaitlistPerChat},
		{"WaitlistGetsNewDays", testWaitlistNewDays},
		{"WaitlistKeptOvernight", testWaitlistOvernight},
		{"WaitlistOffersInWakingHours", testWaitlistWakingHours},
		{"OfferNeverToldHeldAgain", testOfferNeverTold},
		{"OfferNeverToldBackInLine", testOfferBackInLine},
		{"PurgeAfterRetention", testPurge},
		{"EndedBookingsPurgedSoon", testEndedPurgedSoon},
		{"Appointments", testAppointments},
		{"ConcurrentBookersSeveralHandles", testConcurrentBookers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t)) })
	}
}

func mustBook(t *testing.T, s *booking.Service, r booking.Request) *booking.Booking {
	t.Helper()
	b, err := s.Book(context.Background(), r)
	if err != nil {
		t.Fatalf("Book(%s for %s) = %v", r.Slot, r.Name, err)
	}
	return b
}

func free(t *testing.T, s *booking.Service, slot booking.Slot) int {
	t.Helper()
	times, err := s.Times(context.Background(), slot.Office, slot.Start)
	if err != nil {
		t.Fatalf("Times = %v", err)
	}
	for _, f := range times {
		if f.Slot.Start.Equal(slot.Start) && f.Slot.Office == slot.Office {
			return f.Free
		}
	}
	return 0
}

func testBookGetMine(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	slot := At("centrale", 2026, 3, 9, 9, 30)
	b := mustBook(t, s, Citizen(1, slot))
	if _, err := booking.ParseCode(b.Code); err != nil || b.Code != string([]byte(b.Code)) {
		t.Errorf("Code = %q is not a booking code", b.Code)
	}
	if b.Status != booking.StatusBooked || !b.Start.Equal(slot.Start) || b.Office != "centrale" {
		t.Errorf("Book = %+v", b)
	}
	// Asked two days before at the same wall-clock time; deadline a day later.
	if want := time.Date(2026, 3, 7, 9, 30, 0, 0, Rome()); !b.AskAt.Equal(want) {
		t.Errorf("AskAt = %v, want %v", b.AskAt, want)
	}
	if want := time.Date(2026, 3, 8, 9, 30, 0, 0, Rome()); !b.ConfirmBy.Equal(want) {
		t.Errorf("ConfirmBy = %v, want %v", b.ConfirmBy, want)
	}
	if b.FiscalCode != citizenCode(1) || b.Person == "" || b.Person == b.FiscalCode {
		t.Errorf("FiscalCode = %q, Person = %q: want plain code and a pseudonym", b.FiscalCode, b.Person)
	}
	for _, who := range []booking.Owner{Owner(1), {FiscalCode: citizenCode(1)}, {FiscalCode: " " + lower(citizenCode(1))}} {
		got, err := s.Get(context.Background(), b.Code, who)
		if err != nil || got.Code != b.Code || got.Name != "Cittadino 1" {
			t.Errorf("Get(%s, %+v) = %+v, %v", b.Code, who, got, err)
		}
	}
	for _, who := range []booking.Owner{Owner(2), {FiscalCode: citizenCode(2)}, {}} {
		if _, err := s.Get(context.Background(), b.Code, who); !errors.Is(err, booking.ErrNotFound) {
			t.Errorf("Get by a stranger %+v = %v, want ErrNotFound", who, err)
		}
	}
	if _, err := s.Lookup(context.Background(), lower(b.Code)); err != nil {
		t.Errorf("Lookup(lower case) = %v", err)
	}
	if _, err := s.Lookup(context.Background(), "ZZZZZZ"); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("Lookup(unknown) = %v, want ErrNotFound", err)
	}
	mine, err := s.Mine(context.Background(), booking.Owner{FiscalCode: citizenCode(1)})
	if err != nil || len(mine) != 1 || mine[0].Code != b.Code {
		t.Errorf("Mine = %v, %v; want [%s]", mine, err, b.Code)
	}
	if mine, _ := s.Mine(context.Background(), Owner(2)); len(mine) != 0 {
		t.Errorf("Mine(stranger) = %v, want none", mine)
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func testCapacity(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	slot := At("centrale", 2026, 3, 4, 10, 0)
	if got := free(t, s, slot); got != 2 {
		t.Fatalf("free places before = %d, want 2 (desks)", got)
	}
	mustBook(t, s, Citizen(1, slot))
	if got := free(t, s, slot); got != 1 {
		t.Errorf("free places after one = %d, want 1", got)
	}
	mustBook(t, s, Citizen(2, slot))
	if got := free(t, s, slot); got != 0 {
		t.Errorf("free places when full = %d, want 0", got)
	}
	_, err := s.Book(context.Background(), Citizen(3, slot))
	var taken *booking.SlotTakenError
	if !errors.As(err, &taken) || !errors.Is(err, booking.ErrSlotTaken) {
		t.Fatalf("third Book = %v, want *SlotTakenError", err)
	}
	if len(taken.Alternatives) != 3 {
		t.Fatalf("alternatives = %v, want 3", taken.Alternatives)
	}
	// Nearest at the same office: 09:30 and 10:30 the same day.
	for i, want := range []booking.Slot{At("centrale", 2026, 3, 4, 9, 30), At("centrale", 2026, 3, 4, 10, 30)} {
		if got := taken.Alternatives[i].Slot; !slices.ContainsFunc(taken.Alternatives[:2], func(f booking.FreeSlot) bool { return f.Slot.Start.Equal(want.Start) }) {
			t.Errorf("alternative %d = %v, want %v among the first two", i, got, want)
		}
	}
	for _, a := range taken.Alternatives {
		if a.Slot.Start.Equal(slot.Start) {
			t.Errorf("alternatives offer the full slot %v", a)
		}
	}
}

func testSlotRules(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	tests := []struct {
		name string
		req  booking.Request
		want error
	}{
		{"within min notice", Citizen(1, At("centrale", 2026, 3, 2, 9, 30)), booking.ErrTooSoon},
		{"past", Citizen(1, At("centrale", 2026, 2, 23, 9, 30)), booking.ErrTooSoon},
		{"beyond horizon", Citizen(1, At("centrale", 2026, 3, 30, 9, 30)), booking.ErrOutsideHorizon},
		{"not a slot start", Citizen(1, At("centrale", 2026, 3, 4, 9, 10)), booking.ErrClosed},
		{"after hours", Citizen(1, At("centrale", 2026, 3, 4, 12, 0)), booking.ErrClosed},
		{"closed weekday", Citizen(1, At("centrale", 2026, 3, 5, 9, 30)), booking.ErrClosed},
		{"closure", Citizen(1, At("centrale", 2026, 3, 11, 9, 30)), booking.ErrClosed},
		{"unknown office", Citizen(1, At("sud", 2026, 3, 4, 9, 30)), booking.ErrUnknownOffice},
	}
	bad := Citizen(1, At("centrale", 2026, 3, 4, 9, 30))
	bad.FiscalCode = "ABC"
	tests = append(tests, struct {
		name string
		req  booking.Request
		want error
	}{"bad fiscal code", bad, booking.ErrInvalid})
	noName := Citizen(1, At("centrale", 2026, 3, 4, 9, 30))
	noName.Name = "  "
	tests = append(tests, struct {
		name string
		req  booking.Request
		want error
	}{"no name", noName, booking.ErrInvalid})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Book(context.Background(), tc.req); !errors.Is(err, tc.want) {
				t.Errorf("Book(%s) = %v, want %v", tc.req.Slot, err, tc.want)
			}
		})
	}
	// The first bookable slot: 10:00 today is exactly two hours away.
	f, err := s.FirstFree(context.Background(), "")
	if want := At("centrale", 2026, 3, 2, 10, 0); err != nil || !f.Slot.Start.Equal(want.Start) {
		t.Errorf("FirstFree = %v, %v; want %v", f, err, want)
	}
	if f, err := s.FirstFree(context.Background(), "nord"); err != nil || !f.Slot.Start.Equal(At("nord", 2026, 3, 3, 9, 0).Start) {
		t.Errorf("FirstFree(nord) = %v, %v", f, err)
	}
}

func testCalendarDST(t *testing.T, open func() booking.Store) {
	// Clocks go forward on Sunday 29 March 2026: Monday 30 still opens at
	// 09:00 local time, one hour earlier in UTC than the Monday before.
	clock := NewClock(time.Date(2026, 3, 20, 8, 0, 0, 0, Rome()))
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	for _, tc := range []struct {
		day     time.Time
		wantUTC string
	}{
		{time.Date(2026, 3, 23, 0, 0, 0, 0, Rome()), "08:00"},
		{time.Date(2026, 3, 30, 0, 0, 0, 0, Rome()), "07:00"},
	} {
		times, err := s.Times(context.Background(), "centrale", tc.day)
		if err != nil || len(times) != 6 {
			t.Fatalf("Times(%v) = %d slots, %v; want 6", tc.day, len(times), err)
		}
		if got := times[0].Slot.Start.UTC().Format("15:04"); got != tc.wantUTC {
			t.Errorf("first slot %v in UTC = %s, want %s", tc.day, got, tc.wantUTC)
		}
		if got := times[0].Slot.Start.In(Rome()).Format("15:04"); got != "09:00" {
			t.Errorf("first slot %v local = %s, want 09:00", tc.day, got)
		}
	}
	days, err := s.Days(context.Background(), "", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// 20..31 March + 1..9 April: Mondays, Tuesdays, Wednesdays; Monday 6
	// April is Easter Monday (closed).
	var got []string
	for _, d := range days {
		got = append(got, d.Date.Format("01-02"))
		if d.Date.Hour() != 0 || d.Date.Location().String() != "Europe/Rome" {
			t.Errorf("Day %v is not local midnight", d.Date)
		}
	}
	want := []string{"03-23", "03-24", "03-25", "03-30", "03-31", "04-01", "04-07", "04-08"}
	if !slices.Equal(got, want) {
		t.Errorf("Days = %v, want %v", got, want)
	}
	if days[0].Free != 12 || days[1].Free != 1 {
		t.Errorf("free places = %d, %d; want 12 (6 slots x 2 desks), 1", days[0].Free, days[1].Free)
	}
}

func testMaxActive(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	b := mustBook(t, s, Citizen(1, At("centrale", 2026, 3, 4, 9, 0)))
	// Same fiscal code from another chat.
	r := Citizen(2, At("centrale", 2026, 3, 4, 9, 30))
	r.FiscalCode = citizenCode(1)
	if _, err := s.Book(context.Background(), r); !errors.Is(err, booking.ErrTooManyActive) {
		t.Fatalf("second booking for one fiscal code = %v, want ErrTooManyActive", err)
	}
	if _, err := s.Cancel(context.Background(), b.Code, Owner(1)); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	if _, err := s.Book(context.Background(), r); err != nil {
		t.Errorf("Book after cancelling the first = %v", err)
	}
}

func testMaxActiveConv(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, func(c *booking.Config) { c.MaxActivePerConversation = 2 })
	for i := range 3 {
		r := Citizen(100+i, At("centrale", 2026, 3, 4, 9, 0+30*i))
		r.Conv = bot.Conversation{Channel: "test", User: "parent"}
		_, err := s.Book(context.Background(), r)
		if i < 2 && err != nil {
			t.Fatalf("booking %d from one chat = %v", i, err)
		}
		if i == 2 && !errors.Is(err, booking.ErrTooManyActive) {
			t.Errorf("third booking from one chat = %v, want ErrTooManyActive", err)
		}
	}
}

// testPastNotActive: an appointment whose slot has passed is over. It holds
// no place against max_active_per_person or the per-chat limit, Mine no
// longer lists it, and it cannot be moved or cancelled.
func testPastNotActive(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, func(c *booking.Config) { c.MaxActivePerConversation = 1 })
	slot := At("centrale", 2026, 3, 4, 9, 0)
	past := mustBook(t, s, Citizen(1, slot))
	clock.Set(slot.Start.Add(-47 * time.Hour))
	s.Sweep(ctx)
	if _, err := s.Confirm(ctx, past.Code, Owner(1)); err != nil {
		t.Fatalf("Confirm = %v", err)
	}
	clock.Set(slot.Start.Add(24 * time.Hour))
	s.Sweep(ctx)
	if mine, err := s.Mine(ctx, Owner(1)); err != nil || len(mine) != 0 {
		t.Errorf("Mine the day after the appointment = %v, %v; want none", mine, err)
	}
	// The same fiscal code, from the same chat, books again.
	again, err := s.Book(ctx, Citizen(1, At("centrale", 2026, 3, 9, 9, 0)))
	if err != nil {
		t.Fatalf("Book the day after the appointment = %v, want a booking", err)
	}
	// The new one counts: the chat is at its limit of one again.
	other := Citizen(2, At("centrale", 2026, 3, 9, 9, 30))
	other.Conv = Owner(1).Conv
	if _, err := s.Book(ctx, other); !errors.Is(err, booking.ErrTooManyActive) {
		t.Errorf("second future booking from one chat = %v, want ErrTooManyActive", err)
	}
	if mine, _ := s.Mine(ctx, booking.Owner{FiscalCode: citizenCode(1), Conv: Owner(1).Conv}); len(mine) != 1 || mine[0].Code != again.Code {
		t.Errorf("Mine = %v, want only %s", mine, again.Code)
	}
	if _, err := s.Cancel(ctx, past.Code, Owner(1)); !errors.Is(err, booking.ErrNotActive) {
		t.Errorf("Cancel a past appointment = %v, want ErrNotActive", err)
	}
	if _, err := s.Move(ctx, past.Code, Owner(1), At("centrale", 2026, 3, 9, 10, 0)); !errors.Is(err, booking.ErrNotActive) {
		t.Errorf("Move a past appointment = %v, want ErrNotActive", err)
	}
	if b, _ := s.Lookup(ctx, past.Code); b.Status != booking.StatusConfirmed {
		t.Errorf("past appointment = %s, want confirmed (kept for the office until the purge)", b.Status)
	}
}

// testWaitlistAfterPast: a citizen whose appointment has passed joins the
// waitlist and gets the next freed place.
func testWaitlistAfterPast(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	w := NewService(t, open(), tinyComune, clock, &Inbox{}, nil)
	booked := fillTiny(t, w)
	clock.Set(time.Date(2026, 3, 4, 8, 0, 0, 0, Rome())) // solo 3 March is over
	mustBook(t, w, Citizen(4, At("solo", 2026, 3, 17, 9, 0)))
	entry := join(t, w, 0, "solo")
	if _, err := w.Cancel(ctx, booked[1].Code, Owner(1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.Get(ctx, entry.Code, Owner(0)); got.Status != booking.StatusOffered {
		t.Errorf("waitlisted citizen with a past appointment = %s, want offered", got.Status)
	}
}

func testRateLimit(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, func(c *booking.Config) { c.RateLimit = 3 })
	slot := At("nord", 2026, 3, 3, 9, 0)
	mustBook(t, s, Citizen(1, slot))
	for i := range 3 {
		if _, err := s.Book(context.Background(), Citizen(2, slot)); !errors.Is(err, booking.ErrSlotTaken) {
			t.Fatalf("attempt %d = %v, want ErrSlotTaken", i, err)
		}
	}
	_, err := s.Book(context.Background(), Citizen(2, At("nord", 2026, 3, 10, 9, 0)))
	var rl *booking.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, booking.ErrRateLimited) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Hour {
		t.Fatalf("fourth attempt = %v, want *RateLimitError within the hour", err)
	}
	clock.Add(time.Hour)
	if _, err := s.Book(context.Background(), Citizen(2, At("nord", 2026, 3, 10, 9, 0))); err != nil {
		t.Errorf("attempt in the next window = %v", err)
	}
	// One chat typing a new fiscal code each time is limited too.
	for i := range 4 {
		r := Citizen(30+i, slot)
		r.Conv = Owner(30).Conv
		_, err := s.Book(context.Background(), r)
		want := booking.ErrSlotTaken
		if i == 3 {
			want = booking.ErrRateLimited
		}
		if !errors.Is(err, want) {
			t.Errorf("attempt %d from one chat = %v, want %v", i, err, want)
		}
	}
}

// testRetryAfter: RetryAfter is exactly when the store's window turns, also
// for a window that does not divide a day (windows count from the Unix
// epoch).
func testRetryAfter(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, func(c *booking.Config) {
		c.RateLimit, c.RateWindow = 1, 7*time.Hour
	})
	full, slot := At("nord", 2026, 3, 3, 9, 0), At("nord", 2026, 3, 10, 9, 0)
	mustBook(t, s, Citizen(1, full))
	if _, err := s.Book(context.Background(), Citizen(2, full)); !errors.Is(err, booking.ErrSlotTaken) {
		t.Fatalf("first attempt = %v, want ErrSlotTaken", err)
	}
	_, err := s.Book(context.Background(), Citizen(2, slot))
	var rl *booking.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("attempt over the limit = %v, want *RateLimitError", err)
	}
	clock.Add(rl.RetryAfter - time.Second)
	if _, err := s.Book(context.Background(), Citizen(2, slot)); !errors.Is(err, booking.ErrRateLimited) {
		t.Errorf("a second before RetryAfter (%s) = %v, want ErrRateLimited", rl.RetryAfter, err)
	}
	clock.Add(time.Second)
	if _, err := s.Book(context.Background(), Citizen(2, slot)); err != nil {
		t.Errorf("at RetryAfter (%s) = %v, want a booking", rl.RetryAfter, err)
	}
}

func testCancelFrees(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	slot := At("nord", 2026, 3, 3, 9, 0)
	b := mustBook(t, s, Citizen(1, slot))
	if _, err := s.Book(context.Background(), Citizen(2, slot)); !errors.Is(err, booking.ErrSlotTaken) {
		t.Fatalf("Book full slot = %v, want ErrSlotTaken", err)
	}
	if _, err := s.Cancel(context.Background(), b.Code, Owner(2)); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("Cancel by a stranger = %v, want ErrNotFound", err)
	}
	got, err := s.Cancel(context.Background(), b.Code, booking.Owner{FiscalCode: citizenCode(1)})
	if err != nil || got.Status != booking.StatusCancelled {
		t.Fatalf("Cancel = %+v, %v", got, err)
	}
	if got, err := s.Cancel(context.Background(), b.Code, Owner(1)); err != nil || got.Status != booking.StatusCancelled {
		t.Errorf("Cancel twice = %+v, %v; want cancelled, no error", got, err)
	}
	if free(t, s, slot) != 1 {
		t.Errorf("slot not free after cancel")
	}
	if mine, _ := s.Mine(context.Background(), Owner(1)); len(mine) != 0 {
		t.Errorf("Mine after cancel = %v, want none", mine)
	}
	mustBook(t, s, Citizen(2, slot))
}

func testMove(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	from, full, to := At("nord", 2026, 3, 3, 9, 0), At("nord", 2026, 3, 10, 9, 0), At("centrale", 2026, 3, 9, 11, 30)
	b := mustBook(t, s, Citizen(1, from))
	mustBook(t, s, Citizen(2, full))
	_, err := s.Move(context.Background(), b.Code, Owner(1), full)
	var taken *booking.SlotTakenError
	if !errors.As(err, &taken) {
		t.Fatalf("Move to a full slot = %v, want *SlotTakenError", err)
	}
	got, _ := s.Get(context.Background(), b.Code, Owner(1))
	if !got.Start.Equal(from.Start) || got.Status != b.Status || free(t, s, from) != 0 {
		t.Fatalf("after a failed move the booking is %+v and its slot has %d free; want unchanged", got, free(t, s, from))
	}
	if _, err := s.Move(context.Background(), b.Code, Owner(2), to); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("Move by a stranger = %v, want ErrNotFound", err)
	}
	moved, err := s.Move(context.Background(), b.Code, Owner(1), to)
	if err != nil || moved.Code != b.Code || !moved.Start.Equal(to.Start) || moved.Office != "centrale" {
		t.Fatalf("Move = %+v, %v", moved, err)
	}
	if free(t, s, from) != 1 || free(t, s, to) != 1 {
		t.Errorf("after move: old slot %d free (want 1), new slot %d free (want 1 of 2)", free(t, s, from), free(t, s, to))
	}
	if want := time.Date(2026, 3, 7, 11, 30, 0, 0, Rome()); !moved.AskAt.Equal(want) {
		t.Errorf("AskAt after move = %v, want %v (planned again)", moved.AskAt, want)
	}
	again, err := s.Move(context.Background(), b.Code, Owner(1), to)
	if err != nil || !again.Start.Equal(to.Start) || free(t, s, to) != 1 {
		t.Errorf("Move to where it is = %+v, %v; want no change", again, err)
	}
	cal, _ := s.Appointments(context.Background(), "nord", from.Start)
	if len(cal) != 0 {
		t.Errorf("old day's appointments = %v, want none", cal)
	}
	cancelled := mustBook(t, s, Citizen(3, from))
	s.Cancel(context.Background(), cancelled.Code, Owner(3))
	if _, err := s.Move(context.Background(), cancelled.Code, Owner(3), to); !errors.Is(err, booking.ErrNotActive) {
		t.Errorf("Move a cancelled booking = %v, want ErrNotActive", err)
	}
}

func testIdempotency(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	a, b := NewService(t, open(), TestComune, clock, &Inbox{}, nil), NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	slot := At("centrale", 2026, 3, 4, 9, 0)
	r := Citizen(1, slot)
	r.IdempotencyKey = "test:1:attempt-1"
	first := mustBook(t, a, r)
	second := mustBook(t, b, r) // a redelivered update, on another replica
	if first.Code != second.Code {
		t.Errorf("retried Book made %s and %s, want one booking", first.Code, second.Code)
	}
	if got := free(t, a, slot); got != 1 {
		t.Errorf("free places = %d, want 1: the retry must not take a place", got)
	}
	r.IdempotencyKey = "test:1:attempt-2"
	if _, err := a.Book(context.Background(), r); !errors.Is(err, booking.ErrTooManyActive) {
		t.Errorf("new attempt = %v, want ErrTooManyActive", err)
	}
	// The same key with another person (details corrected after a turn
	// that booked but was not saved) is another request.
	child := Citizen(3, slot)
	child.Conv, child.IdempotencyKey = r.Conv, "test:1:attempt-1"
	if got := mustBook(t, b, child); got.Code == first.Code || got.FiscalCode != child.FiscalCode {
		t.Errorf("same key, another fiscal code = %s for %s, want a new booking for %s", got.Code, got.FiscalCode, child.FiscalCode)
	}
	// Concurrent retries of one key make one booking.
	var wg sync.WaitGroup
	codes := make([]string, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := Citizen(2, At("centrale", 2026, 3, 4, 9, 30))
			r.IdempotencyKey = "test:2:attempt-1"
			s := a
			if i%2 == 1 {
				s = b
			}
			if got, err := s.Book(context.Background(), r); err == nil {
				codes[i] = got.Code
			} else {
				codes[i] = err.Error()
			}
		}()
	}
	wg.Wait()
	for _, c := range codes {
		if c != codes[0] {
			t.Fatalf("concurrent retries = %v, want one code", codes)
		}
	}
}

func testConfirmOrRelease(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), TestComune, clock, inbox, nil)
	kept := mustBook(t, s, Citizen(1, At("centrale", 2026, 3, 9, 9, 0)))
	lost := mustBook(t, s, Citizen(2, At("centrale", 2026, 3, 9, 9, 0)))
	sweep := func() {
		t.Helper()
		if _, err := s.Sweep(context.Background()); err != nil {
			t.Fatalf("Sweep = %v", err)
		}
	}
	sweep()
	if got := inbox.Take(); len(got) != 0 {
		t.Fatalf("notices before AskAt = %v", got)
	}
	clock.Set(kept.AskAt)
	sweep()
	got := inbox.Take()
	want := []string{"confirm_request " + kept.Code, "confirm_request " + lost.Code}
	if !sameSet(got, want) {
		t.Fatalf("notices at AskAt = %v, want %v", got, want)
	}
	if b, err := s.Confirm(context.Background(), kept.Code, Owner(1)); err != nil || b.Status != booking.StatusConfirmed {
		t.Fatalf("Confirm = %+v, %v", b, err)
	}
	if _, err := s.Confirm(context.Background(), kept.Code, Owner(1)); err != nil {
		t.Errorf("Confirm twice = %v", err)
	}
	clock.Set(lost.ConfirmBy.Add(-time.Second))
	sweep()
	if got := inbox.Take(); len(got) != 0 {
		t.Fatalf("notices before the deadline = %v", got)
	}
	clock.Set(lost.ConfirmBy)
	sweep()
	if got := inbox.Take(); !slices.Equal(got, []string{"released " + lost.Code}) {
		t.Fatalf("notices at the deadline = %v, want released %s", got, lost.Code)
	}
	b, _ := s.Get(context.Background(), lost.Code, Owner(2))
	if b.Status != booking.StatusReleased {
		t.Errorf("unconfirmed booking = %s, want released", b.Status)
	}
	if _, err := s.Confirm(context.Background(), lost.Code, Owner(2)); !errors.Is(err, booking.ErrNotActive) {
		t.Errorf("Confirm after release = %v, want ErrNotActive", err)
	}
	if b, _ := s.Get(context.Background(), kept.Code, Owner(1)); b.Status != booking.StatusConfirmed {
		t.Errorf("confirmed booking = %s after the deadline", b.Status)
	}
	// The released place is free again (the waitlist is empty).
	if got := free(t, s, At("centrale", 2026, 3, 9, 9, 0)); got != 1 {
		t.Errorf("free places after release = %d, want 1", got)
	}
	// Booked inside the window: born confirmed, nothing asked.
	late := mustBook(t, s, Citizen(3, At("centrale", 2026, 3, 9, 9, 30)))
	if late.Status != booking.StatusConfirmed || !late.AskAt.IsZero() {
		t.Errorf("booking inside the window = %+v, want confirmed without AskAt", late)
	}
}

func testNoticesRetried(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	inbox := &Inbox{fail: true}
	s := NewService(t, open(), TestComune, clock, inbox, nil)
	b := mustBook(t, s, Citizen(1, At("centrale", 2026, 3, 9, 9, 0)))
	clock.Set(b.AskAt)
	if _, err := s.Sweep(context.Background()); err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	inbox.mu.Lock()
	inbox.fail = false
	inbox.mu.Unlock()
	// Not tried again before its backoff.
	s.Sweep(context.Background())
	if got := inbox.Take(); len(got) != 0 {
		t.Fatalf("notices right after the failure = %v, want none before the backoff", got)
	}
	clock.Add(30 * time.Second)
	// A second replica sweeping at the same time sends it once.
	other := NewService(t, open(), TestComune, clock, inbox, nil)
	var wg sync.WaitGroup
	for _, x := range []*booking.Service{s, other} {
		wg.Add(1)
		go func() { defer wg.Done(); x.Sweep(context.Background()) }()
	}
	wg.Wait()
	if got := inbox.Take(); !slices.Equal(got, []string{"confirm_request " + b.Code}) {
		t.Fatalf("notices after the outbox is back = %v", got)
	}
	s.Sweep(context.Background())
	if got := inbox.Take(); len(got) != 0 {
		t.Errorf("notices after acknowledgement = %v, want none", got)
	}
}

// testConfirmLate: nobody is released without having been asked in time.
// A request issued late (the sweep did not run between AskAt and
// ConfirmBy) gets a fresh deadline; a request that could not be handed to
// the outbox by its deadline is asked again with a new one; and when it is
// too late to ask at all, the booking is kept.
func testConfirmLate(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), TestComune, clock, inbox, nil)
	answer := 12 * time.Hour

	// Late: nothing ran from before AskAt until after ConfirmBy.
	late := mustBook(t, s, Citizen(1, At("centrale", 2026, 3, 9, 9, 0)))
	clock.Set(late.ConfirmBy.Add(time.Hour))
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Equal(got, []string{"confirm_request " + late.Code}) {
		t.Fatalf("notices after a late sweep = %v, want only the request, no release", got)
	}
	b, _ := s.Lookup(ctx, late.Code)
	if want := clock.Now().Add(answer); b.Status != booking.StatusBooked || !b.ConfirmBy.Equal(want) {
		t.Errorf("late request: %s, ConfirmBy %v; want booked, ConfirmBy %v", b.Status, b.ConfirmBy, want)
	}
	if _, err := s.Confirm(ctx, late.Code, Owner(1)); err != nil {
		t.Errorf("Confirm after a late request = %v", err)
	}

	// Unsent: the outbox refused the request until after its deadline.
	unsent := mustBook(t, s, Citizen(2, At("centrale", 2026, 3, 16, 9, 0)))
	inbox.FailFor(unsent.Code)
	clock.Set(unsent.AskAt)
	s.Sweep(ctx)
	for clock.Now().Before(unsent.ConfirmBy.Add(time.Hour)) {
		clock.Add(10 * time.Minute)
		s.Sweep(ctx)
	}
	b, _ = s.Lookup(ctx, unsent.Code)
	if b.Status != booking.StatusBooked || !b.ConfirmBy.After(clock.Now()) || b.Notice != booking.NoticeConfirm {
		t.Fatalf("request never sent, after its deadline: %s, ConfirmBy %v, Notice %q; want booked, a new deadline, the request pending",
			b.Status, b.ConfirmBy, b.Notice)
	}
	inbox.FailOnlyFor("")
	clock.Add(30 * time.Minute)
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Equal(got, []string{"confirm_request " + unsent.Code}) {
		t.Fatalf("notices once the outbox is back = %v, want the request with its new deadline", got)
	}
	// Handed over, then not answered: released at the new deadline.
	b, _ = s.Lookup(ctx, unsent.Code)
	clock.Set(b.ConfirmBy)
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Equal(got, []string{"released " + unsent.Code}) {
		t.Errorf("notices at the new deadline = %v, want released", got)
	}

	// Too late to ask: the appointment is within min notice.
	kept := mustBook(t, s, Citizen(3, At("centrale", 2026, 3, 18, 11, 0)))
	clock.Set(kept.Start.Add(-90 * time.Minute))
	s.Sweep(ctx)
	if got := inbox.Take(); len(got) != 0 {
		t.Errorf("notices when it is too late to ask = %v, want none", got)
	}
	if b, _ := s.Lookup(ctx, kept.Code); b.Status != booking.StatusConfirmed {
		t.Errorf("booking nobody could ask in time = %s, want kept (confirmed)", b.Status)
	}
}

// testConfirmLongNotice: with a long min_notice_hours the release comes
// min notice before the appointment (a place released later could be
// neither offered nor booked), and the request goes early enough to leave
// the citizen the whole answer window before it: the deadline the booking
// shows is the one the request carries, and nobody is kept unasked or
// given minutes to answer. A day shortened by daylight saving time moves
// the request earlier, never the answer window shorter.
func testConfirmLongNotice(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	answer := 12 * time.Hour
	tests := []struct {
		name         string
		notice, days int
		now          time.Time
		slot         booking.Slot
		askBefore    time.Duration // AskAt, before the start
		byBefore     time.Duration // ConfirmBy, before the start
	}{
		{"12h, 1 day", 12, 1, T0, At("centrale", 2026, 3, 9, 9, 0), 24 * time.Hour, 12 * time.Hour},
		{"36h, 2 days", 36, 2, T0, At("centrale", 2026, 3, 9, 9, 30), 48 * time.Hour, 36 * time.Hour},
		{"60h, 3 days", 60, 3, T0, At("centrale", 2026, 3, 9, 10, 0), 72 * time.Hour, 60 * time.Hour},
		{"2h, 2 days", 2, 2, T0, At("centrale", 2026, 3, 9, 10, 30), 48 * time.Hour, 24 * time.Hour},
		// Saturday 28 March 09:00 to Monday 30 March 09:00 is 47 hours:
		// asked an hour earlier so that 12 hours are left.
		{"36h, 2 days over DST", 36, 2, time.Date(2026, 3, 23, 8, 0, 0, 0, Rome()), At("centrale", 2026, 3, 30, 9, 0), 48 * time.Hour, 36 * time.Hour},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yml := strings.Replace(TestComune, "min_notice_hours: 2", fmt.Sprintf("min_notice_hours: %d", tc.notice), 1)
			yml = strings.Replace(yml, "confirm_days_before: 2", fmt.Sprintf("confirm_days_before: %d", tc.days), 1)
			clock := NewClock(tc.now)
			inbox := &Inbox{}
			s := NewService(t, open(), yml, clock, inbox, nil)
			b := mustBook(t, s, Citizen(i+1, tc.slot))
			release := tc.slot.Start.Add(-tc.byBefore)
			if want := tc.slot.Start.Add(-tc.askBefore); b.Status != booking.StatusBooked || !b.AskAt.Equal(want) {
				t.Fatalf("booked: %s, AskAt %v; want booked, asked at %v", b.Status, b.AskAt, want)
			}
			if !b.ConfirmBy.Equal(release) || b.ConfirmBy.Sub(b.AskAt) < answer {
				t.Fatalf("ConfirmBy = %v (AskAt %v), want %v, at least %v after the request", b.ConfirmBy, b.AskAt, release, answer)
			}
			// The cases share one data set: look at this booking's notices.
			notices := func() []string {
				var out []string
				for _, n := range inbox.Take() {
					if strings.HasSuffix(n, " "+b.Code) {
						out = append(out, n)
					}
				}
				return out
			}
			clock.Set(b.AskAt)
			if _, err := s.Sweep(ctx); err != nil {
				t.Fatalf("Sweep = %v", err)
			}
			if got := notices(); !slices.Equal(got, []string{"confirm_request " + b.Code}) {
				t.Fatalf("notices at AskAt = %v, want the confirmation request", got)
			}
			got, _ := s.Lookup(ctx, b.Code)
			if got.Status != booking.StatusBooked || !got.Asked || !got.ConfirmBy.Equal(b.ConfirmBy) {
				t.Fatalf("asked: %s, Asked %v, ConfirmBy %v; want booked, asked, ConfirmBy still %v", got.Status, got.Asked, got.ConfirmBy, b.ConfirmBy)
			}
			// Not answered: released at the deadline, and the place can be
			// booked again.
			clock.Set(b.ConfirmBy)
			s.Sweep(ctx)
			if got := notices(); !slices.Equal(got, []string{"released " + b.Code}) {
				t.Fatalf("notices at the deadline = %v, want released", got)
			}
			if n := free(t, s, tc.slot); n != 2 {
				t.Errorf("free places after the release = %d, want 2", n)
			}
		})
	}
}

// testConfirmNotDelivered: with delivery receipts, a confirmation request
// handed to the outbox but never delivered by its deadline does not
// release the booking: the citizen is asked again. A request delivered
// late still leaves the answer window; a receipt for an older request
// changes nothing; a delivered request not answered releases the place.
func testConfirmNotDelivered(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), TestComune, clock, inbox, func(c *booking.Config) { c.DeliveryReceipts = true })
	answer := 12 * time.Hour
	sweep := func() {
		t.Helper()
		if _, err := s.Sweep(ctx); err != nil {
			t.Fatalf("Sweep = %v", err)
		}
	}
	delivered := func(id string) {
		t.Helper()
		if id == "" {
			t.Fatal("no notice to report delivered")
		}
		if err := s.Delivered(ctx, id); err != nil {
			t.Fatalf("Delivered(%s) = %v", id, err)
		}
	}
	if err := s.Delivered(ctx, "remind:somebody"); err != nil {
		t.Errorf("Delivered(a push that is not a booking notice) = %v, want nil", err)
	}

	// Never delivered: asked again at the deadline, then released once a
	// delivered request goes unanswered.
	lost := mustBook(t, s, Citizen(1, At("centrale", 2026, 3, 9, 9, 0)))
	clock.Set(lost.AskAt)
	sweep()
	if got := inbox.Take(); !slices.Equal(got, []string{"confirm_request " + lost.Code}) {
		t.Fatalf("notices at AskAt = %v, want the request", got)
	}
	first := inbox.ID(booking.NoticeConfirm, lost.Code)
	clock.Set(lost.ConfirmBy)
	sweep()
	if got := inbox.Take(); !slices.Equal(got, []string{"confirm_request " + lost.Code}) {
		t.Fatalf("notices at the deadline of an undelivered request = %v, want it asked again, not released", got)
	}
	b, _ := s.Lookup(ctx, lost.Code)
	if want := clock.Now().Add(answer); b.Status != booking.StatusBooked || !b.ConfirmBy.Equal(want) {
		t.Fatalf("asked again: %s, ConfirmBy %v; want booked, ConfirmBy %v", b.Status, b.ConfirmBy, want)
	}
	second := inbox.ID(booking.NoticeConfirm, lost.Code)
	if second == first {
		t.Fatalf("the request asked again has the id of the first (%s): the outbox would drop it", first)
	}
	// A receipt of the first request (for the old deadline) changes nothing.
	delivered(first)
	clock.Set(b.ConfirmBy)
	sweep()
	if got := inbox.Take(); !slices.Equal(got, []string{"confirm_request " + lost.Code}) {
		t.Fatalf("notices at the second deadline = %v, want asked once more (only the old request was delivered)", got)
	}
	b, _ = s.Lookup(ctx, lost.Code)
	clock.Add(time.Minute)
	delivered(inbox.ID(booking.NoticeConfirm, lost.Code))
	clock.Set(b.ConfirmBy)
	sweep()
	if got := inbox.Take(); !slices.Equal(got, []string{"released " + lost.Code}) {
		t.Fatalf("notices at the deadline of a delivered request = %v, want released", got)
	}

	// Delivered an hour before its deadline: 12 hours to answer from then.
	late := mustBook(t, s, Citizen(2, At("centrale", 2026, 3, 16, 9, 0)))
	clock.Set(late.AskAt)
	sweep()
	inbox.Take()
	clock.Set(late.ConfirmBy.Add(-time.Hour))
	delivered(inbox.ID(booking.NoticeConfirm, late.Code))
	b, _ = s.Lookup(ctx, late.Code)
	if want := clock.Now().Add(answer); !b.ConfirmBy.Equal(want) || !b.Told {
		t.Fatalf("delivered late: ConfirmBy %v, Told %v; want %v, told", b.ConfirmBy, b.Told, want)
	}
	clock.Set(late.ConfirmBy)
	sweep()
	if got := inbox.Take(); len(got) != 0 {
		t.Errorf("notices at the old deadline = %v, want none", got)
	}
	if _, err := s.Confirm(ctx, late.Code, Owner(2)); err != nil {
		t.Errorf("Confirm after a late delivery = %v", err)
	}

	// Never delivered and too late to ask again: kept.
	kept := mustBook(t, s, Citizen(3, At("centrale", 2026, 3, 18, 9, 0)))
	clock.Set(kept.AskAt)
	sweep()
	clock.Set(kept.Start.Add(-90 * time.Minute))
	sweep()
	inbox.Take()
	if b, _ := s.Lookup(ctx, kept.Code); b.Status != booking.StatusConfirmed {
		t.Errorf("a booking whose requests never arrived, past min notice = %s, want kept (confirmed)", b.Status)
	}
}

// testOfferNotDelivered: with delivery receipts, an offer handed to the
// outbox but not delivered by the end of its hold is held again instead of
// passing on; once delivered, the whole hold runs from the delivery.
func testOfferNotDelivered(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), tinyComune, clock, inbox, func(c *booking.Config) { c.DeliveryReceipts = true })
	booked := fillTiny(t, s)
	a, b := join(t, s, 10, "solo"), join(t, s, 11, "solo")
	if _, err := s.Cancel(ctx, booked[1].Code, Owner(1)); err != nil {
		t.Fatal(err)
	}
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + a.Code}) {
		t.Fatalf("notices after a cancel = %v, want the offer", got)
	}
	clock.Add(15 * time.Minute)
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + a.Code}) {
		t.Fatalf("notices at the end of an undelivered hold = %v, want the offer made again to %s", got, a.Code)
	}
	if w, _ := s.Lookup(ctx, b.Code); w.Status != booking.StatusWaiting {
		t.Errorf("the next in line = %s, want still waiting", w.Status)
	}
	clock.Add(5 * time.Minute)
	if err := s.Delivered(ctx, inbox.ID(booking.NoticeOffer, a.Code)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Lookup(ctx, a.Code)
	if want := clock.Now().Add(15 * time.Minute); !got.Until.Equal(want) || !got.Told {
		t.Fatalf("offer delivered: Until %v, Told %v; want %v, told", got.Until, got.Told, want)
	}
	clock.Set(got.Until)
	s.Sweep(ctx)
	n := inbox.Take()
	want := []string{"offer " + b.Code, "offer_expired " + a.Code}
	if !sameSet(n, want) {
		t.Errorf("notices at the end of a delivered hold = %v, want %v", n, want)
	}
}

// testNoticesBackOff: notices that keep failing are tried again later and
// later, and never stand in front of other deadlines, however many they are.
func testNoticesBackOff(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	inbox := &Inbox{}
	yml := strings.Replace(TestComune, "desks: 2", "desks: 40", 1)
	s := NewService(t, open(), yml, clock, inbox, nil)
	var failing []*booking.Booking
	for i := range 101 {
		b := mustBook(t, s, Citizen(100+i, At("centrale", 2026, 3, 9, 9, 30*(i/40))))
		inbox.FailFor(b.Code)
		failing = append(failing, b)
	}
	later := mustBook(t, s, Citizen(300, At("centrale", 2026, 3, 9, 11, 0)))
	clock.Set(failing[100].AskAt)
	s.Sweep(ctx)
	s.Sweep(ctx)
	clock.Set(later.AskAt)
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Contains(got, "confirm_request "+later.Code) {
		t.Fatalf("notices = %v: the request of %s is stuck behind 101 failing ones", got, later.Code)
	}
	// Backing off: within ten minutes a failing notice is tried a few
	// times, not at every 15-second sweep.
	b := failing[0]
	inbox.FailOnlyFor(b.Code)
	before := inbox.Tries(b.Code)
	for range 40 {
		clock.Add(15 * time.Second)
		s.Sweep(ctx)
	}
	if n := inbox.Tries(b.Code) - before; n < 1 || n > 6 {
		t.Errorf("a failing notice was tried %d times in 10 minutes, want a few (1..6)", n)
	}
	if got, _ := s.Lookup(ctx, b.Code); got.Notice != booking.NoticeConfirm || got.NoticeTries < 2 {
		t.Errorf("failing record: Notice=%q NoticeTries=%d, want the request pending with its failures counted", got.Notice, got.NoticeTries)
	}
	// A notice that can never be sent does not keep the personal data: the
	// record goes a day after its purge date at the latest.
	clock.Set(b.PurgeAt.Add(24 * time.Hour))
	for range 4 {
		clock.Add(time.Hour)
		s.Sweep(ctx)
	}
	if _, err := s.Lookup(ctx, b.Code); !errors.Is(err, booking.ErrNotFound) {
		t.Errorf("Lookup of a record whose notice never went, after its purge = %v, want ErrNotFound", err)
	}
}

// fillTiny books every place of the tiny Comune's horizon.
func fillTiny(t *testing.T, s *booking.Service) []*booking.Booking {
	t.Helper()
	var out []*booking.Booking
	for i, slot := range []booking.Slot{
		At("solo", 2026, 3, 3, 9, 0), At("solo", 2026, 3, 10, 9, 0),
		At("altro", 2026, 3, 5, 9, 0), At("altro", 2026, 3, 12, 9, 0),
	} {
		out = append(out, mustBook(t, s, Citizen(i, slot)))
	}
	if _, err := s.FirstFree(context.Background(), ""); !errors.Is(err, booking.ErrNoFreeSlot) {
		t.Fatalf("FirstFree on a full calendar = %v, want ErrNoFreeSlot", err)
	}
	return out
}

func join(t *testing.T, s *booking.Service, n int, office string) *booking.Booking {
	t.Helper()
	r := Citizen(n, booking.Slot{})
	w, err := s.Join(context.Background(), booking.WaitRequest{Office: office, Reason: r.Reason, Name: r.Name, FiscalCode: r.FiscalCode, Conv: r.Conv, Lang: "en"})
	if err != nil {
		t.Fatalf("Join(%d, %q) = %v", n, office, err)
	}
	return w
}

func testWaitlist(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), tinyComune, clock, inbox, nil)
	r := Citizen(10, booking.Slot{})
	wr := booking.WaitRequest{Office: "solo", Reason: r.Reason, Name: r.Name, FiscalCode: r.FiscalCode, Conv: r.Conv}
	if _, err := s.Join(context.Background(), wr); !errors.Is(err, booking.ErrFreeSlots) {
		t.Errorf("Join with free slots = %v, want ErrFreeSlots", err)
	}
	booked := fillTiny(t, s)
	a, b, c := join(t, s, 10, "solo"), join(t, s, 11, "solo"), join(t, s, 12, "solo")
	if again := join(t, s, 10, "solo"); again.Code != a.Code {
		t.Errorf("joining twice made %s and %s, want one entry", a.Code, again.Code)
	}
	if a.Status != booking.StatusWaiting || !a.Start.IsZero() {
		t.Errorf("entry = %+v", a)
	}
	if mine, _ := s.Mine(context.Background(), Owner(10)); len(mine) != 1 || mine[0].Status != booking.StatusWaiting {
		t.Errorf("Mine of a waiting citizen = %v", mine)
	}
	// A place frees up: held for the first in line, not free for others.
	if _, err := s.Cancel(context.Background(), booked[1].Code, Owner(1)); err != nil {
		t.Fatal(err)
	}
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + a.Code}) {
		t.Fatalf("notices after a cancel = %v, want offer to %s", got, a.Code)
	}
	slot := At("solo", 2026, 3, 10, 9, 0)
	if free(t, s, slot) != 0 {
		t.Errorf("a held slot shows as free")
	}
	offer, _ := s.Get(context.Background(), a.Code, Owner(10))
	if offer.Status != booking.StatusOffered || !offer.Start.Equal(slot.Start) || !offer.Until.Equal(clock.Now().Add(15*time.Minute)) {
		t.Errorf("offer = %+v", offer)
	}
	// Declined: passes to the next.
	if _, err := s.Decline(context.Background(), a.Code, Owner(10)); err != nil {
		t.Fatal(err)
	}
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + b.Code}) {
		t.Fatalf("notices after decline = %v, want offer to %s", got, b.Code)
	}
	// Not accepted within the hold: expires, passes to the next.
	clock.Add(14 * time.Minute)
	s.Sweep(context.Background())
	if got := inbox.Take(); len(got) != 0 {
		t.Fatalf("notices before the hold ends = %v", got)
	}
	clock.Add(time.Minute)
	s.Sweep(context.Background())
	got := inbox.Take()
	want := []string{"offer " + c.Code, "offer_expired " + b.Code}
	if !sameSet(got, want) {
		t.Fatalf("notices when the hold ends = %v, want %v", got, want)
	}
	if _, err := s.Accept(context.Background(), b.Code, Owner(11)); !errors.Is(err, booking.ErrNotActive) {
		t.Errorf("Accept after the hold = %v, want ErrNotActive", err)
	}
	acc, err := s.Accept(context.Background(), c.Code, Owner(12))
	if err != nil || acc.Status != booking.StatusBooked || !acc.Start.Equal(slot.Start) || acc.Code != c.Code {
		t.Fatalf("Accept = %+v, %v", acc, err)
	}
	if _, err := s.Accept(context.Background(), c.Code, Owner(12)); err != nil {
		t.Errorf("Accept twice = %v", err)
	}
	// With nobody left in line a freed place is simply free.
	if _, err := s.Cancel(context.Background(), booked[0].Code, Owner(0)); err != nil {
		t.Fatal(err)
	}
	if got := inbox.Take(); len(got) != 0 {
		t.Errorf("notices with an empty line = %v", got)
	}
	if free(t, s, At("solo", 2026, 3, 3, 9, 0)) != 1 {
		t.Errorf("freed place not free with an empty waitlist")
	}
	// Leaving the waitlist.
	booked2 := mustBook(t, s, Citizen(20, At("solo", 2026, 3, 3, 9, 0)))
	d := join(t, s, 13, "solo")
	if got, err := s.Cancel(context.Background(), d.Code, Owner(13)); err != nil || got.Status != booking.StatusCancelled {
		t.Fatalf("leaving the waitlist = %+v, %v", got, err)
	}
	s.Cancel(context.Background(), booked2.Code, Owner(20))
	if got := inbox.Take(); len(got) != 0 {
		t.Errorf("a citizen who left the waitlist got %v", got)
	}
	// Waitlist entries end with the horizon.
	e := join(t, s, 14, "altro")
	clock.Set(e.Until)
	s.Sweep(context.Background())
	if got := inbox.Take(); !slices.Contains(got, "waitlist_expired "+e.Code) {
		t.Errorf("notices at the end of the wait = %v, want waitlist_expired %s", got, e.Code)
	}
}

func testWaitlistAnyOffice(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), tinyComune, clock, inbox, nil)
	booked := fillTiny(t, s)
	any1 := join(t, s, 10, "")
	solo := join(t, s, 11, "solo")
	any2 := join(t, s, 12, "")
	// "altro" frees: the first in line for any office gets it.
	s.Cancel(context.Background(), booked[2].Code, Owner(2))
	// "solo" frees: the solo entry joined before the second any-office one.
	s.Cancel(context.Background(), booked[0].Code, Owner(0))
	// "solo" again: the second any-office entry.
	s.Cancel(context.Background(), booked[1].Code, Owner(1))
	want := []string{"offer " + any1.Code, "offer " + solo.Code, "offer " + any2.Code}
	if got := inbox.Take(); !slices.Equal(got, want) {
		t.Errorf("offers = %v, want %v", got, want)
	}
	if b, _ := s.Get(context.Background(), any1.Code, Owner(10)); b.Office != "altro" {
		t.Errorf("any-office offer at %q, want altro", b.Office)
	}
	// Someone who booked meanwhile is skipped (max one active booking).
	w := join(t, s, 13, "altro")
	s.Decline(context.Background(), any1.Code, Owner(10)) // frees altro 5 March: offered to 13
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + w.Code}) {
		t.Errorf("after decline = %v, want offer to %s", got, w.Code)
	}
}

// testWaitlistPerChat: one chat holds at most MaxActivePerConversation
// places and places in line together, whatever fiscal codes it types.
func testWaitlistPerChat(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	s := NewService(t, open(), tinyComune, clock, &Inbox{}, func(c *booking.Config) { c.MaxActivePerConversation = 2 })
	fillTiny(t, s)
	parent := bot.Conversation{Channel: "test", User: "parent"}
	wait := func(n int, office string) (*booking.Booking, error) {
		r := Citizen(n, booking.Slot{})
		return s.Join(ctx, booking.WaitRequest{Office: office, Reason: r.Reason, Name: r.Name, FiscalCode: r.FiscalCode, Conv: parent})
	}
	first, err := wait(10, "solo")
	if err != nil {
		t.Fatalf("first entry = %v", err)
	}
	if _, err := wait(11, ""); err != nil {
		t.Fatalf("second entry = %v", err)
	}
	if _, err := wait(12, "altro"); !errors.Is(err, booking.ErrTooManyActive) {
		t.Errorf("third entry from one chat = %v, want ErrTooManyActive", err)
	}
	if again, err := wait(10, "solo"); err != nil || again.Code != first.Code {
		t.Errorf("joining again = %v, %v; want the same entry %s", again, err, first.Code)
	}
	// Leaving the line makes room.
	if _, err := s.Cancel(ctx, first.Code, booking.Owner{Conv: parent}); err != nil {
		t.Fatal(err)
	}
	if _, err := wait(12, "altro"); err != nil {
		t.Errorf("entry after one left = %v", err)
	}
}

// testWaitlistNewDays: when a new day enters the horizon, at the Comune's
// midnight, its places are held for the people waiting, first in line
// first, before newcomers can book them; they are told in the morning, when
// the hold starts.
func testWaitlistNewDays(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), tinyComune, clock, inbox, nil)
	fillTiny(t, s)
	solo, anywhere := join(t, s, 10, "solo"), join(t, s, 11, "")
	s.Sweep(ctx)
	if got := inbox.Take(); len(got) != 0 {
		t.Fatalf("notices with nothing free = %v, want none", got)
	}
	// Wednesday 4 March: Tuesday 17 March (solo) becomes bookable.
	clock.Set(time.Date(2026, 3, 4, 0, 30, 0, 0, Rome()))
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	if got := inbox.Take(); len(got) != 0 {
		t.Fatalf("notices at 00:30 = %v, want none before the morning", got)
	}
	slot := At("solo", 2026, 3, 17, 9, 0)
	if free(t, s, slot) != 0 {
		t.Errorf("the place held for the first in line shows as free")
	}
	morning := time.Date(2026, 3, 4, 8, 0, 0, 0, Rome())
	offer, _ := s.Get(ctx, solo.Code, Owner(10))
	if offer.Status != booking.StatusOffered || !offer.Start.Equal(slot.Start) || !offer.Until.Equal(morning.Add(15*time.Minute)) {
		t.Errorf("offer = %+v, want 17 March held until 08:15", offer)
	}
	clock.Set(morning.Add(-time.Second))
	s.Sweep(ctx)
	if got := inbox.Take(); len(got) != 0 {
		t.Fatalf("notices at 07:59:59 = %v, want none", got)
	}
	clock.Set(morning)
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + solo.Code}) {
		t.Fatalf("notices at 08:00 = %v, want an offer to the first in line %s", got, solo.Code)
	}
	s.Sweep(ctx)
	if got := inbox.Take(); len(got) != 0 {
		t.Errorf("notices from a second sweep = %v, want none", got)
	}
	if _, err := s.Accept(ctx, solo.Code, Owner(10)); err != nil {
		t.Fatalf("Accept = %v", err)
	}
	// Friday 6 March: Thursday 19 March (altro) goes to the any-office
	// entry, in the morning.
	clock.Set(time.Date(2026, 3, 6, 0, 30, 0, 0, Rome()))
	s.Sweep(ctx)
	clock.Set(time.Date(2026, 3, 6, 8, 0, 0, 0, Rome()))
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + anywhere.Code}) {
		t.Fatalf("notices when 19 March opens = %v, want an offer to %s", got, anywhere.Code)
	}
	other := At("altro", 2026, 3, 19, 9, 0)
	if b, _ := s.Get(ctx, anywhere.Code, Owner(11)); b.Office != "altro" || !b.Start.Equal(other.Start) {
		t.Errorf("any-office offer = %s at %v, want altro 19 March", b.Office, b.Start)
	}
	// Not accepted: with nobody left in line the place is simply free, and
	// later sweeps offer nothing.
	clock.Add(15 * time.Minute)
	s.Sweep(ctx)
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Equal(got, []string{"offer_expired " + anywhere.Code}) {
		t.Errorf("notices after the hold = %v, want offer_expired %s only", got, anywhere.Code)
	}
	if free(t, s, other) != 1 {
		t.Errorf("19 March after the offer expired with nobody waiting: %d free, want 1", free(t, s, other))
	}
}

// testWaitlistOvernight: a new day that opens at midnight does not empty
// the line while people sleep: sweeping all night, nobody is told anything
// or loses their place, and the morning starts with the first in line.
func testWaitlistOvernight(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), tinyComune, clock, inbox, nil)
	fillTiny(t, s)
	var line []*booking.Booking
	for n := range 4 {
		line = append(line, join(t, s, 10+n, "solo"))
	}
	for at := time.Date(2026, 3, 4, 0, 0, 30, 0, Rome()); at.Hour() < 8; at = at.Add(15 * time.Minute) {
		clock.Set(at)
		if _, err := s.Sweep(ctx); err != nil {
			t.Fatalf("Sweep at %v = %v", at, err)
		}
	}
	if got := inbox.Take(); len(got) != 0 {
		t.Fatalf("notices overnight = %v, want none", got)
	}
	for i, w := range line {
		b, _ := s.Lookup(ctx, w.Code)
		want := booking.StatusWaiting
		if i == 0 {
			want = booking.StatusOffered // 17 March, held for the morning
		}
		if b.Status != want {
			t.Errorf("at 07:45 person %d in line is %s, want %s", i+1, b.Status, want)
		}
	}
	clock.Set(time.Date(2026, 3, 4, 8, 0, 15, 0, Rome()))
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + line[0].Code}) {
		t.Fatalf("notices at 08:00 = %v, want the offer to the first in line", got)
	}
	// Not accepted by 08:15: the next in line, awake, gets it.
	clock.Set(time.Date(2026, 3, 4, 8, 15, 0, 0, Rome()))
	s.Sweep(ctx)
	got := inbox.Take()
	want := []string{"offer " + line[1].Code, "offer_expired " + line[0].Code}
	if !sameSet(got, want) {
		t.Errorf("notices at 08:15 = %v, want %v", got, want)
	}
}

// testWaitlistWakingHours: a place freed at night is held for the first in
// line and offered in the morning, the hold counted from then; an offer
// made in the evening keeps its hold through the night; holds that end
// pass the place on as by day.
func testWaitlistWakingHours(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), tinyComune, clock, inbox, nil)
	booked := fillTiny(t, s)
	a, b := join(t, s, 10, "solo"), join(t, s, 11, "solo")
	slot := At("solo", 2026, 3, 10, 9, 0)
	// Monday 22:00: the 10 March place is cancelled.
	clock.Set(time.Date(2026, 3, 2, 22, 0, 0, 0, Rome()))
	if _, err := s.Cancel(ctx, booked[1].Code, Owner(1)); err != nil {
		t.Fatal(err)
	}
	if got := inbox.Take(); len(got) != 0 {
		t.Fatalf("notices at 22:00 = %v, want none before the morning", got)
	}
	if free(t, s, slot) != 0 {
		t.Errorf("a place held overnight shows as free")
	}
	morning := time.Date(2026, 3, 3, 8, 0, 0, 0, Rome())
	if got, _ := s.Lookup(ctx, a.Code); got.Status != booking.StatusOffered || !got.Until.Equal(morning.Add(15*time.Minute)) {
		t.Errorf("offer made at night: %s until %v, want offered until 08:15", got.Status, got.Until)
	}
	// A night owl sees the offer in the list and may take it at once.
	if mine, _ := s.Mine(ctx, Owner(10)); len(mine) != 1 || mine[0].Status != booking.StatusOffered {
		t.Errorf("Mine at night = %v, want the offer", mine)
	}
	clock.Set(morning)
	s.Sweep(ctx)
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + a.Code}) {
		t.Fatalf("notices at 08:00 = %v, want the offer", got)
	}
	// Declined at 19:55: the next is told at once, and the 15 minutes run
	// 5 before 20:00 and 10 after 08:00.
	clock.Set(time.Date(2026, 3, 3, 19, 55, 0, 0, Rome()))
	if _, err := s.Decline(ctx, a.Code, Owner(10)); err != nil {
		t.Fatal(err)
	}
	if got := inbox.Take(); !slices.Equal(got, []string{"offer " + b.Code}) {
		t.Fatalf("notices after a decline at 19:55 = %v, want the offer to %s", got, b.Code)
	}
	until := time.Date(2026, 3, 4, 8, 10, 0, 0, Rome())
	if got, _ := s.Lookup(ctx, b.Code); !got.Until.Equal(until) {
		t.Errorf("evening offer held until %v, want %v", got.Until, until)
	}
	for at := time.Date(2026, 3, 3, 20, 0, 0, 0, Rome()); at.Before(until); at = at.Add(30 * time.Minute) {
		clock.Set(at)
		s.Sweep(ctx)
	}
	if got := inbox.Take(); len(got) != 0 {
		t.Errorf("notices overnight = %v, want none", got)
	}
	if _, err := s.Accept(ctx, b.Code, Owner(11)); err != nil {
		t.Errorf("Accept at 07:30 the next day = %v, want the place", err)
	}
	if got, _ := s.Lookup(ctx, b.Code); got.Status != booking.StatusBooked || !got.Start.Equal(slot.Start) {
		t.Errorf("accepted offer = %s at %v", got.Status, got.Start)
	}
}

// testOfferNeverTold: an offer that could not be handed to the outbox by
// the end of its hold does not cost the citizen their place: it is held
// again and told when the outbox is back.
func testOfferNeverTold(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	inbox := &Inbox{}
	s := NewService(t, open(), tinyComune, clock, inbox, nil)
	booked := fillTiny(t, s)
	a, b := join(t, s, 10, "solo"), join(t, s, 11, "solo")
	inbox.FailFor(a.Code)
	if _, err := s.Cancel(ctx, booked[1].Code, Owner(1)); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		clock.Add(5 * time.Minute)
		s.Sweep(ctx)
	}
	got, _ := s.Lookup(ctx, a.Code)
	if got.Status != booking.StatusOffered || !got.Until.After(clock.Now()) || got.Notice != booking.NoticeOffer {
		t.Fatalf("offer never told, after its hold: %s until %v, notice %q; want still offered, held, the offer pending",
			got.Status, got.Until, got.Notice)
	}
	if w, _ := s.Lookup(ctx, b.Code); w.Status != booking.StatusWaiting {
		t.Errorf("the next in line = %s, want still waiting", w.Status)
	}
	if n := inbox.Take(); len(n) != 0 {
		t.Fatalf("notices = %v, want none", n)
	}
	inbox.FailOnlyFor("")
	clock.Add(30 * time.Minute)
	s.Sweep(ctx)
	if n := inbox.Take(); !slices.Equal(n, []string{"offer " + a.Code}) {
		t.Fatalf("notices once the outbox is back = %v, want the offer", n)
	}
	got, _ = s.Lookup(ctx, a.Code)
	if want := clock.Now().Add(15 * time.Minute); got.Until.Before(want) {
		t.Errorf("told at %v with the hold ending %v, want at least the 15 minutes", clock.Now(), got.Until)
	}
	clock.Set(got.Until)
	s.Sweep(ctx)
	n := inbox.Take()
	want := []string{"offer " + b.Code, "offer_expired " + a.Code}
	if !sameSet(n, want) {
		t.Errorf("notices at the end of a hold that was told = %v, want %v", n, want)
	}
}

// testOfferBackInLine: an offer that could not be told before the place
// became too close to hold again puts the citizen back in line, in their
// old place, and frees the place; nothing is lost or given twice.
func testOfferBackInLine(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(time.Date(2026, 3, 2, 10, 0, 0, 0, Rome()))
	inbox := &Inbox{}
	s := NewService(t, open(), tinyComune, clock, inbox, nil)
	booked := fillTiny(t, s)
	a, b := join(t, s, 10, "solo"), join(t, s, 11, "solo")
	inbox.FailFor(a.Code)
	// Tomorrow 09:00 frees up at 10:00: offered to a, whose outbox fails.
	slot := At("solo", 2026, 3, 3, 9, 0)
	if _, err := s.Cancel(ctx, booked[0].Code, Owner(0)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Lookup(ctx, a.Code); got.Status != booking.StatusOffered || !got.Start.Equal(slot.Start) {
		t.Fatalf("offer = %s at %v, want 3 March held", got.Status, got.Start)
	}
	// At 20:00 it cannot be held for the morning (08:00 + 2 hours of
	// notice is after 09:00): a goes back in line, first.
	for at := clock.Now(); at.Hour() < 21; at = at.Add(15 * time.Minute) {
		clock.Set(at)
		s.Sweep(ctx)
	}
	got, _ := s.Lookup(ctx, a.Code)
	if got.Status != booking.StatusWaiting || got.Office != "solo" || !got.Start.IsZero() || got.Seq != a.Seq ||
		!got.Until.Equal(a.Until) || got.Notice != "" {
		t.Fatalf("offer never told, too close to hold again: %+v; want waiting for solo again with seq %d until %v, no notice",
			got, a.Seq, a.Until)
	}
	if n := inbox.Take(); len(n) != 0 {
		t.Errorf("notices = %v, want none", n)
	}
	if f := free(t, s, slot); f != 1 {
		t.Errorf("the place after the offer went back: %d free, want 1", f)
	}
	if mine, _ := s.Mine(ctx, Owner(10)); len(mine) != 1 || mine[0].Status != booking.StatusWaiting {
		t.Errorf("Mine = %v, want the waitlist entry", mine)
	}
	// The next place goes to a, still first in line.
	inbox.FailOnlyFor("")
	clock.Set(time.Date(2026, 3, 3, 10, 0, 0, 0, Rome()))
	if _, err := s.Cancel(ctx, booked[1].Code, Owner(1)); err != nil {
		t.Fatal(err)
	}
	if n := inbox.Take(); !slices.Equal(n, []string{"offer " + a.Code}) {
		t.Errorf("notices when the next place frees = %v, want the offer to %s (b is %s)", n, a.Code, b.Code)
	}
	// Leaving the line after going back works as for any entry.
	if w, _ := s.Lookup(ctx, b.Code); w.Status != booking.StatusWaiting {
		t.Fatalf("b = %s, want waiting", w.Status)
	}
	if _, err := s.Cancel(ctx, b.Code, Owner(11)); err != nil {
		t.Errorf("Cancel of the entry behind = %v", err)
	}
}

func testPurge(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	slot := At("centrale", 2026, 3, 4, 9, 0)
	b := mustBook(t, s, Citizen(1, slot))
	c := mustBook(t, s, Citizen(2, At("centrale", 2026, 3, 4, 10, 0)))
	s.Cancel(context.Background(), c.Code, Owner(2))
	if want := slot.Start.Add(30 * 24 * time.Hour); !b.PurgeAt.Equal(want) {
		t.Errorf("PurgeAt = %v, want %v", b.PurgeAt, want)
	}
	clock.Set(b.PurgeAt.Add(-time.Minute))
	s.Sweep(context.Background())
	if _, err := s.Lookup(context.Background(), b.Code); err != nil {
		t.Fatalf("booking gone before retention ended: %v", err)
	}
	clock.Set(c.PurgeAt)
	if _, err := s.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{b.Code, c.Code} {
		if _, err := s.Lookup(context.Background(), code); !errors.Is(err, booking.ErrNotFound) {
			t.Errorf("Lookup(%s) after retention = %v, want ErrNotFound", code, err)
		}
	}
	if list, _ := s.Appointments(context.Background(), "centrale", slot.Start); len(list) != 0 {
		t.Errorf("Appointments after retention = %v, want none", list)
	}
	if mine, _ := s.Mine(context.Background(), booking.Owner{FiscalCode: citizenCode(1), Conv: Owner(1).Conv}); len(mine) != 0 {
		t.Errorf("Mine after retention = %v", mine)
	}
}

// testEndedPurgedSoon: a booking that ended without the appointment
// (cancelled, released, an offer declined or not accepted) keeps the
// citizen's name and fiscal code for a day, not until 30 days after a slot
// nobody will come to.
func testEndedPurgedSoon(t *testing.T, open func() booking.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	day := 24 * time.Hour
	check := func(what, code string, ended time.Time) {
		t.Helper()
		b, err := s.Lookup(ctx, code)
		if err != nil {
			t.Fatalf("Lookup(%s) = %v", what, err)
		}
		if want := ended.Add(day); !b.PurgeAt.Equal(want) {
			t.Errorf("PurgeAt of the %s booking = %v, want %v (a day after it ended)", what, b.PurgeAt, want)
		}
	}
	cancelled := mustBook(t, s, Citizen(10, At("centrale", 2026, 3, 9, 9, 0)))
	if _, err := s.Cancel(ctx, cancelled.Code, Owner(10)); err != nil {
		t.Fatal(err)
	}
	check("cancelled", cancelled.Code, T0)
	released := mustBook(t, s, Citizen(11, At("centrale", 2026, 3, 9, 9, 30)))
	clock.Set(released.AskAt)
	s.Sweep(ctx)
	clock.Set(released.ConfirmBy)
	s.Sweep(ctx)
	check("released", released.Code, released.ConfirmBy)

	clock.Set(T0)
	w := NewService(t, open(), tinyComune, clock, &Inbox{}, nil)
	booked := fillTiny(t, w)
	a, b := join(t, w, 20, "solo"), join(t, w, 21, "solo")
	w.Cancel(ctx, booked[1].Code, Owner(1))
	check("cancelled (offered on)", booked[1].Code, T0)
	if _, err := w.Decline(ctx, a.Code, Owner(20)); err != nil {
		t.Fatal(err)
	}
	check("declined", a.Code, T0)
	clock.Add(15 * time.Minute)
	w.Sweep(ctx)
	check("expired offer", b.Code, T0.Add(15*time.Minute))

	// A day after the last one ended every one of them is gone.
	clock.Set(released.ConfirmBy.Add(day))
	s.Sweep(ctx)
	for _, code := range []string{cancelled.Code, released.Code, booked[1].Code, a.Code, b.Code} {
		if _, err := s.Lookup(ctx, code); !errors.Is(err, booking.ErrNotFound) {
			t.Errorf("Lookup(%s) a day after it ended = %v, want ErrNotFound", code, err)
		}
	}
}

func testAppointments(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	s := NewService(t, open(), TestComune, clock, &Inbox{}, nil)
	b2 := mustBook(t, s, Citizen(2, At("centrale", 2026, 3, 4, 11, 0)))
	b1 := mustBook(t, s, Citizen(1, At("centrale", 2026, 3, 4, 9, 0)))
	b3 := mustBook(t, s, Citizen(3, At("centrale", 2026, 3, 4, 11, 30)))
	mustBook(t, s, Citizen(4, At("centrale", 2026, 3, 9, 9, 0)))
	mustBook(t, s, Citizen(5, At("nord", 2026, 3, 3, 9, 0)))
	s.Cancel(context.Background(), b3.Code, Owner(3))
	list, err := s.Appointments(context.Background(), "centrale", time.Date(2026, 3, 4, 15, 0, 0, 0, Rome()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range list {
		got = append(got, b.Code+" "+string(b.Status)+" "+b.Name)
	}
	want := []string{b1.Code + " booked Cittadino 1", b2.Code + " booked Cittadino 2", b3.Code + " cancelled Cittadino 3"}
	if !slices.Equal(got, want) {
		t.Errorf("Appointments = %v, want %v", got, want)
	}
	if _, err := s.Appointments(context.Background(), "sud", T0); !errors.Is(err, booking.ErrUnknownOffice) {
		t.Errorf("Appointments(unknown office) = %v", err)
	}
}

// testConcurrentBookers races 60 citizens on four handles for one slot.
func testConcurrentBookers(t *testing.T, open func() booking.Store) {
	clock := NewClock(T0)
	var svcs []*booking.Service
	for range 4 {
		svcs = append(svcs, NewService(t, open(), TestComune, clock, &Inbox{}, nil))
	}
	slot := At("centrale", 2026, 3, 4, 9, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, taken := 0, 0
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svcs[i%4].Book(context.Background(), Citizen(i, slot))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, booking.ErrSlotTaken):
				taken++
			default:
				t.Errorf("Book = %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 2 || taken != 58 {
		t.Errorf("%d booked, %d taken; want 2 (desks) and 58", ok, taken)
	}
	list, _ := svcs[0].Appointments(context.Background(), "centrale", slot.Start)
	if len(list) != 2 {
		t.Errorf("Appointments = %d, want 2", len(list))
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
