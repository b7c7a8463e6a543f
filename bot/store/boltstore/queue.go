package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"sportello/bot/schedule"
	"sportello/bot/store"
)

var _ schedule.Backend = (*Store)(nil)

// Scheduled jobs live in three buckets:
//
//	sched_jobs  <queue> NUL <id>                 -> record
//	sched_due   <queue> NUL <score:8> <id>       -> empty
//	sched_exp   <expires:8> <queue> NUL <id>     -> empty (jobs with Expires only)
//
// The score is the due time, or the lease end while the job is claimed, in
// unix milliseconds encoded so that byte order is time order. Claim seeks to
// the queue's first index key and reads only due entries; PurgeExpired
// reads sched_exp from its start. Every change of a job updates its index
// entries in the same transaction, so the indexes are exact.
var (
	bucketJobs = []byte("sched_jobs")
	bucketDue  = []byte("sched_due")
	bucketExp  = []byte("sched_exp") // created by the first job with Expires
)

// record is a stored job:
// due:8 | score:8 | attempt:4 | flags:1 | len(token):1 | [expires:8] | token | payload.
// flags: 1 = replaced, 2 = has expires (records written before expiry
// existed have neither bit 2 nor the expires field).
type record struct {
	due, score int64 // unix ms
	attempt    int
	replaced   bool // scheduled again while claimed: due when the claim ends
	expires    int64
	hasExpires bool
	token      string
	payload    []byte
}

const (
	recordHeader = 8 + 8 + 4 + 1 + 1

	flagReplaced   = 1
	flagHasExpires = 2
)

func (r record) encode() []byte {
	ext := 0
	if r.hasExpires {
		ext = 8
	}
	buf := make([]byte, recordHeader+ext+len(r.token)+len(r.payload))
	binary.BigEndian.PutUint64(buf, uint64(r.due))
	binary.BigEndian.PutUint64(buf[8:], uint64(r.score))
	binary.BigEndian.PutUint32(buf[16:], uint32(r.attempt))
	if r.replaced {
		buf[20] |= flagReplaced
	}
	if r.hasExpires {
		buf[20] |= flagHasExpires
		binary.BigEndian.PutUint64(buf[recordHeader:], uint64(r.expires))
	}
	buf[21] = byte(len(r.token))
	n := copy(buf[recordHeader+ext:], r.token)
	copy(buf[recordHeader+ext+n:], r.payload)
	return buf
}

func decodeRecord(v []byte) (record, bool) {
	if len(v) < recordHeader {
		return record{}, false
	}
	r := record{
		due:        int64(binary.BigEndian.Uint64(v)),
		score:      int64(binary.BigEndian.Uint64(v[8:])),
		attempt:    int(binary.BigEndian.Uint32(v[16:])),
		replaced:   v[20]&flagReplaced != 0,
		hasExpires: v[20]&flagHasExpires != 0,
	}
	t := recordHeader
	if r.hasExpires {
		if len(v) < t+8 {
			return record{}, false
		}
		r.expires = int64(binary.BigEndian.Uint64(v[t:]))
		t += 8
	}
	if len(v) < t+int(v[21]) {
		return record{}, false
	}
	r.token = string(v[t : t+int(v[21])])
	r.payload = append([]byte(nil), v[t+int(v[21]):]...)
	return r, true
}

// job is r as the scheduler sees it.
func (r record) job(queue, id string) schedule.Job {
	j := schedule.Job{
		Queue: queue, ID: id, Due: time.UnixMilli(r.due),
		Payload: r.payload, Attempt: r.attempt, Token: r.token,
	}
	if r.hasExpires {
		j.Expires = time.UnixMilli(r.expires)
	}
	return j
}

func jobKey(queue, id string) []byte {
	return append([]byte(queue+"\x00"), id...)
}

// dueKey is the index key of id in queue at score. Flipping the sign bit
// makes the big-endian bytes of a signed time sort in time order.
func dueKey(queue string, score int64, id string) []byte {
	k := make([]byte, 0, len(queue)+1+8+len(id))
	k = append(k, queue...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, uint64(score)^(1<<63))
	return append(k, id...)
}

// expKey is the expiry index key of id in queue.
func expKey(expires int64, queue, id string) []byte {
	k := make([]byte, 0, 8+len(queue)+1+len(id))
	k = binary.BigEndian.AppendUint64(k, uint64(expires)^(1<<63))
	k = append(k, queue...)
	k = append(k, 0)
	return append(k, id...)
}

