package booking_test

import (
	"context"
	"strings"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"

	core "sportello/bot/booking"
	"sportello/bot/bottest"
	"sportello/bot/comune"
)

// book books for user through the dialog and returns the booking.
func (h *harness) book(user, office, name, cf string) *core.Booking {
	h.t.Helper()
	h.bookWithButtons(user, "renewal", office, name, cf)
	r := h.press(user, "book:confirm")
	contains(h.t, r, "Codice di prenotazione")
	mine := h.mine(user)
	if len(mine) != 1 {
		h.t.Fatalf("Got(%d bookings for %s), want 1", len(mine), user)
	}
	return mine[0]
}

func TestMyAppointmentsListAndCancel(t *testing.T) {
	h := newHarness(t)
	r := h.text("u", "/appuntamenti")
	contains(t, r, h.msg("it", "booking.mine.none", nil))
	button(t, r, "menu:book")

	b := h.book("u", "centrale", "Mario Rossi", cfMario)
	r = h.text("u", "/appuntamenti")
	contains(t, r, "• "+b.Code+": giovedì 26 novembre 2026, ore 12:10, Sede centrale (Via Larga 12), Rinnovo (scaduta o in scadenza). Confermato")
	button(t, r, "appointments:move:"+b.Code)
	r = h.press("u", button(t, r, "appointments:cancel:"+b.Code))
	contains(t, r, h.prefix("it", "booking.mine.cancel_ask"))
	if got := h.mine("u"); len(got) != 1 || got[0].Status.Active() != true {
		t.Fatal("the booking changed before the citizen confirmed the cancellation")
	}
	r = h.press("u", "appointments:cancel:yes")
	contains(t, r, h.msg("it", "booking.mine.cancelled", map[string]any{"Code": b.Code, "When": "giovedì 26 novembre 2026, ore 12:10"}))
	if got := event(t, attachment(t, r)).GetProperty(ical.ComponentPropertyStatus).Value; got != "CANCELLED" {
		t.Errorf("Got(ics STATUS) = %q, want CANCELLED", got)
	}
	if data := string(attachment(t, r).Data); !strings.Contains(data, "\r\nMETHOD:CANCEL\r\n") || !strings.Contains(data, "mailto:anagrafe@comune-di-esempio.example") {
		t.Errorf("Got(cancelled ics)\n%s\nwant METHOD:CANCEL from the Comune's address", data)
	}
	if got := h.mine("u"); len(got) != 0 {
		t.Errorf("Got(%d active bookings after cancel), want 0", len(got))
	}
	// The place is free again.
	times, err := h.svc.Times(context.Background(), "centrale", b.Start)
	if err != nil {
		t.Fatal(err)
	}
	if len(times) == 0 || !times[0].Slot.Start.Equal(b.Start) || times[0].Free != 3 {
		t.Errorf("Got(first free slot) = %+v, want %s with 3 places", times, b.Start)
	}
}

func TestMoveIsAtomicAndKeepsTheCode(t *testing.T) {
	h := newHarness(t)
	b := h.book("u", "centrale", "Mario Rossi", cfMario)
	contains(t, h.text("u", "/appuntamenti"), b.Code)
	r := h.press("u", "appointments:move:"+b.Code)
	contains(t, r, h.msg("it", "booking.mine.move_intro", map[string]any{"Code": b.Code, "When": "giovedì 26 novembre 2026, ore 12:10"}))
	contains(t, h.text("u", "2/12"), "mercoledì 2 dicembre 2026, Sede centrale: a che ora?")
	r = h.text("u", "15:00")
	to := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC) // Wednesday 2 December 15:00 in Rome
	contains(t, r, "mercoledì 2 dicembre 2026, ore 15:00")
	// Nothing moved yet: the old place is still held.
	if got := h.mine("u"); !got[0].Start.Equal(b.Start) {
		t.Fatal("the booking moved before the citizen confirmed")
	}
	r = h.press("u", "appointments:move:yes")
	contains(t, r, h.msg("it", "booking.mine.moved", map[string]any{
		"Code": b.Code, "When": "mercoledì 2 dicembre 2026, ore 15:00", "Office": "Sede centrale", "Address": "Via Larga 12"}))
	// 2 December is more than 3 days away: the citizen will be asked.
	contains(t, r, h.msg("it", "booking.done.confirm_note", map[string]any{"Days": 3, "AskDate": "domenica 29 novembre 2026"}))
	got := h.mine("u")
	if len(got) != 1 || got[0].Code != b.Code || !got[0].Start.Equal(to) {
		t.Fatalf("Got(bookings after move) = %+v, want %s at %s", got, b.Code, to)
	}
	ev := event(t, attachment(t, r))
	if start, _ := ev.GetStartAt(); !start.Equal(to) || !strings.HasPrefix(ev.Id(), strings.ToLower(b.Code)+"@") {
		t.Errorf("Got(ics) = %s at %s, want the same UID at the new time", ev.Id(), start)
	}
	if seq := ev.GetProperty(ical.ComponentPropertySequence); seq == nil || seq.Value == "0" {
		t.Errorf("Got(ics SEQUENCE) = %v, want it above the first file's 0", seq)
	}
}

