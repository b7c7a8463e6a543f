package booking

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"sportello/bot"
	core "sportello/bot/booking"
	"sportello/bot/codicefiscale"
	"sportello/bot/comune"
)

// Book is the dialog that books a CIE appointment: reason, office, day,
// time, name and fiscal code, residence (refused, restricted to the
// Comune's exceptions, or only recorded, by the Comune's policy), summary,
// confirm. The place is taken only at the final confirm; when it went in
// between, the citizen gets the nearest alternatives. When nothing is free,
// the citizen may join the waitlist instead.
//
// Session values: reason, office ("" with anywhere=1 for any office), day,
// slot, wait (1 = join the waitlist), name, cf, cfcheck (ask|ok), resident
// (yes|no), exception (index), attempt (idempotency of the final confirm).
// Start's arg may be a reason ("renewal", "theft", ...).
type Book struct{ *flows }

// Name implements bot.Dialog.
func (b *Book) Name() string { return BookName }

// Start implements bot.Dialog.
func (b *Book) Start(ctx context.Context, t *bot.Turn, arg string) error {
	if !b.private(t) {
		return nil
	}
	t.Begin(BookName, "reason")
	// Someone who booked already probably wants to move it; a parent may
	// go on for a child. An appointment that is over does not count.
	if mine, err := b.svc.Mine(ctx, core.Owner{Conv: t.In.Conv}); err == nil {
		for _, bk := range mine {
			if (bk.Status == core.StatusBooked || bk.Status == core.StatusConfirmed) && bk.Start.After(t.Now) {
				t.SayT("booking.already", map[string]any{"Code": bk.Code, "When": b.when(t, bk.Start)},
					t.Button("menu:"+AppointmentsName, "booking.too_many_button", nil))
				break
			}
		}
	}
	if r := core.Reason(arg); r.Valid() {
		b.setReason(t, r, false)
	}
	return b.next(ctx, t)
}

// next goes to the first step whose answer is missing and asks it.
func (b *Book) next(ctx context.Context, t *bot.Turn) error {
	switch {
	case t.Get("reason") == "":
		t.Goto("reason")
	case t.Get("office") == "" && t.Get("anywhere") == "":
		if len(b.c.Offices) == 1 {
			t.Set("office", b.c.Offices[0].ID)
			return b.next(ctx, t)
		}
		t.Goto("office")
	case t.Get("wait") == "" && t.Get("slot") == "":
		if t.Get("day") != "" {
			t.Goto("time")
		} else {
			t.Goto("day")
		}
	case t.Get("name") == "":
		t.Goto("name")
	case t.Get("cf") == "":
		t.Goto("cf")
	case t.Get("cfcheck") == "ask":
		t.Goto("cfcheck")
	case t.Get("resident") == "":
		// Asked whatever the policy: where non-residents are allowed the
		// office still needs to know whose nulla osta to request.
		t.Goto("resident")
	case t.Get("resident") == "no" && t.Get("exception") == "" && b.c.NonResidents == comune.NonResidentsRestricted:
		t.Goto("exception")
	default:
		t.Goto("summary")
	}
	return b.Prompt(ctx, t)
}

