// Package booking holds the citizen's booking conversations: book a CIE
// appointment (dialog "book"), see, move and cancel them (dialog
// "appointments"), answer the notices the calendar sends later (one-shot
// dialog "appt": confirm, cancel, accept or decline a waitlist offer), and
// the Notifier that renders those notices.
//
// The calendar itself (capacity, atomic changes, deadlines) is package
// bot/booking, imported here as core. Every text is in
// locales/booking.{it,en}.yaml.
package booking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"sportello/bot"
	core "sportello/bot/booking"
	"sportello/bot/comune"
	"sportello/bot/ics"
	"sportello/bot/locale"
	"sportello/bot/store"
)

// Dialog names: the main menu entries and the prefix of their buttons.
const (
	BookName         = "book"
	AppointmentsName = "appointments"
	ApptName         = "appt"
)

// Config wires the booking dialogs.
type Config struct {
	Service *core.Service
	// Catalog is the message catalog the engine uses (for the words
	// citizens type; texts are rendered through the Turn).
	Catalog *locale.Catalog
	Logger  *slog.Logger
}

// render writes what the booking texts and calendar files need from the
// Comune file alone: times in its zone, office names, what to bring, .ics
// files. The dialogs (through flows) and the Notifier share it.
type render struct {
	c *comune.Comune
}

// flows is what the three dialogs share: the rendering, the calendar, the
// words citizens type and the log.
type flows struct {
	render
	svc   *core.Service
	words *words
	log   *slog.Logger
}

func newFlows(cfg Config) (*flows, error) {
	if cfg.Service == nil || cfg.Catalog == nil {
		return nil, errors.New("booking dialogs: Service and Catalog are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &flows{render: render{c: cfg.Service.Comune()}, svc: cfg.Service, words: loadWords(cfg.Catalog), log: cfg.Logger}, nil
}

// Dialogs returns the booking dialogs to register with the engine: book,
// appointments and appt.
func Dialogs(cfg Config) ([]bot.Dialog, error) {
	f, err := newFlows(cfg)
	if err != nil {
		return nil, err
	}
	return []bot.Dialog{&Book{f}, &Appointments{f}, &Appt{f}}, nil
}

// Compile-time guards: the dialogs are engine dialogs.
var (
	_ bot.Dialog  = (*Book)(nil)
	_ bot.Dialog  = (*Appointments)(nil)
	_ bot.Dialog  = (*Appt)(nil)
	_ bot.OneShot = (*Appt)(nil)
)

// private answers a group chat: booking asks for personal data, which is
// never asked outside a private chat. It reports whether the chat is private.
func (f *flows) private(t *bot.Turn) bool {
	if t.Private() {
		return true
	}
	t.End()
	t.SayT("booking.private_only", nil)
	return false
}

// trouble turns a calendar that cannot be reached into an apology that keeps
// the citizen where they are; any other error goes to the engine.
func (f *flows) trouble(t *bot.Turn, err error) error {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		f.log.Warn("booking calendar unavailable", slog.String("step", t.Step()), slog.Any("error", err))
		t.SayT("booking.unavailable", nil)
		return nil
	}
	return err
}

// local is t in the Comune's time zone.
func (r render) local(t time.Time) time.Time { return t.In(r.c.Location()) }

// today is midnight of the Comune's current day.
func (r render) today(now time.Time) time.Time {
	l := r.local(now)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, r.c.Location())
}

// parseDay reads a day key (YYYYMMDD) as midnight in the Comune's zone.
func (r render) parseDay(key string) (time.Time, bool) {
	if len(key) != 8 {
		return time.Time{}, false
	}
	d, err := time.ParseInLocation("20060102", key, r.c.Location())
	return d, err == nil
}

func dayKey(d time.Time) string { return d.Format("20060102") }

// texts renders messages in one language: a *bot.Turn, or a langTexts
// for notices sent outside a turn.
type texts interface {
	T(id string, data any) string
	Date(d time.Time) string
	Clock(d time.Time) string
}

// langTexts renders messages in lang outside a turn.
type langTexts struct {
	cat  *locale.Catalog
	lang string
}

func (l langTexts) T(id string, data any) string { return l.cat.Text(l.lang, id, data) }
func (l langTexts) Date(d time.Time) string      { return l.cat.Date(l.lang, d) }
func (l langTexts) Clock(d time.Time) string     { return l.cat.Clock(l.lang, d) }

