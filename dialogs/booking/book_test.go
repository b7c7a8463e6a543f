package booking_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"

	"sportello/bot"
	core "sportello/bot/booking"
	"sportello/bot/bottest"
	"sportello/bot/codicefiscale"
	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
)

// bookWithButtons walks the whole booking flow with buttons up to the
// summary, at office, on the first free day, at the first free time.
func (h *harness) bookWithButtons(user, reason, office, name, cf string) []bot.Reply {
	h.t.Helper()
	t := h.t
	h.text(user, "/prenota")
	h.press(user, "book:reason:"+reason)
	var r []bot.Reply
	if office != "" {
		r = h.press(user, "book:office:"+office)
	} else {
		r = h.press(user, "book:anywhere")
	}
	r = h.press(user, button(t, r, "book:day:"))
	contains(t, h.press(user, button(t, r, "book:slot:")), h.msg("it", "booking.name.prompt", nil))
	contains(t, h.text(user, name), h.msg("it", "booking.cf.prompt", map[string]any{"Name": name}))
	r = h.text(user, cf)
	if len(buttons(r, "book:res:")) > 0 {
		r = h.press(user, "book:res:yes")
	}
	return r
}

func TestBookWithButtonsInItalian(t *testing.T) {
	h := newHarness(t)
	r := h.text("u1", "/prenota")
	contains(t, r, h.msg("it", "booking.reason.prompt", nil))
	for _, reason := range core.Reasons() {
		button(t, r, "book:reason:"+string(reason))
	}
	r = h.press("u1", "book:reason:renewal")
	contains(t, r, h.msg("it", "booking.office.prompt", nil))
	button(t, r, "book:office:nord")
	button(t, r, "book:anywhere")

	r = h.press("u1", "book:office:centrale")
	contains(t, r, h.prefix("it", "booking.day.prompt"))
	day := button(t, r, "book:day:")
	// Thursday 26 November at 10:00: today still has places after the two
	// hours of notice (until 12:30), so the first day is today.
	if day != "book:day:20261126" {
		t.Errorf("Got(first day) = %s, want book:day:20261126", day)
	}
	if got := len(buttons(r, "book:day:")); got != 6 {
		t.Errorf("Got(%d day buttons), want a page of 6", got)
	}
	button(t, r, "book:days:1")
	button(t, r, "book:offices")

	r = h.press("u1", "book:day:20261127")
	contains(t, r, "venerdì 27 novembre 2026")
	slots := buttons(r, "book:slot:")
	if len(slots) != 12 {
		t.Errorf("Got(%d time buttons), want a page of 12", len(slots))
	}
	// 08:30 on Friday 27 November in Rome.
	want := core.Slot{Office: "centrale", Start: time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC)}.ID()
	if slots[0] != "book:slot:"+want {
		t.Errorf("Got(first slot) = %s, want book:slot:%s", slots[0], want)
	}
	r = h.press("u1", slots[0])
	contains(t, r, h.msg("it", "booking.name.prompt", nil))

	r = h.text("u1", "Mario Rossi")
	contains(t, r, h.msg("it", "booking.cf.prompt", map[string]any{"Name": "Mario Rossi"}))

	// A wrong check character: told, asked again, nothing lost.
	r = h.text("u1", "RSSMRA80A01H501X")
	contains(t, r, h.msg("it", "booking.cf.error.check", nil))
	lacks(t, r, "RSSMRA80A01H501U")
	r = h.text("u1", "rss mra 80a01 h501u")
	contains(t, r, h.msg("it", "booking.resident.prompt", map[string]any{"Comune": "Comune di Esempio"}))

	r = h.press("u1", "book:res:yes")
	contains(t, r, "• Motivo: Rinnovo")
	contains(t, r, "venerdì 27 novembre 2026, ore 08:30")
	contains(t, r, "Sede centrale, Via Larga 12")
	contains(t, r, cfMario)
	contains(t, r, "22,21 €")
	if got := h.mine("u1"); len(got) != 0 {
		t.Fatalf("Got(%d bookings before the confirm), want 0: a slot is only taken at the final confirm", len(got))
	}

	r = h.press("u1", "book:confirm")
	mine := h.mine("u1")
	if len(mine) != 1 {
		t.Fatalf("Got(%d bookings after confirm), want 1", len(mine))
	}
	b := mine[0]
	if b.Office != "centrale" || !b.Start.Equal(time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC)) || b.Reason != core.ReasonRenewal ||
		b.Name != "Mario Rossi" || b.FiscalCode != cfMario || b.Lang != "it" || b.NonResident {
		t.Errorf("Got(booking) = %+v", *b)
	}
	contains(t, r, "Codice di prenotazione: "+b.Code)
	contains(t, r, "la carta d'identità da rinnovare")
	contains(t, r, "fototessera")
	a := attachment(t, r)
	if a.Name != "appuntamento-CIE-"+b.Code+".ics" || !strings.HasPrefix(a.ContentType, "text/calendar") {
		t.Errorf("Got(attachment) = %s %s", a.Name, a.ContentType)
	}
	ev := event(t, a)
	if got, err := ev.GetStartAt(); err != nil || !got.Equal(b.Start) {
		t.Errorf("Got(ics DTSTART) = %v, %v, want %v", got, err, b.Start)
	}
	if got, err := ev.GetEndAt(); err != nil || !got.Equal(b.Start.Add(20*time.Minute)) {
		t.Errorf("Got(ics DTEND) = %v, %v, want 20 minutes after the start", got, err)
	}
	if got := ical.FromText(ev.GetProperty(ical.ComponentPropertyLocation).Value); got != "Sede centrale, Via Larga 12, Comune di Esempio" {
		t.Errorf("Got(ics LOCATION) = %q", got)
	}
	if got := ev.Id(); !strings.HasPrefix(got, strings.ToLower(b.Code)+"@") {
		t.Errorf("Got(ics UID) = %q, want it made from the code %s", got, b.Code)
	}
	if got := ical.FromText(ev.GetProperty(ical.ComponentPropertySummary).Value); !strings.Contains(got, "carta d'identità") {
		t.Errorf("Got(ics SUMMARY) = %q, want it in Italian", got)
	}
	if len(ev.Alarms()) == 0 {
		t.Error("ics has no reminder alarm")
	}
	// The confirmation step is 3 days before: 27 November is within it, so
	// the booking is born confirmed and no request is announced.
	lacks(t, r, h.prefix("it", "booking.done.confirm_note"))

	// The flow is over: a second press of the old confirm button is stale
	// and books nothing more.
	r = h.press("u1", "book:confirm")
	contains(t, r, h.msg("it", "button.stale", nil))
	if got := len(h.mine("u1")); got != 1 {
		t.Errorf("Got(%d bookings after a second confirm press), want 1", got)
	}
}

