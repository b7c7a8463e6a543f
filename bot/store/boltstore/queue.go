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

// Scheduled jobs live in two buckets:
//
//	sched_jobs  <queue> NUL <id>                 -> record
//	sched_due   <queue> NUL <score:8> <id>       -> empty
//
// The score is the due time, or the lease end while the job is claimed, in
// unix milliseconds encoded so that byte order is time order. Claim seeks to
// the queue's first index key and reads only due entries.
var (
	bucketJobs = []byte("sched_jobs")
	bucketDue  = []byte("sched_due")
)

// record is a stored job:
// due:8 | score:8 | attempt:4 | replaced:1 | len(token):1 | token | payload.
type record struct {
	due, score int64 // unix ms
	attempt    int
	replaced   bool // scheduled again while claimed: due when the claim ends
	token      string
	payload    []byte
}

const recordHeader = 8 + 8 + 4 + 1 + 1

func (r record) encode() []byte {
	buf := make([]byte, recordHeader+len(r.token)+len(r.payload))
	binary.BigEndian.PutUint64(buf, uint64(r.due))
	binary.BigEndian.PutUint64(buf[8:], uint64(r.score))
	binary.BigEndian.PutUint32(buf[16:], uint32(r.attempt))
	if r.replaced {
		buf[20] = 1
	}
	buf[21] = byte(len(r.token))
	n := copy(buf[recordHeader:], r.token)
	copy(buf[recordHeader+n:], r.payload)
	return buf
}

func decodeRecord(v []byte) (record, bool) {
	if len(v) < recordHeader || len(v) < recordHeader+int(v[21]) {
		return record{}, false
	}
	t := recordHeader + int(v[21])
	return record{
		due:      int64(binary.BigEndian.Uint64(v)),
		score:    int64(binary.BigEndian.Uint64(v[8:])),
		attempt:  int(binary.BigEndian.Uint32(v[16:])),
		replaced: v[20] == 1,
		token:    string(v[recordHeader:t]),
		payload:  append([]byte(nil), v[t:]...),
	}, true
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

// put writes r under id, moving its index entry from old (nil: none).
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
	return tx.Bucket(bucketJobs).Put(jobKey(queue, id), r.encode())
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
		if err := tx.Bucket(bucketDue).Delete(dueKey(queue, old.score, id)); err != nil {
			return err
		}
		return tx.Bucket(bucketJobs).Delete(jobKey(queue, id))
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
			jobs = append(jobs, schedule.Job{
				Queue: queue, ID: id, Due: time.UnixMilli(r.due),
				Payload: r.payload, Attempt: r.attempt, Token: r.token,
			})
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
			if err := tx.Bucket(bucketDue).Delete(dueKey(j.Queue, old.score, j.ID)); err != nil {
				return err
			}
			return tx.Bucket(bucketJobs).Delete(jobKey(j.Queue, j.ID))
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
	return schedule.Job{
		Queue: queue, ID: id, Due: time.UnixMilli(r.due),
		Payload: r.payload, Attempt: r.attempt, Token: r.token,
	}, true, nil
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