// Prompt implements bot.Dialog.
func (b *Book) Prompt(ctx context.Context, t *bot.Turn) error {
	switch t.Step() {
	case "reason":
		var buttons []bot.Button
		for _, r := range core.Reasons() {
			buttons = append(buttons, t.Button(BookName+":reason:"+string(r), "booking.reason."+string(r), nil))
		}
		t.SayT("booking.reason.prompt", nil, buttons...)
	case "office":
		var buttons []bot.Button
		for _, o := range b.c.Offices {
			buttons = append(buttons, t.Button(BookName+":office:"+o.ID, "booking.office.button", map[string]any{"Name": o.Name, "Address": o.Address}))
		}
		buttons = append(buttons, t.Button(BookName+":anywhere", "booking.office.anywhere", nil))
		t.SayT("booking.office.prompt", nil, buttons...)
	case "day":
		ok, err := b.showDays(ctx, t, BookName)
		if err != nil {
			return b.trouble(t, err)
		}
		if !ok {
			b.noFree(t)
		}
	case "time":
		return b.trouble(t, b.showTimes(ctx, t, BookName))
	case "name":
		t.SayT("booking.name.prompt", nil)
	case "cf":
		t.SayT("booking.cf.prompt", map[string]any{"Name": t.Get("name")})
	case "cfcheck":
		t.SayT("booking.cf.mismatch", map[string]any{"Name": t.Get("name"), "Code": t.Get("cf")},
			t.Button(BookName+":cf:ok", "booking.cf.ok", nil),
			t.Button(BookName+":cf:code", "booking.cf.fix_code", nil),
			t.Button(BookName+":cf:name", "booking.cf.fix_name", nil))
	case "resident":
		t.SayT("booking.resident.prompt", map[string]any{"Comune": b.c.Name},
			t.Button(BookName+":res:yes", "booking.resident.yes", nil),
			t.Button(BookName+":res:no", "booking.resident.no", nil))
	case "exception":
		var buttons []bot.Button
		for i, e := range b.c.NonResidentExceptions {
			buttons = append(buttons, bot.Button{ID: BookName + ":exc:" + strconv.Itoa(i), Label: e.In(t.Lang)})
		}
		buttons = append(buttons, t.Button(BookName+":exc:none", "booking.resident.none_of_these", nil))
		t.SayT("booking.resident.exceptions", map[string]any{"Comune": b.c.Name}, buttons...)
	case "summary":
		b.summary(t)
	default:
		t.End()
	}
	return nil
}

// Continue implements bot.Dialog.
func (b *Book) Continue(ctx context.Context, t *bot.Turn) error {
	if t.In.Button != "" {
		rest, ok := strings.CutPrefix(t.In.Button, BookName+":")
		if !ok {
			return bot.ErrStale
		}
		return b.trouble(t, b.button(ctx, t, rest))
	}
	return b.trouble(t, b.text(ctx, t))
}

func (b *Book) button(ctx context.Context, t *bot.Turn, rest string) error {
	kind, arg, _ := strings.Cut(rest, ":")
	switch step := t.Step(); step {
	case "reason":
		if r := core.Reason(arg); kind == "reason" && r.Valid() {
			b.setReason(t, r, false)
			return b.next(ctx, t)
		}
	case "office":
		switch {
		case kind == "office" && b.c.Office(arg) != nil:
			t.Set("office", arg)
			t.Del("anywhere")
			return b.next(ctx, t)
		case rest == "anywhere":
			return b.anywhere(ctx, t)
		}
	case "day", "time":
		switch {
		case rest == "wait" && step == "day" && t.Get("nofree") == "1":
			t.Set("wait", "1")
			return b.next(ctx, t)
		case rest == "anywhere":
			return b.anywhere(ctx, t)
		case rest == "offices" && len(b.c.Offices) > 1:
			for _, k := range []string{"office", "anywhere", "day", "dpage", "nofree"} {
				t.Del(k)
			}
			return b.next(ctx, t)
		}
		done, err := b.pickButton(ctx, t, BookName, rest)
		if err != nil || !done {
			return err
		}
		return b.next(ctx, t)
	case "cf":
		if rest == "rereason" {
			t.Del("reason")
			return b.next(ctx, t)
		}
	case "cfcheck":
		return b.cfCheck(ctx, t, rest)
	case "resident":
		if kind == "res" && (arg == "yes" || arg == "no") {
			return b.resident(ctx, t, arg == "yes")
		}
	case "exception":
		if kind == "exc" {
			return b.exception(ctx, t, arg)
		}
	case "summary":
		switch rest {
		case "confirm":
			return b.confirm(ctx, t)
		case "change:time":
			for _, k := range []string{"slot", "day", "wait", "dpage", "tpage", "nofree"} {
				t.Del(k)
			}
			return b.next(ctx, t)
		case "change:details":
			for _, k := range []string{"name", "cf", "cfcheck"} {
				t.Del(k)
			}
			return b.next(ctx, t)
		}
	}
	return bot.ErrStale
}

