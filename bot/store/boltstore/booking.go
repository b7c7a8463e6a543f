package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"sportello/bot/booking"
)

var _ booking.Store = (*Store)(nil)

// Booking buckets. Keys join parts with a zero byte; numbers are big-endian
// so that byte order is numeric order.
var (
	bkRec   = []byte("booking.rec")   // code -> JSON booking
	bkOcc   = []byte("booking.occ")   // office 0 minute -> places held
	bkCal   = []byte("booking.cal")   // office 0 minute code -> nil
	bkPers  = []byte("booking.pers")  // person 0 code -> nil
	bkConv  = []byte("booking.conv")  // conversation 0 code -> nil
	bkIdem  = []byte("booking.idem")  // key -> expiry ms, code
	bkRate  = []byte("booking.rate")  // p|c id 0 window -> expiry ms, count
	bkWait  = []byte("booking.wait")  // office|"*" 0 seq -> code
	bkDue   = []byte("booking.due")   // due ms code -> nil
	bkDueOf = []byte("booking.dueof") // code -> due ms
	bkMeta  = []byte("booking.meta")  // "seq" -> last waitlist seq, "cleaned" -> ms
)

// maxOfferScan bounds how many stale waitlist entries one step skips.
const maxOfferScan = 64

// btx is one booking transaction.
type btx struct {
	rec, occ, cal, pers, conv, idem, rate, wait, due, dueof, meta *bolt.Bucket
	now                                                           time.Time
}

func openBuckets(tx *bolt.Tx, now time.Time) (*btx, error) {
	k := &btx{now: now}
	for _, x := range []struct {
		b    **bolt.Bucket
		name []byte
	}{{&k.rec, bkRec}, {&k.occ, bkOcc}, {&k.cal, bkCal}, {&k.pers, bkPers}, {&k.conv, bkConv},
		{&k.idem, bkIdem}, {&k.rate, bkRate}, {&k.wait, bkWait}, {&k.due, bkDue}, {&k.dueof, bkDueOf}, {&k.meta, bkMeta}} {
		if tx.Writable() {
			b, err := tx.CreateBucketIfNotExists(x.name)
			if err != nil {
				return nil, err
			}
			*x.b = b
		} else if *x.b = tx.Bucket(x.name); *x.b == nil {
			return nil, nil // nothing booked yet
		}
	}
	return k, nil
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, []byte{0}) }

func be64(n int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return b[:]
}

func minute(t time.Time) int64 { return t.Unix() / 60 }

func waitKey(office string) []byte {
	if office == "" {
		return []byte("*")
	}
	return []byte(office)
}

func (k *btx) get(code string) (*booking.Booking, error) {
	v := k.rec.Get([]byte(code))
	if v == nil {
		return nil, nil
	}
	var b booking.Booking
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, fmt.Errorf("booking %s: %w", code, err)
	}
	return &b, nil
}

// save writes b and moves it in the due index. A pending notice that
// changed starts its failed tries from 0; NoticeAt holds back offers only.
func (k *btx) save(b *booking.Booking) error {
	return k.saveDue(b, booking.DueAt(b, k.now))
}

// saveDue writes b, due at at.
func (k *btx) saveDue(b *booking.Booking, at time.Time) error {
	if v := k.rec.Get([]byte(b.Code)); v != nil {
		var old struct {
			Notice booking.NoticeKind `json:"notice"`
		}
		if json.Unmarshal(v, &old) == nil && old.Notice != b.Notice {
			b.NoticeTries = 0
		}
	}
	if b.Notice != booking.NoticeOffer {
		b.NoticeAt = time.Time{}
	}
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := k.rec.Put([]byte(b.Code), data); err != nil {
		return err
	}
	if old := k.dueof.Get([]byte(b.Code)); old != nil {
		if err := k.due.Delete(append(bytes.Clone(old), b.Code...)); err != nil {
			return err
		}
	}
	due := be64(at.UnixMilli())
	if err := k.dueof.Put([]byte(b.Code), due); err != nil {
		return err
	}
	return k.due.Put(append(due, b.Code...), nil)
}

