package boltstore_test

import (
	"fmt"
	"testing"

	"sportello/bot/store/boltstore"
	"sportello/bot/store/storetest"
)

// BenchmarkClaimDone measures Claim+Done on the embedded store (see
// BENCHMARKS.md):
//
//	go test -run '^$' -bench ClaimDone ./bot/store/boltstore/
func BenchmarkClaimDone(b *testing.B) {
	for _, bc := range []struct{ batch, workers int }{{1, 1}, {10, 1}, {10, 8}, {50, 8}} {
		b.Run(fmt.Sprintf("batch=%d/workers=%d", bc.batch, bc.workers), func(b *testing.B) {
			s, err := boltstore.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchClaimDone(b, s, bc.batch, bc.workers, nil)
		})
	}
}

// BenchmarkSchedule measures Schedule on the embedded store with and
// without an expiry (see BENCHMARKS.md):
//
//	go test -run '^$' -bench 'Schedule|Purge' ./bot/store/boltstore/
func BenchmarkSchedule(b *testing.B) {
	for _, expires := range []bool{false, true} {
		b.Run(fmt.Sprintf("expires=%v", expires), func(b *testing.B) {
			s, err := boltstore.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchSchedule(b, s, expires, nil)
		})
	}
}

// BenchmarkPurge measures PurgeExpired on the embedded store.
func BenchmarkPurge(b *testing.B) {
	for _, batch := range []int{100, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := boltstore.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchPurge(b, s, batch, nil)
		})
	}
}
