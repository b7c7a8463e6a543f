package telegram

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
)

// openInbox returns an empty inbox of the given backend.
func openInbox(t *testing.T, backend string) Inbox {
	t.Helper()
	switch backend {
	case "bolt":
		st, err := boltstore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		st.DB().NoSync = true // the test is about ordering, not durability
		in, err := newBoltInbox(st.DB(), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		return in
	case "redis":
		url := redistest.URL(t)
		prefix := redistest.Prefix(t, url)
		c, err := redisstore.NewClient(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return newRedisInbox(c, prefix)
	}
	t.Fatalf("unknown backend %q", backend)
	return nil
}

// TestAddWhileChatIsFreed: an update recorded while the worker settles the
// chat's last update must stay claimable. The worker's done (queue empty ->
// chat free) and the intake's add race on purpose, many times; a lost
// update shows as a chat with a queued update that claim never returns.
func TestAddWhileChatIsFreed(t *testing.T) {
	for _, tc := range []struct {
		backend string
		rounds  int64
	}{
		// Before the fix the bbolt inbox lost about 1 round in 200 (R2).
		{"bolt", 2000},
		{"redis", 1000},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			ctx := context.Background()
			in := openInbox(t, tc.backend)
			stranded := 0
			for chat := int64(1); chat <= tc.rounds; chat++ {
				first := item{UpdateID: 2 * chat, Chat: chat, Raw: []byte("{}")}
				second := item{UpdateID: 2*chat + 1, Chat: chat, Raw: []byte("{}")}
				if _, err := in.add(ctx, []item{first}, time.Hour); err != nil {
					t.Fatal(err)
				}
				cl, _, err := in.claim(ctx, time.Minute)
				if err != nil || cl == nil || cl.UpdateID != first.UpdateID {
					t.Fatalf("Got(claim) = %v, %v, want update %d", cl, err, first.UpdateID)
				}
				added := make(chan error, 1)
				go func() {
					_, err := in.add(ctx, []item{second}, time.Hour)
					added <- err
				}()
				next, err := in.done(ctx, cl, time.Minute, false)
				if err != nil {
					t.Fatal(err)
				}
				if err := <-added; err != nil {
					t.Fatal(err)
				}
				if next == nil {
					if next, _, err = in.claim(ctx, time.Minute); err != nil {
						t.Fatal(err)
					}
				}
				if next == nil {
					stranded++
					continue
				}
				if next.UpdateID != second.UpdateID {
					t.Fatalf("Got(next update of chat %d) = %d, want %d", chat, next.UpdateID, second.UpdateID)
				}
				if _, err := in.done(ctx, next, time.Minute, false); err != nil {
					t.Fatal(err)
				}
			}
			if stranded > 0 {
				t.Errorf("Got(chats whose queued update no worker can claim) = %d of %d, want 0", stranded, tc.rounds)
			}
		})
	}
}

// TestFailuresCountedApart: the inbox keeps an update's failed turns and
// failed sends apart, hands both back with every claim (a claim of the
// chat, or the hand-over of its next update), and forgets them with the
// update.
func TestFailuresCountedApart(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			in := openInbox(t, backend)
			first := item{UpdateID: 11, Chat: 5, Raw: []byte(`{"update_id":11}`)}
			second := item{UpdateID: 12, Chat: 5, Raw: []byte(`{"update_id":12}`)}
			if _, err := in.add(ctx, []item{first, second}, time.Hour); err != nil {
				t.Fatal(err)
			}
			claimFirst := func(want failures) *claim {
				t.Helper()
				cl, _, err := in.claim(ctx, time.Minute)
				if err != nil || cl == nil || cl.UpdateID != first.UpdateID {
					t.Fatalf("Got(claim) = %+v, %v, want update %d", cl, err, first.UpdateID)
				}
				if cl.Fails != want {
					t.Errorf("Got(failures of the claimed update) = %+v, want %+v", cl.Fails, want)
				}
				return cl
			}
			cl := claimFirst(failures{})
			for _, f := range []failures{
				{Send: 1}, {Send: 2}, {Send: 3},
				{Turn: 1, Send: 3}, // a store blip on the replay: the sends are still three
				{Turn: 2, Send: 3},
				{Send: 4}, // the turn went through again, its replies did not
				{},        // shutdown: nothing counted
			} {
				if err := in.retry(ctx, cl, 0, f); err != nil {
					t.Fatal(err)
				}
				cl = claimFirst(f)
			}
			if err := in.retry(ctx, cl, 0, failures{Turn: 3, Send: 9}); err != nil {
				t.Fatal(err)
			}
			cl = claimFirst(failures{Turn: 3, Send: 9})
			next, err := in.done(ctx, cl, time.Minute, false)
			if err != nil || next == nil || next.UpdateID != second.UpdateID {
				t.Fatalf("Got(next) = %+v, %v, want update %d", next, err, second.UpdateID)
			}
			if next.Fails != (failures{}) {
				t.Errorf("Got(failures of the next update) = %+v, want none", next.Fails)
			}
			if err := in.retry(ctx, next, 0, failures{Turn: 1}); err != nil {
				t.Fatal(err)
			}
			cl, _, err = in.claim(ctx, time.Minute)
			if err != nil || cl == nil || cl.Fails != (failures{Turn: 1}) {
				t.Errorf("Got(claim of the next update) = %+v, %v, want one failed turn", cl, err)
			}
		})
	}
}

// TestBoltInboxReadsOldAttempts: an update queued by an earlier version,
// whose record holds one count of attempts (4 bytes, big-endian), is read
// with those attempts as failed turns, as they were counted then.
func TestBoltInboxReadsOldAttempts(t *testing.T) {
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := newBoltInbox(st.DB(), time.Now); err != nil {
		t.Fatal(err)
	}
	raw := []byte(`{"update_id":7}`)
	err = st.DB().Update(func(tx *bolt.Tx) error {
		v := binary.BigEndian.AppendUint32(nil, 2)
		return tx.Bucket(bucketTelegram).Bucket(bucketQueue).Put(queueKey(3, 7), append(v, raw...))
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := newBoltInbox(st.DB(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	cl, _, err := in.claim(context.Background(), time.Minute)
	if err != nil || cl == nil || cl.UpdateID != 7 || string(cl.Raw) != string(raw) {
		t.Fatalf("Got(claim) = %+v, %v, want update 7", cl, err)
	}
	if cl.Fails != (failures{Turn: 2}) {
		t.Errorf("Got(failures of an old record) = %+v, want two failed turns", cl.Fails)
	}
}
