// Package boltstore is the embedded state backend: one bbolt file under the
// data directory, pure Go, durable across restarts, for a Comune that runs a
// single Sportello process. The file is locked, so a second process that opens
// it gets a clear error instead of corrupting it.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"

	"sportello/bot/store"
)

// FileName is the database file inside the data directory.
const FileName = "sportello.db"

var (
	bucketSession = []byte("session")
	bucketProfile = []byte("profile")
	bucketOnce    = []byte("once")
)

// Store is the embedded backend.
type Store struct {
	db  *bolt.DB
	now func() time.Time
	log *slog.Logger

	mu     sync.Mutex
	leases map[string]*lease
	closed bool

	stop     chan struct{}
	stopOnce sync.Once
	sweeper  sync.WaitGroup
}

type lease struct {
	token   string
	expires time.Time
	done    chan struct{} // closed on release
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now, for tests of expiry.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger reports the background sweep's failures (expired personal data
// that could not be deleted) to log.
func WithLogger(log *slog.Logger) Option { return func(s *Store) { s.log = log } }

// Open opens (or creates) the database in dir. It fails with a message that
// names the file when another process holds it.
func Open(dir string, opts ...Option) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("SPORTELLO_DATA_DIR %q: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterr.ErrTimeout) {
		return nil, fmt.Errorf("embedded store %s is in use by another Sportello process: stop it, or set REDIS_URL to share state, or use another SPORTELLO_DATA_DIR", path)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSession, bucketProfile, bucketOnce, bucketJobs, bucketDue} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	s := &Store{db: db, now: time.Now, log: slog.New(slog.DiscardHandler), leases: map[string]*lease{}, stop: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	s.sweeper.Add(1)
	go s.sweep(time.Minute)
	return s, nil
}

// DB returns the underlying database, for packages that keep their own
// buckets in the same file (booking, scheduler).
func (s *Store) DB() *bolt.DB { return s.db }

// Acquire takes the conversation's lease, waiting while another turn holds
// it, and returns the state stored under it.
func (s *Store) Acquire(ctx context.Context, key string, d time.Duration) (*store.Lease, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, store.ErrClosed
		}
		now := s.now()
		cur := s.leases[key]
		if cur == nil || !now.Before(cur.expires) {
			l := &lease{token: store.NewToken(), expires: now.Add(d), done: make(chan struct{})}
			s.leases[key] = l
			s.mu.Unlock()
			out, err := s.load(key, l, now)
			if err != nil {
				s.release(key, l.token)
				return nil, err
			}
			return out, nil
		}
		done, wait := cur.done, cur.expires.Sub(now)
		s.mu.Unlock()

		t := time.NewTimer(wait)
		select {
		case <-done:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("bolt: acquire: %w (%w)", store.ErrBusy, ctx.Err())
		}
		t.Stop()
	}
}

