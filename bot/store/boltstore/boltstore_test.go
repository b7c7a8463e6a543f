package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"sportello/bot/store"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() storetest.Store {
		s, err := boltstore.Open(t.TempDir())
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		t.Cleanup(func() { s.Close() })
		// One process, one file: every handle is the same store.
		return func() storetest.Store { return s }
	})
}

func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(dir)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	ctx := context.Background()
	l, err := s.Acquire(ctx, "telegram:7", time.Second)
	if err != nil {
		t.Fatalf("Acquire = %v", err)
	}
	if err := s.Commit(ctx, l, store.Write{Session: []byte("s"), SessionTTL: time.Hour, Profile: []byte("p"), ProfileTTL: time.Hour}); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}

	s, err = boltstore.Open(dir)
	if err != nil {
		t.Fatalf("reopen = %v", err)
	}
	defer s.Close()
	l, err = s.Acquire(ctx, "telegram:7", time.Second)
	if err != nil {
		t.Fatalf("Acquire after restart = %v", err)
	}
	if string(l.Session) != "s" || string(l.Profile) != "p" || l.Version != 1 {
		t.Errorf("after restart got %q/%q/v%d, want s/p/v1", l.Session, l.Profile, l.Version)
	}
}

func TestSecondProcessGetsClearError(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(dir)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer s.Close()
	// flock conflicts between two open files even inside one process, so a
	// second Open stands in for a second process.
	_, err = boltstore.Open(dir)
	if err == nil {
		t.Fatal("second Open of the same data dir succeeded, want an error")
	}
	for _, want := range []string{"in use by another Sportello process", "REDIS_URL", "SPORTELLO_DATA_DIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestClosedStore(t *testing.T) {
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := s.Acquire(context.Background(), "k", time.Second); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Once(context.Background(), "a", "b", time.Second); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Once after Close = %v, want ErrClosed", err)
	}
	if err := s.Ping(context.Background()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Ping after Close = %v, want ErrClosed", err)
	}
}

func TestSweepDeletesExpired(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := boltstore.Open(t.TempDir(), boltstore.WithClock(clock))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	l, _ := s.Acquire(ctx, "k", time.Second)
	if err := s.Commit(ctx, l, store.Write{Session: []byte("s"), SessionTTL: time.Minute, Profile: []byte("p"), ProfileTTL: time.Hour}); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	now = now.Add(2 * time.Minute)
	if err := s.Sweep(); err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	// Look at the file itself: loading already hides expired values.
	err = s.DB().View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("session")).Get([]byte("k")); v != nil {
			t.Errorf("the expired session is still in the file after Sweep")
		}
		if v := tx.Bucket([]byte("profile")).Get([]byte("k")); v == nil {
			t.Errorf("the live profile was deleted by Sweep")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLeaseRunningOutDuringCommitLosesNothing: a turn whose lease runs out
// while its (slow) write is in progress must not let a waiting turn load
// the state from before that write and then overwrite it.
func TestLeaseRunningOutDuringCommitLosesNothing(t *testing.T) {
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const key = "telegram:1"
	big := bytes.Repeat([]byte{'A'}, 16<<20) // a write slow enough to outlast the lease
	for round := range 3 {
		a, err := s.Acquire(ctx, key, 30*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		var bLoaded []byte
		var berr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			b, err := s.Acquire(ctx, key, time.Minute) // waits for A's lease
			if err != nil {
				berr = err
				return
			}
			bLoaded = b.Session
			berr = s.Commit(ctx, b, store.Write{Session: []byte(fmt.Sprintf("B%d", round)), SessionTTL: time.Hour})
		}()
		time.Sleep(25 * time.Millisecond) // A reaches its commit just before the lease ends
		aerr := s.Commit(ctx, a, store.Write{Session: big, SessionTTL: time.Hour})
		<-done
		if aerr == nil && berr == nil && !bytes.Equal(bLoaded, big) {
			t.Fatalf("round %d: both commits succeeded but B never saw A's write: an update was lost", round)
		}
	}
}
