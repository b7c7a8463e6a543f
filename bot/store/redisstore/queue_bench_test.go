package redisstore_test

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
	"sportello/bot/store/storetest"
)

// BenchmarkClaimDone measures Claim+Done on Redis (see BENCHMARKS.md):
//
//	go test -run '^$' -bench ClaimDone ./bot/store/redisstore/
func BenchmarkClaimDone(b *testing.B) {
	url := redistest.URL(b)
	for _, bc := range []struct{ batch, workers int }{{1, 1}, {10, 1}, {10, 8}, {50, 8}} {
		b.Run(fmt.Sprintf("batch=%d/workers=%d", bc.batch, bc.workers), func(b *testing.B) {
			opts, err := redis.ParseURL(url)
			if err != nil {
				b.Fatal(err)
			}
			rdb := redis.NewClient(opts)
			defer rdb.Close()
			rt := &redistest.RoundTrips{}
			rdb.AddHook(rt)
			s := redisstore.New(rdb, redistest.Prefix(b, url))
			storetest.BenchClaimDone(b, s, bc.batch, bc.workers, func() { rt.Reset() })
			b.ReportMetric(float64(rt.Count())/float64(b.N), "round-trips/job")
		})
	}
}

// BenchmarkSchedule measures Schedule on Redis with and without an expiry
// (see BENCHMARKS.md):
//
//	go test -run '^$' -bench 'Schedule|Purge' ./bot/store/redisstore/
func BenchmarkSchedule(b *testing.B) {
	url := redistest.URL(b)
	for _, expires := range []bool{false, true} {
		b.Run(fmt.Sprintf("expires=%v", expires), func(b *testing.B) {
			s, rt := benchStore(b, url)
			storetest.BenchSchedule(b, s, expires, func() { rt.Reset() })
			b.ReportMetric(float64(rt.Count())/float64(b.N), "round-trips/job")
		})
	}
}

// BenchmarkPurge measures PurgeExpired on Redis (see BenchmarkSchedule).
func BenchmarkPurge(b *testing.B) {
	url := redistest.URL(b)
	for _, batch := range []int{100, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, rt := benchStore(b, url)
			storetest.BenchPurge(b, s, batch, func() { rt.Reset() })
			b.ReportMetric(float64(rt.Count())/float64(b.N), "round-trips/job")
		})
	}
}

// benchStore opens a store on a fresh prefix whose client counts round trips.
func benchStore(b *testing.B, url string) (*redisstore.Store, *redistest.RoundTrips) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	b.Cleanup(func() { rdb.Close() })
	rt := &redistest.RoundTrips{}
	rdb.AddHook(rt)
	return redisstore.New(rdb, redistest.Prefix(b, url)), rt
}