// put writes r under id, moving its index entries from old (nil: none).
func put(tx *bolt.Tx, queue, id string, old *record, r record) error {
	due := tx.Bucket(bucketDue)
	if old != nil {
		if err := due.Delete(dueKey(queue, old.score, id)); err != nil {
			return err
		}
	}
	if err := due.Put(dueKey(queue, r.score, id), nil); err != nil {
		return err
	}
	if old == nil || old.hasExpires != r.hasExpires || old.expires != r.expires {
		if err := delExp(tx, queue, id, old); err != nil {
			return err
		}
		if r.hasExpires {
			exp, err := tx.CreateBucketIfNotExists(bucketExp)
			if err != nil {
				return err
			}
			if err := exp.Put(expKey(r.expires, queue, id), nil); err != nil {
				return err
			}
		}
	}
	return tx.Bucket(bucketJobs).Put(jobKey(queue, id), r.encode())
}

// del deletes the stored job old and its index entries.
func del(tx *bolt.Tx, queue, id string, old *record) error {
	if err := tx.Bucket(bucketDue).Delete(dueKey(queue, old.score, id)); err != nil {
		return err
	}
	if err := delExp(tx, queue, id, old); err != nil {
		return err
	}
	return tx.Bucket(bucketJobs).Delete(jobKey(queue, id))
}

// delExp deletes old's expiry index entry, if it has one.
func delExp(tx *bolt.Tx, queue, id string, old *record) error {
	if old == nil || !old.hasExpires {
		return nil
	}
	if b := tx.Bucket(bucketExp); b != nil {
		return b.Delete(expKey(old.expires, queue, id))
	}
	return nil
}

func get(tx *bolt.Tx, queue, id string) (*record, error) {
	v := tx.Bucket(bucketJobs).Get(jobKey(queue, id))
	if v == nil {
		return nil, nil
	}
	r, ok := decodeRecord(v)
	if !ok {
		return nil, fmt.Errorf("corrupt job %s/%s", queue, id)
	}
	return &r, nil
}

// Schedule stores j, replacing any job with the same Queue and ID. A job
// replaced while claimed keeps its claim until Done or the lease ends.
func (s *Store) Schedule(_ context.Context, j schedule.Job) error {
	if err := j.Validate(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, err := get(tx, j.Queue, j.ID)
		if err != nil {
			return err
		}
		r := record{due: j.Due.UnixMilli(), score: j.Due.UnixMilli(), attempt: j.Attempt, payload: j.Payload}
		if !j.Expires.IsZero() {
			r.expires, r.hasExpires = j.Expires.UnixMilli(), true
		}
		if old != nil && old.token != "" {
			r.score, r.token, r.replaced = old.score, old.token, true
		}
		return put(tx, j.Queue, j.ID, old, r)
	})
	return s.wrap("schedule", err)
}

// Cancel deletes a job, claimed or not. Cancelling a missing job is not an
// error.
func (s *Store) Cancel(_ context.Context, queue, id string) error {
	if err := schedule.ValidateQueue(queue); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, err := get(tx, queue, id)
		if err != nil || old == nil {
			return err
		}
		return del(tx, queue, id, old)
	})
	return s.wrap("cancel", err)
}

