package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"sportello/bot/schedule"
	"sportello/bot/store"
)

var _ schedule.Backend = (*Store)(nil)

// A queue is up to five keys sharing the hash tag {<prefix>:q:<queue>}, so every
// script below touches one cluster slot:
//
//	<prefix>:{<prefix>:q:<queue>}:due    sorted set: id -> due time, or lease end while claimed (unix ms)
//	<prefix>:{<prefix>:q:<queue>}:meta   hash: id -> "due_ms|attempt|token|replaced"
//	<prefix>:{<prefix>:q:<queue>}:data   hash: id -> payload
//	<prefix>:{<prefix>:q:<queue>}:exp    sorted set: id -> Expires (unix ms), jobs with Expires only
//	<prefix>:{<prefix>:q:<queue>}:floor  string: registrations up to this number are stale (expires a day after the last purge)
//
// token is empty while the job waits. replaced is 1 when the job was
// scheduled again while claimed: the claim keeps its lease, and the new
// version becomes due when the claim ends. The exp set changes in the same
// scripts as the job, so it always holds each job's own expiry.
//
// PurgeExpired must find expired jobs in every queue without scanning the
// keyspace, so the queues holding jobs with Expires are registered in a
// global index, in a slot of its own:
//
//	<prefix>:{<prefix>:qexp}:queues  sorted set: queue -> a time at or before its earliest Expires (unix ms)
//	<prefix>:{<prefix>:qexp}:gen     hash: queue -> registrations so far
//
// Cluster cannot change both slots atomically, so they keep this protocol:
//
//   - Schedule of a job with Expires first registers the queue (a script
//     on the index that counts a new registration g and lowers the queue's
//     time to the expiry), then writes the job with g. The job script
//     refuses (and Schedule starts over) when g is not above the queue's
//     floor. A job is therefore only written after its registration:
//     there is no job the index does not know about.
//   - PurgeExpired reads the due queues with their registration counts r
//     (p0); for each queue it raises the floor to r, deletes the jobs whose
//     own stored expiry has passed and reads the next expiry (p1), then
//     sets the queue's time to that, or drops the queue when none is left,
//     but only if no registration happened since p0 (p2). A Schedule that
//     registered before p0 and writes after p1 is refused by the floor and
//     registers again; one that registered after p0 makes p2 leave the
//     queue's time alone. So the index never moves past a job's expiry.
//   - The index may hold a queue with nothing left to purge (its jobs were
//     done or cancelled): the next purge drops it.
func (s *Store) queueKeys(queue string) []string {
	tag := s.prefix + ":{" + s.prefix + ":q:" + queue + "}"
	return []string{tag + ":due", tag + ":meta", tag + ":data", tag + ":exp", tag + ":floor"}
}

func (s *Store) expiryKeys() []string {
	tag := s.prefix + ":{" + s.prefix + ":qexp}"
	return []string{tag + ":queues", tag + ":gen"}
}

// floorTTL is how long a queue's floor outlives the last purge of the
// queue: far longer than a Schedule can take between its two steps.
const floorTTL = 24 * time.Hour

// maxRegisterRounds bounds how often Schedule starts over when purges keep
// overtaking it. A purge visits a queue about once a minute per process,
// and overtakes a Schedule only inside its one round trip, so a second
// round is already rare.
const maxRegisterRounds = 8

// luaMeta parses a meta value into due, attempt, token, replaced.
const luaMeta = `
local function meta(m)
  local d, a, t, r = string.match(m, '^(%-?%d+)|(%d+)|([^|]*)|([01])$')
  return d, tonumber(a), t, r
end
`

// registerScript registers a queue in the expiry index (keys: queues,
// gen). ARGV: queue, expires ms. Reply: the registration's number.
var registerScript = redis.NewScript(`
local g = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not cur or tonumber(ARGV[2]) < tonumber(cur) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
return g
`)

