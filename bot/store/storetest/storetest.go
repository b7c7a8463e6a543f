// Package storetest is the conformance suite every state backend passes. A
// backend's test calls Run with a function that opens handles onto one fresh,
// isolated data set; each call of the returned function is another handle
// (another client, as another replica would have) onto the same data.
package storetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"sportello/bot/store"
)

// Store is what the suite exercises.
type Store interface {
	Acquire(ctx context.Context, key string, lease time.Duration) (*store.Lease, error)
	Commit(ctx context.Context, l *store.Lease, w store.Write) error
	Release(ctx context.Context, l *store.Lease) error
	Once(ctx context.Context, scope, id string, ttl time.Duration) (bool, error)
	Forget(ctx context.Context, key string) error
	Ping(ctx context.Context) error
	Secret(ctx context.Context, name string, n int) ([]byte, error)
}

// Fresh returns a function that opens handles onto one new, empty data set.
type Fresh func(t *testing.T) (open func() Store)

const lease = 10 * time.Second

// Run runs the whole suite.
func Run(t *testing.T, fresh Fresh) {
	tests := []struct {
		name string
		fn   func(*testing.T, func() Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"MissingIsEmpty", testMissingIsEmpty},
		{"KeysAreIsolated", testKeysAreIsolated},
		{"BinarySafe", testBinarySafe},
		{"SessionExpires", testSessionExpires},
		{"ProfileOutlivesSession", testProfileOutlivesSession},
		{"NilSessionDeletes", testNilSessionDeletes},
		{"LeaseExcludes", testLeaseExcludes},
		{"ReleaseWakesWaiter", testReleaseWakesWaiter},
		{"ExpiredLeaseIsTakenOver", testExpiredLeaseIsTakenOver},
		{"ExpiredLeaseUntakenCommits", testExpiredLeaseUntakenCommits},
		{"SessionExpiresDuringTurn", testSessionExpiresDuringTurn},
		{"ProfileExpires", testProfileExpires},
		{"StaleCommitAfterOtherCommitFails", testStaleCommitAfterOtherCommit},
		{"ConcurrentWritersLoseNothing", testConcurrentWriters},
		{"OnceIsOnce", testOnce},
		{"OnceExpires", testOnceExpires},
		{"Forget", testForget},
		{"SecretIsStable", testSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, fresh(t))
		})
	}
}

func acquire(t *testing.T, s Store, key string, d time.Duration) *store.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	l, err := s.Acquire(ctx, key, d)
	if err != nil {
		t.Fatalf("Acquire(%q) = %v", key, err)
	}
	return l
}

func commit(t *testing.T, s Store, l *store.Lease, w store.Write) {
	t.Helper()
	if err := s.Commit(context.Background(), l, w); err != nil {
		t.Fatalf("Commit(%q) = %v", l.Key, err)
	}
}

func write(session, profile string) store.Write {
	w := store.Write{SessionTTL: time.Hour, ProfileTTL: 24 * time.Hour}
	if session != "" {
		w.Session = []byte(session)
	}
	if profile != "" {
		w.Profile = []byte(profile)
	}
	return w
}

func testRoundTrip(t *testing.T, open func() Store) {
	s := open()
	l := acquire(t, s, "chat:1", lease)
	commit(t, s, l, write("session-1", "profile-1"))
	if l.Version != 1 {
		t.Errorf("Version after first commit = %d, want 1", l.Version)
	}

	l = acquire(t, open(), "chat:1", lease)
	if got := string(l.Session); got != "session-1" {
		t.Errorf("Session = %q, want %q", got, "session-1")
	}
	if got := string(l.Profile); got != "profile-1" {
		t.Errorf("Profile = %q, want %q", got, "profile-1")
	}
	if l.Version != 1 {
		t.Errorf("loaded Version = %d, want 1", l.Version)
	}
	// A nil profile leaves the stored one alone.
	commit(t, s, l, write("session-2", ""))
	l = acquire(t, s, "chat:1", lease)
	if got := string(l.Session) + "/" + string(l.Profile); got != "session-2/profile-1" {
		t.Errorf("after second commit got %q, want %q", got, "session-2/profile-1")
	}
	if l.Version != 2 {
		t.Errorf("Version = %d, want 2", l.Version)
	}
	if err := s.Release(context.Background(), l); err != nil {
		t.Fatalf("Release = %v", err)
	}
}