func (b *Book) text(ctx context.Context, t *bot.Turn) error {
	text, w := t.In.Text, b.words
	switch t.Step() {
	case "reason":
		r := w.reasonIn(text)
		if r == "" {
			return bot.ErrNotUnderstood
		}
		b.setReason(t, r, w.has(wTravel, text))
		return b.next(ctx, t)
	case "office":
		if id := b.officeIn(text); id != "" {
			t.Set("office", id)
			t.Del("anywhere")
			return b.next(ctx, t)
		}
		if w.has(wAny, text) {
			return b.anywhere(ctx, t)
		}
		return bot.ErrNotUnderstood
	case "day", "time":
		if t.Step() == "day" && t.Get("nofree") == "1" && w.is(wYes, text) {
			t.Set("wait", "1")
			return b.next(ctx, t)
		}
		if t.Get("office") != "" && w.is(wAny, text) {
			return b.anywhere(ctx, t)
		}
		done, err := b.pickText(ctx, t, BookName)
		if err != nil || !done {
			return err
		}
		return b.next(ctx, t)
	case "name":
		return b.name(ctx, t, text)
	case "cf":
		return b.fiscalCode(ctx, t, text)
	case "cfcheck":
		switch {
		case w.is(wYes, text):
			return b.cfCheck(ctx, t, "cf:ok")
		case w.is(wNo, text):
			return b.cfCheck(ctx, t, "cf:code")
		}
		if _, err := codicefiscale.Parse(text); err == nil {
			t.Del("cf")
			t.Del("cfcheck")
			return b.fiscalCode(ctx, t, text)
		}
	case "resident":
		switch {
		case w.is(wYes, text):
			return b.resident(ctx, t, true)
		case w.is(wNo, text):
			return b.resident(ctx, t, false)
		}
	case "exception":
		if n, err := strconv.Atoi(strings.TrimSpace(text)); err == nil && n >= 1 && n <= len(b.c.NonResidentExceptions) {
			return b.exception(ctx, t, strconv.Itoa(n-1))
		}
		if w.is(wNo, text) {
			return b.exception(ctx, t, "none")
		}
	case "summary":
		if w.is(wYes, text) {
			return b.confirm(ctx, t)
		}
	}
	return bot.ErrNotUnderstood
}

// setReason records the reason and mentions the offices that serve the
// case without appointment, when there are any.
func (b *Book) setReason(t *bot.Turn, r core.Reason, travel bool) {
	t.Set("reason", string(r))
	cases := map[core.Reason]string{
		core.ReasonTheft: comune.WalkInTheft, core.ReasonLoss: comune.WalkInLoss,
		core.ReasonMinor: comune.WalkInMinorFirstIssue, core.ReasonDamaged: comune.WalkInDamaged,
	}
	var notes []string
	if c := cases[r]; c != "" {
		notes = append(notes, c)
	}
	if travel {
		notes = append(notes, comune.WalkInTravel)
	}
	for _, c := range notes {
		var offices []string
		for _, o := range b.c.Offices {
			for _, w := range o.WalkIn {
				if w == c {
					offices = append(offices, t.T("booking.office.button", map[string]any{"Name": o.Name, "Address": o.Address}))
				}
			}
		}
		if len(offices) > 0 {
			t.SayT("booking.walkin."+c, map[string]any{"Offices": t.Catalog().List(t.Lang, offices)})
		}
	}
}

// officeIn finds the office the text names (by id or name, ignoring case and
// accents).
func (b *Book) officeIn(text string) string {
	n := " " + bot.Normalize(text) + " "
	for _, o := range b.c.Offices {
		if strings.Contains(n, " "+bot.Normalize(o.Name)+" ") || strings.Contains(n, " "+bot.Normalize(o.ID)+" ") {
			return o.ID
		}
	}
	// One distinctive word of a name ("centrale", "nord") is enough when
	// only one office has it.
	found := ""
	for _, o := range b.c.Offices {
		for _, word := range strings.Fields(bot.Normalize(o.Name)) {
			if len(word) > 3 && strings.Contains(n, " "+word+" ") {
				if found != "" && found != o.ID {
					return ""
				}
				found = o.ID
			}
		}
	}
	return found
}

func (b *Book) anywhere(ctx context.Context, t *bot.Turn) error {
	for _, k := range []string{"office", "day", "dpage", "tpage", "nofree"} {
		t.Del(k)
	}
	t.Set("anywhere", "1")
	return b.next(ctx, t)
}

