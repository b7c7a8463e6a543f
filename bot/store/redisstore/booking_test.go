package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"sportello/bot/booking"
	"sportello/bot/bottest"
	"sportello/bot/store"
	"sportello/bot/store/redistest"
	"sportello/bot/store/storetest"
)

func TestBookingConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunBooking(t, func(t *testing.T) func() booking.Store {
		prefix := redistest.Prefix(t, url)
		return func() booking.Store { return bottest.RedisStore(t, url, prefix) }
	})
}

// TestBookingConformanceCluster runs the suite on a real Redis Cluster: the
// scripts touch only keys under the one {<prefix>:book} hash tag, so they
// run whole on the node that owns it.
func TestBookingConformanceCluster(t *testing.T) {
	url := redistest.StartCluster(t)
	storetest.RunBooking(t, func(t *testing.T) func() booking.Store {
		prefix := redistest.NewPrefix()
		return func() booking.Store { return bottest.RedisStore(t, url, prefix) }
	})
	t.Run("HashTagPerPrefix", func(t *testing.T) { testHashTagPerPrefix(t, url) })
}

// testHashTagPerPrefix: two Comuni on one Cluster (two prefixes) keep their
// calendars in two hash slots chosen by their prefixes, not both in the
// slot of a fixed "{book}" tag; each calendar stays in one slot.
func testHashTagPerPrefix(t *testing.T, url string) {
	ctx := context.Background()
	for i := range 2 {
		st := bottest.RedisStore(t, url, redistest.NewPrefix())
		cc, ok := st.Client().(*redis.ClusterClient)
		if !ok {
			t.Fatalf("Got(client %T), want a cluster client", st.Client())
		}
		s := storetest.NewService(t, st, storetest.TestComune, storetest.NewClock(storetest.T0), nil, nil)
		if _, err := s.Book(ctx, storetest.Citizen(i, storetest.At("centrale", 2026, 3, 4, 9, 0))); err != nil {
			t.Fatal(err)
		}
		want, err := cc.ClusterKeySlot(ctx, "{"+st.Prefix()+":book}").Result()
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		var mu sync.Mutex
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			found, err := node.Keys(ctx, st.Prefix()+":*").Result()
			mu.Lock()
			keys = append(keys, found...)
			mu.Unlock()
			return err
		})
		if err != nil || len(keys) == 0 {
			t.Fatalf("keys of %s = %v, %v", st.Prefix(), keys, err)
		}
		for _, k := range keys {
			if got, _ := cc.ClusterKeySlot(ctx, k).Result(); got != want {
				t.Errorf("Got(slot of %s) = %d, want %d, the slot of {%s:book}", k, got, want, st.Prefix())
			}
		}
	}
}

func TestBookingLinearizable(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunLinearizable(t, func(t *testing.T) func() booking.Store {
		prefix := redistest.Prefix(t, url)
		return func() booking.Store { return bottest.RedisStore(t, url, prefix) }
	}, 12000)
}

// TestBookingHelperProcess is not a test: it is the body of the helper
// processes of TestBookingRaceSeveralProcesses.
func TestBookingHelperProcess(t *testing.T) {
	if os.Getenv("SPORTELLO_HELPER") != "book" {
		t.Skip("helper process only")
	}
	var first, n int
	fmt.Sscan(os.Getenv("SPORTELLO_HELPER_FIRST"), &first)
	fmt.Sscan(os.Getenv("SPORTELLO_HELPER_N"), &n)
	st := bottest.RedisStore(t, os.Getenv("SPORTELLO_HELPER_URL"), os.Getenv("SPORTELLO_HELPER_PREFIX"))
	s := storetest.NewService(t, st, storetest.TestComune, storetest.NewClock(storetest.T0), nil, nil)
	for _, line := range storetest.Race(s, first, n) {
		fmt.Println("RESULT " + line)
	}
}

// TestBookingRaceSeveralProcesses starts four OS processes of 50 citizens
// each, all booking at once three slots with six places in all on one
// Redis: exactly six succeed, the other 194 get alternatives.
func TestBookingRaceSeveralProcesses(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	const procs, perProc = 4, 50
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBookingHelperProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(),
			"SPORTELLO_HELPER=book",
			"SPORTELLO_HELPER_URL="+url,
			"SPORTELLO_HELPER_PREFIX="+prefix,
			fmt.Sprintf("SPORTELLO_HELPER_FIRST=%d", p*perProc),
			fmt.Sprintf("SPORTELLO_HELPER_N=%d", perProc))
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start helper: %v", err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	var results []string
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
		for _, line := range strings.Split(outs[i].String(), "\n") {
			if r, ok := strings.CutPrefix(line, "RESULT "); ok {
				results = append(results, r)
			}
		}
	}
	if len(results) != procs*perProc {
		t.Fatalf("got %d results from the helpers, want %d", len(results), procs*perProc)
	}
	s := storetest.NewService(t, bottest.RedisStore(t, url, prefix), storetest.TestComune, storetest.NewClock(storetest.T0), nil, nil)
	storetest.CheckRace(t, s, results)
}

