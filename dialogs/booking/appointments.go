package booking

import (
	"context"
	"errors"
	"strings"

	"sportello/bot"
	core "sportello/bot/booking"
	"sportello/bot/codicefiscale"
)

// Appointments is the dialog "my appointments": the bookings made from this
// chat, each with its actions (move, cancel, confirm; leave the waitlist;
// accept or decline an offer). A booking made from another chat is found by
// its code together with the fiscal code it was booked with: a fiscal code
// alone can be worked out from public facts, so it never lists anything.
//
// Session values: code (the booking being changed), owner_cf (the fiscal
// code typed with a code from another chat), and the picker's values while
// moving. Steps: list, code, owncf, cancel, office, day, time, move.
type Appointments struct{ *flows }

// Name implements bot.Dialog.
func (a *Appointments) Name() string { return AppointmentsName }

// Start implements bot.Dialog.
func (a *Appointments) Start(ctx context.Context, t *bot.Turn, arg string) error {
	if !a.private(t) {
		return nil
	}
	t.Begin(AppointmentsName, "list")
	if code, err := core.ParseCode(arg); err == nil {
		return a.trouble(t, a.findCode(ctx, t, code))
	}
	return a.trouble(t, a.list(ctx, t))
}

// list shows the bookings made from this chat.
func (a *Appointments) list(ctx context.Context, t *bot.Turn) error {
	mine, err := a.svc.Mine(ctx, core.Owner{Conv: t.In.Conv})
	if err != nil {
		return err
	}
	if len(mine) == 0 {
		t.Goto("code")
		t.SayT("booking.mine.none", nil, t.Button("menu:"+BookName, "menu.book", nil))
		return nil
	}
	t.Goto("list")
	var lines []string
	var buttons []bot.Button
	for _, b := range mine {
		lines = append(lines, a.describe(t, b))
		buttons = append(buttons, a.actions(t, b)...)
	}
	t.SayT("booking.mine.list", map[string]any{"Items": strings.Join(lines, "\n")}, buttons...)
	return nil
}

// describe is one line about a booking: code, when, where, status.
func (a *Appointments) describe(t *bot.Turn, b *core.Booking) string {
	data := map[string]any{"Code": b.Code, "Office": a.officeLabel(t, b.Office), "Address": a.officeAddress(b.Office),
		"Reason": t.T("booking.reason."+string(b.Reason), nil), "When": "", "Until": "", "Deadline": ""}
	if !b.Start.IsZero() {
		data["When"] = a.when(t, b.Start)
	}
	if !b.Until.IsZero() {
		data["Until"] = a.when(t, b.Until)
	}
	if !b.ConfirmBy.IsZero() {
		data["Deadline"] = a.when(t, b.ConfirmBy)
	}
	status := string(b.Status)
	switch {
	case b.Status.Active() && b.Over(t.Now):
		status = "past"
	case b.Status == core.StatusBooked && b.Asked:
		status = "asked"
	}
	return t.T("booking.mine.item."+status, data)
}

// actions are the buttons for one booking: none once it is over.
func (a *Appointments) actions(t *bot.Turn, b *core.Booking) []bot.Button {
	p := AppointmentsName + ":"
	data := map[string]any{"Code": b.Code}
	if b.Over(t.Now) {
		return nil
	}
	switch b.Status {
	case core.StatusWaiting:
		return []bot.Button{t.Button(p+"cancel:"+b.Code, "booking.mine.leave", data)}
	case core.StatusOffered:
		return []bot.Button{t.Button(p+"accept:"+b.Code, "booking.mine.accept", data), t.Button(p+"decline:"+b.Code, "booking.mine.decline", data)}
	case core.StatusBooked, core.StatusConfirmed:
		var out []bot.Button
		if b.Status == core.StatusBooked && b.Asked {
			out = append(out, t.Button(p+"confirm:"+b.Code, "booking.mine.confirm", data))
		}
		return append(out, t.Button(p+"move:"+b.Code, "booking.mine.move", data), t.Button(p+"cancel:"+b.Code, "booking.mine.cancel", data))
	}
	return nil
}

