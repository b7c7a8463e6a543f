package booking

import (
	"fmt"
	"time"

	"sportello/bot/comune"
)

// Hours is a span of the day, as wall-clock times since midnight in the
// Comune's time zone (whole minutes; From < To <= 24h).
type Hours struct {
	From, To time.Duration
}

// comuneHours are the Comune file's waitlist_offer_hours.
func comuneHours(p comune.Period) Hours {
	return Hours{From: time.Duration(p.Start) * time.Minute, To: time.Duration(p.End) * time.Minute}
}

func (h Hours) check() error {
	switch {
	case h.From < 0 || h.To > 24*time.Hour || h.From >= h.To:
		return fmt.Errorf("booking: offer hours %v-%v: want 0 <= from < to <= 24h", h.From, h.To)
	case h.From%time.Minute != 0 || h.To%time.Minute != 0:
		return fmt.Errorf("booking: offer hours %v-%v: want whole minutes", h.From, h.To)
	}
	return nil
}

// at returns the wall-clock time d after the midnight of day (a midnight
// in the Comune's zone), so that 08:00 is 08:00 on days with a DST change.
func (s *Service) at(day time.Time, d time.Duration) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), int(d/time.Hour), int(d%time.Hour/time.Minute), 0, 0, s.c.Location())
}

// awake returns t when it is within the offer hours, else the start of the
// next ones: when a citizen may be told of an offer made at t.
func (s *Service) awake(t time.Time) time.Time {
	h := s.cfg.OfferHours
	day := s.midnight(t)
	switch {
	case t.Before(s.at(day, h.From)):
		return s.at(day, h.From)
	case t.Before(s.at(day, h.To)):
		return t
	}
	return s.at(day.AddDate(0, 0, 1), h.From)
}

// wakingAdd returns the moment d of waking hours after t: a hold of d that
// starts at t runs only in the offer hours (15 minutes from 19:55 end at
// 08:10 the next day).
func (s *Service) wakingAdd(t time.Time, d time.Duration) time.Time {
	t = s.awake(t)
	for {
		end := s.at(s.midnight(t), s.cfg.OfferHours.To)
		left := end.Sub(t)
		if d <= left {
			return t.Add(d)
		}
		d -= left
		t = s.awake(end)
	}
}