func testMissingIsEmpty(t *testing.T, open func() Store) {
	s := open()
	l := acquire(t, s, "nobody", lease)
	if l.Session != nil || l.Profile != nil || l.Version != 0 {
		t.Errorf("missing conversation = %q/%q/v%d, want nil/nil/v0", l.Session, l.Profile, l.Version)
	}
	if err := s.Release(context.Background(), l); err != nil {
		t.Fatalf("Release = %v", err)
	}
}

func testKeysAreIsolated(t *testing.T, open func() Store) {
	s := open()
	for _, k := range []string{"telegram:1", "telegram:10", "console:1"} {
		l := acquire(t, s, k, lease)
		commit(t, s, l, write("s-"+k, "p-"+k))
	}
	for _, k := range []string{"telegram:1", "telegram:10", "console:1"} {
		l := acquire(t, s, k, lease)
		if string(l.Session) != "s-"+k || string(l.Profile) != "p-"+k {
			t.Errorf("%s = %q/%q", k, l.Session, l.Profile)
		}
		_ = s.Release(context.Background(), l)
	}
}

func testBinarySafe(t *testing.T, open func() Store) {
	s := open()
	data := "a\x00b\xff\xfe{}\n\"'\\ è 🙂"
	l := acquire(t, s, "bin", lease)
	commit(t, s, l, write(data, data))
	l = acquire(t, s, "bin", lease)
	if string(l.Session) != data || string(l.Profile) != data {
		t.Errorf("round trip of binary data changed it: %q / %q", l.Session, l.Profile)
	}
	_ = s.Release(context.Background(), l)
}

// eventually polls cond until it holds or the deadline passes. Expiry is
// driven by the store's clock, so the test has to let real time pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testSessionExpires(t *testing.T, open func() Store) {
	s := open()
	l := acquire(t, s, "idle", lease)
	commit(t, s, l, store.Write{Session: []byte("x"), SessionTTL: 150 * time.Millisecond})
	eventually(t, "session expires", func() bool {
		l := acquire(t, s, "idle", lease)
		defer s.Release(context.Background(), l)
		return l.Session == nil
	})
}

func testProfileOutlivesSession(t *testing.T, open func() Store) {
	s := open()
	l := acquire(t, s, "citizen", lease)
	commit(t, s, l, store.Write{
		Session: []byte("s"), SessionTTL: 150 * time.Millisecond,
		Profile: []byte("en"), ProfileTTL: time.Hour,
	})
	eventually(t, "session expires", func() bool {
		l := acquire(t, s, "citizen", lease)
		defer s.Release(context.Background(), l)
		return l.Session == nil
	})
	l = acquire(t, s, "citizen", lease)
	defer s.Release(context.Background(), l)
	if string(l.Profile) != "en" {
		t.Errorf("Profile after session expiry = %q, want %q", l.Profile, "en")
	}
}

func testNilSessionDeletes(t *testing.T, open func() Store) {
	s := open()
	l := acquire(t, s, "bye", lease)
	commit(t, s, l, write("s", "p"))
	l = acquire(t, s, "bye", lease)
	commit(t, s, l, store.Write{})
	l = acquire(t, s, "bye", lease)
	defer s.Release(context.Background(), l)
	if l.Session != nil || string(l.Profile) != "p" {
		t.Errorf("after nil session commit = %q/%q, want nil/p", l.Session, l.Profile)
	}
}

