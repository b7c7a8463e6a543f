package booking

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"sportello/bot"
	core "sportello/bot/booking"
)

// The day and time pickers are shared by booking and moving. They keep in
// the session: "office" (an office id, "" for any office), "day" (YYYYMMDD),
// "dpage"/"tpage" (pages), "half" (am/pm filter) and "alts" (slot ids
// offered outside the chosen day: the earliest slot, alternatives to a slot
// that went). Their buttons are "<dialog>:day:<YYYYMMDD>",
// "<dialog>:days:<page>", "<dialog>:slot:<slot id>", "<dialog>:times:<page>",
// "<dialog>:back" (another day) and "<dialog>:offices" (another office).

const (
	daysPerPage  = 6
	timesPerPage = 12
	// afternoon starts at 13:00 for the am/pm filter.
	afternoon = 13 * 60
)

func page(t *bot.Turn, key string) int {
	p, _ := strconv.Atoi(t.Get(key))
	return max(p, 0)
}

// officeLabel names the chosen office, or "any office".
func (f *flows) officeLabel(t *bot.Turn, office string) string {
	if office == "" {
		return t.T("booking.office.any_label", nil)
	}
	return f.officeName(office)
}

// showDays draws the page of days with free places. It reports false, saying
// nothing, when nothing is free within the horizon.
func (f *flows) showDays(ctx context.Context, t *bot.Turn, prefix string) (bool, error) {
	office := t.Get("office")
	days, err := f.svc.Days(ctx, office, t.Now)
	if err != nil {
		return false, err
	}
	if len(days) == 0 {
		return false, nil
	}
	p := page(t, "dpage")
	if p*daysPerPage >= len(days) {
		p = (len(days) - 1) / daysPerPage
		t.Set("dpage", strconv.Itoa(p))
	}
	var buttons []bot.Button
	if p == 0 {
		times, err := f.svc.Times(ctx, office, days[0].Date)
		if err != nil {
			return false, err
		}
		if len(times) > 0 {
			first := times[0].Slot
			t.Set("alts", first.ID())
			buttons = append(buttons, t.Button(prefix+":slot:"+first.ID(), "booking.day.earliest",
				map[string]any{"When": f.when(t, first.Start), "Office": f.officeName(first.Office)}))
		}
	}
	for _, d := range days[p*daysPerPage : min(len(days), (p+1)*daysPerPage)] {
		buttons = append(buttons, t.Button(prefix+":day:"+dayKey(d.Date), "booking.day.button", map[string]any{
			"Weekday": weekdayName(t, d.Date), "Day": d.Date.Day(), "Month": monthName(t, d.Date), "Free": d.Free,
		}))
	}
	if (p+1)*daysPerPage < len(days) {
		buttons = append(buttons, t.Button(prefix+":days:"+strconv.Itoa(p+1), "booking.day.later", nil))
	}
	if p > 0 {
		buttons = append(buttons, t.Button(prefix+":days:"+strconv.Itoa(p-1), "booking.day.earlier", nil))
	}
	if office != "" && len(f.c.Offices) > 1 {
		buttons = append(buttons, t.Button(prefix+":offices", "booking.day.other_office", nil))
	}
	t.SayT("booking.day.prompt", map[string]any{"Office": f.officeLabel(t, office)}, buttons...)
	return true, nil
}

// chooseDay moves to the time step for day, or explains why that day cannot
// be booked and offers the nearest days that can.
func (f *flows) chooseDay(ctx context.Context, t *bot.Turn, prefix string, day time.Time) error {
	office := t.Get("office")
	today := f.today(t.Now)
	last := today.AddDate(0, 0, f.c.Booking.HorizonDays)
	data := map[string]any{"Date": t.Date(day), "Days": f.c.Booking.HorizonDays, "Last": t.Date(last)}
	switch {
	case day.Before(today):
		t.SayT("booking.day.past", data)
		_, err := f.showDays(ctx, t, prefix)
		return err
	case day.After(last):
		t.SayT("booking.day.beyond", data)
		_, err := f.showDays(ctx, t, prefix)
		return err
	}
	times, err := f.svc.Times(ctx, office, day)
	if err != nil {
		return err
	}
	if len(times) > 0 {
		t.Set("day", dayKey(day))
		t.Del("tpage")
		t.Del("half")
		t.Goto("time")
		return f.showTimes(ctx, t, prefix)
	}
	id := "booking.day.full"
	if o := f.c.Office(office); o != nil {
		d := f.c.Day(o, day)
		switch {
		case d.Closure != nil && d.Closure.Reason.In(t.Lang) != "":
			id, data["Reason"] = "booking.day.closed_reason", d.Closure.Reason.In(t.Lang)
		case !d.Open():
			id = "booking.day.closed"
		}
	}
	t.SayT(id, data)
	return f.nearestDays(ctx, t, prefix, day)
}

