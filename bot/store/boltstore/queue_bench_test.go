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
