package telegram

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"sportello/bot/store"
)

// redisInbox keeps the inbox in Redis, shared by every replica. All its keys
// carry one hash tag, so its scripts stay atomic on a Cluster:
//
//	<prefix>:{<prefix>:telegram}:seen:<update_id>  dedupe mark, expiring
//	<prefix>:{<prefix>:telegram}:q:<chat>          ZSET of queued update_ids
//	<prefix>:{<prefix>:telegram}:u                 HASH update_id -> raw update
//	<prefix>:{<prefix>:telegram}:n                 HASH update_id -> failed turns in a row
//	<prefix>:{<prefix>:telegram}:ns                HASH update_id -> failed sends
//	<prefix>:{<prefix>:telegram}:ready             ZSET chat -> ms when it may be claimed
//	<prefix>:{<prefix>:telegram}:owner             HASH chat -> lease token
//	<prefix>:{<prefix>:telegram}:unreachable       SET of chats that blocked the bot
//
// A chat in "ready" with a score in the past is free; a claim moves its score
// to the end of the lease, so a crashed worker's chat becomes free again.
type redisInbox struct {
	rdb  redis.UniversalClient
	base string
}

func newRedisInbox(rdb redis.UniversalClient, prefix string) *redisInbox {
	return &redisInbox{rdb: rdb, base: prefix + ":{" + prefix + ":telegram}:"}
}

