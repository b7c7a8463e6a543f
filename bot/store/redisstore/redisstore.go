// Package redisstore keeps Sportello's state in Redis so that several replicas
// can serve one Comune. It works on a single node, Sentinel and Cluster alike
// through redis.UniversalClient: every multi-key change runs as one Lua script
// over keys that share a hash tag, so it stays atomic on a cluster too.
//
// Some scripts (the booking calendar's) also touch keys they find at run
// time, not listed in KEYS. That is valid on a Cluster only because those
// keys share the hash tag of the script's KEYS (so they are in the same
// slot): any new key such a script touches must carry that tag. The booking
// tag includes the key prefix ("<prefix>:{<prefix>:book}:"), so that several
// Comuni on one Cluster do not all land in one slot.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"sportello/bot/store"
)

// Store is the Redis state backend.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// New wraps an existing client. Keys are namespaced under prefix (for
// example "sportello"), so several Comuni or test runs can share one Redis.
func New(rdb redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = "sportello"
	}
	return &Store{rdb: rdb, prefix: prefix}
}

// Client returns the underlying client, for packages that keep their own
// data in the same Redis (booking, scheduler).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Prefix returns the key namespace.
func (s *Store) Prefix() string { return s.prefix }

// NewClient builds a client from a REDIS_URL:
//
//	redis://[user:pass@]host:port[/db]                   single node
//	rediss://...                                         the same over TLS
//	redis://host:port?master_name=mymaster&addr=h2:p2    Sentinel (addresses are sentinels)
//	redis://host:port?addr=host2:port&addr=host3:port    Cluster (two or more nodes)
//
// Query parameters are go-redis' own options (dial_timeout, read_timeout,
// pool_size, ...).
func NewClient(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// A *url.Error repeats the whole URL, password included: keep
		// only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("REDIS_URL: scheme must be redis:// or rediss://, got %q", u.Scheme)
	}
	q := u.Query()
	switch {
	case q.Get("master_name") != "":
		opts, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL (sentinel): %w", err)
		}
		return redis.NewFailoverClient(opts), nil
	case len(q["addr"]) > 0:
		opts, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL (cluster): %w", err)
		}
		return redis.NewClusterClient(opts), nil
	default:
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return redis.NewClient(opts), nil
	}
}