// noFree offers the waitlist when nothing is free in the horizon.
func (b *Book) noFree(t *bot.Turn) {
	t.Set("nofree", "1")
	buttons := []bot.Button{t.Button(BookName+":wait", "booking.waitlist.join", nil)}
	if t.Get("office") != "" && len(b.c.Offices) > 1 {
		buttons = append(buttons, t.Button(BookName+":anywhere", "booking.waitlist.try_anywhere", nil))
	}
	t.SayT("booking.waitlist.offer", map[string]any{
		"Office": b.officeLabel(t, t.Get("office")), "Days": b.c.Booking.HorizonDays, "Hold": b.c.Booking.WaitlistHoldMinutes,
	}, buttons...)
}

// name checks the card holder's name; a fiscal code typed with it is taken
// too.
func (b *Book) name(ctx context.Context, t *bot.Turn, text string) error {
	fields := strings.Fields(text)
	if strings.Contains(text, "?") || len(fields) > 7 {
		return bot.ErrNotUnderstood
	}
	var parts []string
	code := ""
	for _, f := range fields {
		if len(codicefiscale.Normalize(f)) == codicefiscale.Length && strings.ContainsAny(f, "0123456789") {
			code = f
			continue
		}
		parts = append(parts, f)
	}
	name := strings.Join(parts, " ")
	if problem := nameProblem(name); problem != "" {
		t.SayT("booking.name."+problem, nil)
		return nil
	}
	t.Set("name", name)
	if code != "" {
		return b.fiscalCode(ctx, t, code)
	}
	return b.next(ctx, t)
}

// nameProblem says what is wrong with a name ("" when nothing): too short,
// digits, symbols, one word only.
func nameProblem(name string) string {
	runes := []rune(name)
	switch {
	case len(runes) < 3:
		return "too_short"
	case len(runes) > 100:
		return "too_long"
	}
	letters := 0
	for _, r := range runes {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			return "digits"
		case unicode.Is(unicode.Mn, r) || r == ' ' || r == '\'' || r == '’' || r == '-' || r == '.':
		default:
			return "symbols"
		}
	}
	if letters < 3 {
		return "too_short"
	}
	if len(strings.Fields(name)) < 2 {
		return "one_word"
	}
	return ""
}

// fiscalCode checks the fiscal code and tells exactly what is wrong with it.
func (b *Book) fiscalCode(ctx context.Context, t *bot.Turn, text string) error {
	if strings.Contains(text, "?") || len(strings.Fields(text)) > 5 {
		return bot.ErrNotUnderstood
	}
	code, err := codicefiscale.Parse(text)
	var cfErr *codicefiscale.Error
	if errors.As(err, &cfErr) {
		t.Goto("cf")
		t.SayT("booking.cf.error."+cfErr.Kind.String(), cfErrorData(t, cfErr))
		if cfErr.Suggest != "" {
			t.SayT("booking.cf.suggest", map[string]any{"Char": cfErr.Char, "Suggest": cfErr.Suggest})
		}
		return nil
	}
	if err != nil {
		return err
	}
	// Ages count by the Comune's calendar day, not UTC's.
	today := b.local(t.Now)
	reason, minor := core.Reason(t.Get("reason")), code.Minor(today)
	switch {
	case reason == core.ReasonMinor && !minor:
		t.Goto("cf")
		t.SayT("booking.cf.adult_for_minor", map[string]any{"Year": code.Birth(today).Year()},
			t.Button(BookName+":rereason", "booking.cf.change_reason", nil))
		return nil
	case minor && (reason == core.ReasonFirstIssue || reason == core.ReasonRenewal):
		t.Set("reason", string(core.ReasonMinor))
		t.SayT("booking.cf.minor_switched", nil)
	case minor && reason != core.ReasonMinor:
		t.SayT("booking.cf.minor_note", nil)
	}
	t.Set("cf", string(code))
	t.Del("cfcheck")
	if !code.MatchesName(t.Get("name")) {
		t.Set("cfcheck", "ask")
	}
	return b.next(ctx, t)
}

// cfErrorData is what the fiscal code error messages show: the position
// as an ordinal, the wrong character, the part of the code it is in.
func cfErrorData(t *bot.Turn, e *codicefiscale.Error) map[string]any {
	d := map[string]any{"Len": e.Len, "Pos": e.Pos, "Char": e.Char, "Part": ""}
	if e.Pos > 0 {
		d["Part"] = t.T("booking.cf.part."+string(e.Part()), nil)
	}
	return d
}