func TestBookWithFreeTextInEnglish(t *testing.T) {
	h := newHarness(t)
	h.text("u2", "english")
	r := h.text("u2", "/book")
	contains(t, r, h.msg("en", "booking.reason.prompt", nil))
	r = h.text("u2", "my card was stolen")
	contains(t, r, "After a theft you can also come without an appointment")
	contains(t, r, "Sede centrale (Via Larga 12)")
	contains(t, r, h.msg("en", "booking.office.prompt", nil))
	r = h.text("u2", "centrale")
	contains(t, r, h.prefix("en", "booking.day.prompt"))
	r = h.text("u2", "tomorrow")
	contains(t, r, "Friday 27 November 2026")
	r = h.text("u2", "afternoon")
	// Friday has no afternoon hours at the centrale: the filter shows every
	// time rather than nothing.
	button(t, r, "book:slot:")
	r = h.text("u2", "9:30")
	contains(t, r, h.msg("en", "booking.name.prompt", nil))
	r = h.text("u2", "Laura Bianchi "+strings.ToLower(cfLaura))
	contains(t, r, h.msg("en", "booking.resident.prompt", map[string]any{"Comune": "Comune di Esempio"}))
	r = h.text("u2", "yes")
	contains(t, r, "• Reason: Stolen card")
	contains(t, r, "Friday 27 November 2026 at 09:30")
	contains(t, r, "€27.37") // the duplicate fee after a theft
	r = h.text("u2", "yes")
	mine := h.mine("u2")
	if len(mine) != 1 || mine[0].Lang != "en" || mine[0].Reason != core.ReasonTheft {
		t.Fatalf("Got(bookings) = %v, want one English theft booking", mine)
	}
	contains(t, r, "Booking code: "+mine[0].Code)
	contains(t, r, "the original police report of the theft")
	a := attachment(t, r)
	if a.Name != "CIE-appointment-"+mine[0].Code+".ics" {
		t.Errorf("Got(attachment name) = %q", a.Name)
	}
	if got := ical.FromText(event(t, a).GetProperty(ical.ComponentPropertySummary).Value); !strings.Contains(got, "Identity card appointment") {
		t.Errorf("Got(ics SUMMARY) = %q, want it in English", got)
	}
}

