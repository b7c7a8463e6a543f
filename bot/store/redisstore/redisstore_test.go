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
	"time"

	"sportello/bot/bottest"
	"sportello/bot/store"
	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
	"sportello/bot/store/storetest"
)

func TestConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.Run(t, func(t *testing.T) func() storetest.Store {
		prefix := redistest.Prefix(t, url)
		// Each handle is its own client, as each replica would have.
		return func() storetest.Store { return bottest.RedisStore(t, url, prefix) }
	})
}

// TestConformanceCluster runs the suite on a real three-master Redis
// Cluster: the scripts' keys must share a slot.
func TestConformanceCluster(t *testing.T) {
	url := redistest.StartCluster(t)
	storetest.Run(t, func(t *testing.T) func() storetest.Store {
		prefix := redistest.NewPrefix() // the keys vanish with the cluster
		return func() storetest.Store { return bottest.RedisStore(t, url, prefix) }
	})
}

// TestConformanceSentinel runs the suite through a Sentinel.
func TestConformanceSentinel(t *testing.T) {
	url := redistest.StartSentinel(t)
	storetest.Run(t, func(t *testing.T) func() storetest.Store {
		prefix := redistest.NewPrefix()
		return func() storetest.Store { return bottest.RedisStore(t, url, prefix) }
	})
}

// TestHelperProcess is not a test: it is the body of the helper processes
// started by TestSeveralProcessesShareOneRedis.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("SPORTELLO_HELPER") != "increment" {
		t.Skip("helper process only")
	}
	s := bottest.RedisStore(t, os.Getenv("SPORTELLO_HELPER_URL"), os.Getenv("SPORTELLO_HELPER_PREFIX"))
	var n int
	fmt.Sscan(os.Getenv("SPORTELLO_HELPER_N"), &n)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 4 {
				if err := storetest.Increment(ctx, s, "shared"); err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestSeveralProcessesShareOneRedis starts this test binary several times as
// separate OS processes, each incrementing the same conversation's counter
// from four goroutines. No increment may be lost.
func TestSeveralProcessesShareOneRedis(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	const procs, perProc = 4, 60
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"SPORTELLO_HELPER=increment",
			"SPORTELLO_HELPER_URL="+url,
			"SPORTELLO_HELPER_PREFIX="+prefix,
			fmt.Sprintf("SPORTELLO_HELPER_N=%d", perProc))
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start helper: %v", err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
	}
	if got, want := storetest.Counter(t, bottest.RedisStore(t, url, prefix), "shared"), procs*perProc; got != want {
		t.Errorf("counter = %d, want %d: updates were lost across processes", got, want)
	}
}

// TestOutageAndRecovery stops a private Redis under a working store: every
// call fails fast with ErrUnavailable (no panic, no hang), and the same store
// works again once Redis is back.
func TestOutageAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	s := bottest.RedisStore(t, srv.URL()+"?dial_timeout=200ms&read_timeout=200ms&write_timeout=200ms&max_retries=1", "outage")
	ctx := context.Background()
	if err := storetest.Increment(ctx, s, "k"); err != nil {
		t.Fatalf("Increment before outage = %v", err)
	}

	srv.Stop()
	ctx5, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := s.Acquire(ctx5, "k", time.Second)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Acquire during outage = %v, want ErrUnavailable", err)
	}
	if ctx5.Err() != nil {
		t.Errorf("Acquire during outage waited for the whole deadline; want a fast failure")
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping during outage = %v, want ErrUnavailable", err)
	}
	if _, err := s.Once(ctx, "u", "1", time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Once during outage = %v, want ErrUnavailable", err)
	}

	srv.Restart()
	// The server came back empty (no persistence): the store must simply work.
	if err := storetest.Increment(ctx, s, "k"); err != nil {
		t.Fatalf("Increment after recovery = %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after recovery = %v", err)
	}
}