func (b *Book) cfCheck(ctx context.Context, t *bot.Turn, rest string) error {
	switch rest {
	case "cf:ok":
		t.Set("cfcheck", "ok")
	case "cf:code":
		t.Del("cf")
		t.Del("cfcheck")
	case "cf:name":
		t.Del("name")
		t.Del("cf")
		t.Del("cfcheck")
	default:
		return bot.ErrStale
	}
	return b.next(ctx, t)
}

func (b *Book) resident(ctx context.Context, t *bot.Turn, yes bool) error {
	if yes {
		t.Set("resident", "yes")
		t.Del("exception")
		return b.next(ctx, t)
	}
	switch {
	case b.c.NonResidents == comune.NonResidentsAllowed:
		t.Set("resident", "no")
		t.Del("exception")
		t.SayT("booking.resident.nulla_osta", map[string]any{"Comune": b.c.Name})
		return b.next(ctx, t)
	case b.c.NonResidents == comune.NonResidentsNotAllowed || len(b.c.NonResidentExceptions) == 0:
		b.refuseNonResident(t)
		return nil
	}
	t.Set("resident", "no")
	t.Del("exception")
	return b.next(ctx, t)
}

func (b *Book) exception(ctx context.Context, t *bot.Turn, arg string) error {
	if arg == "none" {
		b.refuseNonResident(t)
		return nil
	}
	i, err := strconv.Atoi(arg)
	if err != nil || i < 0 || i >= len(b.c.NonResidentExceptions) || strconv.Itoa(i) != arg {
		return bot.ErrStale
	}
	t.Set("exception", arg)
	t.SayT("booking.resident.nulla_osta", map[string]any{"Comune": b.c.Name})
	return b.next(ctx, t)
}

func (b *Book) refuseNonResident(t *bot.Turn) {
	t.End()
	t.SayT("booking.resident.refused", map[string]any{"Comune": b.c.Name, "Phone": b.c.Contacts.Phone, "Email": b.c.Contacts.Email})
}

// summary shows everything before the final confirm.
func (b *Book) summary(t *bot.Turn) {
	if t.Get("attempt") == "" {
		t.Set("attempt", attemptID())
	}
	reason := core.Reason(t.Get("reason"))
	data := map[string]any{
		"Reason": t.T("booking.reason."+string(reason), nil), "Name": t.Get("name"), "FiscalCode": t.Get("cf"),
		"Office": b.officeLabel(t, t.Get("office")), "Address": b.officeAddress(t.Get("office")),
		"When": "", "Fee": b.fee(t.Catalog(), t.Lang, reason), "Days": b.c.Booking.HorizonDays,
	}
	id, confirm := "booking.summary.wait", "booking.summary.join"
	if slot, err := core.ParseSlotID(t.Get("slot")); err == nil && t.Get("wait") == "" {
		id, confirm = "booking.summary.text", "booking.summary.confirm"
		data["When"], data["Office"], data["Address"] = b.when(t, slot.Start), b.officeName(slot.Office), b.officeAddress(slot.Office)
	}
	t.SayT(id, data)
	if t.Get("resident") == "no" {
		if i, err := strconv.Atoi(t.Get("exception")); err == nil && i < len(b.c.NonResidentExceptions) {
			t.SayT("booking.summary.non_resident", map[string]any{"Exception": b.c.NonResidentExceptions[i].In(t.Lang), "Comune": b.c.Name})
		} else {
			t.SayT("booking.summary.non_resident_allowed", map[string]any{"Comune": b.c.Name})
		}
	}
	t.SayT("booking.summary.prompt", nil,
		t.Button(BookName+":confirm", confirm, nil),
		t.Button(BookName+":change:time", "booking.summary.change_time", nil),
		t.Button(BookName+":change:details", "booking.summary.change_details", nil))
}

