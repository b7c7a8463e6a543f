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

// A queue is three keys sharing the hash tag {q:<queue>}, so every script
// below touches one cluster slot:
//
//	<prefix>:{q:<queue>}:due   sorted set: id -> due time, or lease end while claimed (unix ms)
//	<prefix>:{q:<queue>}:meta  hash: id -> "due_ms|attempt|token|replaced"
//	<prefix>:{q:<queue>}:data  hash: id -> payload
//
// token is empty while the job waits. replaced is 1 when the job was
// scheduled again while claimed: the claim keeps its lease, and the new
// version becomes due when the claim ends.
func (s *Store) queueKeys(queue string) []string {
	tag := s.prefix + ":{q:" + queue + "}"
	return []string{tag + ":due", tag + ":meta", tag + ":data"}
}

// luaMeta parses a meta value into due, attempt, token, replaced.
const luaMeta = `
local function meta(m)
  local d, a, t, r = string.match(m, '^(%-?%d+)|(%d+)|([^|]*)|([01])$')
  return d, tonumber(a), t, r
end
`

// scheduleScript upserts a job. ARGV: id, due ms, attempt, payload.
var scheduleScript = redis.NewScript(luaMeta + `
local m = redis.call('HGET', KEYS[2], ARGV[1])
if m then
  local _, _, t = meta(m)
  if t ~= '' then
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. t .. '|1')
    redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
    return 1
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '||0')
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
return 0
`)

// claimScript takes due jobs. ARGV: now ms, lease end ms, limit, token
// prefix. Reply: flat {id, payload, due ms, attempt, token, ...}.
var claimScript = redis.NewScript(luaMeta + `
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i, id in ipairs(ids) do
  local m = redis.call('HGET', KEYS[2], id)
  if not m then
    redis.call('ZREM', KEYS[1], id)
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
return 0
`)

var getScript = redis.NewScript(`
local m = redis.call('HGET', KEYS[2], ARGV[1])
if not m then return false end
return {m, redis.call('HGET', KEYS[3], ARGV[1]) or ''}
`)

// Schedule stores j, replacing any job with the same Queue and ID.
func (s *Store) Schedule(ctx context.Context, j schedule.Job) error {
	if err := j.Validate(); err != nil {
		return err
	}
	err := scheduleScript.Run(ctx, s.rdb, s.queueKeys(j.Queue),
		j.ID, j.Due.UnixMilli(), j.Attempt, j.Payload).Err()
	if err != nil {
		return s.wrap(ctx, "schedule", err)
	}
	return nil
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
	jobs := make([]schedule.Job, 0, len(res)/5)
	for i := 0; i+4 < len(res); i += 5 {
		due, err1 := strconv.ParseInt(res[i+2], 10, 64)
		attempt, err2 := strconv.Atoi(res[i+3])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("redis: claim %s: corrupt job %q", queue, res[i])
		}
		jobs = append(jobs, schedule.Job{
			Queue: queue, ID: res[i], Payload: []byte(res[i+1]),
			Due: time.UnixMilli(due), Attempt: attempt, Token: res[i+4],
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
	if !parseMeta(res[0], &j) {
		return schedule.Job{}, false, fmt.Errorf("redis: get %s/%s: corrupt job", queue, id)
	}
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
