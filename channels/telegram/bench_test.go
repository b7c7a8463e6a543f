package telegram

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sportello/bot/store/redistest"
)

// BenchmarkWebhook measures the webhook path on Redis: an update POSTed to
// the webhook handler, recorded in the inbox, claimed by a worker, turned
// by the engine and its replies handed to the sender (which sends them to an
// in-process fake Bot API). It reports updates/s, the p99 latency from the
// handler receiving the update to the replies reaching the sender, and Redis
// round trips per update. 1,000 citizens write concurrently.
//
// "flood" posts as fast as 32 clients can (throughput at saturation; its p99
// includes queueing in the inbox); "paced" offers 300 updates/s, below
// saturation, for the latency of one update.
func BenchmarkWebhook(b *testing.B) {
	b.Run("flood", func(b *testing.B) { benchWebhook(b, 0) })
	b.Run("paced", func(b *testing.B) { benchWebhook(b, 300) })
}

func benchWebhook(b *testing.B, perSecond int) {
	r := newRig(b, "redis", webhookMode, withConfig(func(c *Config) {
		// The benchmark measures Sportello, not Telegram's limits.
		c.Rate = 1_000_000
		c.ChatInterval = time.Microsecond
		c.ChatBurst = 1000
		c.Workers = 16                      // the default
		c.IdlePoll = 500 * time.Millisecond // the default
	}))
	counter := &redistest.RoundTrips{}
	r.rdb.AddHook(counter)
	handler := r.ch.WebhookHandler()

	const chats = 1000
	var (
		mu       sync.Mutex
		received = map[int64]time.Time{}
		lat      []time.Duration
		done     = make(chan struct{}, 1)
		want     atomic.Int64
		seen     atomic.Int64
	)
	r.ch.observe = func(id int64) {
		now := time.Now()
		mu.Lock()
		lat = append(lat, now.Sub(received[id]))
		mu.Unlock()
		if seen.Add(1) == want.Load() {
			done <- struct{}{}
		}
	}
	var nextID atomic.Int64
	nextID.Store(1_000_000)
	post := func(chat int64) {
		id := nextID.Add(1)
		body := updateJSON(b, id, chat, "who")
		req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", bytes.NewReader(body))
		req.Header.Set(secretHeader, r.cfg.WebhookSecret)
		w := httptest.NewRecorder()
		mu.Lock()
		received[id] = time.Now()
		mu.Unlock()
		handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Errorf("webhook answered %d", w.Code)
		}
	}

	b.ResetTimer()
	counter.Reset()
	want.Store(int64(b.N))
	start := time.Now()
	var wg sync.WaitGroup
	var i atomic.Int64
	var tick <-chan time.Time
	if perSecond > 0 {
		t := time.NewTicker(time.Second / time.Duration(perSecond))
		defer t.Stop()
		tick = t.C
	}
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if tick != nil {
					<-tick
				}
				n := i.Add(1)
				if n > int64(b.N) {
					return
				}
				post(1_000 + n%chats)
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d updates reached the sender", seen.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rts := counter.Count()

	mu.Lock()
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	mu.Unlock()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(rts)/float64(b.N), "redis_rt/update")
}