func TestTypedDays(t *testing.T) {
	h := newHarness(t)
	h.text("u", "/prenota")
	h.press("u", "book:reason:renewal")
	h.press("u", "book:office:centrale")
	tests := []struct {
		in, want string
	}{
		{"15/12", "martedì 15 dicembre 2026"},
		{"lunedì", "lunedì 30 novembre 2026"},
		{"domani", "venerdì 27 novembre 2026"},
		{"2 dicembre", "mercoledì 2 dicembre 2026"},
	}
	for _, tc := range tests {
		contains(t, h.press("u", "book:back"), h.prefix("it", "booking.day.prompt"))
		r := h.text("u", tc.in)
		contains(t, r, tc.want)
		button(t, r, "book:slot:")
	}
	// Sunday: closed, and the nearest free days are offered.
	h.press("u", "book:back")
	r := h.text("u", "domenica")
	contains(t, r, h.msg("it", "booking.day.closed", map[string]any{"Date": "domenica 29 novembre 2026"}))
	contains(t, r, h.msg("it", "booking.day.nearest", nil))
	button(t, r, "book:day:20261128")
	// Christmas Eve: a closure with its reason.
	r = h.text("u", "24/12")
	contains(t, r, h.msg("it", "booking.day.closed_reason", map[string]any{"Date": "giovedì 24 dicembre 2026", "Reason": "Festività"}))
	// Beyond the 60-day horizon.
	r = h.text("u", "15/03")
	contains(t, r, h.prefix("it", "booking.day.beyond"))
	// Something that is not a day is a question for the rest of Sportello,
	// then the step is asked again.
	r = h.text("u", "quanto costa la carta?")
	contains(t, r, h.prefix("it", "booking.day.prompt"))
}

func TestFiscalCodeErrorsAreExplained(t *testing.T) {
	h := newHarness(t)
	h.toName("u", "renewal", "centrale")
	h.text("u", "Mario Rossi")
	tests := []struct {
		in   string
		want string
	}{
		{"RSSMRA80A01H501", h.msg("it", "booking.cf.error.length", map[string]any{"Len": 15})},
		{"12345678901", h.msg("it", "booking.cf.error.numeric", nil)},
		{"RSSMRA8OA01H501U", h.msg("it", "booking.cf.error.digit_expected", map[string]any{"Pos": 8, "Part": "anno di nascita", "Char": "O"})},
		{"RSSMRA8OA01H501U", h.msg("it", "booking.cf.suggest", map[string]any{"Char": "O", "Suggest": "0"})},
		{"RSSMRA80Z01H501U", h.msg("it", "booking.cf.error.month", map[string]any{"Char": "Z"})},
		{"RSSMRA80A32H501U", h.msg("it", "booking.cf.error.day", map[string]any{"Char": "32"})},
		{"RSSMRÀ80A01H501U", h.msg("it", "booking.cf.error.symbol", map[string]any{"Pos": 6, "Char": "À"})},
		{"SPNDNL80R13C555X", h.msg("it", "booking.cf.error.check", nil)},
	}
	for _, tc := range tests {
		r := h.text("u", tc.in)
		contains(t, r, tc.want)
	}
	// Still at the fiscal code step, with the name kept.
	r := h.text("u", cfMario)
	contains(t, r, h.msg("it", "booking.resident.prompt", map[string]any{"Comune": "Comune di Esempio"}))
}

func TestNameAndFiscalCodeMismatchIsAskedNotRefused(t *testing.T) {
	h := newHarness(t)
	h.toName("u", "renewal", "centrale")
	h.text("u", "Mario Rossi")
	r := h.text("u", cfLaura)
	contains(t, r, h.msg("it", "booking.cf.mismatch", map[string]any{"Name": "Mario Rossi", "Code": cfLaura}))
	r = h.press("u", "book:cf:name")
	contains(t, r, h.msg("it", "booking.name.prompt", nil))
	contains(t, h.text("u", "Laura Bianchi"), h.msg("it", "booking.cf.prompt", map[string]any{"Name": "Laura Bianchi"}))
	r = h.text("u", cfLaura)
	contains(t, r, h.msg("it", "booking.resident.prompt", map[string]any{"Comune": "Comune di Esempio"}))
}