func testLeaseExcludes(t *testing.T, open func() Store) {
	a, b := open(), open()
	la := acquire(t, a, "one", lease)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := b.Acquire(ctx, "one", lease)
	if !errors.Is(err, store.ErrBusy) {
		t.Fatalf("second Acquire while held = %v, want ErrBusy", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Acquire error %v does not wrap the context's error", err)
	}
	// Other conversations are not blocked.
	lo := acquire(t, b, "two", lease)
	_ = b.Release(context.Background(), lo)
	_ = a.Release(context.Background(), la)
	lb := acquire(t, b, "one", lease)
	_ = b.Release(context.Background(), lb)
}

func testReleaseWakesWaiter(t *testing.T, open func() Store) {
	a, b := open(), open()
	la := acquire(t, a, "wake", 30*time.Second)
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		l, err := b.Acquire(ctx, "wake", lease)
		if err == nil {
			err = b.Release(ctx, l)
		}
		got <- err
	}()
	if err := a.Release(context.Background(), la); err != nil {
		t.Fatalf("Release = %v", err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiter's Acquire after release = %v", err)
	}
}

func testExpiredLeaseIsTakenOver(t *testing.T, open func() Store) {
	a, b := open(), open()
	la := acquire(t, a, "slow", 100*time.Millisecond)
	lb := acquire(t, b, "slow", lease) // waits for la to expire
	commit(t, b, lb, write("from-b", ""))
	err := a.Commit(context.Background(), la, write("from-a", ""))
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Commit on a lease taken over = %v, want ErrLeaseLost", err)
	}
	l := acquire(t, a, "slow", lease)
	defer a.Release(context.Background(), l)
	if string(l.Session) != "from-b" {
		t.Errorf("Session = %q, want %q (the stale writer must not win)", l.Session, "from-b")
	}
}

func testExpiredLeaseUntakenCommits(t *testing.T, open func() Store) {
	s := open()
	l := acquire(t, s, "late", 20*time.Millisecond)
	time.Sleep(60 * time.Millisecond) // let the lease run out; nobody takes it
	commit(t, s, l, write("late", ""))
	l = acquire(t, s, "late", lease)
	defer s.Release(context.Background(), l)
	if string(l.Session) != "late" {
		t.Errorf("Session = %q, want %q", l.Session, "late")
	}
}

// testSessionExpiresDuringTurn: the session's idle time runs out while a
// turn holds the lease; the turn's commit is not a conflict.
func testSessionExpiresDuringTurn(t *testing.T, open func() Store) {
	s := open()
	l := acquire(t, s, "idle-turn", lease)
	commit(t, s, l, store.Write{Session: []byte("v1"), SessionTTL: 100 * time.Millisecond})
	l = acquire(t, s, "idle-turn", lease)
	time.Sleep(200 * time.Millisecond) // the session expires while the lease is held
	commit(t, s, l, write("v2", ""))
	l = acquire(t, s, "idle-turn", lease)
	defer s.Release(context.Background(), l)
	if string(l.Session) != "v2" {
		t.Errorf("Session = %q, want %q", l.Session, "v2")
	}
}

// testProfileExpires: the profile is personal data and goes at its TTL.
func testProfileExpires(t *testing.T, open func() Store) {
	s := open()
	l := acquire(t, s, "quiet", lease)
	commit(t, s, l, store.Write{Session: []byte("s"), SessionTTL: 100 * time.Millisecond, Profile: []byte("en"), ProfileTTL: 150 * time.Millisecond})
	eventually(t, "profile expires", func() bool {
		l := acquire(t, s, "quiet", lease)
		defer s.Release(context.Background(), l)
		return l.Profile == nil
	})
}

func testStaleCommitAfterOtherCommit(t *testing.T, open func() Store) {
	a, b := open(), open()
	la := acquire(t, a, "race", 50*time.Millisecond)
	lb := acquire(t, b, "race", lease)
	commit(t, b, lb, write("b", "")) // releases: the lock is now free again
	err := a.Commit(context.Background(), la, write("a", ""))
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("stale Commit after another commit = %v, want ErrLeaseLost", err)
	}
}