// Claim takes up to limit jobs due at now in one transaction.
func (s *Store) Claim(_ context.Context, queue string, now time.Time, lease time.Duration, limit int) ([]schedule.Job, error) {
	if err := schedule.ValidateQueue(queue); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	nowMs, until := now.UnixMilli(), now.Add(lease).UnixMilli()
	base := store.NewToken()
	var jobs []schedule.Job
	err := s.db.Update(func(tx *bolt.Tx) error {
		jobs = jobs[:0]
		prefix := append([]byte(queue), 0)
		end := dueKey(queue, nowMs, "")
		var ids []string
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.Seek(prefix); k != nil && len(ids) < limit; k, _ = c.Next() {
			if !bytes.HasPrefix(k, prefix) || len(k) < len(end) || bytes.Compare(k[:len(end)], end) > 0 {
				break
			}
			ids = append(ids, string(k[len(end):]))
		}
		for i, id := range ids {
			old, err := get(tx, queue, id)
			if err != nil {
				return err
			}
			if old == nil {
				continue
			}
			r := *old
			if r.replaced && r.due > nowMs {
				// The claim on a replaced job lapsed; the replacement is not due yet.
				r.score, r.token, r.replaced = r.due, "", false
				if err := put(tx, queue, id, old, r); err != nil {
					return err
				}
				continue
			}
			if r.token != "" && !r.replaced {
				r.attempt++ // a lease ran out: that was an attempt
			}
			r.score, r.token, r.replaced = until, base+"."+strconv.Itoa(i+1), false
			if err := put(tx, queue, id, old, r); err != nil {
				return err
			}
			jobs = append(jobs, r.job(queue, id))
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("claim", err)
	}
	return jobs, nil
}

// Done deletes the claimed job, or lets its replacement become due.
func (s *Store) Done(_ context.Context, j schedule.Job) error {
	return s.finish("done", j, func(r *record) bool { return false })
}

// Retry reschedules the claimed job at due with Attempt+1.
func (s *Store) Retry(_ context.Context, j schedule.Job, due time.Time) error {
	return s.finish("retry", j, func(r *record) bool {
		r.due, r.score = due.UnixMilli(), due.UnixMilli()
		r.attempt++
		return true
	})
}

// Postpone reschedules the claimed job at due without counting an attempt.
func (s *Store) Postpone(_ context.Context, j schedule.Job, due time.Time) error {
	return s.finish("postpone", j, func(r *record) bool {
		r.due, r.score = due.UnixMilli(), due.UnixMilli()
		return true
	})
}

// finish ends the claim j holds: again changes the record and reports
// whether to keep it (false: delete). A replaced job is kept as replaced.
func (s *Store) finish(op string, j schedule.Job, again func(*record) bool) error {
	if err := schedule.ValidateQueue(j.Queue); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, err := get(tx, j.Queue, j.ID)
		if err != nil {
			return err
		}
		if old == nil || old.token != j.Token || j.Token == "" {
			return store.ErrLeaseLost
		}
		r := *old
		r.token = ""
		switch {
		case r.replaced:
			r.score, r.replaced = r.due, false
		case !again(&r):
			return del(tx, j.Queue, j.ID, old)
		}
		return put(tx, j.Queue, j.ID, old, r)
	})
	if errors.Is(err, store.ErrLeaseLost) {
		return fmt.Errorf("bolt: %s %s/%s: %w", op, j.Queue, j.ID, err)
	}
	return s.wrap(op, err)
}

// Get returns the stored job, whether waiting or claimed (then Token is the
// claim's). It reports false when there is none.
func (s *Store) Get(_ context.Context, queue, id string) (schedule.Job, bool, error) {
	if err := schedule.ValidateQueue(queue); err != nil {
		return schedule.Job{}, false, err
	}
	var r *record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = get(tx, queue, id)
		return err
	})
	if err != nil || r == nil {
		return schedule.Job{}, false, s.wrap("get", err)
	}
	return r.job(queue, id), true, nil
}

// Pending counts the queue's jobs, waiting or claimed.
func (s *Store) Pending(_ context.Context, queue string) (int, error) {
	if err := schedule.ValidateQueue(queue); err != nil {
		return 0, err
	}
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := append([]byte(queue), 0)
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, s.wrap("pending", err)
	}
	return n, nil
}

// PurgeExpired deletes up to limit jobs, waiting or claimed, whose Expires
// is at or before now, in one transaction.
func (s *Store) PurgeExpired(_ context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket(bucketExp)
		if b == nil {
			return nil // no job ever had an expiry
		}
		end := binary.BigEndian.AppendUint64(nil, uint64(now.UnixMilli())^(1<<63))
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil && len(keys) < limit && len(k) > 8 && bytes.Compare(k[:8], end) <= 0; k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			queue, id, ok := bytes.Cut(k[8:], []byte{0})
			if !ok {
				return fmt.Errorf("corrupt expiry index key %q", k)
			}
			old, err := get(tx, string(queue), string(id))
			if err != nil {
				return err
			}
			exp := int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
			if old == nil || !old.hasExpires || old.expires != exp {
				// Not the job's own expiry. put and del keep the index
				// exact, so this is defensive: drop the entry, never the job.
				if err := b.Delete(k); err != nil {
					return err
				}
				continue
			}
			if err := del(tx, string(queue), string(id), old); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, s.wrap("purge", err)
	}
	return n, nil
}
