package boltstore_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"sportello/bot/booking"
	"sportello/bot/schedule"
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
		// The semantics do not depend on the fsync per commit (the
		// benchmark keeps it); without it the suite runs in a fraction of
		// the time.
		s.DB().NoSync = true
		return func() booking.Store { return s }
	})
}

func TestBookingLinearizable(t *testing.T) {
	storetest.RunLinearizable(t, func(t *testing.T) func() booking.Store {
		s := openBooking(t)
		// Transactions stay serialised exactly as with syncing; only the
		// fsync per commit, which linearizability does not depend on, goes.
		s.DB().NoSync = true
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

// TestBookingSweepJob runs the Service's sweep as a job of a real scheduler
// Runner: the confirmation request due now is sent, and the Runner stops
// cleanly.
func TestBookingSweepJob(t *testing.T) {
	st := openBooking(t)
	clock := storetest.NewClock(storetest.T0)
	inbox := &storetest.Inbox{}
	s := storetest.NewService(t, st, storetest.TestComune, clock, inbox, func(c *booking.Config) { c.SweepEvery = 20 * time.Millisecond })
	b, err := s.Book(context.Background(), storetest.Citizen(1, storetest.At("centrale", 2026, 3, 9, 9, 0)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := schedule.NewRunner(st, []schedule.Queue{s.Queue()}, schedule.WithPollInterval(10*time.Millisecond),
		schedule.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartSweeping(context.Background(), st); err != nil {
		t.Fatalf("StartSweeping = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Runner.Run = %v", err)
		}
	}()
	clock.Set(b.AskAt)
	want := "confirm_request " + b.Code
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(got, want) {
		if time.Now().After(deadline) {
			t.Fatalf("notices = %v after 10s, want %s", got, want)
		}
		time.Sleep(10 * time.Millisecond)
		got = append(got, inbox.Take()...)
	}
}

// TestDueCleansRarely: the sweep's Due is a read; the expired attempt
// counters and idempotency keys are dropped by a write at most every few
// minutes, not at every 15-second sweep.
func TestDueCleansRarely(t *testing.T) {
	st := openBooking(t)
	ctx := context.Background()
	clock := storetest.NewClock(storetest.T0)
	s := storetest.NewService(t, st, storetest.TestComune, clock, nil, nil)
	r := storetest.Citizen(1, storetest.At("centrale", 2026, 3, 9, 9, 0))
	r.IdempotencyKey = "test:1:a"
	if _, err := s.Book(ctx, r); err != nil {
		t.Fatal(err)
	}
	txid := func() (id int) {
		st.DB().View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	entries := func() (n int) {
		st.DB().View(func(tx *bolt.Tx) error {
			for _, name := range []string{"booking.rate", "booking.idem"} {
				n += tx.Bucket([]byte(name)).Stats().KeyN
			}
			return nil
		})
		return n
	}
	now := storetest.T0
	st.Due(ctx, now, 100) // the first look may clean
	for range 10 {
		now = now.Add(15 * time.Second)
		before := txid()
		if _, err := st.Due(ctx, now, 100); err != nil {
			t.Fatalf("Due = %v", err)
		}
		if after := txid(); after != before {
			t.Fatalf("Due at %v wrote (tx %d -> %d), want a read", now, before, after)
		}
	}
	if n := entries(); n != 3 {
		t.Fatalf("Got(%d rate and idempotency entries), want 3 (person, chat, key)", n)
	}
	// A day later they have expired, and the next clean drops them.
	if _, err := st.Due(ctx, storetest.T0.Add(25*time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if n := entries(); n != 0 {
		t.Errorf("Got(%d rate and idempotency entries a day later), want 0", n)
	}
}
