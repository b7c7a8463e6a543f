package booking

import (
	"testing"
	"time"

	"sportello/bot/comune"
)

// TestWakingHours: offers are told in the offer hours of the Comune's
// zone, and holds count only time inside them, across nights and
// daylight saving changes.
func TestWakingHours(t *testing.T) {
	c := comune.Demo()
	rome := c.Location()
	at := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, rome)
	}
	tests := []struct {
		name  string
		hours Hours
		t     time.Time
		hold  time.Duration
		told  time.Time
		until time.Time
	}{
		{"by day", Hours{}, at(3, 4, 10, 0), 15 * time.Minute, at(3, 4, 10, 0), at(3, 4, 10, 15)},
		{"just after midnight", Hours{}, at(3, 4, 0, 0), 15 * time.Minute, at(3, 4, 8, 0), at(3, 4, 8, 15)},
		{"at 08:00", Hours{}, at(3, 4, 8, 0), 15 * time.Minute, at(3, 4, 8, 0), at(3, 4, 8, 15)},
		{"at 20:00", Hours{}, at(3, 4, 20, 0), 15 * time.Minute, at(3, 5, 8, 0), at(3, 5, 8, 15)},
		{"hold ends at 20:00", Hours{}, at(3, 4, 19, 45), 15 * time.Minute, at(3, 4, 19, 45), at(3, 4, 20, 0)},
		{"hold over the night", Hours{}, at(3, 4, 19, 55), 15 * time.Minute, at(3, 4, 19, 55), at(3, 5, 8, 10)},
		{"over the spring DST night", Hours{}, at(3, 28, 19, 55), 15 * time.Minute, at(3, 28, 19, 55), at(3, 29, 8, 10)},
		{"autumn DST night", Hours{}, at(10, 25, 3, 0), 15 * time.Minute, at(10, 25, 8, 0), at(10, 25, 8, 15)},
		{"a day-long hold", Hours{}, at(3, 4, 9, 0), 24 * time.Hour, at(3, 4, 9, 0), at(3, 6, 9, 0)},
		{"any time", Hours{0, 24 * time.Hour}, at(3, 4, 3, 0), 15 * time.Minute, at(3, 4, 3, 0), at(3, 4, 3, 15)},
		{"any time, over midnight", Hours{0, 24 * time.Hour}, at(3, 4, 23, 55), 15 * time.Minute, at(3, 4, 23, 55), at(3, 5, 0, 10)},
		{"09:30-17:30", Hours{9*time.Hour + 30*time.Minute, 17*time.Hour + 30*time.Minute}, at(3, 4, 17, 20), 15 * time.Minute, at(3, 4, 17, 20), at(3, 5, 9, 35)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Comune: c, Store: nilStore{}, PIIKey: []byte("0123456789abcdef"), OfferHours: tc.hours}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.awake(tc.t); !got.Equal(tc.told) {
				t.Errorf("awake(%v) = %v, want %v", tc.t, got, tc.told)
			}
			if got := s.wakingAdd(tc.t, tc.hold); !got.Equal(tc.until) {
				t.Errorf("wakingAdd(%v, %v) = %v, want %v", tc.t, tc.hold, got.In(rome), tc.until)
			}
		})
	}
}

func TestOfferHoursChecked(t *testing.T) {
	for _, h := range []Hours{
		{From: 20 * time.Hour, To: 8 * time.Hour},
		{From: 8 * time.Hour, To: 8 * time.Hour},
		{From: -time.Hour, To: 8 * time.Hour},
		{From: 8 * time.Hour, To: 25 * time.Hour},
		{From: 8*time.Hour + time.Second, To: 20 * time.Hour},
	} {
		cfg := Config{Comune: comune.Demo(), Store: nilStore{}, PIIKey: []byte("0123456789abcdef"), OfferHours: h}
		if _, err := New(cfg); err == nil {
			t.Errorf("New with OfferHours %v-%v = nil error, want refused", h.From, h.To)
		}
	}
}

// nilStore satisfies Store for tests that never reach it.
type nilStore struct{ Store }
