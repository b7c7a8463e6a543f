package booking

import (
	"context"
	"errors"

	"sportello/bot"
	core "sportello/bot/booking"
)

// Appt answers the buttons of the notices the calendar sends on its own
// (confirmation requests, waitlist offers), pressed at any time, outside any
// flow: "appt:confirm:<code>", "appt:cancel:<code>" (asks first, then
// "appt:cancelyes:<code>" or "appt:keep:<code>"), "appt:accept:<code>",
// "appt:decline:<code>". It is a one-shot dialog: a flow in progress is left
// as it was.
//
// The code in a button is never trusted: the calendar acts only when the
// booking was made from this same chat, so an old or crafted button gets a
// clear answer and changes nothing.
type Appt struct{ *flows }

// Name implements bot.Dialog.
func (a *Appt) Name() string { return ApptName }

// OneShot implements bot.OneShot.
func (a *Appt) OneShot() bool { return true }

// Continue implements bot.Dialog: a one-shot dialog has no next step.
func (a *Appt) Continue(context.Context, *bot.Turn) error { return bot.ErrNotUnderstood }

// Prompt implements bot.Dialog.
func (a *Appt) Prompt(context.Context, *bot.Turn) error { return nil }

// Start implements bot.Dialog: arg is "<action>:<code>".
func (a *Appt) Start(ctx context.Context, t *bot.Turn, arg string) error {
	action, code, ok := parseAction(arg)
	if !ok {
		t.SayT("booking.appt.unknown", nil)
		return nil
	}
	err := a.do(ctx, t, action, code)
	switch {
	case errors.Is(err, core.ErrNotFound):
		t.SayT("booking.appt.not_found", nil, t.Button("menu:"+AppointmentsName, "menu.appointments", nil))
		return nil
	case errors.Is(err, core.ErrOver):
		t.SayT("booking.appt.past", nil, t.Button("menu:"+BookName, "menu.book", nil))
		return nil
	case errors.Is(err, core.ErrNotActive):
		id := "booking.appt.not_active"
		if action == "accept" {
			id = "booking.appt.hold_ended"
		}
		t.SayT(id, nil, t.Button("menu:"+BookName, "menu.book", nil))
		return nil
	case errors.Is(err, bot.ErrStale):
		t.SayT("booking.appt.unknown", nil)
		return nil
	}
	return a.trouble(t, err)
}

func (a *Appt) do(ctx context.Context, t *bot.Turn, action, code string) error {
	owner := core.Owner{Conv: t.In.Conv}
	if handled, err := a.answer(ctx, t, action, code, owner); handled {
		return err
	}
	switch action {
	case "cancel":
		b, err := a.svc.Get(ctx, code, owner)
		if err != nil {
			return err
		}
		if b.Status.Active() && b.Over(t.Now) {
			return core.ErrOver
		}
		if !b.Status.Active() && b.Status != core.StatusWaiting {
			return core.ErrNotActive
		}
		t.SayT("booking.appt.cancel_ask", map[string]any{"When": a.whenOrWait(t, b), "Code": b.Code},
			t.Button(ApptName+":cancelyes:"+b.Code, "booking.mine.cancel_yes", nil),
			t.Button(ApptName+":keep:"+b.Code, "booking.mine.cancel_no", nil))
	case "cancelyes":
		b, err := a.svc.Cancel(ctx, code, owner)
		if err != nil {
			return err
		}
		return a.cancelled(t, b)
	case "keep":
		b, err := a.svc.Get(ctx, code, owner)
		if err != nil {
			return err
		}
		var buttons []bot.Button
		if b.Status == core.StatusBooked && b.Asked {
			buttons = append(buttons, t.Button(ApptName+":confirm:"+b.Code, "booking.mine.confirm", map[string]any{"Code": b.Code}))
		}
		t.SayT("booking.appt.kept", map[string]any{"When": a.whenOrWait(t, b), "Code": b.Code}, buttons...)
	default:
		return bot.ErrStale
	}
	return nil
}

// whenOrWait is the booking's date and time, or "the waitlist" for an
// entry without a slot.
func (f *flows) whenOrWait(t *bot.Turn, b *core.Booking) string {
	if b.Start.IsZero() {
		return t.T("booking.mine.waitlist_label", nil)
	}
	return f.when(t, b.Start)
}