// BenchmarkBook measures one Service.Book on Redis without contention.
//
//	go test ./bot/store/redisstore -run '^$' -bench 'Book$'
func BenchmarkBook(b *testing.B) {
	url := redistest.URL(b)
	s := storetest.NewService(b, bottest.RedisStore(b, url, redistest.Prefix(b, url)), storetest.BenchComune,
		storetest.NewClock(storetest.StampedeT0), nil, nil)
	storetest.BenchBook(b, s)
}

// BenchmarkTimes measures one day's free times with 2,000 places held.
//
//	go test ./bot/store/redisstore -run '^$' -bench 'Times$'
func BenchmarkTimes(b *testing.B) {
	url := redistest.URL(b)
	s := storetest.NewService(b, bottest.RedisStore(b, url, redistest.Prefix(b, url)), storetest.BenchComune,
		storetest.NewClock(storetest.StampedeT0), nil, nil)
	storetest.BenchTimes(b, s)
}

// BenchmarkStampede is the booking stampede: 10,000 citizens for 1,660
// places, through four Services (replicas, each with its own client) on one
// Redis. Run it on demand:
//
//	go test ./bot/store/redisstore -run '^$' -bench Stampede -benchtime 1x
func BenchmarkStampede(b *testing.B) {
	url := redistest.URL(b)
	for range b.N {
		b.StopTimer()
		prefix := redistest.Prefix(b, url)
		clock := storetest.NewClock(storetest.StampedeT0)
		var svcs []*booking.Service
		for range 4 {
			svcs = append(svcs, storetest.NewService(b, bottest.RedisStore(b, url, prefix), storetest.StampedeComune, clock, nil, nil))
		}
		days, err := svcs[0].Days(context.Background(), "", storetest.StampedeT0)
		if err != nil {
			b.Fatal(err)
		}
		places := 0
		for _, d := range days {
			places += d.Free
		}
		if places != storetest.StampedePlaces {
			b.Fatalf("stampede calendar has %d places, want %d", places, storetest.StampedePlaces)
		}
		b.StartTimer()
		r := storetest.Stampede(b, svcs, 10000)
		b.StopTimer()
		b.ReportMetric(float64(r.Booked)/r.Elapsed.Seconds(), "bookings/s")
		b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(r.Attempts), "book-calls")
		b.ReportMetric(float64(r.Booked), "booked")
		b.ReportMetric(float64(r.Empty), "empty")
		b.ReportMetric(float64(r.Overbooked), "overbooked")
		b.Logf("%+v", r)
		if r.Empty != 0 || r.Overbooked != 0 || r.Booked != storetest.StampedePlaces {
			b.Errorf("stampede: %d booked, %d empty, %d overbooked; want %d, 0, 0", r.Booked, r.Empty, r.Overbooked, storetest.StampedePlaces)
		}
	}
}

// TestBookingOutage loses Redis under a Service: Book fails fast with
// store.ErrUnavailable and takes nothing; once Redis is back, booking works.
func TestBookingOutage(t *testing.T) {
	srv := redistest.Start(t)
	st := bottest.RedisStore(t, srv.URL()+"?dial_timeout=200ms&read_timeout=200ms&write_timeout=200ms&max_retries=1", "outage")
	s := storetest.NewService(t, st, storetest.TestComune, storetest.NewClock(storetest.T0), nil, nil)
	ctx := context.Background()
	slot := storetest.At("centrale", 2026, 3, 4, 9, 0)
	if _, err := s.Book(ctx, storetest.Citizen(1, slot)); err != nil {
		t.Fatalf("Book before the outage = %v", err)
	}
	srv.Stop()
	if _, err := s.Book(ctx, storetest.Citizen(2, slot)); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Book during the outage = %v, want ErrUnavailable", err)
	}
	if _, err := s.Days(ctx, "", storetest.T0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Days during the outage = %v, want ErrUnavailable", err)
	}
	if _, err := s.Sweep(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Sweep during the outage = %v, want ErrUnavailable", err)
	}
	srv.Restart() // empty: no persistence in the test server
	b, err := s.Book(ctx, storetest.Citizen(2, slot))
	if err != nil {
		t.Fatalf("Book after recovery = %v", err)
	}
	if _, err := s.Get(ctx, b.Code, storetest.Owner(2)); err != nil {
		t.Errorf("Get after recovery = %v", err)
	}
}
