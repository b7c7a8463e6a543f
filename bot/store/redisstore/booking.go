package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"sportello/bot/booking"
)

var _ booking.Store = (*Store)(nil)

// Booking keys all live under one hash tag, "<prefix>:{<prefix>:book}:", so
// that every script can touch any of them atomically on Redis Cluster too
// (they share a cluster slot; a Comune's calendar is one unit). The prefix is
// inside the tag so that several Comuni on one Cluster (one
// SPORTELLO_REDIS_PREFIX each) spread over the slots instead of sharing one.
//
// The scripts read and write keys they find at run time (records, a
// person's set, the waitlists...) that are not listed in KEYS: that is
// correct on a Cluster only because each of them carries the same tag as
// KEYS[1], so all are in the slot the script runs on. Every new booking key
// must keep the tag. Keys:
//
//	r:<code>        hash: the record (fields below, "d" = the JSON booking)
//	occ:<office>    hash: start minute -> places held
//	occm:<office>   zset: the start minutes in occ, scored by minute (to
//	                read one day's occupancy without the whole hash)
//	cal:<office>    zset: code by start minute
//	p:<person>      set:  codes of a person (pseudonym)
//	c:<conv>        set:  codes of a conversation
//	w:<office>|w:*  zset: waitlist codes by seq
//	seq             counter of waitlist seqs
//	due             zset: code by when something is due (ms)
//	idem:<key>      string: code, expiring
//	rate:<p|c>:<id>:<window> counter of attempts, expiring
//
// Record fields the scripts manage override the JSON in "d": st (status), of
// (office), m (start minute, "" for a waitlist entry), un (until ms), ask,
// by (ms), asked (0/1), pg (purge ms), nt (pending notice), nf (failed
// tries of nt; back to 0 whenever nt changes), na (ms before which nt may
// not go; offers only), wo and wu (an offer's waitlist office and end of
// wait), told (1: the request or offer was delivered), seq, p, cv.
func (s *Store) bookingBase() string { return s.prefix + ":{" + s.prefix + ":book}:" }

