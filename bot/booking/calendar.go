package booking

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"sportello/bot/comune"
)

// offices returns the office with id, or every office for "".
func (s *Service) offices(id string) ([]*comune.Office, error) {
	if id == "" {
		return s.c.Offices, nil
	}
	o := s.c.Office(id)
	if o == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownOffice, id)
	}
	return []*comune.Office{o}, nil
}

// midnight returns the start of t's calendar day in the Comune's zone.
func (s *Service) midnight(t time.Time) time.Time {
	t = t.In(s.c.Location())
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, s.c.Location())
}

// window returns the bookable span at now: from the earliest bookable
// instant (now + min notice) to the end of the last day of the horizon.
func (s *Service) window(now time.Time) (earliest, end time.Time) {
	earliest = now.Add(s.minNotice())
	end = s.midnight(now).AddDate(0, 0, s.c.Booking.HorizonDays+1)
	return earliest, end
}

// free lists the free slots of the offices in [from, to) within the
// bookable window, by start then office.
func (s *Service) free(ctx context.Context, offices []*comune.Office, from, to time.Time) ([]FreeSlot, error) {
	earliest, end := s.window(s.now())
	if from.Before(earliest) {
		from = earliest
	}
	if to.After(end) {
		to = end
	}
	var out []FreeSlot
	if !from.Before(to) {
		return out, nil
	}
	for _, o := range offices {
		taken, err := s.st.Taken(ctx, o.ID, from, to)
		if err != nil {
			return nil, err
		}
		for day := s.midnight(from); day.Before(to); day = day.AddDate(0, 0, 1) {
			for _, start := range s.slots(o, day) {
				if start.Before(from) || !start.Before(to) {
					continue
				}
				if n := o.Desks - taken[start.Unix()/60]; n > 0 {
					out = append(out, FreeSlot{Slot: Slot{Office: o.ID, Start: start}, Free: n})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b FreeSlot) int {
		if c := a.Slot.Start.Compare(b.Slot.Start); c != 0 {
			return c
		}
		return indexOf(s.c, a.Slot.Office) - indexOf(s.c, b.Slot.Office)
	})
	return out, nil
}

func indexOf(c *comune.Comune, office string) int {
	return slices.IndexFunc(c.Offices, func(o *comune.Office) bool { return o.ID == office })
}

// Days returns the days from the day of from (in the Comune's time zone)
// to the end of the horizon that have free places at office ("" = any
// office), respecting min_notice_hours, earliest first.
func (s *Service) Days(ctx context.Context, office string, from time.Time) ([]Day, error) {
	offices, err := s.offices(office)
	if err != nil {
		return nil, err
	}
	_, end := s.window(s.now())
	slots, err := s.free(ctx, offices, s.midnight(from), end)
	if err != nil {
		return nil, err
	}
	var days []Day
	for _, f := range slots {
		d := s.midnight(f.Slot.Start)
		if len(days) == 0 || !days[len(days)-1].Date.Equal(d) {
			days = append(days, Day{Date: d})
		}
		days[len(days)-1].Free += f.Free
	}
	return days, nil
}

// Times returns the free slots of office ("" = every office) on the day of
// day, by start (then office).
func (s *Service) Times(ctx context.Context, office string, day time.Time) ([]FreeSlot, error) {
	offices, err := s.offices(office)
	if err != nil {
		return nil, err
	}
	d := s.midnight(day)
	return s.free(ctx, offices, d, d.AddDate(0, 0, 1))
}

// FirstFree returns the earliest free slot at office ("" = any office), or
// ErrNoFreeSlot.
func (s *Service) FirstFree(ctx context.Context, office string) (FreeSlot, error) {
	offices, err := s.offices(office)
	if err != nil {
		return FreeSlot{}, err
	}
	now := s.now()
	earliest, end := s.window(now)
	// Look a week at a time: the first free slot is usually near.
	for from := earliest; from.Before(end); from = from.AddDate(0, 0, 7) {
		slots, err := s.free(ctx, offices, from, from.AddDate(0, 0, 7))
		if err != nil {
			return FreeSlot{}, err
		}
		if len(slots) > 0 {
			return slots[0], nil
		}
	}
	return FreeSlot{}, ErrNoFreeSlot
}

// Alternatives returns up to n free slots nearest in time to slot: at the
// same office first, then at others.
func (s *Service) Alternatives(ctx context.Context, slot Slot, n int) ([]FreeSlot, error) {
	if n <= 0 {
		return nil, nil
	}
	// The nearest are usually within a few days: look there first.
	out, err := s.nearest(ctx, slot, n, slot.Start.AddDate(0, 0, -3), slot.Start.AddDate(0, 0, 4))
	if err != nil || len(out) == n {
		return out, err
	}
	earliest, end := s.window(s.now())
	return s.nearest(ctx, slot, n, earliest, end)
}

func (s *Service) nearest(ctx context.Context, slot Slot, n int, from, to time.Time) ([]FreeSlot, error) {
	all, err := s.free(ctx, s.c.Offices, from, to)
	if err != nil {
		return nil, err
	}
	dist := func(f FreeSlot) time.Duration { return f.Slot.Start.Sub(slot.Start).Abs() }
	slices.SortStableFunc(all, func(a, b FreeSlot) int {
		as, bs := a.Slot.Office == slot.Office, b.Slot.Office == slot.Office
		switch {
		case as && !bs:
			return -1
		case bs && !as:
			return 1
		}
		return cmp.Compare(dist(a), dist(b))
	})
	var out []FreeSlot
	for _, f := range all {
		if f.Slot.Office == slot.Office && f.Slot.Start.Equal(slot.Start) {
			continue
		}
		out = append(out, f)
		if len(out) == n {
			break
		}
	}
	return out, nil
}

// checkSlot says whether slot may be booked at now.
func (s *Service) checkSlot(slot Slot, now time.Time) (*comune.Office, error) {
	o := s.c.Office(slot.Office)
	if o == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownOffice, slot.Office)
	}
	earliest, end := s.window(now)
	if !slices.ContainsFunc(s.slots(o, slot.Start), slot.Start.Equal) {
		return nil, fmt.Errorf("%w: %s", ErrClosed, slot)
	}
	if slot.Start.Before(earliest) {
		return nil, fmt.Errorf("%w: %s", ErrTooSoon, slot)
	}
	if !slot.Start.Before(end) {
		return nil, fmt.Errorf("%w: %s", ErrOutsideHorizon, slot)
	}
	return o, nil
}

// dayKey names one office's calendar day.
type dayKey struct {
	office string
	date   string
}

// slotCache keeps each office's slot starts per day: the Comune file does
// not change while the Service runs, and computing a day (closures,
// openings, holidays, time zone) is the costly part of listing free slots.
type slotCache struct {
	mu   sync.RWMutex
	days map[dayKey][]time.Time
}

// slots returns the office's slot starts (UTC) on the calendar day of t.
// The slice is shared: do not change it.
func (s *Service) slots(o *comune.Office, t time.Time) []time.Time {
	day := s.midnight(t)
	k := dayKey{office: o.ID, date: day.Format(time.DateOnly)}
	s.cache.mu.RLock()
	got, ok := s.cache.days[k]
	s.cache.mu.RUnlock()
	if ok {
		return got
	}
	local := s.c.Slots(o, day.Add(12*time.Hour))
	got = make([]time.Time, len(local))
	for i, t := range local {
		got[i] = t.UTC()
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	if s.cache.days == nil {
		s.cache.days = map[dayKey][]time.Time{}
	}
	s.cache.days[k] = got
	return got
}