// confirm books the slot (or joins the waitlist): the only place a slot is
// taken.
func (b *Book) confirm(ctx context.Context, t *bot.Turn) error {
	if t.Get("wait") == "1" {
		return b.join(ctx, t)
	}
	slot, err := core.ParseSlotID(t.Get("slot"))
	if err != nil {
		t.Del("slot")
		return b.next(ctx, t)
	}
	bk, err := b.svc.Book(ctx, core.Request{
		Slot: slot, Reason: core.Reason(t.Get("reason")), Name: t.Get("name"), FiscalCode: t.Get("cf"),
		Conv: t.In.Conv, Lang: t.Lang, NonResident: t.Get("resident") == "no",
		IdempotencyKey: t.In.Conv.Key() + ":" + t.Get("attempt"),
	})
	if err == nil {
		return b.done(t, bk)
	}
	// A failed attempt stored no idempotency key, and the key covers the
	// slot: the attempt id stays.
	if handled, err := b.slotError(ctx, t, BookName, slot, err, "booking.slot.taken"); handled {
		return err
	}
	if b.refused(t, err) {
		return nil
	}
	if errors.Is(err, core.ErrUnknownOffice) {
		for _, k := range []string{"office", "slot", "day", "anywhere"} {
			t.Del(k)
		}
		return b.next(ctx, t)
	}
	return err
}

// done confirms the booking with its code, what to bring and a calendar
// file.
func (b *Book) done(t *bot.Turn, bk *core.Booking) error {
	data := map[string]any{
		"Code": bk.Code, "When": b.when(t, bk.Start), "Office": b.officeName(bk.Office), "Address": b.officeAddress(bk.Office),
		"Docs": b.docs(t.Catalog(), t.Lang, bk.Reason),
	}
	t.End()
	t.SayT("booking.done.text", data)
	if !bk.ConfirmBy.IsZero() && bk.Status == core.StatusBooked {
		t.SayT("booking.done.confirm_note", map[string]any{"Days": b.c.Booking.ConfirmDaysBefore, "AskDate": t.Date(b.local(bk.AskAt))})
	}
	if bk.NonResident {
		t.SayT("booking.done.nulla_osta", map[string]any{"Comune": b.c.Name})
	}
	file, err := b.icsFor(t.Catalog(), t.Lang, t.Now, bk, false, false)
	if err != nil {
		return err
	}
	t.SayT("booking.done.calendar", nil)
	t.Attach(file)
	b.log.Info("booked", "code", bk.Code, "office", bk.Office)
	return nil
}

// join puts the citizen on the waitlist.
func (b *Book) join(ctx context.Context, t *bot.Turn) error {
	entry, err := b.svc.Join(ctx, core.WaitRequest{
		Office: t.Get("office"), Reason: core.Reason(t.Get("reason")), Name: t.Get("name"), FiscalCode: t.Get("cf"),
		Conv: t.In.Conv, Lang: t.Lang, NonResident: t.Get("resident") == "no",
	})
	switch {
	case err == nil:
		t.End()
		t.SayT("booking.waitlist.done", map[string]any{
			"Code": entry.Code, "Office": b.officeLabel(t, entry.Office), "Hold": b.c.Booking.WaitlistHoldMinutes,
			// Until is the morning after the horizon: the last day the
			// entry covers is the one before.
			"Until": t.Date(b.local(entry.Until).AddDate(0, 0, -1)),
		})
		if h := b.c.Booking.WaitlistOfferHours; h.End-h.Start < 24*60 {
			at := func(m int) string {
				return t.Clock(time.Date(2000, 1, 1, m/60, m%60, 0, 0, time.UTC))
			}
			t.SayT("booking.waitlist.hours", map[string]any{"From": at(h.Start), "To": at(h.End)})
		}
		b.log.Info("joined waitlist", "code", entry.Code)
		return nil
	case errors.Is(err, core.ErrFreeSlots):
		for _, k := range []string{"wait", "nofree", "day", "dpage"} {
			t.Del(k)
		}
		t.SayT("booking.waitlist.free_now", nil)
		return b.next(ctx, t)
	case b.refused(t, err):
		return nil
	}
	return err
}

// refused answers a booking or a waitlist entry refused because of who is
// asking: too many bookings already, or not resident where the Comune
// serves no non-residents. It reports false for any other error.
func (b *Book) refused(t *bot.Turn, err error) bool {
	switch {
	case errors.Is(err, core.ErrTooManyActive):
		t.End()
		t.SayT("booking.too_many", map[string]any{"Max": b.c.Booking.MaxActivePerPerson},
			t.Button("menu:"+AppointmentsName, "booking.too_many_button", nil))
	case errors.Is(err, core.ErrNonResident):
		b.refuseNonResident(t)
	default:
		return false
	}
	return true
}
