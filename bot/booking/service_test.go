package booking_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"sportello/bot"
	"sportello/bot/booking"
	"sportello/bot/comune"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/storetest"
)

func openStore(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestNewChecksConfig(t *testing.T) {
	st := openStore(t)
	tests := []struct {
		name string
		cfg  booking.Config
		want string
	}{
		{"no comune", booking.Config{Store: st, PIIKey: storetest.PIIKey}, "Comune and Store are required"},
		{"no store", booking.Config{Comune: comune.Demo(), PIIKey: storetest.PIIKey}, "Comune and Store are required"},
		{"short key", booking.Config{Comune: comune.Demo(), Store: st, PIIKey: []byte("short")}, "SPORTELLO_PII_KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := booking.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// TestPseudonymDependsOnKey: the same fiscal code gets another pseudonym
// under another key, and the plain code is not derivable from it.
func TestPseudonymDependsOnKey(t *testing.T) {
	slot := storetest.At("centrale", 2026, 3, 4, 9, 0)
	clock := storetest.NewClock(storetest.T0)
	a := storetest.NewService(t, openStore(t), storetest.TestComune, clock, nil, nil)
	b := storetest.NewService(t, openStore(t), storetest.TestComune, clock, nil, func(c *booking.Config) {
		c.PIIKey = []byte("another-key-0123456789abcdef")
	})
	x, err1 := a.Book(context.Background(), storetest.Citizen(1, slot))
	y, err2 := b.Book(context.Background(), storetest.Citizen(1, slot))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if x.Person == y.Person || len(x.Person) != 32 || strings.Contains(x.Person, x.FiscalCode) {
		t.Errorf("pseudonyms %q and %q under two keys", x.Person, y.Person)
	}
}

func TestNonResidents(t *testing.T) {
	yml := strings.Replace(storetest.TestComune, "non_residents: allowed", "non_residents: not_allowed", 1)
	s := storetest.NewService(t, openStore(t), yml, storetest.NewClock(storetest.T0), nil, nil)
	r := storetest.Citizen(1, storetest.At("centrale", 2026, 3, 4, 9, 0))
	r.NonResident = true
	if _, err := s.Book(context.Background(), r); !errors.Is(err, booking.ErrNonResident) {
		t.Errorf("Book for a non-resident = %v, want ErrNonResident", err)
	}
	r.NonResident = false
	if _, err := s.Book(context.Background(), r); err != nil {
		t.Errorf("Book for a resident = %v", err)
	}
}

func TestInvalidRequests(t *testing.T) {
	s := storetest.NewService(t, openStore(t), storetest.TestComune, storetest.NewClock(storetest.T0), nil, nil)
	good := storetest.Citizen(1, storetest.At("centrale", 2026, 3, 4, 9, 0))
	tests := []struct {
		name   string
		change func(*booking.Request)
	}{
		{"unknown reason", func(r *booking.Request) { r.Reason = "fun" }},
		{"fiscal code too short", func(r *booking.Request) { r.FiscalCode = "RSSMRA80" }},
		{"fiscal code with symbols", func(r *booking.Request) { r.FiscalCode = "RSSMRA80A01H501!" }},
		{"no conversation", func(r *booking.Request) { r.Conv = bot.Conversation{} }},
		{"name too long", func(r *booking.Request) { r.Name = strings.Repeat("a", 201) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.change(&r)
			if _, err := s.Book(context.Background(), r); !errors.Is(err, booking.ErrInvalid) {
				t.Errorf("Book = %v, want ErrInvalid", err)
			}
		})
	}
	// A temporary (11-digit) fiscal code and spaces are fine.
	r := good
	r.FiscalCode = "123 456 789 01"
	if b, err := s.Book(context.Background(), r); err != nil || b.FiscalCode != "12345678901" {
		t.Errorf("Book with a temporary code = %v, %v", b, err)
	}
}

// TestNoNotifierDropsNotices: without a notifier, due notices are logged and
// dropped, so they do not pile up in front of other deadlines.
func TestNoNotifierDropsNotices(t *testing.T) {
	clock := storetest.NewClock(storetest.T0)
	s := storetest.NewService(t, openStore(t), storetest.TestComune, clock, nil, nil)
	b, err := s.Book(context.Background(), storetest.Citizen(1, storetest.At("centrale", 2026, 3, 9, 9, 0)))
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(b.AskAt)
	if n, err := s.Sweep(context.Background()); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 step", n, err)
	}
	if n, _ := s.Sweep(context.Background()); n != 0 {
		t.Errorf("second Sweep took %d steps, want 0", n)
	}
	got, _ := s.Lookup(context.Background(), b.Code)
	if !got.Asked || got.Notice != "" {
		t.Errorf("after sweep: Asked=%v Notice=%q, want asked and no pending notice", got.Asked, got.Notice)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	s := storetest.NewService(t, openStore(t), storetest.TestComune, storetest.NewClock(storetest.T0), nil,
		func(c *booking.Config) { c.SweepEvery = time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
}
