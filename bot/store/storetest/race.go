package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"sportello/bot/booking"
)

// RaceSlots are the few slots the concurrency tests race for: three
// half-hours at an office with two desks, six places in all.
func RaceSlots() []booking.Slot {
	return []booking.Slot{
		At("centrale", 2026, 3, 4, 9, 0), At("centrale", 2026, 3, 4, 9, 30), At("centrale", 2026, 3, 4, 10, 0),
	}
}

// RacePlaces is how many of the racers can win.
const RacePlaces = 6

// Race has citizens first..first+n-1 book RaceSlots at once through s and
// returns one line per citizen: "ok CODE", "taken N" (N alternatives
// offered) or "error ...".
func Race(s *booking.Service, first, n int) []string {
	slots := RaceSlots()
	out := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := first + i
			b, err := s.Book(context.Background(), Citizen(c, slots[c%len(slots)]))
			var taken *booking.SlotTakenError
			switch {
			case err == nil:
				out[i] = "ok " + b.Code
			case errors.As(err, &taken):
				out[i] = fmt.Sprintf("taken %d", len(taken.Alternatives))
			default:
				out[i] = "error " + err.Error()
			}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// CheckRace checks the racers' results and the calendar afterwards: exactly
// RacePlaces bookings, every other racer offered alternatives, and no slot
// beyond its desks.
func CheckRace(t *testing.T, s *booking.Service, results []string) {
	t.Helper()
	ok, taken := 0, 0
	for _, r := range results {
		switch {
		case strings.HasPrefix(r, "ok "):
			ok++
		case r == "taken 0":
			t.Errorf("a racer lost without alternatives")
		case strings.HasPrefix(r, "taken "):
			taken++
		default:
			t.Errorf("racer: %s", r)
		}
	}
	if ok != RacePlaces || taken != len(results)-RacePlaces {
		t.Errorf("%d booked and %d got alternatives; want %d and %d", ok, taken, RacePlaces, len(results)-RacePlaces)
	}
	list, err := s.Appointments(context.Background(), "centrale", RaceSlots()[0].Start)
	if err != nil {
		t.Fatalf("Appointments = %v", err)
	}
	per := map[string]int{}
	for _, b := range list {
		if b.Status.Active() {
			per[b.Start.String()]++
		}
	}
	for slot, n := range per {
		if n > 2 {
			t.Errorf("slot %s has %d bookings for 2 desks", slot, n)
		}
	}
	if len(list) != RacePlaces {
		t.Errorf("calendar has %d bookings, want %d", len(list), RacePlaces)
	}
}