// Redacted returns REDIS_URL with every password hidden (in the user info
// and in query options such as Sentinel's password=), for logs.
func Redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable REDIS_URL)"
	}
	q := u.Query()
	for name := range q {
		if strings.Contains(strings.ToLower(name), "password") {
			q.Set(name, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

// keys returns the lock, session and profile keys of a conversation. The hash
// tag keeps them in one cluster slot.
func (s *Store) keys(key string) []string {
	tag := s.prefix + ":{" + key + "}"
	return []string{tag + ":lock", tag + ":session", tag + ":profile"}
}

// acquireScript takes the lease and loads the state in one round trip.
// Reply: {1, session, version, profile} or {0, pttl of the current lock}.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local s = redis.call('HMGET', KEYS[2], 'd', 'v')
  return {1, s[1], s[2], redis.call('GET', KEYS[3])}
end
return {0, redis.call('PTTL', KEYS[1])}
`)

// commitScript writes and releases in one round trip, fenced by the lease
// token or, once the lease expired untaken, by the session version.
// ARGV: token, loaded version, session (” = delete), session ttl ms,
// profile, profile ttl ms, has-profile flag. Reply: new version or -1.
var commitScript = redis.NewScript(`
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] then
  if holder then return -1 end
  local v = tonumber(redis.call('HGET', KEYS[2], 'v') or '0')
  if v ~= tonumber(ARGV[2]) then return -1 end
end
local version = 0
if ARGV[3] == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('HSET', KEYS[2], 'd', ARGV[3])
  version = redis.call('HINCRBY', KEYS[2], 'v', 1)
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
if ARGV[7] == '1' then
  redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
end
if holder then redis.call('DEL', KEYS[1]) end
return version
`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Acquire takes the conversation's lease, waiting while another worker holds
// it, and returns the state stored under it.
func (s *Store) Acquire(ctx context.Context, key string, lease time.Duration) (*store.Lease, error) {
	token := store.NewToken()
	keys := s.keys(key)
	for attempt := 0; ; attempt++ {
		start := time.Now()
		res, err := acquireScript.Run(ctx, s.rdb, keys, token, lease.Milliseconds()).Slice()
		if err != nil {
			return nil, s.wrap(ctx, "acquire", err)
		}
		if n, _ := res[0].(int64); n == 1 {
			l := &store.Lease{Key: key, Token: token, Expires: start.Add(lease)}
			if d, ok := res[1].(string); ok {
				l.Session = []byte(d)
			}
			if v, ok := res[2].(string); ok {
				l.Version, _ = strconv.ParseInt(v, 10, 64)
			}
			if p, ok := res[3].(string); ok {
				l.Profile = []byte(p)
			}
			return l, nil
		}
		var left time.Duration
		if len(res) > 1 {
			if ms, ok := res[1].(int64); ok && ms > 0 {
				left = time.Duration(ms) * time.Millisecond
			}
		}
		t := time.NewTimer(store.Backoff(attempt, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("redis: acquire: %w (%w)", store.ErrBusy, ctx.Err())
		case <-t.C:
		}
	}
}

// Commit writes the turn's state and releases the lease.
func (s *Store) Commit(ctx context.Context, l *store.Lease, w store.Write) error {
	hasProfile := "0"
	if w.Profile != nil {
		hasProfile = "1"
	}
	v, err := commitScript.Run(ctx, s.rdb, s.keys(l.Key),
		l.Token, l.Version, string(w.Session), ms(w.SessionTTL),
		string(w.Profile), ms(w.ProfileTTL), hasProfile).Int64()
	if err != nil {
		return s.wrap(ctx, "commit", err)
	}
	if v < 0 {
		return fmt.Errorf("redis: commit: %w", store.ErrLeaseLost)
	}
	l.Version = v
	return nil
}

// Release gives the lease back without writing.
func (s *Store) Release(ctx context.Context, l *store.Lease) error {
	if err := releaseScript.Run(ctx, s.rdb, s.keys(l.Key)[:1], l.Token).Err(); err != nil {
		return s.wrap(ctx, "release", err)
	}
	return nil
}

// Once records id under scope and reports whether this was the first time
// within ttl. It is how channels drop duplicate deliveries.
func (s *Store) Once(ctx context.Context, scope, id string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.prefix+":once:"+scope+":"+id, 1, ttl).Result()
	if err != nil {
		return false, s.wrap(ctx, "once", err)
	}
	return ok, nil
}

// Forget deletes the session and profile of a conversation (a citizen's
// request to be forgotten, or tests).
func (s *Store) Forget(ctx context.Context, key string) error {
	k := s.keys(key)
	if err := s.rdb.Del(ctx, k[1]).Err(); err != nil {
		return s.wrap(ctx, "forget", err)
	}
	if err := s.rdb.Del(ctx, k[2]).Err(); err != nil {
		return s.wrap(ctx, "forget", err)
	}
	return nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return s.wrap(ctx, "ping", err)
	}
	return nil
}

// Close closes the client.
func (s *Store) Close() error { return s.rdb.Close() }

// wrap marks connection-level failures (timeouts included) as
// store.ErrUnavailable. A cancelled context is passed through as it is.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	// A caller that gave up (Canceled) is not an outage; a deadline that
	// ran out while Redis did not answer is one.
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	if errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("redis: %s: %w", op, store.ErrClosed)
	}
	return fmt.Errorf("redis: %s: %w: %w", op, store.ErrUnavailable, err)
}

func ms(d time.Duration) int64 {
	if d <= 0 {
		return 1 << 40 // no expiry asked: keep for a very long time, never forever
	}
	return max(d.Milliseconds(), 1)
}

// Layout is the version of the key layout this build reads and writes.
// Change it with any change of key names, hash tags or value formats.
const Layout = "1"

// CheckLayout records the key layout under the prefix the first time and
// refuses data written with another layout, which this build would silently
// not see (bookings missing from the calendar, dedupe marks ignored).
func (s *Store) CheckLayout(ctx context.Context) error {
	key := s.prefix + ":layout"
	if err := s.rdb.SetNX(ctx, key, Layout, 0).Err(); err != nil {
		return s.wrap(ctx, "layout", err)
	}
	got, err := s.rdb.Get(ctx, key).Result()
	if err != nil {
		return s.wrap(ctx, "layout", err)
	}
	if got != Layout {
		return fmt.Errorf("redis: the data under prefix %q uses key layout %s, this build uses %s: migrate it, or use another SPORTELLO_REDIS_PREFIX", s.prefix, got, Layout)
	}
	return nil
}