// when writes a slot's date and time ("martedì 1 dicembre 2026, 08:30").
func (r render) when(tx texts, start time.Time) string {
	l := r.local(start)
	return tx.T("booking.when", map[string]any{"Date": tx.Date(l), "Time": tx.Clock(l)})
}

func (r render) officeName(id string) string {
	if o := r.c.Office(id); o != nil {
		return o.Name
	}
	return id
}

func (r render) officeAddress(id string) string {
	if o := r.c.Office(id); o != nil {
		return o.Address
	}
	return ""
}

// weekdayName and monthName come from the engine's date messages.
func weekdayName(t *bot.Turn, d time.Time) string {
	return t.T("date.weekday."+strconv.Itoa(int(d.Weekday())), nil)
}

func monthName(t *bot.Turn, d time.Time) string {
	return t.T("date.month."+strconv.Itoa(int(d.Month())), nil)
}

// fee is the CIE fee for reason: the duplicate fee after loss, theft or
// damage.
func (r render) fee(cat *locale.Catalog, lang string, reason core.Reason) string {
	amount := r.c.Fees.CIE
	if reason == core.ReasonLoss || reason == core.ReasonTheft || reason == core.ReasonDamaged {
		amount = r.c.Fees.CIEDuplicate
	}
	return cat.Money(lang, string(amount))
}

// docs is the list of what to bring for reason.
func (r render) docs(cat *locale.Catalog, lang string, reason core.Reason) string {
	return cat.Text(lang, "booking.docs."+string(reason), map[string]any{"Fee": r.fee(cat, lang, reason)})
}

// ownerOf is who the citizen is for the calendar: this conversation, and
// the fiscal code typed with a booking code when there is one.
func ownerOf(t *bot.Turn) core.Owner {
	return core.Owner{Conv: t.In.Conv, FiscalCode: t.Get("owner_cf")}
}

// attemptID is a random id for one booking attempt (idempotency).
func attemptID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// icsFor renders the calendar file of a booking in lang. A cancelled file
// takes the appointment off calendars that support it. changed is true for a
// file that replaces an earlier one (a move, a cancellation).
func (r render) icsFor(cat *locale.Catalog, lang string, now time.Time, b *core.Booking, changed, cancelled bool) (bot.Attachment, error) {
	o := r.c.Office(b.Office)
	if o == nil {
		return bot.Attachment{}, fmt.Errorf("booking %s: office %q is not in the Comune file", b.Code, b.Office)
	}
	data := map[string]any{
		"Code": b.Code, "Office": o.Name, "Address": o.Address, "Comune": r.c.Name, "Docs": r.docs(cat, lang, b.Reason),
	}
	// SEQUENCE grows with every change of the same code (a move, a
	// cancellation): seconds since the booking was made, at least 1.
	seq := 0
	if changed {
		seq = 1
		if !b.CreatedAt.IsZero() && now.After(b.CreatedAt) {
			seq = max(1, int(now.Sub(b.CreatedAt)/time.Second))
		}
	}
	file, err := ics.Encode(ics.Event{
		UID:           strings.ToLower(b.Code) + "@" + slug(r.c.Name) + ".sportello",
		Sequence:      seq,
		Stamp:         now,
		Start:         b.Start,
		End:           b.Start.Add(time.Duration(o.SlotMinutes) * time.Minute),
		Summary:       cat.Text(lang, "booking.ics.summary", data),
		Description:   cat.Text(lang, "booking.ics.details", data),
		Location:      cat.Text(lang, "booking.ics.location", data),
		URL:           r.c.Contacts.Website,
		Organizer:     r.c.Contacts.Email,
		OrganizerName: r.c.Name,
		Alarms:        []time.Duration{24 * time.Hour, 2 * time.Hour},
		AlarmText:     cat.Text(lang, "booking.ics.alarm", data),
		Cancelled:     cancelled,
	})
	if err != nil {
		return bot.Attachment{}, err
	}
	return bot.Attachment{Name: cat.Text(lang, "booking.ics.filename", data), ContentType: ics.ContentType, Data: file}, nil
}