// bookingLua is the prelude every booking script shares. ARGV[1..16] are the
// base and the limits (see runBooking); a script's own arguments follow,
// read with arg(1), arg(2)...
const bookingLua = `
local B = ARGV[1]
local NOW = tonumber(ARGV[2])
local LIM = {cap = tonumber(ARGV[3]), maxp = tonumber(ARGV[4]), maxc = tonumber(ARGV[5]),
  rate = tonumber(ARGV[6]), window = tonumber(ARGV[7]), offeruntil = tonumber(ARGV[8]),
  offerfrom = tonumber(ARGV[9]), retention = tonumber(ARGV[10]), ended = tonumber(ARGV[12]),
  answer = tonumber(ARGV[13]), offerat = tonumber(ARGV[14]), minnotice = tonumber(ARGV[15]),
  receipts = ARGV[16] == '1', caps = {}}
for of, n in string.gmatch(ARGV[11], '([^,=]+)=(%d+)') do LIM.caps[of] = tonumber(n) end
local NLIM = 16
local function arg(i) return ARGV[NLIM + i] end

local function rk(code) return B .. 'r:' .. code end
local function num(v) return tonumber(v) or 0 end
local function active(st) return st == 'offered' or st == 'booked' or st == 'confirmed' end
local function waitkey(of) if of == '' then return B .. 'w:*' end return B .. 'w:' .. of end

local function load(code)
  local v = redis.call('HGETALL', rk(code))
  if #v == 0 then return nil end
  local r = {}
  for i = 1, #v, 2 do r[v[i]] = v[i + 1] end
  r.nt0 = r.nt
  return r
end

local function dueat(r)
  if r.nt ~= '' then return math.max(NOW, num(r.na)) end
  if r.st == 'offered' or r.st == 'waiting' then return num(r.un) end
  if r.st == 'booked' and num(r.ask) > 0 and r.asked ~= '1' then return num(r.ask) end
  if r.st == 'booked' and num(r.by) > 0 then return num(r.by) end
  return num(r.pg)
end

local function save(code, r)
  if r.nt ~= r.nt0 then r.nf = '0' end
  if r.nt ~= 'offer' then r.na = '' end
  redis.call('HSET', rk(code), 'st', r.st, 'of', r.of, 'm', r.m, 'un', r.un, 'ask', r.ask, 'by', r.by,
    'asked', r.asked, 'pg', r.pg, 'nt', r.nt, 'nf', r.nf or '0', 'seq', r.seq, 'na', r.na or '',
    'wo', r.wo or '', 'wu', r.wu or '', 'told', r.told or '')
  redis.call('ZADD', B .. 'due', dueat(r), code)
end

local function occget(of, m) return num(redis.call('HGET', B .. 'occ:' .. of, m)) end
local function occadd(of, m, d)
  local n = redis.call('HINCRBY', B .. 'occ:' .. of, m, d)
  if n <= 0 then
    redis.call('HDEL', B .. 'occ:' .. of, m)
    redis.call('ZREM', B .. 'occm:' .. of, m)
  elseif n == d then
    redis.call('ZADD', B .. 'occm:' .. of, m, m)
  end
end
local function take(code, r)
  occadd(r.of, r.m, 1)
  redis.call('ZADD', B .. 'cal:' .. r.of, r.m, code)
end

-- activecount counts the places still to come of the codes in set key (an
-- appointment whose slot has started is over and counts no more), and the
-- places in line too when waiting is true.
local function activecount(key, waiting)
  local n = 0
  for _, c in ipairs(redis.call('SMEMBERS', key)) do
    local x = redis.call('HMGET', rk(c), 'st', 'm')
    if x[1] and active(x[1]) and tonumber(x[2]) and tonumber(x[2]) * 60000 > NOW then n = n + 1
    elseif waiting and x[1] == 'waiting' then n = n + 1 end
  end
  return n
end
local function overlimit(r)
  return activecount(B .. 'p:' .. r.p) >= LIM.maxp or activecount(B .. 'c:' .. r.cv) >= LIM.maxc
end

local function hit(kind, id)
  local k = B .. 'rate:' .. kind .. ':' .. id .. ':' .. math.floor(NOW / LIM.window)
  local n = redis.call('INCR', k)
  if n == 1 then redis.call('PEXPIRE', k, 2 * LIM.window) end
  return n <= LIM.rate
end
local function rateok(r)
  local p = hit('p', r.p)
  local c = hit('c', r.cv)
  return p and c
end

-- hold (re)starts the hold of the offer w: told at LIM.offerat (the morning
-- when it is night), held until LIM.offeruntil.
local function hold(w)
  w.un, w.nt, w.na, w.told = LIM.offeruntil, 'offer', '', ''
  if LIM.offerat > NOW then w.na = LIM.offerat end
end

-- offernext holds the place just freed at office of, minute m, for the first
-- in line (that office's waitlist or the any-office one). Returns the code.
local function offernext(of, m)
  if tonumber(m) * 60000 < LIM.offerfrom or occget(of, m) >= (LIM.caps[of] or 0) then return nil end
  for _ = 1, 64 do
    local ho = redis.call('ZRANGE', waitkey(of), 0, 0, 'WITHSCORES')
    local ha = redis.call('ZRANGE', waitkey(''), 0, 0, 'WITHSCORES')
    local code, wk
    if #ho > 0 and (#ha == 0 or tonumber(ho[2]) < tonumber(ha[2])) then
      code, wk = ho[1], waitkey(of)
    elseif #ha > 0 then
      code, wk = ha[1], waitkey('')
    else
      return nil
    end
    redis.call('ZREM', wk, code)
    local w = load(code)
    if w and w.st == 'waiting' then
      if overlimit(w) then
        w.st, w.pg = 'cancelled', NOW
        save(code, w)
      else
        w.wo, w.wu = w.of, w.un
        w.st, w.of, w.m = 'offered', of, m
        w.pg = tonumber(m) * 60000 + LIM.retention
        hold(w)
        take(code, w)
        save(code, w)
        return code
      end
    end
  end
  return nil
end

local function free(r)
  occadd(r.of, r.m, -1)
  return offernext(r.of, r.m)
end

-- backinline turns the offer r, never told, back into the waitlist entry it
-- was made from, in its old place in line, and frees its place.
local function backinline(code, r)
  local old = {of = r.of, m = r.m}
  redis.call('ZREM', B .. 'cal:' .. r.of, code)
  r.st, r.of, r.m, r.un, r.pg, r.nt, r.told = 'waiting', r.wo, '', r.wu, r.wu, '', ''
  r.wo, r.wu = '', ''
  redis.call('ZADD', waitkey(r.of), r.seq, code)
  save(code, r)
  return free(old)
end

-- answerby is the deadline to confirm r, wanted by, but no later than a
-- freed place can still be offered (min notice before the start); nil when
-- that moment has passed: too late to ask, the booking is kept.
local function answerby(r, by)
  local latest = tonumber(r.m) * 60000 - LIM.minnotice
  by = math.min(by, latest)
  if by <= NOW then return nil end
  return by
end

-- untold reports whether r's request or offer (notice kind) never reached the
-- citizen: still pending, or not reported delivered when deliveries are.
local function untold(r, kind) return r.told ~= '1' and (r.nt == kind or LIM.receipts) end

-- ended shortens the purge of a booking that ended without the appointment.
local function ended(r) r.pg = math.min(num(r.pg), NOW + LIM.ended) end

local function reply(code, other)
  local out = {'ok', redis.call('HGETALL', rk(code))}
  if other then out[3] = redis.call('HGETALL', rk(other)) end
  return out
end
`

