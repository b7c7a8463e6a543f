// Package redistest gives tests a real Redis: the shared server CI keeps on
// 127.0.0.1:6379 (or REDIS_TEST_URL), with a key prefix of their own, or a
// private redis-server on a free port for fault tests that stop and restart it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL returns the URL of the shared test Redis. When REDIS_TEST_URL is unset
// and nothing answers on 127.0.0.1:6379, it starts a private server for this
// test instead of skipping: Redis tests must never pass by not running.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("REDIS_TEST_URL"); u != "" {
		return u
	}
	const shared = "redis://127.0.0.1:6379/0"
	if answers(shared) {
		return shared
	}
	return Start(t).URL()
}

// Prefix returns a key prefix unique to this test and deletes every key under
// it when the test ends.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	prefix := NewPrefix()
	t.Cleanup(func() {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return
		}
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// NewPrefix returns a fresh random key prefix, for servers that go away with
// the test (nothing to clean up).
func NewPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

func answers(url string) bool {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return false
	}
	opts.DialTimeout = 300 * time.Millisecond
	opts.MaxRetries = -1
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err() == nil
}

// Server is a private redis-server process.
type Server struct {
	Port int
	bin  string
	dir  string
	cmd  *exec.Cmd
	t    testing.TB
}

// Start runs a private redis-server on a free port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed and no Redis answers on 127.0.0.1:6379: install Redis or set REDIS_TEST_URL")
	}
	s := &Server{Port: freePort(t), bin: bin, dir: t.TempDir(), t: t}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0" }

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Stop kills the server, as a crash or an outage would.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port and waits until it
// answers.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for !answers(s.URL()) {
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("redis-server on port %d did not answer within 10s: %s", s.Port, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess runs redis-server with args until the test ends.
func startProcess(t testing.TB, dir string, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed: it is needed for Cluster and Sentinel tests")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server %v: %v", args, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready after 15s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartCluster runs a three-master Redis Cluster on free ports until the test
// ends and returns its REDIS_URL (redis://first?addr=second&addr=third).
func StartCluster(t testing.TB) string {
	t.Helper()
	var addrs []string
	for range 3 {
		port := freePort(t)
		dir := t.TempDir()
		startProcess(t, dir, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no")
		addr := "127.0.0.1:" + strconv.Itoa(port)
		waitFor(t, "cluster node "+addr, func() bool { return answers("redis://" + addr) })
		addrs = append(addrs, addr)
	}
	create := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...), "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	waitFor(t, "cluster state ok", func() bool {
		for _, a := range addrs {
			c := redis.NewClient(&redis.Options{Addr: a})
			info, err := c.ClusterInfo(context.Background()).Result()
			c.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		return true
	})
	return "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
}

// StartSentinel runs a Redis master watched by one Sentinel until the test
// ends and returns its REDIS_URL (redis://sentinel?master_name=mymaster).
func StartSentinel(t testing.TB) string {
	t.Helper()
	master := freePort(t)
	startProcess(t, t.TempDir(), "--port", strconv.Itoa(master), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	waitFor(t, "sentinel's master", func() bool { return answers("redis://127.0.0.1:" + strconv.Itoa(master)) })
	sentinel := freePort(t)
	dir := t.TempDir()
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 %d 1\nsentinel down-after-milliseconds mymaster 5000\n", sentinel, master)
	if err := os.WriteFile(dir+"/sentinel.conf", []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, dir, dir+"/sentinel.conf", "--sentinel")
	url := "redis://127.0.0.1:" + strconv.Itoa(sentinel) + "?master_name=mymaster"
	waitFor(t, "sentinel", func() bool {
		c := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(sentinel)})
		defer c.Close()
		addr, err := c.GetMasterAddrByName(context.Background(), "mymaster").Result()
		return err == nil && len(addr) == 2
	})
	return url
}

// RoundTrips is a go-redis hook that counts the requests a client sends to
// Redis (a pipeline counts once), for benchmarks that report round trips.
type RoundTrips struct{ n atomic.Int64 }

var _ redis.Hook = (*RoundTrips)(nil)

// Count returns the round trips counted since the last Reset.
func (r *RoundTrips) Count() int64 { return r.n.Load() }

// Reset starts counting from zero.
func (r *RoundTrips) Reset() { r.n.Store(0) }

// DialHook implements redis.Hook.
func (r *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (r *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (r *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}
