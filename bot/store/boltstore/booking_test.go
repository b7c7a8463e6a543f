package boltstore_test

import (
	"sync"
	"testing"

	"sportello/bot/booking"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/storetest"
)

func openBooking(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBookingConformance(t *testing.T) {
	storetest.RunBooking(t, func(t *testing.T) func() booking.Store {
		s := openBooking(t)
		return func() booking.Store { return s }
	})
}

func TestBookingLinearizable(t *testing.T) {
	storetest.RunLinearizable(t, func(t *testing.T) func() booking.Store {
		s := openBooking(t)
		return func() booking.Store { return s }
	}, 12000)
}

// TestBookingRace has 200 citizens book at once, through four Services on one
// embedded store, three slots with six places in all. (The embedded file is
// locked to one process by design; several processes share Redis instead.)
func TestBookingRace(t *testing.T) {
	st := openBooking(t)
	clock := storetest.NewClock(storetest.T0)
	var results []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := storetest.NewService(t, st, storetest.TestComune, clock, nil, nil)
			r := storetest.Race(s, p*50, 50)
			mu.Lock()
			results = append(results, r...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	storetest.CheckRace(t, storetest.NewService(t, st, storetest.TestComune, clock, nil, nil), results)
}

// BenchmarkBook measures one Service.Book on the embedded store (one bbolt
// transaction, synced to disk).
//
//	go test ./bot/store/boltstore -run '^$' -bench 'Book$'
func BenchmarkBook(b *testing.B) {
	s, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchBook(b, storetest.NewService(b, s, storetest.BenchComune, storetest.NewClock(storetest.StampedeT0), nil, nil))
}