func TestNameErrors(t *testing.T) {
	h := newHarness(t)
	h.toName("u", "renewal", "centrale")
	for in, id := range map[string]string{
		"Mario":        "booking.name.one_word",
		"Mario R0ssi":  "booking.name.digits",
		"Mario <Rossi": "booking.name.symbols",
		"Al":           "booking.name.too_short",
	} {
		r := h.text("u", in)
		contains(t, r, h.msg("it", id, nil))
	}
	r := h.text("u", "Anna Maria De Luca")
	contains(t, r, h.msg("it", "booking.cf.prompt", map[string]any{"Name": "Anna Maria De Luca"}))
	r = h.text("u", cfAnna)
	lacks(t, r, h.prefix("it", "booking.cf.mismatch"))
}

func TestMinorChecks(t *testing.T) {
	h := newHarness(t)
	h.text("u", "/prenota")
	r := h.press("u", "book:reason:minor")
	contains(t, r, "Se è la prima carta del minore")
	r = h.press("u", "book:office:centrale")
	r = h.press("u", button(t, r, "book:day:"))
	h.press("u", button(t, r, "book:slot:"))
	h.text("u", "Mario Rossi")
	r = h.text("u", cfMario)
	contains(t, r, h.msg("it", "booking.cf.adult_for_minor", map[string]any{"Year": 1980}))
	r = h.text("u", cfKid)
	contains(t, r, h.msg("it", "booking.cf.mismatch", map[string]any{"Name": "Mario Rossi", "Code": cfKid}))
	contains(t, h.press("u", "book:cf:ok"), h.msg("it", "booking.resident.prompt", map[string]any{"Comune": "Comune di Esempio"}))
	r = h.press("u", "book:res:yes")
	contains(t, r, "Motivo: Carta per un minore")
	r = h.press("u", "book:confirm")
	contains(t, r, "il minore, che deve essere presente")

	// A renewal typed with a child's code becomes a minor's card.
	h.toName("v", "renewal", "centrale")
	h.text("v", "Giuseppe Verdi")
	r = h.text("v", cfKid)
	contains(t, r, h.msg("it", "booking.cf.minor_switched", nil))
	r = h.press("v", "book:res:yes")
	contains(t, r, "Motivo: Carta per un minore")
}

func TestNonResidents(t *testing.T) {
	h := newHarness(t)
	h.bookWithButtonsTo("u")
	r := h.press("u", "book:res:no")
	contains(t, r, h.msg("it", "booking.resident.exceptions", map[string]any{"Comune": "Comune di Esempio"}))
	button(t, r, "book:exc:0")
	button(t, r, "book:exc:1")
	r = h.press("u", "book:exc:0")
	contains(t, r, h.msg("it", "booking.resident.nulla_osta", nil))
	contains(t, r, "richiedenti asilo domiciliati nel Comune")
	r = h.press("u", "book:confirm")
	contains(t, r, h.msg("it", "booking.done.nulla_osta", map[string]any{"Comune": "Comune di Esempio"}))
	if mine := h.mine("u"); len(mine) != 1 || !mine[0].NonResident {
		t.Fatalf("Got(bookings) = %v, want one non-resident booking", mine)
	}

	// None of the exceptions: a clear no, and the flow ends.
	h.bookWithButtonsTo("v")
	button(t, h.press("v", "book:res:no"), "book:exc:none")
	r = h.press("v", "book:exc:none")
	contains(t, r, h.prefix("it", "booking.resident.refused"))
	r = h.press("v", "book:confirm")
	contains(t, r, h.msg("it", "button.stale", nil))
	if got := h.mine("v"); len(got) != 0 {
		t.Errorf("Got(%d bookings), want 0", len(got))
	}
}

