package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"sportello/bot/booking"
)

// StampedeComune opens 1,660 places in its 30-day horizon from StampedeT0:
// 22 weekdays x 12 slots x 6 desks at centrale, and 76 single places at nord.
const StampedeComune = `
name: Comune della Calca
timezone: Europe/Rome
fees: {cie: "22.21", cie_duplicate: "27.37"}
booking: {horizon_days: 30, min_notice_hours: 2, max_active_per_person: 1, confirm_days_before: 3}
offices:
  - id: centrale
    name: Sede centrale
    address: Via Larga 12
    slot_minutes: 20
    desks: 6
    hours:
      monday: ["09:00-13:00"]
      tuesday: ["09:00-13:00"]
      wednesday: ["09:00-13:00"]
      thursday: ["09:00-13:00"]
      friday: ["09:00-13:00"]
  - id: nord
    name: Delegazione Nord
    address: Via dei Mille 5
    slot_minutes: 15
    desks: 1
    hours: {tuesday: ["09:00-11:00"], thursday: ["09:00-11:00"]}
    openings: [{date: 2026-03-07, hours: ["09:00-10:00"]}]
`

// StampedeTurns is how many citizens each replica serves at once in the
// stampede.
const StampedeTurns = 32

// StampedePlaces is how many places StampedeComune opens.
const StampedePlaces = 1660

// StampedeT0 is when the stampede starts: Sunday 1 March 2026, 20:00.
var StampedeT0 = time.Date(2026, 3, 1, 20, 0, 0, 0, Rome())

// StampedeResult is what a stampede measured.
type StampedeResult struct {
	Citizens, Booked, Gave, RateLimited int
	Attempts                            int           // Book calls
	Elapsed                             time.Duration // first call to last answer
	P50, P99                            time.Duration // latency of Book
	Empty, Overbooked                   int           // places left free, bookings beyond desks
}

