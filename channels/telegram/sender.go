package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"golang.org/x/time/rate"
)

// prio orders what the sender sends first when it has to choose.
type prio int

const (
	prioAnswer prio = iota // callback answers: the citizen's button is spinning
	prioReply              // replies to citizens who are talking now
	prioBulk               // pushes: reminders and notices
)

// call is one Bot API request the sender makes.
type call struct {
	chat   int64
	method string
	prio   prio
	paced  bool // a message: counts against the chat's limit
	do     func(ctx context.Context, api *tgbot.Bot) error

	batch *batch
	seq   uint64
	tries int
}

// batch is a group of calls whose outcome one caller waits for.
type batch struct {
	mu      sync.Mutex
	pending int
	err     error // the first permanent failure
	done    chan struct{}
}

func (b *batch) finish(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A call to be tried again later outweighs one that failed for good:
	// the caller must know the batch is worth sending again.
	if err != nil && (b.err == nil || (retryable(err) && !retryable(b.err))) {
		b.err = err
	}
	b.pending--
	if b.pending == 0 {
		close(b.done)
	}
}

// wait blocks until every call of the batch is sent or has failed. Its
// error is the first that calls for sending the batch again later
// (errGaveUp, errStopping), else the first permanent failure.
func (b *batch) wait(ctx context.Context) error {
	select {
	case <-b.done:
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Errors a batch can end with.
var (
	// errUnreachable: the citizen blocked the bot, or the bot left the group.
	errUnreachable = errors.New("telegram: chat unreachable (bot blocked)")
	errStopping    = errors.New("telegram: channel is shutting down")
	errCancelled   = errors.New("telegram: send cancelled")
	// errGaveUp: a request kept failing for a transient reason (network,
	// 5xx); it and the rest of its batch to that chat were not sent.
	errGaveUp = errors.New("telegram: request kept failing; gave up for now")
)

// retryable reports whether a batch that ended with err is worth sending
// again later.
func retryable(err error) bool {
	return errors.Is(err, errGaveUp) || errors.Is(err, errStopping)
}

type chatQueue struct {
	calls    []*call
	busy     bool
	notAfter time.Time // earliest next try after a transient failure
	lim      *rate.Limiter
	dead     bool // 403: everything for this chat fails at once
}

// sender is the one way out for everything the bot sends. It keeps each
// chat's messages in order, paces them (about one a second per chat, twenty a
// minute per group, Config.Rate a second overall), sends callback answers and
// replies to citizens who are talking now before bulk notices, pauses
// everything for retry_after on a 429 and then retries, and reports chats
// that blocked the bot.
type sender struct {
	api           *tgbot.Bot
	log           *slog.Logger
	global        *rate.Limiter
	chatEvery     time.Duration
	chatBurst     int
	groupEvery    time.Duration
	retryBackoff  time.Duration
	maxInflight   int
	onUnreachable func(chat int64)
	metrics       *metrics

	apiCtx    context.Context
	apiCancel context.CancelFunc

	mu       sync.Mutex
	chats    map[int64]*chatQueue
	paused   time.Time // no request before this (429)
	seq      uint64
	inflight int
	closing  bool
	lastGC   time.Time
	wake     chan struct{}
	loopDone chan struct{}
	calls    sync.WaitGroup
}

// maxTries bounds retries of a request that failed for a transient reason
// (network, 5xx); 429s are retried without limit, after the pause.
const maxTries = 5

func newSender(api *tgbot.Bot, cfg Config, log *slog.Logger, m *metrics, onUnreachable func(int64)) *sender {
	burst := max(1, cfg.Rate/10)
	ctx, cancel := context.WithCancel(context.Background())
	s := &sender{
		api:           api,
		log:           log,
		global:        rate.NewLimiter(rate.Limit(cfg.Rate), burst),
		chatEvery:     cfg.ChatInterval,
		chatBurst:     cfg.ChatBurst,
		groupEvery:    time.Minute / time.Duration(cfg.GroupPerMin),
		retryBackoff:  cfg.RetryBackoff,
		maxInflight:   max(4, min(cfg.Rate, 64)),
		onUnreachable: onUnreachable,
		metrics:       m,
		apiCtx:        ctx,
		apiCancel:     cancel,
		chats:         map[int64]*chatQueue{},
		wake:          make(chan struct{}, 1),
		loopDone:      make(chan struct{}),
	}
	go s.loop()
	return s
}

// send queues calls (all for one chat, in order) and returns their batch.
func (s *sender) send(calls []*call) *batch {
	b := &batch{pending: len(calls), done: make(chan struct{})}
	if len(calls) == 0 {
		close(b.done)
		return b
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		for range calls {
			b.finish(errStopping)
		}
		return b
	}
	for _, c := range calls {
		c.batch = b
		s.seq++
		c.seq = s.seq
		q := s.queue(c.chat)
		if q.dead && c.prio != prioAnswer {
			defer b.finish(errUnreachable)
			continue
		}
		q.calls = append(q.calls, c)
	}
	s.mu.Unlock()
	s.poke()
	return b
}

// cancel drops the calls of b that have not been sent yet.
func (s *sender) cancel(b *batch) {
	s.mu.Lock()
	var dropped []*call
	for _, q := range s.chats {
		kept := q.calls[:0]
		for i, c := range q.calls {
			if c.batch == b && !(i == 0 && q.busy) {
				dropped = append(dropped, c)
				continue
			}
			kept = append(kept, c)
		}
		q.calls = kept
	}
	s.mu.Unlock()
	for _, c := range dropped {
		c.batch.finish(errCancelled)
	}
}

func (s *sender) queue(chat int64) *chatQueue {
	q := s.chats[chat]
	if q == nil {
		every, burst := s.chatEvery, s.chatBurst
		if chat < 0 {
			every = s.groupEvery
		}
		q = &chatQueue{lim: rate.NewLimiter(rate.Every(every), burst)}
		s.chats[chat] = q
	}
	return q
}

// revive clears a chat's dead mark (the citizen wrote again).
func (s *sender) revive(chat int64) {
	s.mu.Lock()
	if q := s.chats[chat]; q != nil {
		q.dead = false
	}
	s.mu.Unlock()
}

// pausedFor reports how long sending stays paused after a 429.
func (s *sender) pausedFor() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Until(s.paused)
}

func (s *sender) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop picks the next call to send until the sender is closed and idle.
func (s *sender) loop() {
	defer close(s.loopDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait, exit := s.dispatch()
		if exit {
			return
		}
		if wait <= 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-s.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// dispatch starts at most one call. It returns how long to wait before
// trying again (0: at once) and whether the loop is over.
func (s *sender) dispatch() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.gc(now)
	if s.closing && s.inflight == 0 && s.empty() {
		return 0, true
	}
	if now.Before(s.paused) {
		return s.paused.Sub(now), false
	}
	if s.inflight >= s.maxInflight {
		return time.Hour, false // a finishing call wakes us
	}
	var (
		best     *call
		bestQ    *chatQueue
		earliest = time.Hour
	)
	for _, q := range s.chats {
		if q.busy || len(q.calls) == 0 {
			continue
		}
		if now.Before(q.notAfter) {
			earliest = min(earliest, q.notAfter.Sub(now))
			continue
		}
		c := q.calls[0]
		if c.paced {
			if d := tokenDelay(q.lim, now); d > 0 {
				earliest = min(earliest, d)
				continue
			}
		}
		if best == nil || c.prio < best.prio || (c.prio == best.prio && c.seq < best.seq) {
			best, bestQ = c, q
		}
	}
	if best == nil {
		return earliest, false
	}
	r := s.global.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	if best.paced {
		bestQ.lim.AllowN(now, 1)
	}
	bestQ.busy = true
	s.inflight++
	s.calls.Add(1)
	go s.run(best, bestQ)
	return 0, false
}

// tokenDelay is how long until lim has a token.
func tokenDelay(lim *rate.Limiter, now time.Time) time.Duration {
	if lim.TokensAt(now) >= 1 {
		return 0
	}
	r := lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return max(d, time.Millisecond)
}

func (s *sender) empty() bool {
	for _, q := range s.chats {
		if len(q.calls) > 0 || q.busy {
			return false
		}
	}
	return true
}

// gc forgets idle chats whose pacing has fully recovered.
func (s *sender) gc(now time.Time) {
	if now.Sub(s.lastGC) < time.Minute {
		return
	}
	s.lastGC = now
	for chat, q := range s.chats {
		if !q.busy && len(q.calls) == 0 && !q.dead && q.lim.TokensAt(now) >= float64(q.lim.Burst()) {
			delete(s.chats, chat)
		}
	}
}

// run makes one request and settles its outcome.
func (s *sender) run(c *call, q *chatQueue) {
	defer s.calls.Done()
	ctx, cancel := context.WithTimeout(s.apiCtx, 30*time.Second)
	err := c.do(ctx, s.api)
	cancel()
	c.tries++

	var (
		tooMany *tgbot.TooManyRequestsError
		migrate *tgbot.MigrateError
		settled []*call // calls that ended, with their errors
		errs    []error
		dead    bool
	)
	s.mu.Lock()
	switch {
	case err == nil:
		settled, errs = append(settled, c), append(errs, nil)
		q.calls = q.calls[1:]
	case errors.As(err, &tooMany):
		wait := time.Duration(max(tooMany.RetryAfter, 1)) * time.Second
		if until := time.Now().Add(wait); until.After(s.paused) {
			s.paused = until
		}
		s.log.Warn("telegram asked to slow down", slog.String("method", c.method), slog.Duration("retry_after", wait))
	case errors.Is(err, tgbot.ErrorForbidden):
		// Blocked by the citizen, or removed from the group: nothing more
		// can reach this chat until it writes again.
		dead = !q.dead
		q.dead = true
		for _, p := range q.calls {
			settled, errs = append(settled, p), append(errs, errUnreachable)
		}
		q.calls = nil
	case errors.As(err, &migrate), errors.Is(err, tgbot.ErrorBadRequest), errors.Is(err, tgbot.ErrorNotFound),
		errors.Is(err, tgbot.ErrorUnauthorized), errors.Is(err, tgbot.ErrorConflict):
		// Telegram refused the request itself: sending it again would not
		// help.
		settled, errs = append(settled, c), append(errs, fmt.Errorf("telegram: %s: %w", c.method, err))
		q.calls = q.calls[1:]
	case s.apiCtx.Err() != nil:
		settled, errs = append(settled, c), append(errs, fmt.Errorf("telegram: %s: %w: %w", c.method, errStopping, err))
		q.calls = q.calls[1:]
	case c.tries >= maxTries:
		// Still failing: give it up for now, and the rest of its batch to
		// this chat with it, which would arrive out of order. The batch's
		// owner sends it all again later.
		gaveUp := fmt.Errorf("telegram: %s: %w: %w", c.method, errGaveUp, err)
		kept := q.calls[:0]
		for i, p := range q.calls {
			if i == 0 || p.batch == c.batch {
				settled, errs = append(settled, p), append(errs, gaveUp)
				continue
			}
			kept = append(kept, p)
		}
		q.calls = kept
	default:
		// Network trouble or a 5xx: try again shortly.
		q.notAfter = time.Now().Add(time.Duration(c.tries*c.tries) * s.retryBackoff)
	}
	q.busy = false
	s.inflight--
	s.mu.Unlock()

	s.metrics.sentResult(c.method, err)
	if err != nil && !errors.As(err, &tooMany) {
		s.log.Warn("telegram request failed", slog.String("method", c.method), slog.Int("try", c.tries), slog.Any("error", err))
	}
	if dead && s.onUnreachable != nil {
		s.onUnreachable(c.chat)
	}
	for i, p := range settled {
		p.batch.finish(errs[i])
	}
	s.poke()
}

// close stops taking calls and sends what is queued, until ctx ends; then it
// drops the rest and returns once no request is in flight.
func (s *sender) close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.poke()
	var err error
	select {
	case <-s.loopDone:
	case <-ctx.Done():
		err = fmt.Errorf("telegram: sender: messages still queued: %w", ctx.Err())
		s.apiCancel()
		s.mu.Lock()
		var dropped []*call
		for _, q := range s.chats {
			start := 0
			if q.busy {
				start = 1
			}
			dropped = append(dropped, q.calls[start:]...)
			q.calls = q.calls[:start]
		}
		s.mu.Unlock()
		for _, c := range dropped {
			c.batch.finish(errStopping)
		}
		s.poke()
		<-s.loopDone
	}
	s.calls.Wait()
	s.apiCancel()
	return err
}