// scheduleScript upserts a job. ARGV: id, due ms, attempt, payload,
// expires ms (empty: none), registration number (with expires). Reply: -1
// if the registration is stale (nothing written), else 0.
var scheduleScript = redis.NewScript(luaMeta + `
local exp = ARGV[5]
if exp ~= '' then
  if tonumber(ARGV[6]) <= tonumber(redis.call('GET', KEYS[5]) or '0') then return -1 end
  redis.call('ZADD', KEYS[4], exp, ARGV[1])
else
  redis.call('ZREM', KEYS[4], ARGV[1])
end
local m = redis.call('HGET', KEYS[2], ARGV[1])
if m then
  local _, _, t = meta(m)
  if t ~= '' then
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. t .. '|1')
    redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
    return 0
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '||0')
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
return 0
`)

// claimScript takes due jobs. ARGV: now ms, lease end ms, limit, token
// prefix. Reply: flat {id, payload, due ms, attempt, token, expires ms (or
// empty), ...}.
var claimScript = redis.NewScript(luaMeta + `
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, id in ipairs(ids) do
  local m = redis.call('HGET', KEYS[2], id)
  if not m then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[4], id)
  else
    local d, a, t, r = meta(m)
    if r == '1' and tonumber(d) > now then
      -- the claim holding a replaced job lapsed; the replacement is not due yet
      redis.call('ZADD', KEYS[1], d, id)
      redis.call('HSET', KEYS[2], id, d .. '|' .. a .. '||0')
    else
      if t ~= '' and r == '0' then a = a + 1 end -- a lease ran out: that was an attempt
      local tok = ARGV[4] .. '.' .. i
      redis.call('ZADD', KEYS[1], ARGV[2], id)
      redis.call('HSET', KEYS[2], id, d .. '|' .. a .. '|' .. tok .. '|0')
      local n = #out
      out[n+1] = id
      out[n+2] = redis.call('HGET', KEYS[3], id) or ''
      out[n+3] = d
      out[n+4] = tostring(a)
      out[n+5] = tok
      out[n+6] = redis.call('ZSCORE', KEYS[4], id) or ''
    end
  end
end
return out
`)

// finishScript ends a claim. ARGV: id, token, mode ('done' or 'again'),
// due ms, attempt increment. Reply: 1 if the token matched, else 0.
var finishScript = redis.NewScript(luaMeta + `
local m = redis.call('HGET', KEYS[2], ARGV[1])
if not m then return 0 end
local d, a, t, r = meta(m)
if t ~= ARGV[2] then return 0 end
if r == '1' then
  redis.call('ZADD', KEYS[1], d, ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], d .. '|' .. a .. '||0')
elseif ARGV[3] == 'done' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4] .. '|' .. (a + tonumber(ARGV[5])) .. '||0')
end
return 1
`)

var cancelScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 0
`)

var getScript = redis.NewScript(`
local m = redis.call('HGET', KEYS[2], ARGV[1])
if not m then return false end
return {m, redis.call('HGET', KEYS[3], ARGV[1]) or '', redis.call('ZSCORE', KEYS[4], ARGV[1]) or ''}
`)

// dueQueuesScript (p0, keys: queues, gen) lists up to ARGV[2] queues whose
// time is at or before ARGV[1], each with its registration count. Reply:
// flat {queue, count, ...}.
var dueQueuesScript = redis.NewScript(`
local qs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i, q in ipairs(qs) do
  out[2*i-1] = q
  out[2*i] = redis.call('HGET', KEYS[2], q) or '0'