// bookWithButtonsTo walks the flow with buttons until the resident question.
func (h *harness) bookWithButtonsTo(user string) []bot.Reply {
	h.t.Helper()
	t := h.t
	h.toName(user, "renewal", "centrale")
	h.text(user, "Mario Rossi")
	r := h.text(user, cfMario)
	button(t, r, "book:res:yes")
	return r
}

func TestGroupChatsNeverAskPersonalData(t *testing.T) {
	h := newHarness(t)
	for _, cmd := range []string{"/prenota", "/appuntamenti"} {
		r := h.send("group", bot.Inbound{Text: cmd, Group: true})
		contains(t, r, h.msg("it", "booking.private_only", nil))
	}
}

func TestStaleAndCraftedButtons(t *testing.T) {
	h := newHarness(t)
	h.text("u", "/prenota")
	h.press("u", "book:reason:renewal")
	button(t, h.press("u", "book:office:centrale"), "book:day:20261127")
	r := h.press("u", "book:day:20261127")
	old := button(t, r, "book:slot:")
	tests := []string{
		"book:slot:centrale.zzzzzzzz", // not a slot start
		"book:slot:centrale.0t0k2qo",  // not canonical
		"book:slot:" + core.Slot{Office: "centrale", Start: time.Date(2026, 12, 1, 7, 30, 0, 0, time.UTC)}.ID(), // another day
		"book:slot:" + core.Slot{Office: "nowhere", Start: time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC)}.ID(), // no such office
		"book:day:2026-11-27",
		"book:days:-1",
		"book:reason:renewal", // an earlier step
		"book:confirm",        // a later step
		"book:",
		"other:thing",
	}
	for _, id := range tests {
		r := h.press("u", id)
		contains(t, r, h.msg("it", "button.stale", nil))
		contains(t, r, "venerdì 27 novembre 2026, Sede centrale: a che ora?")
	}
	// The flow goes on where it was.
	r = h.press("u", old)
	contains(t, r, h.msg("it", "booking.name.prompt", nil))
}

func TestSlotTakenInBetweenOffersAlternatives(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { slotTakenInBetween(t, newHarness(t)) })
	t.Run("redis", func(t *testing.T) { slotTakenInBetween(t, newHarness(t, onRedis())) })
}

func slotTakenInBetween(t *testing.T, h *harness) {
	// The Delegazione Nord has one desk: two citizens choose the same time.
	slot := core.Slot{Office: "nord", Start: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)} // Tue 1 Dec 09:00
	for _, u := range []string{"a", "b"} {
		h.text(u, "/prenota")
		h.press(u, "book:reason:renewal")
		h.press(u, "book:office:nord")
		h.press(u, "book:day:20261201")
		r := h.press(u, "book:slot:"+slot.ID())
		contains(t, r, h.msg("it", "booking.name.prompt", nil))
	}
	h.text("a", "Mario Rossi")
	h.text("a", cfMario)
	h.press("a", "book:res:yes")
	h.text("b", "Laura Bianchi")
	h.text("b", cfLaura)
	h.press("b", "book:res:yes")

	r := h.press("a", "book:confirm")
	contains(t, r, "Codice di prenotazione")
	r = h.press("b", "book:confirm")
	contains(t, r, h.msg("it", "booking.slot.taken", map[string]any{"When": "martedì 1 dicembre 2026, ore 09:00", "Office": "Delegazione Nord"}))
	alts := buttons(r, "book:slot:")
	if len(alts) == 0 {
		t.Fatalf("no alternatives offered:\n%s", bottest.All(r))
	}
	if len(h.mine("b")) != 0 {
		t.Fatal("b got a booking although the slot was full")
	}
	// The nearest alternative at the same office is 09:30 that day.
	want := "book:slot:" + core.Slot{Office: "nord", Start: slot.Start.Add(30 * time.Minute)}.ID()
	if alts[0] != want {
		t.Errorf("Got(first alternative) = %s, want %s", alts[0], want)
	}
	r = h.press("b", alts[0])
	contains(t, r, "martedì 1 dicembre 2026, ore 09:30")
	r = h.press("b", "book:confirm")
	contains(t, r, "Codice di prenotazione")
	if got := h.mine("b"); len(got) != 1 || !got[0].Start.Equal(slot.Start.Add(30*time.Minute)) {
		t.Fatalf("Got(b's bookings) = %v", got)
	}
}

