package bot_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sportello/bot"
	"sportello/bot/locale"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
	"sportello/locales"
)

func benchEngine(b *testing.B, s bot.StateStore) *bot.Engine {
	b.Helper()
	cat, err := locale.Load(locales.FS())
	if err != nil {
		b.Fatal(err)
	}
	vocab, err := bot.LoadVocabulary(locales.FS())
	if err != nil {
		b.Fatal(err)
	}
	e, err := bot.New(bot.Config{Store: s, Catalog: cat, Vocabulary: vocab, Office: "Comune di Prova"})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func redisBenchStore(b *testing.B, rt *redistest.RoundTrips) *redisstore.Store {
	b.Helper()
	url := redistest.URL(b)
	rdb, err := redisstore.NewClient(url + "?pool_size=64")
	if err != nil {
		b.Fatal(err)
	}
	if rt != nil {
		rdb.AddHook(rt)
	}
	s := redisstore.New(rdb, redistest.Prefix(b, url))
	b.Cleanup(func() { s.Close() })
	return s
}

// turns sends the same conversation a menu command over and over: a full
// turn (lease, load, route, render, commit) with no dialog work.
func benchTurns(b *testing.B, e *bot.Engine) {
	ctx := context.Background()
	in := bot.Inbound{Conv: bot.Conversation{Channel: "bench", User: "u1"}, Text: "menu"}
	if _, err := e.Handle(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Handle(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTurnEmbedded: one turn on the embedded store (every commit is an
// fsync'd bbolt transaction).
func BenchmarkTurnEmbedded(b *testing.B) {
	s, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchTurns(b, benchEngine(b, s))
}

// BenchmarkTurnRedis: one turn on Redis, with the round trips per turn.
func BenchmarkTurnRedis(b *testing.B) {
	rt := &redistest.RoundTrips{}
	e := benchEngine(b, redisBenchStore(b, rt))
	benchTurns(b, e)
	b.StopTimer()
	// The first use of each script may add an EVAL after NOSCRIPT; over
	// many turns the average converges on the steady state.
	b.ReportMetric(float64(rt.Count())/float64(b.N+1), "roundtrips/turn")
}

// BenchmarkConcurrentTurnsRedis: 1,000 conversations on Redis served by 64
// concurrent callers; reports turns/s and the p99 turn latency.
func BenchmarkConcurrentTurnsRedis(b *testing.B) {
	const conversations, workers = 1000, 64
	e := benchEngine(b, redisBenchStore(b, nil))
	ctx := context.Background()
	texts := []string{"menu", "aiuto", "english", "italiano", "qwerty"}
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				in := bot.Inbound{
					Conv: bot.Conversation{Channel: "bench", User: "c" + strconv.FormatInt(i%conversations, 10)},
					Text: texts[i%int64(len(texts))],
				}
				t0 := time.Now()
				if _, err := e.Handle(ctx, in); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "turns/s")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}