func (s *Store) load(key string, l *lease, now time.Time) (*store.Lease, error) {
	out := &store.Lease{Key: key, Token: l.token, Expires: l.expires}
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketSession).Get([]byte(key)); v != nil {
			if exp, rest := decodeExpiry(v); rest != nil && live(exp, now) && len(rest) >= 8 {
				out.Version = int64(binary.BigEndian.Uint64(rest))
				out.Session = append([]byte(nil), rest[8:]...)
			}
		}
		if v := tx.Bucket(bucketProfile).Get([]byte(key)); v != nil {
			if exp, rest := decodeExpiry(v); rest != nil && live(exp, now) {
				out.Profile = append([]byte(nil), rest...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("acquire", err)
	}
	return out, nil
}

// Commit writes the turn's state and releases the lease. It fails with
// store.ErrLeaseLost, writing nothing, when another turn took the expired
// lease or changed the session since l was loaded.
func (s *Store) Commit(_ context.Context, l *store.Lease, w store.Write) error {
	// Whatever happens, this turn is over: never leave the conversation
	// locked behind a failed write (release only drops our own lease).
	defer s.release(l.Key, l.Token)
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		s.mu.Lock()
		cur := s.leases[l.Key]
		ours := cur != nil && cur.token == l.Token
		taken := cur != nil && !ours && now.Before(cur.expires)
		if ours {
			// Pin the lease while this transaction writes: a lease running
			// out in the middle of the write must not let another turn load
			// the state from before it. The deferred release drops it.
			cur.expires = now.Add(time.Hour)
		}
		s.mu.Unlock()
		if taken {
			return store.ErrLeaseLost
		}
		sb := tx.Bucket(bucketSession)
		var version int64
		if v := sb.Get([]byte(l.Key)); v != nil {
			if exp, rest := decodeExpiry(v); rest != nil && live(exp, now) && len(rest) >= 8 {
				version = int64(binary.BigEndian.Uint64(rest))
			}
		}
		// While the lease is ours nobody else can have written; once it
		// is not (expired, then released by its taker) the version must
		// be the one we loaded. As in the Redis store, a session that
		// expires during the turn is not a conflict.
		if !ours && version != l.Version {
			return store.ErrLeaseLost
		}
		if len(w.Session) == 0 {
			if err := sb.Delete([]byte(l.Key)); err != nil {
				return err
			}
			l.Version = 0
		} else {
			l.Version = version + 1
			buf := make([]byte, 16+len(w.Session))
			binary.BigEndian.PutUint64(buf, uint64(expiry(now, w.SessionTTL)))
			binary.BigEndian.PutUint64(buf[8:], uint64(l.Version))
			copy(buf[16:], w.Session)
			if err := sb.Put([]byte(l.Key), buf); err != nil {
				return err
			}
		}
		if w.Profile != nil {
			buf := make([]byte, 8+len(w.Profile))
			binary.BigEndian.PutUint64(buf, uint64(expiry(now, w.ProfileTTL)))
			copy(buf[8:], w.Profile)
			if err := tx.Bucket(bucketProfile).Put([]byte(l.Key), buf); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrLeaseLost) {
		return fmt.Errorf("bolt: commit: %w", err)
	}
	if err != nil {
		return s.wrap("commit", err)
	}
	return nil
}

// Release gives the lease back without writing.
func (s *Store) Release(_ context.Context, l *store.Lease) error {
	s.release(l.Key, l.Token)
	return nil
}

func (s *Store) release(key, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.leases[key]; cur != nil && cur.token == token {
		delete(s.leases, key)
		close(cur.done)
	}
}

// Once records id under scope and reports whether this was the first time
// within ttl.
func (s *Store) Once(_ context.Context, scope, id string, ttl time.Duration) (bool, error) {
	first := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOnce)
		k := []byte(scope + ":" + id)
		now := s.now()
		if v := b.Get(k); v != nil {
			if exp, _ := decodeExpiry(v); live(exp, now) {
				return nil
			}
		}
		first = true
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(expiry(now, ttl)))
		return b.Put(k, buf[:])
	})
	if err != nil {
		return false, s.wrap("once", err)
	}
	return first, nil
}

// Forget deletes the session and profile of a conversation.
func (s *Store) Forget(_ context.Context, key string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSession).Delete([]byte(key)); err != nil {
			return err
		}
		return tx.Bucket(bucketProfile).Delete([]byte(key))
	})
	return s.wrap("forget", err)
}

// Ping reports whether the store is open.
func (s *Store) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// Close stops the sweeper and closes the file. It is safe to call twice.
func (s *Store) Close() error {
	var err error
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		s.sweeper.Wait()
		err = s.db.Close()
	})
	return err
}

// sweep deletes expired entries every interval until Close.
func (s *Store) sweep(every time.Duration) {
	defer s.sweeper.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.Sweep(); err != nil {
				s.log.Error("embedded store: deleting expired data failed", slog.Any("error", err))
			}
		}
	}
}

// Sweep deletes every expired entry now.
func (s *Store) Sweep() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		for _, name := range [][]byte{bucketSession, bucketProfile, bucketOnce} {
			b := tx.Bucket(name)
			var expired [][]byte
			err := b.ForEach(func(k, v []byte) error {
				if exp, _ := decodeExpiry(v); !live(exp, now) {
					expired = append(expired, append([]byte(nil), k...))
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range expired {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return s.wrap("sweep", err)
}

func (s *Store) wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bolterr.ErrDatabaseNotOpen):
		return fmt.Errorf("bolt: %s: %w", op, store.ErrClosed)
	default:
		return fmt.Errorf("bolt: %s: %w: %w", op, store.ErrUnavailable, err)
	}
}

// decodeExpiry splits a stored value into its expiry (unix ms) and the rest.
// A value too short to hold an expiry decodes as already expired.
func decodeExpiry(v []byte) (int64, []byte) {
	if len(v) < 8 {
		return 0, nil
	}
	return int64(binary.BigEndian.Uint64(v)), v[8:]
}

func live(expMillis int64, now time.Time) bool { return now.UnixMilli() < expMillis }

func expiry(now time.Time, ttl time.Duration) int64 {
	if ttl <= 0 {
		ttl = 100 * 365 * 24 * time.Hour
	}
	return now.Add(ttl).UnixMilli()
}