// purge deletes b and every index entry of it.
func (k *btx) purge(b *booking.Booking) error {
	code := []byte(b.Code)
	if b.Status.Active() {
		if err := k.occAdd(b.Office, b.Start, -1); err != nil {
			return err
		}
	}
	if old := k.dueof.Get(code); old != nil {
		if err := k.due.Delete(append(bytes.Clone(old), code...)); err != nil {
			return err
		}
	}
	dels := []struct {
		b   *bolt.Bucket
		key []byte
	}{
		{k.rec, code}, {k.dueof, code},
		{k.pers, join([]byte(b.Person), code)},
		{k.conv, join([]byte(b.Conv.Key()), code)},
	}
	if !b.Start.IsZero() {
		dels = append(dels, struct {
			b   *bolt.Bucket
			key []byte
		}{k.cal, join([]byte(b.Office), be64(minute(b.Start)), code)})
	}
	if b.Status == booking.StatusWaiting {
		dels = append(dels, struct {
			b   *bolt.Bucket
			key []byte
		}{k.wait, join(waitKey(b.Office), be64(b.Seq))})
	}
	for _, d := range dels {
		if err := d.b.Delete(d.key); err != nil {
			return err
		}
	}
	return nil
}

func (k *btx) occKey(office string, start time.Time) []byte {
	return join([]byte(office), be64(minute(start)))
}

func (k *btx) occGet(office string, start time.Time) int {
	if v := k.occ.Get(k.occKey(office, start)); len(v) == 8 {
		return int(binary.BigEndian.Uint64(v))
	}
	return 0
}

func (k *btx) occAdd(office string, start time.Time, d int) error {
	n := k.occGet(office, start) + d
	if n <= 0 {
		return k.occ.Delete(k.occKey(office, start))
	}
	return k.occ.Put(k.occKey(office, start), be64(int64(n)))
}

func (k *btx) calPut(b *booking.Booking) error {
	return k.cal.Put(join([]byte(b.Office), be64(minute(b.Start)), []byte(b.Code)), nil)
}

func (k *btx) calDel(b *booking.Booking) error {
	return k.cal.Delete(join([]byte(b.Office), be64(minute(b.Start)), []byte(b.Code)))
}

// take holds a place for b in its slot (occupancy and calendar).
func (k *btx) take(b *booking.Booking) error {
	if err := k.occAdd(b.Office, b.Start, 1); err != nil {
		return err
	}
	return k.calPut(b)
}

// codes returns the codes indexed under id in bucket b.
func codes(b *bolt.Bucket, id string) []string {
	var out []string
	prefix := append([]byte(id), 0)
	c := b.Cursor()
	for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, _ = c.Next() {
		out = append(out, string(key[len(prefix):]))
	}
	return out
}