func TestOnePersonOneActiveBooking(t *testing.T) {
	h := newHarness(t)
	h.bookWithButtons("a", "renewal", "centrale", "Mario Rossi", cfMario)
	contains(t, h.press("a", "book:confirm"), "Codice di prenotazione")
	// The same chat again: told about the booking it has, free to go on.
	r := h.text("a", "/prenota")
	contains(t, r, h.prefix("it", "booking.already"))
	button(t, r, "menu:appointments")
	button(t, r, "book:reason:minor")
	// The same person from another chat.
	contains(t, h.bookWithButtons("b", "renewal", "centrale", "Mario Rossi", cfMario), h.prefix("it", "booking.summary.text"))
	r = h.press("b", "book:confirm")
	contains(t, r, h.msg("it", "booking.too_many", map[string]any{"Max": 1}))
	button(t, r, "menu:appointments")
}

func TestEarliestAnywhere(t *testing.T) {
	h := newHarness(t)
	h.text("u", "/prenota")
	h.press("u", "book:reason:renewal")
	r := h.press("u", "book:anywhere")
	contains(t, r, h.prefix("it", "booking.day.prompt"))
	contains(t, r, "qualsiasi sede")
	first := button(t, r, "book:slot:")
	r = h.press("u", first)
	contains(t, r, h.msg("it", "booking.name.prompt", nil))
	h.text("u", "Mario Rossi")
	h.text("u", cfMario)
	r = h.press("u", "book:res:yes")
	// 10:00 now, two hours of notice: 12:00 is the first slot, at the
	// Delegazione Nord (the centrale's 20-minute slots start at 12:10).
	contains(t, r, "giovedì 26 novembre 2026, ore 12:00")
	contains(t, r, "Delegazione Nord")
	if _, err := h.svc.FirstFree(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
}

// TestCalendarOutageLosesNothing breaks the calendar (a private Redis)
// while the conversation store still works: the citizen is told to retry,
// stays at the step, and books once the calendar is back.
func TestCalendarOutageLosesNothing(t *testing.T) {
	redis := redistest.Start(t)
	rdb, err := redisstore.NewClient(redis.URL() + "?dial_timeout=200ms&max_retries=0")
	if err != nil {
		t.Fatal(err)
	}
	cal := redisstore.New(rdb, "outage")
	t.Cleanup(func() { cal.Close() })
	h := newHarness(t, calendarOn(cal))
	r := h.bookWithButtons("u", "renewal", "centrale", "Mario Rossi", cfMario)
	contains(t, r, h.prefix("it", "booking.summary.text"))

	redis.Stop()
	r = h.press("u", "book:confirm")
	contains(t, r, h.msg("it", "booking.unavailable", nil))
	lacks(t, r, h.msg("it", "error.dialog", nil))

	// Back up: the same confirm button books, with nothing typed again.
	redis.Restart()
	r = h.press("u", "book:confirm")
	contains(t, r, "Codice di prenotazione")
}

// TestChangedRequestIsANewBooking: a confirm whose booking was made but
// whose turn could not be saved leaves the citizen at the summary. When they
// then change the details (a child's name and code) or the time, confirming
// again is a new request: it must not answer with the first booking.
func TestChangedRequestIsANewBooking(t *testing.T) {
	var fail atomic.Bool
	h := newHarness(t, commitFails(&fail))
	contains(t, h.bookWithButtons("u", "renewal", "centrale", "Mario Rossi", cfMario), h.prefix("it", "booking.summary.text"))
	fail.Store(true)
	if _, err := h.engine.Handle(context.Background(), bot.Inbound{Conv: conv("u"), Button: "book:confirm"}); err == nil {
		t.Fatal("Handle with a failing commit = nil error, want the save to fail")
	}
	fail.Store(false)
	mario := h.mine("u")
	if len(mario) != 1 || mario[0].FiscalCode != cfMario {
		t.Fatalf("Got(bookings after the failed turn) = %v, want Mario's", mario)
	}

	// Still at the summary: correct the details for the child.
	contains(t, h.press("u", "book:change:details"), h.msg("it", "booking.name.prompt", nil))
	h.text("u", "Giuseppe Verdi")
	r := h.text("u", cfKid)
	if len(buttons(r, "book:res:")) > 0 {
		r = h.press("u", "book:res:yes")
	}
	contains(t, r, "Giuseppe Verdi")
	r = h.press("u", "book:confirm")
	contains(t, r, "Codice di prenotazione")
	lacks(t, r, mario[0].Code)
	got := h.mine("u")
	if len(got) != 2 {
		t.Fatalf("Got(%d bookings), want Mario's and the child's", len(got))
	}
	for _, b := range got {
		if b.Code != mario[0].Code && b.FiscalCode != cfKid {
			t.Errorf("Got(second booking for %s), want it for %s", b.FiscalCode, cfKid)
		}
	}

	// The same with another time: Mario already has his appointment, so
	// the new request is refused instead of answered with the old one.
	h2 := newHarness(t, commitFails(&fail))
	h2.bookWithButtons("v", "renewal", "centrale", "Mario Rossi", cfMario)
	fail.Store(true)
	h2.engine.Handle(context.Background(), bot.Inbound{Conv: conv("v"), Button: "book:confirm"})
	fail.Store(false)
	r = h2.press("v", "book:change:time")
	r = h2.press("v", buttons(r, "book:day:")[1])
	r = h2.press("v", button(t, r, "book:slot:"))
	contains(t, r, h2.prefix("it", "booking.summary.text"))
	r = h2.press("v", "book:confirm")
	contains(t, r, h2.msg("it", "booking.too_many", map[string]any{"Max": 1}))
	lacks(t, r, "Codice di prenotazione")
}

// TestNonResidentsAllowedAreAsked: where the Comune serves non-residents
// without restriction the question is still asked (no refusal, no
// exceptions), so the office knows whose nulla osta to request.
func TestNonResidentsAllowedAreAsked(t *testing.T) {
	h := newHarness(t, withComune(small(t)))
	for _, tc := range []struct {
		user, name, cf, answer string
		nonResident            bool
	}{
		{"c1", "Mario Rossi", cfMario, "book:res:no", true},
		{"c2", "Laura Bianchi", cfLaura, "book:res:yes", false},
	} {
		t.Run(tc.answer, func(t *testing.T) {
			h.toName(tc.user, "renewal", "")
			h.text(tc.user, tc.name)
			r := h.text(tc.user, tc.cf)
			contains(t, r, h.msg("it", "booking.resident.prompt", map[string]any{"Comune": "Comune Piccolo"}))
			r = h.press(tc.user, tc.answer)
			contains(t, r, h.prefix("it", "booking.summary.text"))
			if got := buttons(r, "book:exc:"); len(got) != 0 {
				t.Errorf("Got(exception buttons %v), want none where non-residents are allowed", got)
			}
			line := h.msg("it", "booking.summary.non_resident_allowed", map[string]any{"Comune": "Comune Piccolo"})
			if tc.nonResident {
				contains(t, r, h.msg("it", "booking.resident.nulla_osta", nil))
				contains(t, r, line)
			} else {
				lacks(t, r, line)
			}
			r = h.press(tc.user, "book:confirm")
			contains(t, r, "Codice di prenotazione")
			if mine := h.mine(tc.user); len(mine) != 1 || mine[0].NonResident != tc.nonResident {
				t.Fatalf("Got(bookings) = %+v, want one with NonResident %v", mine, tc.nonResident)
			}
		})
	}
}

// TestMinorByTheComunesDate: whether the card holder is a minor is decided
// on the Comune's calendar day: at 00:30 in Rome on an 18th birthday (still
// the day before in UTC) the holder is an adult.
func TestMinorByTheComunesDate(t *testing.T) {
	first15 := "VRDGPP08S27L219" // Giuseppe Verdi, born 27 November 2008
	cf := first15 + string(codicefiscale.CheckChar(first15))
	for _, tc := range []struct {
		name  string
		now   time.Time
		minor bool
	}{
		{"23:30 in Rome the day before", time.Date(2026, 11, 26, 22, 30, 0, 0, time.UTC), true},
		{"00:30 in Rome on the birthday", time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.clk.Set(tc.now)
			h.toName("u", "renewal", "centrale")
			h.text("u", "Giuseppe Verdi")
			r := h.text("u", cf)
			if got := strings.Contains(bottest.All(r), h.msg("it", "booking.cf.minor_switched", nil)); got != tc.minor {
				t.Errorf("Got(treated as a minor) = %v, want %v\n%s", got, tc.minor, bottest.All(r))
			}
		})
	}
}