// Stampede has citizens try to book at once through the services (replicas
// sharing one store), as a crowd does when a Comune opens its calendar: each
// looks at the free days, picks one at random and a time in it, books, takes
// the first alternative when the slot went, and looks again when none is
// offered, until booked or nothing is free. It then counts the places left
// free and the bookings beyond the desks of their slot.
func Stampede(tb testing.TB, services []*booking.Service, citizens int) StampedeResult {
	tb.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var lat []time.Duration
	res := StampedeResult{Citizens: citizens}
	var wg sync.WaitGroup
	start := make(chan struct{})
	// Each replica serves StampedeTurns citizens at a time, as a bounded
	// pool of turns would; the rest wait their turn.
	slots := make([]chan struct{}, len(services))
	for i := range slots {
		slots[i] = make(chan struct{}, StampedeTurns)
	}
	for c := range citizens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := services[c%len(services)]
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			<-start
			slots[c%len(services)] <- struct{}{}
			outcome, calls, times := citizen(ctx, s, rng, c)
			<-slots[c%len(services)]
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, times...)
			res.Attempts += calls
			switch outcome {
			case "booked":
				res.Booked++
			case "rate":
				res.RateLimited++
			case "gave up":
				res.Gave++
			default:
				tb.Errorf("citizen %d: %s", c, outcome)
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	res.Elapsed = time.Since(t0)
	slices.Sort(lat)
	if len(lat) > 0 {
		res.P50, res.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	s := services[0]
	days, err := s.Days(ctx, "", StampedeT0)
	if err != nil {
		tb.Fatalf("Days = %v", err)
	}
	for _, d := range days {
		res.Empty += d.Free
	}
	for _, o := range s.Comune().Offices {
		for d := StampedeT0; d.Before(StampedeT0.AddDate(0, 0, 32)); d = d.AddDate(0, 0, 1) {
			list, err := s.Appointments(ctx, o.ID, d)
			if err != nil {
				tb.Fatalf("Appointments = %v", err)
			}
			per := map[int64]int{}
			for _, b := range list {
				if b.Status.Active() {
					per[b.Start.Unix()]++
				}
			}
			for _, n := range per {
				res.Overbooked += max(0, n-o.Desks)
			}
		}
	}
	return res
}

// citizen is one citizen of the stampede: it returns how it ended, how many
// times it called Book and how long each call took.
func citizen(ctx context.Context, s *booking.Service, rng *rand.Rand, c int) (string, int, []time.Duration) {
	var times []time.Duration
	for look := 0; look < 50; look++ {
		days, err := s.Days(ctx, "", StampedeT0)
		if err != nil {
			return err.Error(), len(times), times
		}
		if len(days) == 0 {
			return "gave up", len(times), times
		}
		day := days[rng.IntN(len(days))]
		free, err := s.Times(ctx, "", day.Date)
		if err != nil {
			return err.Error(), len(times), times
		}
		if len(free) == 0 {
			continue
		}
		slot := free[rng.IntN(len(free))].Slot
		for {
			t := time.Now()
			_, err := s.Book(ctx, Citizen(c, slot))
			times = append(times, time.Since(t))
			var taken *booking.SlotTakenError
			switch {
			case err == nil:
				return "booked", len(times), times
			case errors.Is(err, booking.ErrRateLimited):
				return "rate", len(times), times
			case errors.As(err, &taken) && len(taken.Alternatives) > 0:
				slot = taken.Alternatives[0].Slot
				continue
			case errors.As(err, &taken):
			default:
				return err.Error(), len(times), times
			}
			break
		}
	}
	return "still looking after 50 looks", len(times), times
}

// BenchComune has room for a million bookings: open around the clock in
// five-minute slots with 100 desks, for Book's cost without contention.
const BenchComune = `
name: Comune del Benchmark
timezone: Europe/Rome
fees: {cie: "22.21", cie_duplicate: "27.37"}
national_holidays: false
booking: {horizon_days: 60, min_notice_hours: 0, max_active_per_person: 1, confirm_days_before: 3}
offices:
  - id: centrale
    name: Sede centrale
    address: Via Larga 12
    slot_minutes: 5
    desks: 100
    hours:
      monday: ["00:00-24:00"]
      tuesday: ["00:00-24:00"]
      wednesday: ["00:00-24:00"]
      thursday: ["00:00-24:00"]
      friday: ["00:00-24:00"]
      saturday: ["00:00-24:00"]
      sunday: ["00:00-24:00"]
`

// BenchBook books b.N citizens, each in its own place, spread over the slots.
func BenchBook(b *testing.B, s *booking.Service) {
	ctx := context.Background()
	start := StampedeT0.Add(time.Hour).Truncate(time.Hour)
	b.ResetTimer()
	for i := range b.N {
		slot := booking.Slot{Office: "centrale", Start: start.Add(time.Duration(i/100%17000) * 5 * time.Minute)}
		if _, err := s.Book(ctx, Citizen(i, slot)); err != nil {
			b.Fatalf("Book %d = %v", i, err)
		}
	}
}

// BenchTimes measures Service.Times for one office on one day (what the day
// and time pickers call) with 2,000 places held across the horizon: the
// cost of reading a day's occupancy when much of the calendar is booked.
func BenchTimes(b *testing.B, s *booking.Service) {
	ctx := context.Background()
	start := StampedeT0.Add(time.Hour).Truncate(time.Hour)
	for i := range 2000 {
		slot := booking.Slot{Office: "centrale", Start: start.Add(time.Duration(i) * 40 * time.Minute)}
		if _, err := s.Book(ctx, Citizen(i, slot)); err != nil {
			b.Fatalf("Book %d = %v", i, err)
		}
	}
	day := start.AddDate(0, 0, 20)
	b.ResetTimer()
	for range b.N {
		times, err := s.Times(ctx, "centrale", day)
		if err != nil || len(times) == 0 {
			b.Fatalf("Times = %d slots, %v", len(times), err)
		}
	}
}