// Script bodies. Each returns {status} or {'ok', record [, offered record]}.
var (
	bookInsert = redis.NewScript(bookingLua + `
local code, idem = arg(1), arg(2)
if idem ~= '' then
  local prev = redis.call('GET', B .. 'idem:' .. idem)
  if prev and redis.call('EXISTS', rk(prev)) == 1 then return reply(prev) end
end
local r = {st = arg(4), of = arg(5), m = arg(6), p = arg(7), cv = arg(8), un = arg(9),
  ask = arg(10), by = arg(11), pg = arg(12), asked = '0', nt = '', seq = ''}
if not rateok(r) then return {'rate'} end
if r.st == 'waiting' then
  for _, c in ipairs(redis.call('SMEMBERS', B .. 'p:' .. r.p)) do
    local x = redis.call('HMGET', rk(c), 'st', 'of')
    if x[1] == 'waiting' and x[2] == r.of then return reply(c) end
  end
end
if overlimit(r) then return {'max'} end
if r.st == 'waiting' and activecount(B .. 'c:' .. r.cv, true) >= LIM.maxc then return {'max'} end
if active(r.st) and occget(r.of, r.m) >= LIM.cap then return {'taken'} end
if redis.call('EXISTS', rk(code)) == 1 then return {'code'} end
if r.st == 'waiting' then
  r.seq = redis.call('INCR', B .. 'seq')
  redis.call('ZADD', waitkey(r.of), r.seq, code)
end
redis.call('HSET', rk(code), 'p', r.p, 'cv', r.cv, 'd', arg(13))
save(code, r)
if active(r.st) then take(code, r) end
redis.call('SADD', B .. 'p:' .. r.p, code)
redis.call('SADD', B .. 'c:' .. r.cv, code)
if idem ~= '' then redis.call('SET', B .. 'idem:' .. idem, code, 'PX', arg(3)) end
return reply(code)
`)

	bookMove = redis.NewScript(bookingLua + `
local code = arg(1)
local r = load(code)
if not r then return {'notfound'} end
if r.st ~= 'booked' and r.st ~= 'confirmed' then return {'inactive'} end
local of, m = arg(2), arg(3)
if r.of == of and r.m == m then return reply(code) end
if not rateok(r) then return {'rate'} end
if occget(of, m) >= LIM.cap then return {'taken'} end
local old = {of = r.of, m = r.m}
redis.call('ZREM', B .. 'cal:' .. r.of, code)
r.of, r.m, r.st, r.ask, r.by, r.pg, r.asked, r.told = of, m, arg(4), arg(5), arg(6), arg(7), '0', ''
if r.nt == 'confirm_request' then r.nt = '' end
take(code, r)
save(code, r)
return reply(code, free(old))
`)

	bookCancel = redis.NewScript(bookingLua + `
local code, to = arg(1), arg(2)
local r = load(code)
if not r then return {'notfound'} end
if r.st == to then return reply(code) end
if to == 'declined' and r.st ~= 'offered' then return {'inactive'} end
if r.st == 'waiting' then
  redis.call('ZREM', waitkey(r.of), code)
  r.st, r.pg = to, NOW
  save(code, r)
  return reply(code)
end
if not active(r.st) then return {'inactive'} end
r.st, r.nt = to, ''
ended(r)
save(code, r)
return reply(code, free(r))
`)

	bookConfirm = redis.NewScript(bookingLua + `
local code = arg(1)
local r = load(code)
if not r then return {'notfound'} end
if r.st == 'confirmed' then return reply(code) end
if r.st == 'booked' then
  r.st = 'confirmed'
  if r.nt == 'confirm_request' then r.nt = '' end
  save(code, r)
  return reply(code)
end
if r.st ~= 'offered' or NOW >= num(r.un) then return {'inactive'} end
r.st, r.ask, r.by, r.pg, r.asked, r.un, r.nt, r.told = arg(2), arg(3), arg(4), arg(5), '0', '0', '', ''
save(code, r)
return reply(code)
`)

	bookAdvance = redis.NewScript(bookingLua + `
local code = arg(1)
local r = load(code)
if not r then return {'notfound'} end
if r.st == 'offered' and NOW >= num(r.un) and untold(r, 'offer') and tonumber(r.m) * 60000 >= LIM.offerfrom then
  -- Never handed over, and it can still be held: held again.
  hold(r)
  save(code, r)
elseif r.st == 'offered' and NOW >= num(r.un) and untold(r, 'offer') and num(r.wu) > 0 then
  -- Never handed over, and too close to hold again: back in line.
  return reply(code, backinline(code, r))
elseif r.st == 'offered' and NOW >= num(r.un) then
  r.st, r.nt = 'expired', 'offer_expired'
  ended(r)
  save(code, r)
  return reply(code, free(r))
elseif r.st == 'waiting' and NOW >= num(r.un) then
  redis.call('ZREM', waitkey(r.of), code)
  r.st, r.nt, r.pg = 'expired', 'waitlist_expired', NOW
  save(code, r)
elseif r.st == 'booked' and num(r.ask) > 0 and r.asked ~= '1' and NOW >= num(r.ask) then
  local by = answerby(r, math.max(num(r.by), NOW + LIM.answer))
  if by then
    r.asked, r.told, r.nt, r.by = '1', '', 'confirm_request', by
  else
    r.st = 'confirmed'
  end
  save(code, r)
elseif r.st == 'booked' and r.asked == '1' and NOW >= num(r.by) and untold(r, 'confirm_request') then
  -- The request never reached the citizen: ask again with a new deadline.
  local by = answerby(r, NOW + LIM.answer)
  if by then r.by, r.nt, r.told = by, 'confirm_request', '' else r.st, r.nt = 'confirmed', '' end
  save(code, r)
elseif r.st == 'booked' and r.asked == '1' and NOW >= num(r.by) then
  r.st, r.nt = 'released', 'released'
  ended(r)
  save(code, r)
  return reply(code, free(r))
elseif (r.nt == '' and NOW >= num(r.pg)) or NOW >= num(r.pg) + LIM.ended then
  if active(r.st) then occadd(r.of, r.m, -1) end
  if r.m ~= '' then redis.call('ZREM', B .. 'cal:' .. r.of, code) end
  if r.st == 'waiting' then redis.call('ZREM', waitkey(r.of), code) end
  redis.call('SREM', B .. 'p:' .. r.p, code)
  redis.call('SREM', B .. 'c:' .. r.cv, code)
  redis.call('ZREM', B .. 'due', code)
  redis.call('DEL', rk(code))
  return {'purged'}
end
return reply(code)
`)

	bookOffer = redis.NewScript(bookingLua + `
local code = offernext(arg(1), arg(2))
if not code then return {'ok'} end
return {'ok', redis.call('HGETALL', rk(code))}
`)

	bookNoticeFailed = redis.NewScript(bookingLua + `
local code, kind = arg(1), arg(2)
local r = load(code)
if r and r.nt == kind then
  redis.call('HINCRBY', rk(code), 'nf', 1)
  redis.call('ZADD', B .. 'due', tonumber(arg(3)), code)
end
return {'ok'}
`)

	// bookTaken reads the places held in the slots of KEYS[1] (occm) with
	// start minutes in [ARGV[1], ARGV[2]) from KEYS[2] (occ): {minute,
	// count, ...}.
	bookTaken = redis.NewScript(`
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '(' .. ARGV[2])) do
  out[#out + 1] = m
  out[#out + 1] = redis.call('HGET', KEYS[2], m) or '0'
end
return out
`)

	bookDelivered = redis.NewScript(bookingLua + `
local code, kind, dmin = arg(1), arg(2), tonumber(arg(3))
local r = load(code)
if not r then return {'ok'} end
if kind == 'confirm_request' and r.st == 'booked' and r.asked == '1' and math.floor(num(r.by) / 60000) == dmin then
  -- Delivered late: the answer window from now.
  local by = answerby(r, math.max(num(r.by), NOW + LIM.answer))
  if by and by > num(r.by) then r.by = by end
elseif kind == 'offer' and r.st == 'offered' and math.floor(num(r.un) / 60000) == dmin then
  -- The hold from the delivery.
  if LIM.offeruntil > num(r.un) then r.un = LIM.offeruntil end
else
  return {'ok'}
end
r.told = '1'
if r.nt == kind then r.nt = '' end
save(code, r)
return {'ok'}
`)

	bookAck = redis.NewScript(bookingLua + `
local code = arg(1)
local r = load(code)
if r and r.nt == arg(2) then
  r.nt = ''
  save(code, r)
end
return {'ok'}
`)
)

