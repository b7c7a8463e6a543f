package schedule

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	q := Queue{MinBackoff: time.Second, MaxBackoff: time.Minute}.withDefaults()
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{0, time.Second},
		{1, 2 * time.Second},
		{3, 8 * time.Second},
		{5, 32 * time.Second},
		{6, time.Minute},
		{40, time.Minute},
		{1 << 20, time.Minute},
	}
	for _, tc := range tests {
		for range 50 {
			got := q.backoff(tc.attempt)
			if got < tc.ceiling/2 || got > tc.ceiling {
				t.Fatalf("Got(backoff(%d)) = %v, want within [%v, %v]", tc.attempt, got, tc.ceiling/2, tc.ceiling)
			}
		}
	}
}

func TestQueueDefaults(t *testing.T) {
	q := Queue{}.withDefaults()
	if q.Concurrency != DefaultConcurrency || q.Lease != DefaultLease || q.MaxAttempts != DefaultMaxAttempts ||
		q.MinBackoff != DefaultMinBackoff || q.MaxBackoff != DefaultMaxBackoff {
		t.Errorf("Got(Queue{}.withDefaults()) = %+v, want the documented defaults", q)
	}
	q = Queue{MinBackoff: 2 * time.Hour}.withDefaults()
	if q.MaxBackoff != 2*time.Hour {
		t.Errorf("Got(MaxBackoff) = %v with MinBackoff 2h, want 2h", q.MaxBackoff)
	}
}