// records returns the records indexed under id in bucket b.
func (k *btx) records(b *bolt.Bucket, id string) ([]*booking.Booking, error) {
	var out []*booking.Booking
	for _, code := range codes(b, id) {
		r, err := k.get(code)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// activeCount counts the places still to come indexed under id (an
// appointment whose slot has started is over and counts no more), and the
// places in line too when waiting is true.
func (k *btx) activeCount(b *bolt.Bucket, id string, waiting bool) (int, error) {
	rs, err := k.records(b, id)
	n := 0
	for _, r := range rs {
		if r.Status.Active() && !r.Over(k.now) || waiting && r.Status == booking.StatusWaiting {
			n++
		}
	}
	return n, err
}

// overLimit counts the upcoming bookings of b's person and conversation.
func (k *btx) overLimit(b *booking.Booking, lim booking.Limits) (bool, error) {
	n, err := k.activeCount(k.pers, b.Person, false)
	if err != nil || n >= lim.MaxActive {
		return true, err
	}
	n, err = k.activeCount(k.conv, b.Conv.Key(), false)
	return err != nil || n >= lim.MaxActiveConv, err
}

// hit counts an attempt of kind/id in the current window and reports
// whether it is within the limit.
func (k *btx) hit(kind, id string, lim booking.Limits) (bool, error) {
	win := lim.Now.UnixNano() / int64(lim.RateWindow)
	key := join([]byte(kind+id), be64(win))
	var n uint64
	if v := k.rate.Get(key); len(v) == 16 {
		n = binary.BigEndian.Uint64(v[8:])
	}
	n++
	val := append(be64(lim.Now.Add(2*lim.RateWindow).UnixMilli()), be64(int64(n))...)
	return int(n) <= lim.RateLimit, k.rate.Put(key, val)
}

// rateOK counts an attempt for b's person and conversation.
func (k *btx) rateOK(b *booking.Booking, lim booking.Limits) (bool, error) {
	p, err := k.hit("p", b.Person, lim)
	if err != nil {
		return false, err
	}
	c, err := k.hit("c", b.Conv.Key(), lim)
	return p && c, err
}

// head returns the first waitlist key and code under office, or nil.
func (k *btx) head(office []byte) ([]byte, string) {
	prefix := append(bytes.Clone(office), 0)
	key, v := k.wait.Cursor().Seek(prefix)
	if key == nil || !bytes.HasPrefix(key, prefix) {
		return nil, ""
	}
	return bytes.Clone(key), string(v)
}

// offerNext holds the place just freed in office's slot at start for the
// first in line (on that office's waitlist or the any-office one), if the
// slot is not too close and still has room. It returns the offer or nil.
func (k *btx) offerNext(office string, start time.Time, lim booking.Limits) (*booking.Booking, error) {
	if start.Before(lim.OfferFrom) || k.occGet(office, start) >= lim.Capacities[office] {
		return nil, nil
	}
	for range maxOfferScan {
		ko, co := k.head(waitKey(office))
		ka, ca := k.head(waitKey(""))
		key, code := ko, co
		if key == nil || (ka != nil && bytes.Compare(ka[2:], ko[len(office)+1:]) < 0) {
			key, code = ka, ca
		}
		if key == nil {
			return nil, nil
		}
		if err := k.wait.Delete(key); err != nil {
			return nil, err
		}
		w, err := k.get(code)
		if err != nil {
			return nil, err
		}
		if w == nil || w.Status != booking.StatusWaiting {
			continue
		}
		over, err := k.overLimit(w, lim)
		if err != nil {
			return nil, err
		}
		if over {
			// Booked meanwhile: leave the line without a word.
			w.Status, w.PurgeAt = booking.StatusCancelled, lim.Now.UTC()
			if err := k.save(w); err != nil {
				return nil, err
			}
			continue
		}
		w.WaitOffice, w.WaitUntil = w.Office, w.Until
		w.Status, w.Office, w.Start = booking.StatusOffered, office, start.UTC()
		w.PurgeAt = start.Add(lim.Retention).UTC()
		hold(w, lim)
		if err := k.take(w); err != nil {
			return nil, err
		}
		return w, k.save(w)
	}
	return nil, nil
}

// hold (re)starts the hold of the offer w at lim.Now: told at lim.OfferAt
// (the morning when it is night), held until lim.OfferUntil.
func hold(w *booking.Booking, lim booking.Limits) {
	w.Until, w.Notice, w.Told = lim.OfferUntil.UTC(), booking.NoticeOffer, false
	w.NoticeAt = time.Time{}
	if lim.OfferAt.After(lim.Now) {
		w.NoticeAt = lim.OfferAt.UTC()
	}
}

// backInLine turns the offer b, never told, back into the waitlist entry
// it was made from, in its old place in line, and frees its place.
func (k *btx) backInLine(b *booking.Booking, lim booking.Limits) (*booking.Booking, error) {
	old := *b
	if err := k.calDel(&old); err != nil {
		return nil, err
	}
	b.Status, b.Office, b.Start = booking.StatusWaiting, b.WaitOffice, time.Time{}
	b.Until, b.PurgeAt, b.Notice, b.Told = b.WaitUntil, b.WaitUntil, "", false
	b.WaitOffice, b.WaitUntil = "", time.Time{}
	if err := k.wait.Put(join(waitKey(b.Office), be64(b.Seq)), []byte(b.Code)); err != nil {
		return nil, err
	}
	if err := k.save(b); err != nil {
		return nil, err
	}
	return k.free(&old, lim)
}

// answerBy is the deadline to confirm b asked at lim.Now: by, but at least
// lim.AnswerWindow from now, and no later than a freed place can still be
// offered (min notice before the start). ok is false when that moment has
// passed: too late to ask, the booking is kept.
func answerBy(b *booking.Booking, by time.Time, lim booking.Limits) (time.Time, bool) {
	if least := lim.Now.Add(lim.AnswerWindow); by.Before(least) {
		by = least
	}
	if latest := b.Start.Add(-lim.MinNotice); latest.Before(by) {
		by = latest
	}
	return by.UTC(), by.After(lim.Now)
}

// untold reports whether b's request or offer (notice kind) never reached
// the citizen: still pending, or not reported delivered when deliveries
// are.
func untold(b *booking.Booking, kind booking.NoticeKind, lim booking.Limits) bool {
	return !b.Told && (b.Notice == kind || lim.Receipts)
}

// ended shortens the purge of a booking that ended without the
// appointment.
func ended(b *booking.Booking, lim booking.Limits) {
	if limit := lim.Now.Add(lim.Ended).UTC(); limit.Before(b.PurgeAt) {
		b.PurgeAt = limit
	}
}

// free gives b's place back and offers it to the waitlist.
func (k *btx) free(b *booking.Booking, lim booking.Limits) (*booking.Booking, error) {
	if err := k.occAdd(b.Office, b.Start, -1); err != nil {
		return nil, err
	}
	return k.offerNext(b.Office, b.Start, lim)
}

// update runs fn in one write transaction. fn's rule errors (ruleErr) are
// returned after the transaction commits, so what it counted (attempts)
// stays counted.
func (s *Store) update(op string, now time.Time, fn func(k *btx) (ruleErr error, err error)) error {
	var rule error
	err := s.db.Update(func(tx *bolt.Tx) error {
		k, err := openBuckets(tx, now)
		if err != nil {
			return err
		}
		rule, err = fn(k)
		return err
	})
	if err != nil {
		return s.wrap("booking "+op, err)
	}
	return rule
}

func (s *Store) view(op string, fn func(k *btx) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		k, err := openBuckets(tx, s.now())
		if err != nil || k == nil {
			return err
		}
		return fn(k)
	})
	return s.wrap("booking "+op, err)
}