// run runs a booking script with the limits and the script's own args.
func (s *Store) runBooking(ctx context.Context, op string, sc *redis.Script, lim booking.Limits, args ...any) ([]any, error) {
	var caps strings.Builder
	for of, n := range lim.Capacities {
		fmt.Fprintf(&caps, "%s=%d,", of, n)
	}
	window := max(lim.RateWindow.Milliseconds(), 1)
	receipts := "0"
	if lim.Receipts {
		receipts = "1"
	}
	all := append([]any{s.bookingBase(), lim.Now.UnixMilli(), lim.Capacity, lim.MaxActive, lim.MaxActiveConv,
		lim.RateLimit, window, lim.OfferUntil.UnixMilli(), lim.OfferFrom.UnixMilli(), lim.Retention.Milliseconds(),
		caps.String(), lim.Ended.Milliseconds(), lim.AnswerWindow.Milliseconds(), lim.OfferAt.UnixMilli(),
		lim.MinNotice.Milliseconds(), receipts}, args...)
	res, err := sc.Run(ctx, s.rdb, []string{s.bookingBase() + "due"}, all...).Slice()
	if err != nil {
		return nil, s.wrap(ctx, "booking "+op, err)
	}
	status, _ := res[0].(string)
	switch status {
	case "ok", "purged":
		return res, nil
	case "rate":
		return nil, booking.ErrRateLimited
	case "max":
		return nil, booking.ErrTooManyActive
	case "taken":
		return nil, booking.ErrSlotTaken
	case "code":
		return nil, booking.ErrCodeTaken
	case "notfound":
		return nil, booking.ErrNotFound
	case "inactive":
		return nil, booking.ErrNotActive
	}
	return nil, fmt.Errorf("redis: booking %s: unexpected reply %v", op, res)
}