// nearestDays offers the free days closest to day as buttons.
func (f *flows) nearestDays(ctx context.Context, t *bot.Turn, prefix string, day time.Time) error {
	days, err := f.svc.Days(ctx, t.Get("office"), t.Now)
	if err != nil {
		return err
	}
	if len(days) == 0 {
		t.Goto("day")
		return f.pickPrompt(ctx, t, prefix)
	}
	slices.SortStableFunc(days, func(a, b core.Day) int {
		return int(absDuration(a.Date.Sub(day)) - absDuration(b.Date.Sub(day)))
	})
	days = days[:min(4, len(days))]
	slices.SortFunc(days, func(a, b core.Day) int { return a.Date.Compare(b.Date) })
	var buttons []bot.Button
	for _, d := range days {
		buttons = append(buttons, t.Button(prefix+":day:"+dayKey(d.Date), "booking.day.button", map[string]any{
			"Weekday": weekdayName(t, d.Date), "Day": d.Date.Day(), "Month": monthName(t, d.Date), "Free": d.Free,
		}))
	}
	buttons = append(buttons, t.Button(prefix+":days:0", "booking.day.all", nil))
	t.Goto("day")
	t.SayT("booking.day.nearest", nil, buttons...)
	return nil
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// pickPrompt asks the picker's current question: the times of the chosen
// day, or the days.
func (f *flows) pickPrompt(ctx context.Context, t *bot.Turn, prefix string) error {
	switch t.Step() {
	case "time":
		return f.showTimes(ctx, t, prefix)
	default:
		ok, err := f.showDays(ctx, t, prefix)
		if err == nil && !ok {
			t.SayT("booking.day.none_now", map[string]any{"Office": f.officeLabel(t, t.Get("office")), "Days": f.c.Booking.HorizonDays})
		}
		return err
	}
}

// freeTimes returns the free slots of the chosen day, filtered by the
// am/pm choice when it leaves something.
func (f *flows) freeTimes(ctx context.Context, t *bot.Turn) ([]core.FreeSlot, error) {
	day, ok := f.parseDay(t.Get("day"))
	if !ok {
		return nil, nil
	}
	times, err := f.svc.Times(ctx, t.Get("office"), day)
	if err != nil {
		return nil, err
	}
	half := t.Get("half")
	if half == "" {
		return times, nil
	}
	var kept []core.FreeSlot
	for _, s := range times {
		l := f.local(s.Slot.Start)
		if pm := l.Hour()*60+l.Minute() >= afternoon; pm == (half == "pm") {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return times, nil
	}
	return kept, nil
}

// showTimes draws the page of free times of the chosen day. When the day
// filled up meanwhile it says so and goes back to the days.
func (f *flows) showTimes(ctx context.Context, t *bot.Turn, prefix string) error {
	times, err := f.freeTimes(ctx, t)
	if err != nil {
		return err
	}
	day, _ := f.parseDay(t.Get("day"))
	if len(times) == 0 {
		t.Del("day")
		t.Goto("day")
		if !day.IsZero() {
			t.SayT("booking.day.full", map[string]any{"Date": t.Date(day)})
		}
		return f.pickPrompt(ctx, t, prefix)
	}
	p := page(t, "tpage")
	if p*timesPerPage >= len(times) {
		p = (len(times) - 1) / timesPerPage
		t.Set("tpage", strconv.Itoa(p))
	}
	office := t.Get("office")
	var buttons []bot.Button
	for _, s := range times[p*timesPerPage : min(len(times), (p+1)*timesPerPage)] {
		data := map[string]any{"Time": t.Clock(f.local(s.Slot.Start)), "Office": f.officeName(s.Slot.Office), "Free": s.Free}
		label := "booking.time.button"
		if office == "" {
			label = "booking.time.button_any"
		}
		buttons = append(buttons, t.Button(prefix+":slot:"+s.Slot.ID(), label, data))
	}
	if (p+1)*timesPerPage < len(times) {
		buttons = append(buttons, t.Button(prefix+":times:"+strconv.Itoa(p+1), "booking.time.later", nil))
	}
	if p > 0 {
		buttons = append(buttons, t.Button(prefix+":times:"+strconv.Itoa(p-1), "booking.time.earlier", nil))
	}
	buttons = append(buttons, t.Button(prefix+":back", "booking.time.other_day", nil))
	t.SayT("booking.time.prompt", map[string]any{"Date": t.Date(day), "Office": f.officeLabel(t, office)}, buttons...)
	return nil
}

// chooseSlot takes the slot a button names, if it belongs to what was shown
// (the chosen day at the chosen office, or an offered alternative) and is
// still free. It reports whether the slot is now chosen; when it went, the
// citizen gets the alternatives. A slot that was never offered is stale.
func (f *flows) chooseSlot(ctx context.Context, t *bot.Turn, prefix, id string) (bool, error) {
	slot, err := core.ParseSlotID(id)
	if err != nil || slot.ID() != id || f.c.Office(slot.Office) == nil {
		return false, bot.ErrStale
	}
	office := t.Get("office")
	shown := dayKey(f.local(slot.Start)) == t.Get("day") && (office == "" || office == slot.Office)
	if !shown && !slices.Contains(strings.Split(t.Get("alts"), ","), id) {
		return false, bot.ErrStale
	}
	l := f.local(slot.Start)
	times, err := f.svc.Times(ctx, slot.Office, time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, f.c.Location()))
	if err != nil {
		return false, err
	}
	for _, s := range times {
		if s.Slot.Start.Equal(slot.Start) && s.Free > 0 {
			t.Set("slot", id)
			t.Del("alts")
			return true, nil
		}
	}
	return false, f.alternatives(ctx, t, prefix, slot, nil, "booking.slot.gone")
}

// alternatives apologises that slot went (message msg) and offers the
// nearest free slots as buttons; with none, it goes back to the days.
func (f *flows) alternatives(ctx context.Context, t *bot.Turn, prefix string, slot core.Slot, alts []core.FreeSlot, msg string) error {
	if alts == nil {
		var err error
		if alts, err = f.svc.Alternatives(ctx, slot, 4); err != nil {
			return err
		}
	}
	data := map[string]any{"When": f.when(t, slot.Start), "Office": f.officeName(slot.Office)}
	if len(alts) == 0 {
		t.SayT(msg, data)
		t.SayT("booking.alt.none", nil)
		t.Del("day")
		t.Goto("day")
		return f.pickPrompt(ctx, t, prefix)
	}
	var ids []string
	var buttons []bot.Button
	for _, a := range alts {
		ids = append(ids, a.Slot.ID())
		buttons = append(buttons, t.Button(prefix+":slot:"+a.Slot.ID(), "booking.alt.button",
			map[string]any{"When": f.when(t, a.Slot.Start), "Office": f.officeName(a.Slot.Office)}))
	}
	buttons = append(buttons, t.Button(prefix+":back", "booking.time.other_day", nil))
	t.Set("alts", strings.Join(ids, ","))
	t.Goto("time")
	t.SayT(msg, data)
	t.SayT("booking.alt.prompt", nil, buttons...)
	return nil
}

// pickButton handles the picker's buttons at the day and time steps. done
// is true when a slot was chosen.
func (f *flows) pickButton(ctx context.Context, t *bot.Turn, prefix, rest string) (done bool, err error) {
	kind, arg, _ := strings.Cut(rest, ":")
	switch kind {
	case "day":
		day, ok := f.parseDay(arg)
		if !ok || dayKey(day) != arg {
			return false, bot.ErrStale
		}
		return false, f.chooseDay(ctx, t, prefix, day)
	case "days":
		p, err := strconv.Atoi(arg)
		if err != nil || p < 0 || p > 100 || strconv.Itoa(p) != arg {
			return false, bot.ErrStale
		}
		t.Set("dpage", arg)
		t.Goto("day")
		return false, f.pickPrompt(ctx, t, prefix)
	case "times":
		p, err := strconv.Atoi(arg)
		if err != nil || p < 0 || p > 100 || strconv.Itoa(p) != arg || t.Step() != "time" {
			return false, bot.ErrStale
		}
		t.Set("tpage", arg)
		return false, f.showTimes(ctx, t, prefix)
	case "slot":
		return f.chooseSlot(ctx, t, prefix, arg)
	case "back":
		if arg != "" {
			return false, bot.ErrStale
		}
		t.Del("day")
		t.Del("half")
		t.Goto("day")
		return false, f.pickPrompt(ctx, t, prefix)
	}
	return false, bot.ErrStale
}

// pickText reads what the citizen typed at the day or time step: a day, a
// time, "morning"/"afternoon", "more". done is true when a slot was chosen.
func (f *flows) pickText(ctx context.Context, t *bot.Turn, prefix string) (done bool, err error) {
	text := t.In.Text
	w := f.words
	if t.Step() == "time" {
		if !strings.ContainsAny(text, "/-") {
			if m, ok := w.clock(text); ok {
				return f.pickClock(ctx, t, prefix, m)
			}
		}
		switch {
		case w.has(wMorning, text) && !w.has(wTomorrow, text):
			t.Set("half", "am")
			t.Del("tpage")
			return false, f.showTimes(ctx, t, prefix)
		case w.has(wAfternoon, text) && !w.has(wTomorrow, text) && !w.has(wToday, text):
			t.Set("half", "pm")
			t.Del("tpage")
			return false, f.showTimes(ctx, t, prefix)
		case w.is(wMore, text):
			t.Set("tpage", strconv.Itoa(page(t, "tpage")+1))
			return false, f.showTimes(ctx, t, prefix)
		}
	} else if w.is(wMore, text) {
		t.Set("dpage", strconv.Itoa(page(t, "dpage")+1))
		return false, f.pickPrompt(ctx, t, prefix)
	}
	if day, ok := w.day(text, f.local(t.Now)); ok {
		return false, f.chooseDay(ctx, t, prefix, day)
	}
	return false, bot.ErrNotUnderstood
}

// pickClock chooses the free slot of the chosen day at minute m, or offers
// the nearest free times.
func (f *flows) pickClock(ctx context.Context, t *bot.Turn, prefix string, m int) (bool, error) {
	t.Del("half")
	times, err := f.freeTimes(ctx, t)
	if err != nil {
		return false, err
	}
	for _, s := range times {
		l := f.local(s.Slot.Start)
		if l.Hour()*60+l.Minute() == m {
			return f.chooseSlot(ctx, t, prefix, s.Slot.ID())
		}
	}
	if len(times) == 0 {
		return false, f.showTimes(ctx, t, prefix)
	}
	slices.SortStableFunc(times, func(a, b core.FreeSlot) int {
		return minuteDistance(f.local(a.Slot.Start), m) - minuteDistance(f.local(b.Slot.Start), m)
	})
	times = times[:min(4, len(times))]
	slices.SortFunc(times, func(a, b core.FreeSlot) int { return a.Slot.Start.Compare(b.Slot.Start) })
	var buttons []bot.Button
	for _, s := range times {
		label := "booking.time.button"
		if t.Get("office") == "" {
			label = "booking.time.button_any"
		}
		buttons = append(buttons, t.Button(prefix+":slot:"+s.Slot.ID(), label,
			map[string]any{"Time": t.Clock(f.local(s.Slot.Start)), "Office": f.officeName(s.Slot.Office), "Free": s.Free}))
	}
	buttons = append(buttons, t.Button(prefix+":back", "booking.time.other_day", nil))
	day, _ := f.parseDay(t.Get("day"))
	asked := time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, f.c.Location())
	t.SayT("booking.time.not_free", map[string]any{"Time": t.Clock(asked)}, buttons...)
	return false, nil
}

func minuteDistance(l time.Time, m int) int {
	d := l.Hour()*60 + l.Minute() - m
	if d < 0 {
		return -d
	}
	return d
}