// Insert implements booking.Store.
func (s *Store) Insert(_ context.Context, b *booking.Booking, lim booking.Limits) (*booking.Booking, error) {
	nb := *b
	var out *booking.Booking
	err := s.update("insert", lim.Now, func(k *btx) (error, error) {
		if lim.IdempotencyKey != "" {
			if v := k.idem.Get([]byte(lim.IdempotencyKey)); len(v) > 8 && int64(binary.BigEndian.Uint64(v)) > lim.Now.UnixMilli() {
				prev, err := k.get(string(v[8:]))
				if err != nil || prev != nil {
					out = prev
					return nil, err
				}
			}
		}
		ok, err := k.rateOK(&nb, lim)
		if err != nil || !ok {
			return booking.ErrRateLimited, err
		}
		if nb.Status == booking.StatusWaiting {
			mine, err := k.records(k.pers, nb.Person)
			if err != nil {
				return nil, err
			}
			for _, r := range mine {
				if r.Status == booking.StatusWaiting && r.Office == nb.Office {
					out = r
					return nil, nil
				}
			}
		}
		over, err := k.overLimit(&nb, lim)
		if err != nil || over {
			return booking.ErrTooManyActive, err
		}
		if nb.Status == booking.StatusWaiting {
			n, err := k.activeCount(k.conv, nb.Conv.Key(), true)
			if err != nil || n >= lim.MaxActiveConv {
				return booking.ErrTooManyActive, err
			}
		}
		if nb.Status.Active() && k.occGet(nb.Office, nb.Start) >= lim.Capacity {
			return booking.ErrSlotTaken, nil
		}
		if k.rec.Get([]byte(nb.Code)) != nil {
			return booking.ErrCodeTaken, nil
		}
		if nb.Status == booking.StatusWaiting {
			seq := int64(1)
			if v := k.meta.Get([]byte("seq")); len(v) == 8 {
				seq = int64(binary.BigEndian.Uint64(v)) + 1
			}
			nb.Seq = seq
			if err := k.meta.Put([]byte("seq"), be64(seq)); err != nil {
				return nil, err
			}
			if err := k.wait.Put(join(waitKey(nb.Office), be64(seq)), []byte(nb.Code)); err != nil {
				return nil, err
			}
		}
		if nb.Status.Active() {
			if err := k.take(&nb); err != nil {
				return nil, err
			}
		}
		for _, x := range []struct {
			b  *bolt.Bucket
			id string
		}{{k.pers, nb.Person}, {k.conv, nb.Conv.Key()}} {
			if err := x.b.Put(join([]byte(x.id), []byte(nb.Code)), nil); err != nil {
				return nil, err
			}
		}
		if lim.IdempotencyKey != "" {
			v := append(be64(lim.Now.Add(lim.IdempotencyTTL).UnixMilli()), nb.Code...)
			if err := k.idem.Put([]byte(lim.IdempotencyKey), v); err != nil {
				return nil, err
			}
		}
		out = &nb
		return nil, k.save(&nb)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// load gets code for a change, or ErrNotFound.
func (k *btx) load(code string) (*booking.Booking, error) {
	b, err := k.get(code)
	if err == nil && b == nil {
		err = booking.ErrNotFound
	}
	return b, err
}

// splitErr sorts an error of a booking step into a rule error (returned
// after commit) and a storage error (rolls back).
func splitErr(err error) (error, error) {
	if errors.Is(err, booking.ErrNotFound) {
		return err, nil
	}
	return nil, err
}

// Move implements booking.Store.
func (s *Store) Move(_ context.Context, code string, to booking.Slot, p booking.Plan, lim booking.Limits) (*booking.Result, error) {
	res := &booking.Result{}
	err := s.update("move", lim.Now, func(k *btx) (error, error) {
		b, err := k.load(code)
		if err != nil {
			return splitErr(err)
		}
		if b.Status != booking.StatusBooked && b.Status != booking.StatusConfirmed {
			return booking.ErrNotActive, nil
		}
		res.Booking = b
		if b.Office == to.Office && b.Start.Equal(to.Start) {
			return nil, nil
		}
		ok, err := k.rateOK(b, lim)
		if err != nil || !ok {
			return booking.ErrRateLimited, err
		}
		if k.occGet(to.Office, to.Start) >= lim.Capacity {
			return booking.ErrSlotTaken, nil
		}
		old := *b
		if err := k.calDel(&old); err != nil {
			return nil, err
		}
		b.Office, b.Start = to.Office, to.Start.UTC()
		b.Status, b.AskAt, b.ConfirmBy, b.PurgeAt, b.Asked, b.Told = p.Status, p.AskAt, p.ConfirmBy, p.PurgeAt, false, false
		if b.Notice == booking.NoticeConfirm {
			b.Notice = ""
		}
		if err := k.take(b); err != nil {
			return nil, err
		}
		if err := k.save(b); err != nil {
			return nil, err
		}
		res.Offered, err = k.free(&old, lim)
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// End implements booking.Store.
func (s *Store) End(_ context.Context, code string, to booking.Status, lim booking.Limits) (*booking.Result, error) {
	res := &booking.Result{}
	err := s.update("cancel", lim.Now, func(k *btx) (error, error) {
		b, err := k.load(code)
		if err != nil {
			return splitErr(err)
		}
		res.Booking = b
		switch {
		case b.Status == to:
			return nil, nil
		case to == booking.StatusDeclined && b.Status != booking.StatusOffered:
			return booking.ErrNotActive, nil
		case b.Status == booking.StatusWaiting:
			if err := k.wait.Delete(join(waitKey(b.Office), be64(b.Seq))); err != nil {
				return nil, err
			}
			b.Status, b.PurgeAt = to, lim.Now.UTC()
			return nil, k.save(b)
		case b.Status.Active():
			b.Status, b.Notice = to, ""
			ended(b, lim)
			if err := k.save(b); err != nil {
				return nil, err
			}
			res.Offered, err = k.free(b, lim)
			return nil, err
		}
		return booking.ErrNotActive, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Confirm implements booking.Store.
func (s *Store) Confirm(_ context.Context, code string, p booking.Plan, lim booking.Limits) (*booking.Result, error) {
	res := &booking.Result{}
	err := s.update("confirm", lim.Now, func(k *btx) (error, error) {
		b, err := k.load(code)
		if err != nil {
			return splitErr(err)
		}
		res.Booking = b
		switch b.Status {
		case booking.StatusConfirmed:
			return nil, nil
		case booking.StatusBooked:
			b.Status = booking.StatusConfirmed
			if b.Notice == booking.NoticeConfirm {
				b.Notice = ""
			}
			return nil, k.save(b)
		case booking.StatusOffered:
			if !lim.Now.Before(b.Until) {
				return booking.ErrNotActive, nil
			}
			b.Status, b.AskAt, b.ConfirmBy, b.PurgeAt = p.Status, p.AskAt, p.ConfirmBy, p.PurgeAt
			b.Asked, b.Told, b.Until, b.Notice = false, false, time.Time{}, ""
			return nil, k.save(b)
		}
		return booking.ErrNotActive, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Advance implements booking.Store.
func (s *Store) Advance(_ context.Context, code string, lim booking.Limits) (*booking.Result, error) {
	res := &booking.Result{}
	err := s.update("advance", lim.Now, func(k *btx) (error, error) {
		b, err := k.load(code)
		if err != nil {
			return splitErr(err)
		}
		res.Booking = b
		now := lim.Now
		switch {
		case b.Status == booking.StatusOffered && !now.Before(b.Until) && untold(b, booking.NoticeOffer, lim) &&
			!b.Start.Before(lim.OfferFrom):
			// Never handed over, and it can still be held: held again.
			hold(b, lim)
			return nil, k.save(b)
		case b.Status == booking.StatusOffered && !now.Before(b.Until) && untold(b, booking.NoticeOffer, lim) &&
			!b.WaitUntil.IsZero():
			// Never handed over, and too close to hold again: back in line.
			res.Offered, err = k.backInLine(b, lim)
			return nil, err
		case b.Status == booking.StatusOffered && !now.Before(b.Until):
			b.Status, b.Notice = booking.StatusExpired, booking.NoticeOfferExpired
			ended(b, lim)
			if err := k.save(b); err != nil {
				return nil, err
			}
			res.Offered, err = k.free(b, lim)
			return nil, err
		case b.Status == booking.StatusWaiting && !now.Before(b.Until):
			if err := k.wait.Delete(join(waitKey(b.Office), be64(b.Seq))); err != nil {
				return nil, err
			}
			b.Status, b.Notice, b.PurgeAt = booking.StatusExpired, booking.NoticeWaitExpired, now.UTC()
			return nil, k.save(b)
		case b.Status == booking.StatusBooked && !b.AskAt.IsZero() && !b.Asked && !now.Before(b.AskAt):
			if by, ok := answerBy(b, b.ConfirmBy, lim); ok {
				b.Asked, b.Told, b.Notice, b.ConfirmBy = true, false, booking.NoticeConfirm, by
			} else {
				b.Status = booking.StatusConfirmed
			}
			return nil, k.save(b)
		case b.Status == booking.StatusBooked && b.Asked && !now.Before(b.ConfirmBy) && untold(b, booking.NoticeConfirm, lim):
			// The request never reached the citizen: ask again with a new
			// deadline.
			if by, ok := answerBy(b, time.Time{}, lim); ok {
				b.ConfirmBy, b.Notice, b.Told = by, booking.NoticeConfirm, false
			} else {
				b.Status, b.Notice = booking.StatusConfirmed, ""
			}
			return nil, k.save(b)
		case b.Status == booking.StatusBooked && b.Asked && !now.Before(b.ConfirmBy):
			b.Status, b.Notice = booking.StatusReleased, booking.NoticeReleased
			ended(b, lim)
			if err := k.save(b); err != nil {
				return nil, err
			}
			res.Offered, err = k.free(b, lim)
			return nil, err
		case b.Notice == "" && !now.Before(b.PurgeAt) || !now.Before(b.PurgeAt.Add(lim.Ended)):
			res.Booking = nil
			return nil, k.purge(b)
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Offer implements booking.Store.
func (s *Store) Offer(_ context.Context, slot booking.Slot, lim booking.Limits) (*booking.Result, error) {
	res := &booking.Result{}
	err := s.update("offer", lim.Now, func(k *btx) (error, error) {
		var err error
		res.Offered, err = k.offerNext(slot.Office, slot.Start, lim)
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Waiting implements booking.Store.
func (s *Store) Waiting(_ context.Context, offices []string) (map[string]int, error) {
	out := map[string]int{}
	err := s.view("waiting", func(k *btx) error {
		for _, of := range offices {
			if n := len(codes(k.wait, string(waitKey(of)))); n > 0 {
				out[of] = n
			}
		}
		return nil
	})
	return out, err
}

// Ack implements booking.Store.
func (s *Store) Ack(_ context.Context, code string, kind booking.NoticeKind, lim booking.Limits) error {
	return s.update("ack", lim.Now, func(k *btx) (error, error) {
		b, err := k.get(code)
		if err != nil || b == nil || b.Notice != kind {
			return nil, err
		}
		b.Notice = ""
		return nil, k.save(b)
	})
}

// Delivered implements booking.Store.
func (s *Store) Delivered(_ context.Context, code string, kind booking.NoticeKind, deadline time.Time, lim booking.Limits) error {
	return s.update("delivered", lim.Now, func(k *btx) (error, error) {
		b, err := k.get(code)
		if err != nil || b == nil {
			return nil, err
		}
		switch {
		case kind == booking.NoticeConfirm && b.Status == booking.StatusBooked && b.Asked && minute(b.ConfirmBy) == minute(deadline):
			if by, ok := answerBy(b, b.ConfirmBy, lim); ok && by.After(b.ConfirmBy) {
				b.ConfirmBy = by // delivered late: the answer window from now
			}
		case kind == booking.NoticeOffer && b.Status == booking.StatusOffered && minute(b.Until) == minute(deadline):
			if lim.OfferUntil.After(b.Until) {
				b.Until = lim.OfferUntil.UTC() // the hold from the delivery
			}
		default:
			return nil, nil
		}
		b.Told = true
		if b.Notice == kind {
			b.Notice = ""
		}
		return nil, k.save(b)
	})
}

// NoticeFailed implements booking.Store.
func (s *Store) NoticeFailed(_ context.Context, code string, kind booking.NoticeKind, at time.Time, lim booking.Limits) error {
	return s.update("notice failed", lim.Now, func(k *btx) (error, error) {
		b, err := k.get(code)
		if err != nil || b == nil || b.Notice != kind {
			return nil, err
		}
		b.NoticeTries++
		return nil, k.saveDue(b, at)
	})
}

// cleanEvery is how often Due drops expired attempt counters and
// idempotency keys (a write transaction; the look itself is a read).
const cleanEvery = 5 * time.Minute

// Due implements booking.Store. At most every cleanEvery it also drops
// expired attempt counters and idempotency keys.
func (s *Store) Due(_ context.Context, now time.Time, limit int) ([]string, error) {
	var out []string
	clean := false
	ms := now.UnixMilli()
	err := s.view("due", func(k *btx) error {
		c := k.due.Cursor()
		for key, _ := c.First(); key != nil && len(out) < limit; key, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(key)) > ms {
				break
			}
			out = append(out, string(key[8:]))
		}
		last := int64(0)
		if v := k.meta.Get([]byte("cleaned")); len(v) == 8 {
			last = int64(binary.BigEndian.Uint64(v))
		}
		clean = ms-last >= cleanEvery.Milliseconds()
		return nil
	})
	if err != nil || !clean {
		return out, err
	}
	return out, s.update("clean", now, func(k *btx) (error, error) {
		for _, b := range []*bolt.Bucket{k.rate, k.idem} {
			var stale [][]byte
			_ = b.ForEach(func(key, v []byte) error {
				if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) <= ms {
					stale = append(stale, bytes.Clone(key))
				}
				return nil
			})
			for _, key := range stale {
				if err := b.Delete(key); err != nil {
					return nil, err
				}
			}
		}
		return nil, k.meta.Put([]byte("cleaned"), be64(ms))
	})
}

// Booking implements booking.Store.
func (s *Store) Booking(_ context.Context, code string) (*booking.Booking, error) {
	var out *booking.Booking
	err := s.view("get", func(k *btx) error {
		var err error
		out, err = k.get(code)
		return err
	})
	if err == nil && out == nil {
		err = booking.ErrNotFound
	}
	return out, err
}

// Find implements booking.Store.
func (s *Store) Find(_ context.Context, person, conv string) ([]*booking.Booking, error) {
	var out []*booking.Booking
	err := s.view("find", func(k *btx) error {
		seen := map[string]bool{}
		for _, x := range []struct {
			b  *bolt.Bucket
			id string
		}{{k.pers, person}, {k.conv, conv}} {
			if x.id == "" {
				continue
			}
			rs, err := k.records(x.b, x.id)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if !seen[r.Code] {
					seen[r.Code] = true
					out = append(out, r)
				}
			}
		}
		return nil
	})
	return out, err
}

// Taken implements booking.Store.
func (s *Store) Taken(_ context.Context, office string, from, to time.Time) (map[int64]int, error) {
	out := map[int64]int{}
	err := s.view("taken", func(k *btx) error {
		c := k.occ.Cursor()
		end := join([]byte(office), be64(ceilMinute(to)))
		for key, v := c.Seek(join([]byte(office), be64(ceilMinute(from)))); key != nil && bytes.Compare(key, end) < 0; key, v = c.Next() {
			out[int64(binary.BigEndian.Uint64(key[len(office)+1:]))] = int(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return out, err
}

// ceilMinute is the first whole minute at or after t.
func ceilMinute(t time.Time) int64 {
	m := t.Unix() / 60
	if t.After(time.Unix(m*60, 0)) {
		m++
	}
	return m
}

// Calendar implements booking.Store.
func (s *Store) Calendar(_ context.Context, office string, from, to time.Time) ([]*booking.Booking, error) {
	var out []*booking.Booking
	err := s.view("calendar", func(k *btx) error {
		c := k.cal.Cursor()
		prefix := append([]byte(office), 0)
		end := join([]byte(office), be64(ceilMinute(to)))
		for key, _ := c.Seek(join([]byte(office), be64(ceilMinute(from)))); key != nil && bytes.Compare(key, end) < 0; key, _ = c.Next() {
			b, err := k.get(string(key[len(prefix)+9:]))
			if err != nil {
				return err
			}
			if b != nil {
				out = append(out, b)
			}
		}
		return nil
	})
	return out, err
}