// Prompt implements bot.Dialog.
func (a *Appointments) Prompt(ctx context.Context, t *bot.Turn) error {
	switch t.Step() {
	case "list":
		return a.trouble(t, a.list(ctx, t))
	case "code":
		t.SayT("booking.mine.ask_code", nil)
	case "owncf":
		t.SayT("booking.mine.ask_cf", map[string]any{"Code": t.Get("code")})
	case "cancel", "move":
		b, err := a.svc.Get(ctx, t.Get("code"), ownerOf(t))
		if err != nil {
			return a.lost(ctx, t, err)
		}
		if t.Step() == "cancel" {
			a.askCancel(t, b)
		} else {
			a.askMove(t, b)
		}
	case "office":
		a.askOffice(t)
	case "day", "time":
		return a.trouble(t, a.pickPrompt(ctx, t, AppointmentsName))
	default:
		t.End()
	}
	return nil
}

// Continue implements bot.Dialog.
func (a *Appointments) Continue(ctx context.Context, t *bot.Turn) error {
	if t.In.Button != "" {
		rest, ok := strings.CutPrefix(t.In.Button, AppointmentsName+":")
		if !ok {
			return bot.ErrStale
		}
		return a.trouble(t, a.button(ctx, t, rest))
	}
	return a.trouble(t, a.text(ctx, t))
}

func (a *Appointments) button(ctx context.Context, t *bot.Turn, rest string) error {
	step := t.Step()
	switch {
	case rest == "cancel:yes" && step == "cancel":
		return a.cancel(ctx, t)
	case rest == "move:yes" && step == "move":
		return a.move(ctx, t)
	case (rest == "cancel:no" && step == "cancel") || (rest == "move:no" && step == "move"):
		t.End()
		t.SayT("booking.mine.kept", nil)
		return nil
	case rest == "offices" && (step == "day" || step == "time"):
		t.Goto("office")
		a.askOffice(t)
		return nil
	case strings.HasPrefix(rest, "office:") && step == "office":
		id := strings.TrimPrefix(rest, "office:")
		if id != "any" && a.c.Office(id) == nil {
			return bot.ErrStale
		}
		if id == "any" {
			id = ""
		}
		a.resetPicker(t)
		t.Set("office", id)
		t.Goto("day")
		return a.pickPrompt(ctx, t, AppointmentsName)
	case step == "day" || step == "time":
		done, err := a.pickButton(ctx, t, AppointmentsName, rest)
		if err != nil || !done {
			return err
		}
		return a.toMove(ctx, t)
	case step == "list" || step == "code":
		action, code, ok := parseAction(rest)
		if !ok {
			return bot.ErrStale
		}
		return a.act(ctx, t, action, code)
	}
	return bot.ErrStale
}

func (a *Appointments) text(ctx context.Context, t *bot.Turn) error {
	text, w := t.In.Text, a.words
	switch t.Step() {
	case "list", "code":
		if code, err := core.ParseCode(text); err == nil {
			return a.findCode(ctx, t, code)
		}
		if t.Step() == "code" && looksLikeCode(text) {
			t.SayT("booking.mine.bad_code", nil)
			return nil
		}
	case "owncf":
		return a.ownerCode(ctx, t, text)
	case "cancel":
		switch {
		case w.is(wYes, text):
			return a.cancel(ctx, t)
		case w.is(wNo, text):
			t.End()
			t.SayT("booking.mine.kept", nil)
			return nil
		}
	case "move":
		switch {
		case w.is(wYes, text):
			return a.move(ctx, t)
		case w.is(wNo, text):
			t.End()
			t.SayT("booking.mine.kept", nil)
			return nil
		}
	case "day", "time":
		done, err := a.pickText(ctx, t, AppointmentsName)
		if err != nil || !done {
			return err
		}
		return a.toMove(ctx, t)
	}
	return bot.ErrNotUnderstood
}