end
return out
`)

// purgeQueueScript (p1, queue keys) raises the floor to ARGV[3] and
// deletes up to ARGV[2] jobs whose own expiry is at or before ARGV[1].
// Reply: {deleted, next expiry ms (empty: none left)}.
var purgeQueueScript = redis.NewScript(`
local floor = tonumber(redis.call('GET', KEYS[5]) or '0')
redis.call('SET', KEYS[5], math.max(floor, tonumber(ARGV[3])), 'PX', tonumber(ARGV[4]))
local ids = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
end
local nxt = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
return {#ids, nxt[2] or ''}
`)

// requeueScript (p2, keys: queues, gen) sets queue ARGV[1]'s time to
// ARGV[3], or drops the queue when ARGV[3] is empty, unless it was
// registered again since its count was ARGV[2].
var requeueScript = redis.NewScript(`
if tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
`)

// Schedule stores j, replacing any job with the same Queue and ID. A job
// with Expires takes two round trips: the queue's registration in the
// expiry index, then the job.
func (s *Store) Schedule(ctx context.Context, j schedule.Job) error {
	if err := j.Validate(); err != nil {
		return err
	}
	keys := s.queueKeys(j.Queue)
	if j.Expires.IsZero() {
		if err := scheduleScript.Run(ctx, s.rdb, keys, j.ID, j.Due.UnixMilli(), j.Attempt, j.Payload, "", "").Err(); err != nil {
			return s.wrap(ctx, "schedule", err)
		}
		return nil
	}
	exp := j.Expires.UnixMilli()
	for range maxRegisterRounds {
		g, err := registerScript.Run(ctx, s.rdb, s.expiryKeys(), j.Queue, exp).Int64()
		if err != nil {
			return s.wrap(ctx, "schedule", err)
		}
		r, err := scheduleScript.Run(ctx, s.rdb, keys, j.ID, j.Due.UnixMilli(), j.Attempt, j.Payload, exp, g).Int()
		if err != nil {
			return s.wrap(ctx, "schedule", err)
		}
		if r != -1 {
			return nil
		}
		// A purge of this queue overtook the registration: register again.
	}
	return fmt.Errorf("redis: schedule on %s: purges of the queue kept overtaking it: %w", j.Queue, store.ErrUnavailable)
}

// PurgeExpired deletes up to limit jobs, waiting or claimed, whose own
// Expires is at or before now, from up to limit queues due in the expiry
// index. It takes one round trip, then two per queue.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	nowMs := now.UnixMilli()
	due, err := dueQueuesScript.Run(ctx, s.rdb, s.expiryKeys(), nowMs, limit).StringSlice()
	if err != nil {
		return 0, s.wrap(ctx, "purge", err)
	}
	deleted := 0
	for i := 0; i+1 < len(due) && deleted < limit; i += 2 {
		queue, gen := due[i], due[i+1]
		res, err := purgeQueueScript.Run(ctx, s.rdb, s.queueKeys(queue),
			nowMs, limit-deleted, gen, floorTTL.Milliseconds()).Slice()
		if err != nil {
			return deleted, s.wrap(ctx, "purge", err)
		}
		n, _ := res[0].(int64)
		next, _ := res[1].(string)
		deleted += int(n)
		if err := requeueScript.Run(ctx, s.rdb, s.expiryKeys(), queue, gen, next).Err(); err != nil {
			return deleted, s.wrap(ctx, "purge", err)
		}
	}
	return deleted, nil
}

// Cancel deletes a job, claimed or not. Cancelling a missing job is not an
// error.
func (s *Store) Cancel(ctx context.Context, queue, id string) error {
	if err := schedule.ValidateQueue(queue); err != nil {
		return err
	}
	if err := cancelScript.Run(ctx, s.rdb, s.queueKeys(queue), id).Err(); err != nil {
		return s.wrap(ctx, "cancel", err)
	}
	return nil
}

// Claim takes up to limit jobs due at now in one round trip.
func (s *Store) Claim(ctx context.Context, queue string, now time.Time, lease time.Duration, limit int) ([]schedule.Job, error) {
	if err := schedule.ValidateQueue(queue); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	res, err := claimScript.Run(ctx, s.rdb, s.queueKeys(queue),
		now.UnixMilli(), now.Add(lease).UnixMilli(), limit, store.NewToken()).StringSlice()
	if err != nil {
		return nil, s.wrap(ctx, "claim", err)
	}
	jobs := make([]schedule.Job, 0, len(res)/6)
	for i := 0; i+5 < len(res); i += 6 {
		due, err1 := strconv.ParseInt(res[i+2], 10, 64)
		attempt, err2 := strconv.Atoi(res[i+3])
		expires, ok := parseScore(res[i+5])
		if err1 != nil || err2 != nil || !ok {
			return nil, fmt.Errorf("redis: claim %s: corrupt job %q", queue, res[i])
		}
		jobs = append(jobs, schedule.Job{
			Queue: queue, ID: res[i], Payload: []byte(res[i+1]),
			Due: time.UnixMilli(due), Attempt: attempt, Token: res[i+4], Expires: expires,
		})
	}
	return jobs, nil
}

// Done deletes the claimed job, or lets its replacement become due.
func (s *Store) Done(ctx context.Context, j schedule.Job) error {
	return s.finish(ctx, "done", j, "done", 0, 0)
}

// Retry reschedules the claimed job at due with Attempt+1.
func (s *Store) Retry(ctx context.Context, j schedule.Job, due time.Time) error {
	return s.finish(ctx, "retry", j, "again", due.UnixMilli(), 1)
}

// Postpone reschedules the claimed job at due without counting an attempt.
func (s *Store) Postpone(ctx context.Context, j schedule.Job, due time.Time) error {
	return s.finish(ctx, "postpone", j, "again", due.UnixMilli(), 0)
}

func (s *Store) finish(ctx context.Context, op string, j schedule.Job, mode string, due int64, inc int) error {
	if err := schedule.ValidateQueue(j.Queue); err != nil {
		return err
	}
	ok, err := finishScript.Run(ctx, s.rdb, s.queueKeys(j.Queue), j.ID, j.Token, mode, due, inc).Int()
	if err != nil {
		return s.wrap(ctx, op, err)
	}
	if ok != 1 {
		return fmt.Errorf("redis: %s %s/%s: %w", op, j.Queue, j.ID, store.ErrLeaseLost)
	}
	return nil
}

// Get returns the stored job, whether waiting or claimed (then Token is the
// claim's). It reports false when there is none.
func (s *Store) Get(ctx context.Context, queue, id string) (schedule.Job, bool, error) {
	if err := schedule.ValidateQueue(queue); err != nil {
		return schedule.Job{}, false, err
	}
	res, err := getScript.Run(ctx, s.rdb, s.queueKeys(queue), id).StringSlice()
	if err == redis.Nil {
		return schedule.Job{}, false, nil
	}
	if err != nil {
		return schedule.Job{}, false, s.wrap(ctx, "get", err)
	}
	j := schedule.Job{Queue: queue, ID: id, Payload: []byte(res[1])}
	expires, ok := parseScore(res[2])
	if !parseMeta(res[0], &j) || !ok {
		return schedule.Job{}, false, fmt.Errorf("redis: get %s/%s: corrupt job", queue, id)
	}
	j.Expires = expires
	return j, true, nil
}

// Pending counts the queue's jobs, waiting or claimed.
func (s *Store) Pending(ctx context.Context, queue string) (int, error) {
	if err := schedule.ValidateQueue(queue); err != nil {
		return 0, err
	}
	n, err := s.rdb.ZCard(ctx, s.queueKeys(queue)[0]).Result()
	if err != nil {
		return 0, s.wrap(ctx, "pending", err)
	}
	return int(n), nil
}

// parseMeta reads "due_ms|attempt|token|replaced" into j.
func parseMeta(m string, j *schedule.Job) bool {
	parts := strings.SplitN(m, "|", 4)
	if len(parts) != 4 {
		return false
	}
	due, err1 := strconv.ParseInt(parts[0], 10, 64)
	attempt, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	j.Due, j.Attempt, j.Token = time.UnixMilli(due), attempt, parts[2]
	return true
}

// parseScore reads an expiry as a sorted set gives it back (unix ms); an
// empty one is no expiry.
func parseScore(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(f)), true
}