func TestMoveToATakenSlotChangesNothing(t *testing.T) {
	h := newHarness(t)
	b := h.book("a", "nord", "Mario Rossi", cfMario)
	h.text("a", "/appuntamenti")
	h.press("a", "appointments:move:"+b.Code)
	target := core.Slot{Office: "nord", Start: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	button(t, h.press("a", "appointments:day:20261201"), "appointments:slot:"+target.ID())
	r := h.press("a", "appointments:slot:"+target.ID())
	contains(t, r, h.prefix("it", "booking.mine.move_ask"))
	// Someone else takes the one place meanwhile.
	if _, err := h.svc.Book(context.Background(), core.Request{Slot: target, Reason: core.ReasonRenewal, Name: "Laura Bianchi",
		FiscalCode: cfLaura, Conv: conv("other"), Lang: "it"}); err != nil {
		t.Fatal(err)
	}
	r = h.press("a", "appointments:move:yes")
	contains(t, r, h.msg("it", "booking.slot.taken_move", map[string]any{"When": "martedì 1 dicembre 2026, ore 09:00", "Office": "Delegazione Nord"}))
	button(t, r, "appointments:slot:")
	if got := h.mine("a"); len(got) != 1 || !got[0].Start.Equal(b.Start) {
		t.Fatalf("Got(bookings) = %+v, want the booking where it was", got)
	}
}

func TestAppointmentFromAnotherChatNeedsCodeAndFiscalCode(t *testing.T) {
	h := newHarness(t)
	b := h.book("phone", "centrale", "Mario Rossi", cfMario)
	r := h.text("laptop", "/appuntamenti")
	contains(t, r, h.msg("it", "booking.mine.none", nil))
	r = h.text("laptop", strings.ToLower(b.Code))
	contains(t, r, h.msg("it", "booking.mine.ask_cf", map[string]any{"Code": b.Code}))
	r = h.text("laptop", cfLaura)
	contains(t, r, h.msg("it", "booking.mine.not_found_pair", nil))
	lacks(t, r, "Via Larga")
	contains(t, h.text("laptop", b.Code), h.msg("it", "booking.mine.ask_cf", map[string]any{"Code": b.Code}))
	r = h.text("laptop", cfMario)
	contains(t, r, "• "+b.Code+": giovedì 26 novembre 2026")
	contains(t, h.press("laptop", "appointments:cancel:"+b.Code), h.prefix("it", "booking.mine.cancel_ask"))
	r = h.press("laptop", "appointments:cancel:yes")
	contains(t, r, h.prefix("it", "booking.mine.cancelled"))
	if got := h.mine("phone"); len(got) != 0 {
		t.Errorf("Got(%d active bookings), want 0", len(got))
	}
	// A made-up code gets the same answer as a wrong fiscal code.
	contains(t, h.text("laptop", "/appuntamenti"), h.msg("it", "booking.mine.none", nil))
	contains(t, h.text("laptop", "ZZZ222"), h.msg("it", "booking.mine.ask_cf", map[string]any{"Code": "ZZZ222"}))
	r = h.text("laptop", cfMario)
	contains(t, r, h.msg("it", "booking.mine.not_found_pair", nil))
	r = h.text("laptop", "ABC")
	contains(t, r, h.msg("it", "booking.mine.bad_code", nil))
}

// small is a Comune with two places in the next week, asking to confirm two
// days before.
func small(t testing.TB) *comune.Comune {
	t.Helper()
	c, err := comune.Parse([]byte(`
name: Comune Piccolo
fees: {cie: "22.21", cie_duplicate: "27.37"}
non_residents: allowed
booking: {horizon_days: 7, min_notice_hours: 2, max_active_per_person: 1, confirm_days_before: 2}
offices:
  - id: unico
    name: Ufficio unico
    address: Piazza Municipio 1
    slot_minutes: 30
    desks: 1
    hours:
      tuesday: ["09:00-10:00"]
`), "small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fill books both places of the small Comune from chats c1 and c2, through
// the dialog, and returns the bookings.
func (h *harness) fill() (*core.Booking, *core.Booking) {
	h.t.Helper()
	t := h.t
	var out []*core.Booking
	for _, u := range []struct{ user, name, cf string }{{"c1", "Mario Rossi", cfMario}, {"c2", "Laura Bianchi", cfLaura}} {
		h.toName(u.user, "renewal", "")
		h.text(u.user, u.name)
		r := h.text(u.user, u.cf)
		contains(t, r, h.msg("it", "booking.resident.prompt", map[string]any{"Comune": "Comune Piccolo"}))
		h.press(u.user, "book:res:yes")
		r = h.press(u.user, "book:confirm")
		contains(t, r, h.msg("it", "booking.done.confirm_note", map[string]any{"Days": 2, "AskDate": "domenica 29 novembre 2026"}))
		out = append(out, h.mine(u.user)[0])
	}
	return out[0], out[1]
}

func TestWaitlistOfferAcceptedFromTheNoticeButton(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { waitlistOfferAccepted(t, newHarness(t, withComune(small(t)))) })
	t.Run("redis", func(t *testing.T) { waitlistOfferAccepted(t, newHarness(t, withComune(small(t)), onRedis())) })
}

func waitlistOfferAccepted(t *testing.T, h *harness) {
	b1, _ := h.fill()

	h.text("w", "/prenota")
	r := h.press("w", "book:reason:renewal")
	contains(t, r, h.msg("it", "booking.waitlist.offer", map[string]any{"Office": "Ufficio unico", "Days": 7, "Hold": 15}))
	r = h.press("w", "book:wait")
	contains(t, r, h.msg("it", "booking.name.prompt", nil))
	h.text("w", "Anna Maria De Luca")
	contains(t, h.text("w", cfAnna), h.msg("it", "booking.resident.prompt", map[string]any{"Comune": "Comune Piccolo"}))
	r = h.press("w", "book:res:yes")
	contains(t, r, h.prefix("it", "booking.summary.wait"))
	r = h.press("w", "book:confirm")
	mine := h.mine("w")
	if len(mine) != 1 || mine[0].Status != core.StatusWaiting {
		t.Fatalf("Got(w's records) = %+v, want one waitlist entry", mine)
	}
	contains(t, r, "Sei in lista d'attesa (Ufficio unico). Codice: "+mine[0].Code)
	// Seven days from Thursday 26 November: the last day it covers is
	// Thursday 3 December.
	contains(t, r, "La lista d'attesa vale fino a giovedì 3 dicembre 2026.")
	// Offers come in waking hours only, and the citizen is told so.
	contains(t, r, h.msg("it", "booking.waitlist.hours", map[string]any{"From": "08:00", "To": "20:00"}))

	// c1 cancels: the place is offered to w at once, with buttons.
	h.text("c1", "/appuntamenti")
	h.press("c1", "appointments:cancel:"+b1.Code)
	h.press("c1", "appointments:cancel:yes")
	note := h.outbox.take("w")
	if len(note) != 1 {
		t.Fatalf("Got(%d notices to w), want 1 offer", len(note))
	}
	contains(t, note, "Buone notizie")
	contains(t, note, "martedì 1 dicembre 2026 alle 09:00")
	accept := button(t, note, "appt:accept:"+mine[0].Code)
	button(t, note, "appt:decline:"+mine[0].Code)
	// Not delivered after the 15 minutes the place is held.
	if got, want := h.outbox.expiry(t, "booking:"+mine[0].Code+":offer"), h.clk.Now().Add(15*time.Minute); !got.Equal(want) {
		t.Errorf("Got(offer expiry) = %s, want %s", got, want)
	}

	// w is in the middle of something else when pressing it.
	h.text("w", "/prenota")
	r = h.press("w", accept)
	contains(t, r, "Fatto! Il posto è tuo.")
	contains(t, r, "Codice di prenotazione: "+mine[0].Code)
	event(t, attachment(t, r))
	mine = h.mine("w")
	if len(mine) != 1 || !mine[0].Status.Active() || mine[0].Status == core.StatusOffered {
		t.Fatalf("Got(w's records) = %+v, want a booking", mine)
	}
	// A second press of the same button does no harm.
	r = h.press("w", accept)
	lacks(t, r, "error")
}

func TestWaitlistOfferExpires(t *testing.T) {
	h := newHarness(t, withComune(small(t)))
	b1, _ := h.fill()
	h.text("w", "/prenota")
	h.press("w", "book:reason:renewal")
	h.press("w", "book:wait")
	h.text("w", "Anna Maria De Luca")
	h.text("w", cfAnna)
	h.press("w", "book:res:yes")
	h.press("w", "book:confirm")
	if _, err := h.svc.Cancel(context.Background(), b1.Code, core.Owner{Conv: conv("c1")}); err != nil {
		t.Fatal(err)
	}
	note := h.outbox.take("w")
	accept := button(t, note, "appt:accept:")
	h.clk.Add(16 * time.Minute)
	if _, err := h.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	note = h.outbox.take("w")
	contains(t, note, "non è stato accettato entro")
	button(t, note, "menu:book")
	r := h.press("w", accept)
	contains(t, r, h.msg("it", "booking.appt.hold_ended", nil))
}

func TestConfirmOrRelease(t *testing.T) {
	h := newHarness(t, withComune(small(t)))
	b1, b2 := h.fill()
	// Sunday 29 November 09:30: both are asked to confirm.
	h.clk.Set(b2.AskAt.Add(time.Minute))
	if _, err := h.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	n1, n2 := h.outbox.take("c1"), h.outbox.take("c2")
	if len(n1) != 1 || len(n2) != 1 {
		t.Fatalf("Got(notices) = %d and %d, want one confirmation request each", len(n1), len(n2))
	}
	contains(t, n1, "Promemoria: hai un appuntamento per la carta d'identità martedì 1 dicembre 2026 alle 09:00")
	contains(t, n1, "entro lunedì 30 novembre 2026, ore 09:00")
	if got := h.outbox.expiry(t, "booking:"+b1.Code+":confirm_request"); !got.Equal(b1.ConfirmBy) {
		t.Errorf("Got(confirmation request expiry) = %s, want the deadline %s", got, b1.ConfirmBy)
	}
	r := h.press("c1", button(t, n1, "appt:confirm:"+b1.Code))
	contains(t, r, h.msg("it", "booking.appt.confirmed", map[string]any{"Code": b1.Code, "When": "martedì 1 dicembre 2026, ore 09:00", "Office": "Ufficio unico"}))
	// c2 does not answer and is released at the deadline.
	h.clk.Set(b2.ConfirmBy.Add(time.Minute))
	if _, err := h.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	n2 = h.outbox.take("c2")
	contains(t, n2, "è stato liberato perché non è stato confermato")
	button(t, n2, "menu:book")
	if got := event(t, attachment(t, n2)).GetProperty(ical.ComponentPropertyStatus).Value; got != "CANCELLED" {
		t.Errorf("Got(released ics STATUS) = %q, want CANCELLED", got)
	}
	if got := h.outbox.take("c1"); len(got) != 0 {
		t.Errorf("c1 confirmed but got %s", bottest.All(got))
	}
	// The old confirm button of c2 now says it is too late.
	r = h.press("c2", "appt:confirm:"+b2.Code)
	contains(t, r, h.msg("it", "booking.appt.not_active", nil))
}

func TestNoticeButtonsAreSafe(t *testing.T) {
	h := newHarness(t)
	b := h.book("owner", "centrale", "Mario Rossi", cfMario)
	tests := []struct{ id, want string }{
		{"appt:confirm:" + b.Code, h.msg("it", "booking.appt.not_found", nil)}, // another chat
		{"appt:cancelyes:" + b.Code, h.msg("it", "booking.appt.not_found", nil)},
		{"appt:confirm:ZZZZZZ", h.msg("it", "booking.appt.not_found", nil)},
		{"appt:confirm:zzzzzz", h.msg("it", "booking.appt.unknown", nil)}, // not canonical
		{"appt:confirm:", h.msg("it", "booking.appt.unknown", nil)},
		{"appt:explode:" + b.Code, h.msg("it", "booking.appt.unknown", nil)},
		{"appt:", h.msg("it", "booking.appt.unknown", nil)},
	}
	for _, tc := range tests {
		r := h.press("intruder", tc.id)
		contains(t, r, tc.want)
	}
	if got := h.mine("owner"); len(got) != 1 || !got[0].Status.Active() {
		t.Fatalf("Got(owner's bookings) = %+v, want it untouched", got)
	}
	// The owner cancels from a notice-style button, with a confirmation step.
	r := h.press("owner", "appt:cancel:"+b.Code)
	contains(t, r, h.prefix("it", "booking.appt.cancel_ask"))
	r = h.press("owner", button(t, r, "appt:keep:"))
	contains(t, r, h.prefix("it", "booking.appt.kept"))
	r = h.press("owner", "appt:cancel:"+b.Code)
	r = h.press("owner", button(t, r, "appt:cancelyes:"))
	contains(t, r, h.prefix("it", "booking.mine.cancelled"))
	if got := h.mine("owner"); len(got) != 0 {
		t.Errorf("Got(%d bookings), want 0", len(got))
	}
}

func TestBookOnRedis(t *testing.T) {
	h := newHarness(t, onRedis())
	b := h.book("u", "centrale", "Mario Rossi", cfMario)
	r := h.text("u", "/appuntamenti")
	contains(t, r, b.Code)
	contains(t, h.press("u", "appointments:cancel:"+b.Code), h.prefix("it", "booking.mine.cancel_ask"))
	r = h.press("u", "appointments:cancel:yes")
	contains(t, r, h.prefix("it", "booking.mine.cancelled"))
}

// TestEndedBookingHasNothingToChoose: a cancelled booking found by its
// code says it can no longer be changed and offers to book, instead of
// "choose what to do" over no buttons; in English too.
func TestEndedBookingHasNothingToChoose(t *testing.T) {
	h := newHarness(t)
	b := h.book("u", "centrale", "Mario Rossi", cfMario)
	if _, err := h.svc.Cancel(context.Background(), b.Code, core.Owner{FiscalCode: cfMario}); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"it", "en"} {
		if lang == "en" {
			h.text("u", "english")
		}
		h.text("u", "/appuntamenti")
		r := h.text("u", b.Code)
		item := h.msg(lang, "booking.mine.item.cancelled", map[string]any{"Code": b.Code})
		contains(t, r, h.msg(lang, "booking.mine.ended", map[string]any{"Item": item}))
		lacks(t, r, h.msg(lang, "booking.mine.single", map[string]any{"Item": item}))
		if got := buttons(r, "appointments:"); len(got) != 0 {
			t.Errorf("Got(buttons %v on a cancelled booking), want none", got)
		}
		button(t, r, "menu:book")
		button(t, r, "menu:appointments")
	}
}

// TestPastAppointmentIsOver: the day after the appointment the citizen can
// book again; the old one is neither listed nor offered for a move or a
// cancellation, and "you already have an appointment" is not said.
func TestPastAppointmentIsOver(t *testing.T) {
	h := newHarness(t)
	b := h.book("u", "centrale", "Mario Rossi", cfMario)
	h.clk.Set(b.Start.Add(24 * time.Hour))

	r := h.text("u", "/appuntamenti")
	contains(t, r, h.msg("it", "booking.mine.none", nil))
	r = h.text("u", b.Code)
	contains(t, r, h.msg("it", "booking.mine.item.past", map[string]any{"Code": b.Code, "When": "giovedì 26 novembre 2026, ore 12:10", "Office": "Sede centrale"}))
	if got := buttons(r, "appointments:"); len(got) != 0 {
		t.Errorf("Got(buttons %v on a past appointment), want none", got)
	}
	lacks(t, r, "Scegli cosa fare")
	contains(t, r, "non si può più cambiare")
	button(t, r, "menu:book")
	r = h.press("u", "appt:cancel:"+b.Code)
	contains(t, r, h.msg("it", "booking.appt.past", nil))
	if got, _ := h.svc.Lookup(context.Background(), b.Code); got.Status != core.StatusConfirmed {
		t.Errorf("Got(status of the past appointment) = %s, want confirmed", got.Status)
	}

	r = h.text("u", "/prenota")
	lacks(t, r, h.prefix("it", "booking.already"))
	h.press("u", "book:reason:renewal")
	r = h.press("u", "book:office:centrale")
	r = h.press("u", button(t, r, "book:day:"))
	h.press("u", button(t, r, "book:slot:"))
	h.text("u", "Mario Rossi")
	h.text("u", cfMario)
	h.press("u", "book:res:yes")
	contains(t, h.press("u", "book:confirm"), "Codice di prenotazione")
}