// findCode shows the booking a typed code names: one made from this chat at
// once, else after the fiscal code it was booked with.
func (a *Appointments) findCode(ctx context.Context, t *bot.Turn, code string) error {
	b, err := a.svc.Get(ctx, code, core.Owner{Conv: t.In.Conv})
	if errors.Is(err, core.ErrNotFound) {
		t.Set("code", code)
		t.Goto("owncf")
		t.SayT("booking.mine.ask_cf", map[string]any{"Code": code})
		return nil
	}
	if err != nil {
		return err
	}
	a.showOne(t, b)
	return nil
}

// ownerCode checks the fiscal code typed for a code from another chat.
func (a *Appointments) ownerCode(ctx context.Context, t *bot.Turn, text string) error {
	if strings.Contains(text, "?") || len(strings.Fields(text)) > 5 {
		return bot.ErrNotUnderstood
	}
	cf, err := codicefiscale.Parse(text)
	var cfErr *codicefiscale.Error
	if errors.As(err, &cfErr) {
		t.SayT("booking.cf.error."+cfErr.Kind.String(), cfErrorData(t, cfErr))
		return nil
	}
	if err != nil {
		return err
	}
	b, err := a.svc.Get(ctx, t.Get("code"), core.Owner{FiscalCode: string(cf)})
	if errors.Is(err, core.ErrNotFound) {
		t.Del("code")
		t.Goto("code")
		t.SayT("booking.mine.not_found_pair", nil)
		return nil
	}
	if err != nil {
		return err
	}
	t.Set("owner_cf", string(cf))
	a.showOne(t, b)
	return nil
}

// showOne shows one booking with its actions; one that can no longer
// change (cancelled, released, over...) has none: the citizen is told so
// and may book again or see their list.
func (a *Appointments) showOne(t *bot.Turn, b *core.Booking) {
	t.Goto("list")
	data := map[string]any{"Item": a.describe(t, b)}
	if acts := a.actions(t, b); len(acts) > 0 {
		t.SayT("booking.mine.single", data, acts...)
		return
	}
	t.SayT("booking.mine.ended", data, t.Button("menu:"+BookName, "menu.book", nil),
		t.Button("menu:"+AppointmentsName, "menu.appointments", nil))
}

// act starts an action on one booking.
func (a *Appointments) act(ctx context.Context, t *bot.Turn, action, code string) error {
	b, err := a.svc.Get(ctx, code, ownerOf(t))
	if err != nil {
		return a.lost(ctx, t, err)
	}
	t.Set("code", code)
	if b.Status.Active() && b.Over(t.Now) {
		return a.lost(ctx, t, core.ErrOver)
	}
	switch action {
	case "cancel":
		if !b.Status.Active() && b.Status != core.StatusWaiting {
			return a.lost(ctx, t, core.ErrNotActive)
		}
		t.Goto("cancel")
		a.askCancel(t, b)
		return nil
	case "move":
		if b.Status != core.StatusBooked && b.Status != core.StatusConfirmed {
			return a.lost(ctx, t, core.ErrNotActive)
		}
		a.resetPicker(t)
		t.Set("office", b.Office)
		t.Goto("day")
		t.SayT("booking.mine.move_intro", map[string]any{"When": a.when(t, b.Start), "Code": b.Code})
		return a.pickPrompt(ctx, t, AppointmentsName)
	}
	handled, err := a.answer(ctx, t, action, code, ownerOf(t))
	switch {
	case !handled:
		return bot.ErrStale
	case err != nil:
		return a.lost(ctx, t, err)
	}
	t.End()
	return nil
}

// lost explains a booking that cannot be acted on any more (gone, not this
// citizen's, released) and shows the list again.
func (a *Appointments) lost(ctx context.Context, t *bot.Turn, err error) error {
	switch {
	case errors.Is(err, core.ErrNotFound):
		t.SayT("booking.appt.not_found", nil)
	case errors.Is(err, core.ErrOver):
		t.SayT("booking.appt.past", nil)
	case errors.Is(err, core.ErrNotActive):
		t.SayT("booking.appt.not_active", nil)
	default:
		return err
	}
	t.Del("code")
	return a.list(ctx, t)
}