// testConcurrentWriters runs many writers on several handles, each adding one
// to a counter kept in the session. Every increment must survive.
func testConcurrentWriters(t *testing.T, open func() Store) {
	const handles, writers, rounds = 4, 25, 4
	stores := make([]Store, handles)
	for i := range stores {
		stores[i] = open()
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%handles]
			for range rounds {
				if err := Increment(context.Background(), s, "counter"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment: %v", err)
	}
	if got, want := Counter(t, stores[0], "counter"), writers*rounds; got != want {
		t.Errorf("counter = %d, want %d: updates were lost", got, want)
	}
}

// Increment adds one to the counter kept in key's session, retrying when the
// lease is lost. Multi-process tests use it from helper processes.
func Increment(ctx context.Context, s Store, key string) error {
	for {
		l, err := s.Acquire(ctx, key, lease)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(l.Session))
		err = s.Commit(ctx, l, store.Write{Session: []byte(strconv.Itoa(n + 1)), SessionTTL: time.Hour})
		if errors.Is(err, store.ErrLeaseLost) {
			continue
		}
		return err
	}
}

// Counter reads the counter kept in key's session.
func Counter(t *testing.T, s Store, key string) int {
	t.Helper()
	l := acquire(t, s, key, lease)
	defer s.Release(context.Background(), l)
	n, err := strconv.Atoi(string(l.Session))
	if err != nil {
		t.Fatalf("counter %q: %v", l.Session, err)
	}
	return n
}

func testOnce(t *testing.T, open func() Store) {
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	firsts := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := open().Once(ctx, "update", "42", time.Hour)
			if err != nil {
				t.Errorf("Once = %v", err)
			}
			firsts <- ok
		}()
	}
	wg.Wait()
	close(firsts)
	count := 0
	for ok := range firsts {
		if ok {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d concurrent Once calls reported first %d times, want 1", n, count)
	}
	ok, err := open().Once(ctx, "update", "43", time.Hour)
	if err != nil || !ok {
		t.Errorf("Once(other id) = %v, %v; want true", ok, err)
	}
	ok, err = open().Once(ctx, "other-scope", "42", time.Hour)
	if err != nil || !ok {
		t.Errorf("Once(other scope) = %v, %v; want true", ok, err)
	}
}

func testOnceExpires(t *testing.T, open func() Store) {
	s := open()
	ctx := context.Background()
	if ok, err := s.Once(ctx, "u", "1", 100*time.Millisecond); !ok || err != nil {
		t.Fatalf("first Once = %v, %v", ok, err)
	}
	eventually(t, "once mark expires", func() bool {
		ok, err := s.Once(ctx, "u", "1", 100*time.Millisecond)
		if err != nil {
			t.Fatalf("Once = %v", err)
		}
		return ok
	})
}

func testForget(t *testing.T, open func() Store) {
	s := open()
	l := acquire(t, s, "forget-me", lease)
	commit(t, s, l, write("s", "p"))
	if err := s.Forget(context.Background(), "forget-me"); err != nil {
		t.Fatalf("Forget = %v", err)
	}
	l = acquire(t, s, "forget-me", lease)
	defer s.Release(context.Background(), l)
	if l.Session != nil || l.Profile != nil {
		t.Errorf("after Forget = %q/%q, want nothing", l.Session, l.Profile)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping = %v", err)
	}
}

func testSecret(t *testing.T, open func() Store) {
	ctx := context.Background()
	const n = 32
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := open().Secret(ctx, "pii", n)
			if err != nil {
				t.Errorf("Secret = %v", err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	if len(got[0]) != n {
		t.Fatalf("Secret is %d bytes, want %d", len(got[0]), n)
	}
	for _, v := range got[1:] {
		if string(v) != string(got[0]) {
			t.Fatalf("concurrent Secret calls returned different values")
		}
	}
	other, err := open().Secret(ctx, "other", n)
	if err != nil || string(other) == string(got[0]) {
		t.Errorf("Secret(other) = %x, %v; want a different secret", other, err)
	}
}