// result decodes a script's {'ok', record [, offered]} reply.
func result(res []any) (*booking.Result, error) {
	out := &booking.Result{}
	if len(res) < 2 {
		return out, nil // purged
	}
	var err error
	if out.Booking, err = decodeRecord(res[1]); err != nil {
		return nil, err
	}
	if len(res) > 2 {
		if out.Offered, err = decodeRecord(res[2]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// decodeRecord turns an HGETALL reply into a booking.
func decodeRecord(v any) (*booking.Booking, error) {
	flat, ok := v.([]any)
	if !ok || len(flat) == 0 {
		return nil, booking.ErrNotFound
	}
	f := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		f[k] = val
	}
	return fromFields(f)
}

func fromFields(f map[string]string) (*booking.Booking, error) {
	if len(f) == 0 {
		return nil, booking.ErrNotFound
	}
	var b booking.Booking
	if err := json.Unmarshal([]byte(f["d"]), &b); err != nil {
		return nil, fmt.Errorf("redis: booking record: %w", err)
	}
	b.Status = booking.Status(f["st"])
	b.Office = f["of"]
	b.Start = time.Time{}
	if m, err := strconv.ParseInt(f["m"], 10, 64); err == nil {
		b.Start = time.Unix(m*60, 0).UTC()
	}
	b.Until, b.AskAt, b.ConfirmBy, b.PurgeAt = fromMS(f["un"]), fromMS(f["ask"]), fromMS(f["by"]), fromMS(f["pg"])
	b.Asked = f["asked"] == "1"
	b.Notice = booking.NoticeKind(f["nt"])
	b.NoticeTries, _ = strconv.Atoi(f["nf"])
	b.Seq, _ = strconv.ParseInt(f["seq"], 10, 64)
	b.NoticeAt, b.WaitOffice, b.WaitUntil = fromMS(f["na"]), f["wo"], fromMS(f["wu"])
	b.Told = f["told"] == "1"
	return &b, nil
}

func startMinute(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.Unix()/60, 10)
}

// Insert implements booking.Store.
func (s *Store) Insert(ctx context.Context, b *booking.Booking, lim booking.Limits) (*booking.Booking, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	res, err := s.runBooking(ctx, "insert", bookInsert, lim,
		b.Code, lim.IdempotencyKey, max(lim.IdempotencyTTL.Milliseconds(), 1),
		string(b.Status), b.Office, startMinute(b.Start), b.Person, b.Conv.Key(),
		unixMS(b.Until), unixMS(b.AskAt), unixMS(b.ConfirmBy), unixMS(b.PurgeAt), data)
	if err != nil {
		return nil, err
	}
	return decodeRecord(res[1])
}

// Move implements booking.Store.
func (s *Store) Move(ctx context.Context, code string, to booking.Slot, p booking.Plan, lim booking.Limits) (*booking.Result, error) {
	res, err := s.runBooking(ctx, "move", bookMove, lim, code, to.Office, startMinute(to.Start),
		string(p.Status), unixMS(p.AskAt), unixMS(p.ConfirmBy), unixMS(p.PurgeAt))
	if err != nil {
		return nil, err
	}
	return result(res)
}

// End implements booking.Store.
func (s *Store) End(ctx context.Context, code string, to booking.Status, lim booking.Limits) (*booking.Result, error) {
	res, err := s.runBooking(ctx, "cancel", bookCancel, lim, code, string(to))
	if err != nil {
		return nil, err
	}
	return result(res)
}

// Confirm implements booking.Store.
func (s *Store) Confirm(ctx context.Context, code string, p booking.Plan, lim booking.Limits) (*booking.Result, error) {
	res, err := s.runBooking(ctx, "confirm", bookConfirm, lim, code,
		string(p.Status), unixMS(p.AskAt), unixMS(p.ConfirmBy), unixMS(p.PurgeAt))
	if err != nil {
		return nil, err
	}
	return result(res)
}

// Advance implements booking.Store.
func (s *Store) Advance(ctx context.Context, code string, lim booking.Limits) (*booking.Result, error) {
	res, err := s.runBooking(ctx, "advance", bookAdvance, lim, code)
	if err != nil {
		return nil, err
	}
	return result(res)
}

// Delivered implements booking.Store.
func (s *Store) Delivered(ctx context.Context, code string, kind booking.NoticeKind, deadline time.Time, lim booking.Limits) error {
	_, err := s.runBooking(ctx, "delivered", bookDelivered, lim, code, string(kind), deadline.Unix()/60)
	return err
}

// NoticeFailed implements booking.Store.
func (s *Store) NoticeFailed(ctx context.Context, code string, kind booking.NoticeKind, at time.Time, lim booking.Limits) error {
	_, err := s.runBooking(ctx, "notice failed", bookNoticeFailed, lim, code, string(kind), at.UnixMilli())
	return err
}

// Offer implements booking.Store.
func (s *Store) Offer(ctx context.Context, slot booking.Slot, lim booking.Limits) (*booking.Result, error) {
	res, err := s.runBooking(ctx, "offer", bookOffer, lim, slot.Office, startMinute(slot.Start))
	if err != nil {
		return nil, err
	}
	out := &booking.Result{}
	if len(res) > 1 {
		if out.Offered, err = decodeRecord(res[1]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Waiting implements booking.Store.
func (s *Store) Waiting(ctx context.Context, offices []string) (map[string]int, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(offices))
	for i, of := range offices {
		key := s.bookingBase() + "w:" + of
		if of == "" {
			key = s.bookingBase() + "w:*"
		}
		cmds[i] = pipe.ZCard(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, s.wrap(ctx, "booking waiting", err)
	}
	out := make(map[string]int, len(offices))
	for i, of := range offices {
		if n := cmds[i].Val(); n > 0 {
			out[of] = int(n)
		}
	}
	return out, nil
}

// Ack implements booking.Store.
func (s *Store) Ack(ctx context.Context, code string, kind booking.NoticeKind, lim booking.Limits) error {
	_, err := s.runBooking(ctx, "ack", bookAck, lim, code, string(kind))
	return err
}

// Due implements booking.Store.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	codes, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.bookingBase() + "due", Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10),
		ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, s.wrap(ctx, "booking due", err)
	}
	return codes, nil
}

// Booking implements booking.Store.
func (s *Store) Booking(ctx context.Context, code string) (*booking.Booking, error) {
	f, err := s.rdb.HGetAll(ctx, s.bookingBase()+"r:"+code).Result()
	if err != nil {
		return nil, s.wrap(ctx, "booking get", err)
	}
	return fromFields(f)
}

// records reads the records of codes in one round trip, skipping purged ones.
func (s *Store) records(ctx context.Context, codes []string) ([]*booking.Booking, error) {
	if len(codes) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(codes))
	for i, c := range codes {
		cmds[i] = pipe.HGetAll(ctx, s.bookingBase()+"r:"+c)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, s.wrap(ctx, "booking read", err)
	}
	var out []*booking.Booking
	for _, cmd := range cmds {
		if len(cmd.Val()) == 0 {
			continue
		}
		b, err := fromFields(cmd.Val())
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Find implements booking.Store.
func (s *Store) Find(ctx context.Context, person, conv string) ([]*booking.Booking, error) {
	var keys []string
	if person != "" {
		keys = append(keys, s.bookingBase()+"p:"+person)
	}
	if conv != "" {
		keys = append(keys, s.bookingBase()+"c:"+conv)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	codes, err := s.rdb.SUnion(ctx, keys...).Result()
	if err != nil {
		return nil, s.wrap(ctx, "booking find", err)
	}
	sort.Strings(codes)
	return s.records(ctx, codes)
}

// Taken implements booking.Store: one round trip that reads only the slots
// in [from, to) (the occm index), not the office's whole occupancy.
func (s *Store) Taken(ctx context.Context, office string, from, to time.Time) (map[int64]int, error) {
	keys := []string{s.bookingBase() + "occm:" + office, s.bookingBase() + "occ:" + office}
	flat, err := bookTaken.Run(ctx, s.rdb, keys, ceilMinute(from), ceilMinute(to)).StringSlice()
	if err != nil {
		return nil, s.wrap(ctx, "booking taken", err)
	}
	out := make(map[int64]int, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m, err1 := strconv.ParseInt(flat[i], 10, 64)
		n, err2 := strconv.Atoi(flat[i+1])
		if err1 != nil || err2 != nil || n <= 0 {
			continue
		}
		out[m] = n
	}
	return out, nil
}

// ceilMinute is the first whole unix minute at or after t.
func ceilMinute(t time.Time) int64 {
	m := t.Unix() / 60
	if t.After(time.Unix(m*60, 0)) {
		m++
	}
	return m
}

// Calendar implements booking.Store.
func (s *Store) Calendar(ctx context.Context, office string, from, to time.Time) ([]*booking.Booking, error) {
	lo := (from.Unix() + 59) / 60
	hi := (to.Unix() + 59) / 60
	codes, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: s.bookingBase() + "cal:" + office, Start: strconv.FormatInt(lo, 10), Stop: "(" + strconv.FormatInt(hi, 10),
		ByScore: true,
	}).Result()
	if err != nil {
		return nil, s.wrap(ctx, "booking calendar", err)
	}
	return s.records(ctx, codes)
}