// TestOutageMidTurn loses Redis between Acquire and Commit: the commit fails
// with ErrUnavailable and, once Redis is back, the conversation is usable.
func TestOutageMidTurn(t *testing.T) {
	srv := redistest.Start(t)
	s := bottest.RedisStore(t, srv.URL()+"?dial_timeout=200ms&read_timeout=200ms&max_retries=1", "midturn")
	ctx := context.Background()
	l, err := s.Acquire(ctx, "k", time.Second)
	if err != nil {
		t.Fatalf("Acquire = %v", err)
	}
	srv.Stop()
	if err := s.Commit(ctx, l, store.Write{Session: []byte("x"), SessionTTL: time.Minute}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Commit during outage = %v, want ErrUnavailable", err)
	}
	srv.Restart()
	if err := storetest.Increment(ctx, s, "k"); err != nil {
		t.Fatalf("Increment after recovery = %v", err)
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		url     string
		want    string // type of client
		wantErr string
	}{
		{url: "redis://127.0.0.1:6379/0", want: "*redis.Client"},
		{url: "rediss://user:secret@example.org:6380/2", want: "*redis.Client"},
		{url: "redis://10.0.0.1:26379?master_name=mymaster&addr=10.0.0.2:26379", want: "*redis.Client"},
		{url: "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000", want: "*redis.ClusterClient"},
		{url: "http://localhost:6379", wantErr: "scheme must be redis:// or rediss://"},
		{url: "redis://localhost:6379/notanumber", wantErr: "REDIS_URL"},
		{url: "redis://localhost:6379?bogus_option=1", wantErr: "REDIS_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			c, err := redisstore.NewClient(tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewClient(%q) = %v, want error containing %q", tc.url, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient(%q) = %v", tc.url, err)
			}
			defer c.Close()
			if got := fmt.Sprintf("%T", c); got != tc.want {
				t.Errorf("NewClient(%q) is %s, want %s", tc.url, got, tc.want)
			}
		})
	}
}

func TestRedactedHidesPasswords(t *testing.T) {
	for _, url := range []string{
		"redis://user:s3cret@host:6379/0",
		"redis://10.0.0.1:26379?master_name=m&password=s3cret&addr=10.0.0.2:26379",
		"redis://10.0.0.1:26379?master_name=m&sentinel_password=s3cret",
	} {
		if got := redisstore.Redacted(url); strings.Contains(got, "s3cret") {
			t.Errorf("Redacted(%q) = %q still shows the password", url, got)
		}
	}
}

func TestNewClientErrorsHidePasswords(t *testing.T) {
	for _, url := range []string{
		"redis://user:s3cret@host:badport/0",
		"redis://user:s3cret@[::1",
		"redis://user:s3cret@host:6379/notadb",
		"redis://user:s3cret@host:6379?bogus=1",
	} {
		_, err := redisstore.NewClient(url)
		if err == nil {
			t.Errorf("NewClient(%q) succeeded", url)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("NewClient(%q) error %q shows the password", url, err)
		}
	}
}

// TestKeysShareHashSlot checks that one conversation's keys land in one
// cluster slot, which the Lua scripts need on Redis Cluster.
func TestKeysShareHashSlot(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	s := bottest.RedisStore(t, url, prefix)
	ctx := context.Background()
	if err := storetest.Increment(ctx, s, "telegram:42"); err != nil {
		t.Fatal(err)
	}
	var keys []string
	iter := s.Client().Scan(ctx, 0, prefix+":*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) == 0 {
		t.Fatal("no keys written")
	}
	for _, k := range keys {
		if !strings.Contains(k, "{telegram:42}") {
			t.Errorf("key %q has no {telegram:42} hash tag", k)
		}
	}
}

func TestCheckLayout(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	s := bottest.RedisStore(t, url, prefix)
	ctx := context.Background()
	if err := s.CheckLayout(ctx); err != nil {
		t.Fatalf("CheckLayout on fresh data = %v", err)
	}
	if err := s.CheckLayout(ctx); err != nil {
		t.Fatalf("CheckLayout again = %v", err)
	}
	s.Client().Set(ctx, prefix+":layout", "0", 0)
	if err := s.CheckLayout(ctx); err == nil || !strings.Contains(err.Error(), "SPORTELLO_REDIS_PREFIX") {
		t.Errorf("CheckLayout on another layout = %v, want an error naming SPORTELLO_REDIS_PREFIX", err)
	}
}
