package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"sportello/bot/schedule"
	"sportello/bot/store/redistest"
)

// These tests drive the steps of the expiry index protocol (see queueKeys)
// one by one, in the interleavings that concurrent Schedules and purges
// can produce, and check that no job is left where the purge cannot find
// it.

func openInternal(t *testing.T) *Store {
	t.Helper()
	url := redistest.URL(t)
	rdb, err := NewClient(url)
	if err != nil {
		t.Fatalf("NewClient = %v", err)
	}
	s := New(rdb, redistest.Prefix(t, url))
	t.Cleanup(func() { s.Close() })
	return s
}

var protoBase = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

// register is the first step of Schedule.
func register(t *testing.T, s *Store, queue string, expires time.Time) int64 {
	t.Helper()
	g, err := registerScript.Run(context.Background(), s.rdb, s.expiryKeys(), queue, expires.UnixMilli()).Int64()
	if err != nil {
		t.Fatalf("register = %v", err)
	}
	return g
}

// write is the second step of Schedule; it reports false when refused.
func write(t *testing.T, s *Store, j schedule.Job, g int64) bool {
	t.Helper()
	r, err := scheduleScript.Run(context.Background(), s.rdb, s.queueKeys(j.Queue),
		j.ID, j.Due.UnixMilli(), j.Attempt, j.Payload, j.Expires.UnixMilli(), g).Int()
	if err != nil {
		t.Fatalf("write = %v", err)
	}
	return r != -1
}

func purgeAt(t *testing.T, s *Store, now time.Time) int {
	t.Helper()
	n, err := s.PurgeExpired(context.Background(), now, 100)
	if err != nil {
		t.Fatalf("PurgeExpired = %v", err)
	}
	return n
}

// TestPurgeBetweenRegisterAndWrite: a purge that runs between a Schedule's
// registration and its write finds the queue empty and drops it from the
// index; the write must then be refused (Schedule registers again), or the
// job would never be purged.
func TestPurgeBetweenRegisterAndWrite(t *testing.T) {
	s := openInternal(t)
	j := schedule.Job{Queue: "push:a", ID: "offer", Due: protoBase, Expires: protoBase.Add(time.Minute)}
	g := register(t, s, j.Queue, j.Expires)
	if n := purgeAt(t, s, j.Expires); n != 0 {
		t.Fatalf("Got(PurgeExpired of an empty queue) = %d, want 0", n)
	}
	if n := s.rdb.ZCard(context.Background(), s.expiryKeys()[0]).Val(); n != 0 {
		t.Fatalf("Got(queues in the index after purging an empty queue) = %d, want 0", n)
	}
	if write(t, s, j, g) {
		t.Fatal("Got(write with a registration the purge overtook) = stored, want refused")
	}
	if _, ok, _ := s.Get(context.Background(), j.Queue, j.ID); ok {
		t.Fatal("a refused write stored the job")
	}
	// Schedule itself registers again and succeeds; the purge finds it.
	if err := s.Schedule(context.Background(), j); err != nil {
		t.Fatalf("Schedule = %v", err)
	}
	if n := purgeAt(t, s, j.Expires); n != 1 {
		t.Errorf("Got(PurgeExpired) = %d, want 1", n)
	}
}

// TestRegisterDuringPurgeKeepsTheQueue: a registration that lands between
// the purge's read of the index and its update of it makes the purge leave
// the queue's time alone, so the new job's expiry is not skipped.
func TestRegisterDuringPurgeKeepsTheQueue(t *testing.T) {
	ctx := context.Background()
	s := openInternal(t)
	const queue = "push:b"
	far := schedule.Job{Queue: queue, ID: "far", Due: protoBase, Expires: protoBase.Add(24 * time.Hour)}
	old := schedule.Job{Queue: queue, ID: "old", Due: protoBase, Expires: protoBase.Add(time.Minute)}
	for _, j := range []schedule.Job{far, old} {
		if err := s.Schedule(ctx, j); err != nil {
			t.Fatalf("Schedule = %v", err)
		}
	}
	now := old.Expires
	// p0: the purge reads the due queue and its registration count.
	due, err := dueQueuesScript.Run(ctx, s.rdb, s.expiryKeys(), now.UnixMilli(), 10).StringSlice()
	if err != nil || len(due) != 2 || due[0] != queue {
		t.Fatalf("Got(due queues) = %q, %v; want [%s <count>]", due, err, queue)
	}
	// A Schedule registers a job expiring in ten minutes...
	soon := schedule.Job{Queue: queue, ID: "soon", Due: protoBase, Expires: now.Add(10 * time.Minute)}
	g := register(t, s, queue, soon.Expires)
	// ... p1 deletes "old" and finds "far" next, before the job is written...
	res, err := purgeQueueScript.Run(ctx, s.rdb, s.queueKeys(queue), now.UnixMilli(), 10, due[1], floorTTL.Milliseconds()).Slice()
	if err != nil || res[0].(int64) != 1 || res[1].(string) != strconv.FormatInt(far.Expires.UnixMilli(), 10) {
		t.Fatalf("Got(purge of the queue) = %v, %v; want 1 deleted and far's expiry next", res, err)
	}
	// ... the job is written: its registration is newer than p0's read...
	if !write(t, s, soon, g) {
		t.Fatal("a write registered after the purge's read was refused")
	}
	// ... and p2 must not move the queue to "far", past "soon".
	if err := requeueScript.Run(ctx, s.rdb, s.expiryKeys(), queue, due[1], res[1]).Err(); err != nil {
		t.Fatalf("requeue = %v", err)
	}
	score, err := s.rdb.ZScore(ctx, s.expiryKeys()[0], queue).Result()
	if err != nil || int64(score) > soon.Expires.UnixMilli() {
		t.Fatalf("Got(queue's time in the index) = %v, %v; want at or before %d", int64(score), err, soon.Expires.UnixMilli())
	}
	if n := purgeAt(t, s, soon.Expires); n != 1 {
		t.Errorf("Got(PurgeExpired at the new job's expiry) = %d, want 1", n)
	}
	if _, ok, _ := s.Get(ctx, queue, "far"); !ok {
		t.Error("the job expiring tomorrow was purged")
	}
}
