package bot

import (
	"sync"
	"testing"
	"time"
)

// TestSerializerIsFIFO queues turns of one conversation behind a held one,
// each after the previous has joined the queue: they run in arrival order.
func TestSerializerIsFIFO(t *testing.T) {
	var s serializer
	unlock := s.lock("k")
	const n = 20
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range n {
		before := s.tailOf("k")
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := s.lock("k")
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			u()
		}()
		// Wait until goroutine i has taken its place in the queue.
		deadline := time.Now().Add(10 * time.Second)
		for s.tailOf("k") == before {
			if time.Now().After(deadline) {
				t.Fatalf("turn %d never queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	unlock()
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("turns ran in order %v, want 0..%d", order, n-1)
		}
	}
	if s.tailOf("k") != nil {
		t.Error("the queue of an idle conversation was not forgotten")
	}
}

// TestSerializerKeysAreIndependent: a held key does not block another.
func TestSerializerKeysAreIndependent(t *testing.T) {
	var s serializer
	unlockA := s.lock("a")
	defer unlockA()
	done := make(chan struct{})
	go func() {
		s.lock("b")()
		close(done)
	}()
	<-done
}

func (s *serializer) tailOf(key string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tail[key]
}