func (a *Appointments) askCancel(t *bot.Turn, b *core.Booking) {
	id := "booking.mine.cancel_ask"
	if b.Status == core.StatusWaiting {
		id = "booking.mine.leave_ask"
	}
	t.SayT(id, map[string]any{"Item": a.describe(t, b)},
		t.Button(AppointmentsName+":cancel:yes", "booking.mine.cancel_yes", nil),
		t.Button(AppointmentsName+":cancel:no", "booking.mine.cancel_no", nil))
}

func (a *Appointments) cancel(ctx context.Context, t *bot.Turn) error {
	b, err := a.svc.Cancel(ctx, t.Get("code"), ownerOf(t))
	if err != nil {
		return a.lost(ctx, t, err)
	}
	t.End()
	return a.cancelled(t, b)
}

func (a *Appointments) askOffice(t *bot.Turn) {
	var buttons []bot.Button
	for _, o := range a.c.Offices {
		buttons = append(buttons, t.Button(AppointmentsName+":office:"+o.ID, "booking.office.button", map[string]any{"Name": o.Name, "Address": o.Address}))
	}
	buttons = append(buttons, t.Button(AppointmentsName+":office:any", "booking.office.anywhere", nil))
	t.SayT("booking.office.prompt", nil, buttons...)
}

func (a *Appointments) resetPicker(t *bot.Turn) {
	for _, k := range []string{"office", "day", "dpage", "tpage", "half", "alts", "slot"} {
		t.Del(k)
	}
}

// toMove asks to confirm the move to the chosen slot.
func (a *Appointments) toMove(ctx context.Context, t *bot.Turn) error {
	b, err := a.svc.Get(ctx, t.Get("code"), ownerOf(t))
	if err != nil {
		return a.lost(ctx, t, err)
	}
	t.Goto("move")
	a.askMove(t, b)
	return nil
}

func (a *Appointments) askMove(t *bot.Turn, b *core.Booking) {
	to, err := core.ParseSlotID(t.Get("slot"))
	if err != nil {
		t.Goto("day")
		return
	}
	t.SayT("booking.mine.move_ask", map[string]any{
		"From": a.when(t, b.Start), "FromOffice": a.officeName(b.Office),
		"To": a.when(t, to.Start), "ToOffice": a.officeName(to.Office), "Code": b.Code,
	},
		t.Button(AppointmentsName+":move:yes", "booking.mine.move_yes", nil),
		t.Button(AppointmentsName+":move:no", "booking.mine.move_no", nil))
}

// move moves the booking atomically: the old place is freed only when the
// new one is held.
func (a *Appointments) move(ctx context.Context, t *bot.Turn) error {
	to, err := core.ParseSlotID(t.Get("slot"))
	if err != nil {
		t.Goto("day")
		return a.pickPrompt(ctx, t, AppointmentsName)
	}
	b, err := a.svc.Move(ctx, t.Get("code"), ownerOf(t), to)
	if err != nil {
		if handled, err := a.slotError(ctx, t, AppointmentsName, to, err, "booking.slot.taken_move"); handled {
			return err
		}
		return a.lost(ctx, t, err)
	}
	t.End()
	t.SayT("booking.mine.moved", map[string]any{
		"Code": b.Code, "When": a.when(t, b.Start), "Office": a.officeName(b.Office), "Address": a.officeAddress(b.Office),
	})
	if !b.ConfirmBy.IsZero() && b.Status == core.StatusBooked {
		t.SayT("booking.done.confirm_note", map[string]any{"Days": a.c.Booking.ConfirmDaysBefore, "AskDate": t.Date(a.local(b.AskAt))})
	}
	file, err := a.icsFor(t.Catalog(), t.Lang, t.Now, b, true, false)
	if err != nil {
		return err
	}
	t.SayT("booking.done.calendar", nil)
	t.Attach(file)
	a.log.Info("moved", "code", b.Code, "office", b.Office)
	return nil
}

// looksLikeCode reports whether text is one short word of letters and
// digits: a mistyped booking code rather than a question.
func looksLikeCode(text string) bool {
	text = strings.TrimSpace(text)
	if len(text) < 3 || len(text) > 12 {
		return false
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
