package telegram

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"

	"sportello/bot/store"
)

// boltInbox keeps the inbox in the embedded store's file, for the single
// process that owns it. The queue and the dedupe marks are durable (one bbolt
// transaction records both); which worker holds which chat is kept in memory,
// since no other process can share the file.
//
// Bucket "telegram" holds:
//
//	seen:        update_id -> expiry (unix ms)
//	q:           chat ‖ update_id -> failed sends (2 bytes) ‖ failed turns (2 bytes) ‖ raw update
//	unreachable: chat -> empty
//
// The two counts share the 4 bytes that earlier versions kept one count of
// attempts in (big-endian, small): a record they queued reads as that many
// failed turns.
type boltInbox struct {
	db  *bolt.DB
	now func() time.Time

	mu        sync.Mutex
	due       map[int64]time.Time // chats with queued updates -> when claimable
	owner     map[int64]boltLease
	lastSweep time.Time
}

type boltLease struct {
	token string
	until time.Time
}

var (
	bucketTelegram    = []byte("telegram")
	bucketSeen        = []byte("seen")
	bucketQueue       = []byte("q")
	bucketUnreachable = []byte("unreachable")
)

func newBoltInbox(db *bolt.DB, now func() time.Time) (*boltInbox, error) {
	b := &boltInbox{db: db, now: now, due: map[int64]time.Time{}, owner: map[int64]boltLease{}}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketTelegram)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketSeen, bucketQueue, bucketUnreachable} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		// Whatever was queued before a restart is due now.
		start := now()
		return root.Bucket(bucketQueue).ForEach(func(k, _ []byte) error {
			if len(k) == 16 {
				b.due[chatOf(k)] = start
			}
			return nil
		})
	})
	if err != nil {
		return nil, wrapBolt("open", err)
	}
	return b, nil
}

func chatKey(chat int64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(chat)^(1<<63))
	return k[:]
}

func queueKey(chat, id int64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(chat)^(1<<63))
	binary.BigEndian.PutUint64(k[8:], uint64(id))
	return k
}

func chatOf(k []byte) int64 { return int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63)) }

func idKey(id int64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(id))
	return k[:]
}