func (r *redisInbox) key(parts ...string) string {
	k := r.base
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

// addScript: KEYS = u, ready, then per update seen_i, q_i.
// ARGV = ttl ms, now ms, then per update id_i, chat_i, raw_i.
var addScript = redis.NewScript(`
local added = 0
local n = (#KEYS - 2) / 2
for i = 0, n - 1 do
  local id, chat, raw = ARGV[3 + 3*i], ARGV[4 + 3*i], ARGV[5 + 3*i]
  if redis.call('SET', KEYS[3 + 2*i], '1', 'NX', 'PX', ARGV[1]) then
    redis.call('HSET', KEYS[1], id, raw)
    redis.call('ZADD', KEYS[4 + 2*i], id, id)
    redis.call('ZADD', KEYS[2], 'NX', ARGV[2], chat)
    added = added + 1
  end
end
return added
`)

// claimScript: KEYS = ready, owner, u, n, ns. ARGV = now ms, lease ms,
// token, queue key prefix. The chat's queue key is built here (same hash
// tag). Reply: {1, chat, id, raw, failed turns, failed sends} | {0, ms until
// next due or -1}.
var claimScript = redis.NewScript(`
for _ = 1, 10 do
  local c = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
  if #c == 0 then
    local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    if #nxt == 0 then return {0, -1} end
    return {0, tonumber(nxt[2]) - tonumber(ARGV[1])}
  end
  local chat = c[1]
  local head = redis.call('ZRANGE', ARGV[4] .. chat, 0, 0)
  if #head == 0 then
    redis.call('ZREM', KEYS[1], chat)
    redis.call('HDEL', KEYS[2], chat)
  else
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), chat)
    redis.call('HSET', KEYS[2], chat, ARGV[3])
    local id = head[1]
    return {1, chat, id, redis.call('HGET', KEYS[3], id) or '', redis.call('HGET', KEYS[4], id) or '0',
      redis.call('HGET', KEYS[5], id) or '0'}
  end
end
return {0, 0}
`)

// doneScript: KEYS = ready, owner, u, n, q, unreachable, ns. ARGV = chat,
// token, id, now ms, lease ms, clear-unreachable flag.
// Reply: {-1} lease lost | {0} chat empty | {1, id, raw, failed turns,
// failed sends}.
var doneScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return {-1} end
redis.call('ZREM', KEYS[5], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('HDEL', KEYS[4], ARGV[3])
redis.call('HDEL', KEYS[7], ARGV[3])
if ARGV[6] == '1' then redis.call('SREM', KEYS[6], ARGV[1]) end
local head = redis.call('ZRANGE', KEYS[5], 0, 0)
if #head == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return {0}
end
redis.call('ZADD', KEYS[1], tonumber(ARGV[4]) + tonumber(ARGV[5]), ARGV[1])
local id = head[1]
return {1, id, redis.call('HGET', KEYS[3], id) or '', redis.call('HGET', KEYS[4], id) or '0',
  redis.call('HGET', KEYS[7], id) or '0'}
`)

// retryScript: KEYS = ready, owner, n, ns. ARGV = chat, token, id, due ms,
// failed turns, failed sends.
var retryScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return -1 end
for i = 0, 1 do
  if ARGV[5 + i] == '0' then
    redis.call('HDEL', KEYS[3 + i], ARGV[3])
  else
    redis.call('HSET', KEYS[3 + i], ARGV[3], ARGV[5 + i])
  end
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`)

// extendScript: KEYS = ready, owner. ARGV = chat, token, until ms.
var extendScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return -1 end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 1
`)

func (r *redisInbox) add(ctx context.Context, items []item, ttl time.Duration) (int, error) {
	if len(items) == 0 {
		return 0, nil
	}
	keys := []string{r.key("u"), r.key("ready")}
	args := []any{ttl.Milliseconds(), time.Now().UnixMilli()}
	for _, it := range items {
		id, chat := strconv.FormatInt(it.UpdateID, 10), strconv.FormatInt(it.Chat, 10)
		keys = append(keys, r.key("seen", id), r.key("q", chat))
		args = append(args, id, chat, it.Raw)
	}
	n, err := addScript.Run(ctx, r.rdb, keys, args...).Int()
	if err != nil {
		return 0, wrapRedis(ctx, "add", err)
	}
	return n, nil
}

func (r *redisInbox) claim(ctx context.Context, lease time.Duration) (*claim, time.Duration, error) {
	token := store.NewToken()
	res, err := claimScript.Run(ctx, r.rdb, []string{r.key("ready"), r.key("owner"), r.key("u"), r.key("n"), r.key("ns")},
		time.Now().UnixMilli(), lease.Milliseconds(), token, r.key("q", "")).Slice()
	if err != nil {
		return nil, 0, wrapRedis(ctx, "claim", err)
	}
	if n, _ := res[0].(int64); n == 0 {
		wait := time.Duration(-1)
		if ms, ok := res[1].(int64); ok && ms >= 0 {
			wait = time.Duration(ms) * time.Millisecond
		}
		return nil, wait, nil
	}
	chat, err := strconv.ParseInt(res[1].(string), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("telegram: inbox: bad chat %q", res[1])
	}
	c, err := parseClaim(chat, token, res[2:])
	return c, 0, err
}

func parseClaim(chat int64, token string, res []any) (*claim, error) {
	id, err := strconv.ParseInt(fmt.Sprint(res[0]), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("telegram: inbox: bad update id %v", res[0])
	}
	raw, _ := res[1].(string)
	turn, _ := strconv.Atoi(fmt.Sprint(res[2]))
	send, _ := strconv.Atoi(fmt.Sprint(res[3]))
	return &claim{item: item{UpdateID: id, Chat: chat, Raw: []byte(raw)}, Fails: failures{Turn: turn, Send: send}, token: token}, nil
}

func (r *redisInbox) done(ctx context.Context, c *claim, lease time.Duration, reachable bool) (*claim, error) {
	chat := strconv.FormatInt(c.Chat, 10)
	flag := "0"
	if reachable {
		flag = "1"
	}
	res, err := doneScript.Run(ctx, r.rdb,
		[]string{r.key("ready"), r.key("owner"), r.key("u"), r.key("n"), r.key("q", chat), r.key("unreachable"), r.key("ns")},
		chat, c.token, c.UpdateID, time.Now().UnixMilli(), lease.Milliseconds(), flag).Slice()
	if err != nil {
		return nil, wrapRedis(ctx, "done", err)
	}
	switch n, _ := res[0].(int64); n {
	case -1:
		return nil, errLeaseLost
	case 0:
		return nil, nil
	}
	return parseClaim(c.Chat, c.token, res[1:])
}

func (r *redisInbox) retry(ctx context.Context, c *claim, delay time.Duration, fails failures) error {
	n, err := retryScript.Run(ctx, r.rdb, []string{r.key("ready"), r.key("owner"), r.key("n"), r.key("ns")},
		c.Chat, c.token, c.UpdateID, time.Now().Add(delay).UnixMilli(), max(fails.Turn, 0), max(fails.Send, 0)).Int()
	if err != nil {
		return wrapRedis(ctx, "retry", err)
	}
	if n < 0 {
		return errLeaseLost
	}
	return nil
}

func (r *redisInbox) extend(ctx context.Context, c *claim, lease time.Duration) error {
	n, err := extendScript.Run(ctx, r.rdb, []string{r.key("ready"), r.key("owner")},
		c.Chat, c.token, time.Now().Add(lease).UnixMilli()).Int()
	if err != nil {
		return wrapRedis(ctx, "extend", err)
	}
	if n < 0 {
		return errLeaseLost
	}
	return nil
}

func (r *redisInbox) setUnreachable(ctx context.Context, chat int64, unreachable bool) error {
	var err error
	if unreachable {
		err = r.rdb.SAdd(ctx, r.key("unreachable"), chat).Err()
	} else {
		err = r.rdb.SRem(ctx, r.key("unreachable"), chat).Err()
	}
	return wrapRedis(ctx, "unreachable", err)
}

func (r *redisInbox) unreachable(ctx context.Context, chat int64) (bool, error) {
	ok, err := r.rdb.SIsMember(ctx, r.key("unreachable"), chat).Result()
	return ok, wrapRedis(ctx, "unreachable", err)
}

// wrapRedis marks connection failures as store.ErrUnavailable, like the state
// store does.
func wrapRedis(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return fmt.Errorf("telegram: inbox %s: %w", op, err)
	case errors.Is(err, redis.ErrClosed):
		return fmt.Errorf("telegram: inbox %s: %w", op, store.ErrClosed)
	default:
		return fmt.Errorf("telegram: inbox %s: %w: %w", op, store.ErrUnavailable, err)
	}
}