// slug makes a Comune name fit a UID's domain part ("Comune di Esempio" ->
// "comune-di-esempio", accents dropped).
func slug(s string) string {
	var b strings.Builder
	for _, r := range bot.Normalize(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "comune"
	}
	return b.String()
}

// cancelled tells the citizen that b is cancelled, with the calendar file
// that takes it off their calendar, or that they left the waitlist.
func (f *flows) cancelled(t *bot.Turn, b *core.Booking) error {
	if b.Start.IsZero() || b.Office == "" {
		t.SayT("booking.mine.left", map[string]any{"Code": b.Code})
		return nil
	}
	t.SayT("booking.mine.cancelled", map[string]any{"Code": b.Code, "When": f.when(t, b.Start)},
		t.Button("menu:"+BookName, "menu.book", nil))
	file, err := f.icsFor(t.Catalog(), t.Lang, t.Now, b, true, true)
	if err != nil {
		return err
	}
	t.Attach(file)
	f.log.Info("cancelled", "code", b.Code)
	return nil
}

// answer carries out the citizen's answer to a notice -- action confirm,
// accept or decline on code, as who -- and says what it did. It reports
// false for any other action. Errors are the Service's, for the caller to
// explain.
func (f *flows) answer(ctx context.Context, t *bot.Turn, action, code string, who core.Owner) (bool, error) {
	switch action {
	case "confirm":
		b, err := f.svc.Confirm(ctx, code, who)
		if err != nil {
			return true, err
		}
		t.SayT("booking.appt.confirmed", map[string]any{"When": f.when(t, b.Start), "Office": f.officeName(b.Office), "Code": b.Code})
		f.log.Info("confirmed", "code", b.Code)
		return true, nil
	case "accept":
		b, err := f.svc.Accept(ctx, code, who)
		if err != nil {
			return true, err
		}
		f.log.Info("offer accepted", "code", b.Code)
		return true, f.accepted(t, b)
	case "decline":
		if _, err := f.svc.Decline(ctx, code, who); err != nil {
			return true, err
		}
		t.SayT("booking.appt.declined", nil, t.Button("menu:"+BookName, "menu.book", nil))
		return true, nil
	}
	return false, nil
}

// accepted confirms a waitlist offer taken, with what to bring and the
// calendar file.
func (f *flows) accepted(t *bot.Turn, b *core.Booking) error {
	t.SayT("booking.appt.accepted", map[string]any{
		"Code": b.Code, "When": f.when(t, b.Start), "Office": f.officeName(b.Office), "Address": f.officeAddress(b.Office),
		"Docs": f.docs(t.Catalog(), t.Lang, b.Reason),
	})
	file, err := f.icsFor(t.Catalog(), t.Lang, t.Now, b, false, false)
	if err != nil {
		return err
	}
	t.SayT("booking.done.calendar", nil)
	t.Attach(file)
	return nil
}

// slotError answers a booking or a move that failed on its slot: taken in
// between (taken names the message; the nearest alternatives follow), no
// longer bookable (too soon, beyond the horizon, closed), or too many
// attempts. It reports false for any other error, left to the caller.
func (f *flows) slotError(ctx context.Context, t *bot.Turn, prefix string, slot core.Slot, err error, taken string) (bool, error) {
	var takenErr *core.SlotTakenError
	var limited *core.RateLimitError
	switch {
	case errors.As(err, &takenErr):
		t.Del("slot")
		alts := takenErr.Alternatives
		if alts == nil {
			alts = []core.FreeSlot{}
		}
		return true, f.alternatives(ctx, t, prefix, slot, alts, taken)
	case errors.Is(err, core.ErrTooSoon), errors.Is(err, core.ErrOutsideHorizon), errors.Is(err, core.ErrClosed):
		t.Del("slot")
		return true, f.alternatives(ctx, t, prefix, slot, nil, "booking.slot.gone")
	case errors.As(err, &limited):
		t.SayT("booking.rate_limited", map[string]any{"Minutes": max(1, int(limited.RetryAfter.Minutes()+0.5))})
		return true, nil
	}
	return false, nil
}

// parseAction splits a button's argument "action:code" and checks the code.
func parseAction(arg string) (action, code string, ok bool) {
	action, raw, found := strings.Cut(arg, ":")
	if !found {
		return action, "", false
	}
	code, err := core.ParseCode(raw)
	return action, code, err == nil && code == raw
}