func (b *boltInbox) add(_ context.Context, items []item, ttl time.Duration) (int, error) {
	added := 0
	now := b.now()
	sweep := false
	b.mu.Lock()
	if now.Sub(b.lastSweep) > time.Hour {
		b.lastSweep, sweep = now, true
	}
	b.mu.Unlock()
	err := b.db.Update(func(tx *bolt.Tx) error {
		added = 0
		root := tx.Bucket(bucketTelegram)
		seen, q := root.Bucket(bucketSeen), root.Bucket(bucketQueue)
		if sweep {
			if err := sweepSeen(seen, now); err != nil {
				return err
			}
		}
		for _, it := range items {
			k := idKey(it.UpdateID)
			if v := seen.Get(k); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > now.UnixMilli() {
				continue
			}
			var exp [8]byte
			binary.BigEndian.PutUint64(exp[:], uint64(now.Add(ttl).UnixMilli()))
			if err := seen.Put(k, exp[:]); err != nil {
				return err
			}
			if err := q.Put(queueKey(it.Chat, it.UpdateID), append(make([]byte, 4), it.Raw...)); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, wrapBolt("add", err)
	}
	// Mark the chats due only now, after the commit and under b.mu: see
	// headOrFree.
	b.mu.Lock()
	for _, it := range items {
		if _, ok := b.due[it.Chat]; !ok {
			b.due[it.Chat] = now
		}
	}
	b.mu.Unlock()
	return added, nil
}

func sweepSeen(seen *bolt.Bucket, now time.Time) error {
	var expired [][]byte
	err := seen.ForEach(func(k, v []byte) error {
		if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) <= now.UnixMilli() {
			expired = append(expired, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range expired {
		if err := seen.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// head reads the chat's oldest queued update.
func (b *boltInbox) head(chat int64) (*claim, error) {
	var c *claim
	err := b.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketTelegram).Bucket(bucketQueue).Cursor()
		prefix := chatKey(chat)
		k, v := cur.Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) || len(v) < 4 {
			return nil
		}
		c = &claim{
			item:  item{UpdateID: int64(binary.BigEndian.Uint64(k[8:])), Chat: chat, Raw: append([]byte(nil), v[4:]...)},
			Fails: decodeFails(v[:4]),
		}
		return nil
	})
	return c, wrapBolt("read", err)
}

func (b *boltInbox) claim(_ context.Context, lease time.Duration) (*claim, time.Duration, error) {
	for {
		now := b.now()
		b.mu.Lock()
		var (
			pick  int64
			found bool
			first time.Time
		)
		for chat, due := range b.due {
			if l, held := b.owner[chat]; held && now.Before(l.until) {
				continue
			}
			if due.After(now) {
				if first.IsZero() || due.Before(first) {
					first = due
				}
				continue
			}
			if !found || due.Before(b.due[pick]) {
				pick, found = chat, true
			}
		}
		if !found {
			b.mu.Unlock()
			if first.IsZero() {
				return nil, -1, nil
			}
			return nil, first.Sub(now), nil
		}
		token := store.NewToken()
		c, err := b.headOrFree(pick, token, lease)
		b.mu.Unlock()
		if err != nil {
			return nil, 0, err
		}
		if c != nil {
			return c, 0, nil
		}
		// Nothing queued any more: the chat was freed; look again.
	}
}

// headOrFree, called with b.mu held, gives the chat to token: it returns
// the chat's oldest queued update under a lease, or, when the queue is
// empty, frees the chat and drops it from the due set.
//
// The queue is read under b.mu, and add marks a chat due under b.mu after
// its commit; so an add cannot fall between "the queue is empty" and
// "forget the chat": either this read sees the new update, or add finds
// the chat forgotten and marks it due again.
func (b *boltInbox) headOrFree(chat int64, token string, lease time.Duration) (*claim, error) {
	c, err := b.head(chat)
	switch {
	case err != nil:
		delete(b.owner, chat)
		return nil, err
	case c == nil:
		delete(b.owner, chat)
		delete(b.due, chat)
		return nil, nil
	}
	b.owner[chat] = boltLease{token: token, until: b.now().Add(lease)}
	c.token = token
	return c, nil
}

func (b *boltInbox) holds(c *claim) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.owner[c.Chat].token == c.token
}

func (b *boltInbox) done(_ context.Context, c *claim, lease time.Duration, reachable bool) (*claim, error) {
	if !b.holds(c) {
		return nil, errLeaseLost
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketTelegram)
		if reachable {
			if err := root.Bucket(bucketUnreachable).Delete(chatKey(c.Chat)); err != nil {
				return err
			}
		}
		return root.Bucket(bucketQueue).Delete(queueKey(c.Chat, c.UpdateID))
	})
	if err != nil {
		return nil, wrapBolt("done", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.owner[c.Chat].token != c.token {
		// The lease ran out meanwhile and another worker has the chat:
		// the update is gone, the chat is theirs.
		return nil, nil
	}
	return b.headOrFree(c.Chat, c.token, lease)
}

func (b *boltInbox) retry(_ context.Context, c *claim, delay time.Duration, fails failures) error {
	if !b.holds(c) {
		return errLeaseLost
	}
	if fails != c.Fails {
		err := b.db.Update(func(tx *bolt.Tx) error {
			q := tx.Bucket(bucketTelegram).Bucket(bucketQueue)
			k := queueKey(c.Chat, c.UpdateID)
			v := q.Get(k)
			if len(v) < 4 {
				return nil
			}
			nv := append([]byte(nil), v...)
			encodeFails(nv[:4], fails)
			return q.Put(k, nv)
		})
		if err != nil {
			return wrapBolt("retry", err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.owner[c.Chat].token == c.token {
		delete(b.owner, c.Chat)
		b.due[c.Chat] = b.now().Add(delay)
	}
	return nil
}

// decodeFails reads a record's counts of failed tries.
func decodeFails(h []byte) failures {
	return failures{Send: int(binary.BigEndian.Uint16(h[:2])), Turn: int(binary.BigEndian.Uint16(h[2:4]))}
}

// encodeFails writes the counts of failed tries into a record's first 4
// bytes. Each is bounded by its Config limit, far below 2¹⁶.
func encodeFails(h []byte, f failures) {
	binary.BigEndian.PutUint16(h[:2], uint16(min(max(f.Send, 0), math.MaxUint16)))
	binary.BigEndian.PutUint16(h[2:4], uint16(min(max(f.Turn, 0), math.MaxUint16)))
}

func (b *boltInbox) extend(_ context.Context, c *claim, lease time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.owner[c.Chat].token != c.token {
		return errLeaseLost
	}
	b.owner[c.Chat] = boltLease{token: c.token, until: b.now().Add(lease)}
	return nil
}

func (b *boltInbox) setUnreachable(_ context.Context, chat int64, unreachable bool) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		u := tx.Bucket(bucketTelegram).Bucket(bucketUnreachable)
		if unreachable {
			return u.Put(chatKey(chat), []byte{1})
		}
		return u.Delete(chatKey(chat))
	})
	return wrapBolt("unreachable", err)
}

func (b *boltInbox) unreachable(_ context.Context, chat int64) (bool, error) {
	found := false
	err := b.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketTelegram).Bucket(bucketUnreachable).Get(chatKey(chat)) != nil
		return nil
	})
	return found, wrapBolt("unreachable", err)
}

func wrapBolt(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bolterr.ErrDatabaseNotOpen):
		return fmt.Errorf("telegram: inbox %s: %w", op, store.ErrClosed)
	default:
		return fmt.Errorf("telegram: inbox %s: %w: %w", op, store.ErrUnavailable, err)
	}
}
