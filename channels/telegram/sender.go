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

// lane is a queue of calls sent one at a time, in order.
type lane struct {
	calls    []*call
	busy     bool      // calls[0] is in flight
	notAfter time.Time // earliest next try after a transient failure
}

// chatQueue is what the sender keeps for one chat: its messages (and
// edits), in order and paced; and its callback answers, in a lane of their
// own, neither paced nor held behind the messages (a citizen's spinner
// turns until the answer comes, and Telegram refuses it after about 15 s).
type chatQueue struct {
	msgs    lane
	answers lane
	lim     *rate.Limiter
	dead    bool // 403: every message for this chat fails at once
}

// lanes are the chat's lanes, answers first.
func (q *chatQueue) lanes() [2]*lane { return [2]*lane{&q.answers, &q.msgs} }

// idle reports whether nothing is queued or in flight for the chat.
func (q *chatQueue) idle() bool {
	for _, l := range q.lanes() {
		if len(l.calls) > 0 || l.busy {
			return false
		}
	}
	return true
}

// laneOf is the lane c goes in.
func (q *chatQueue) laneOf(c *call) *lane {
	if c.prio == prioAnswer {
		return &q.answers
	}
	return &q.msgs
}

// sender is the one way out for everything the bot sends. It keeps each
// chat's messages in order, paces them (about one a second per chat, twenty a
// minute per group, Config.Rate a second overall), sends callback answers
// at once (not behind the chat's messages) and replies to citizens who are
// talking now before bulk notices, pauses the messages for retry_after on a
// 429 and then retries, and reports chats that blocked the bot.
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

	mu     sync.Mutex
	chats  map[int64]*chatQueue
	paused time.Time // no message before this (429)
	// started, when set (tests), sees each request as the sender starts
	// it, with the time its pacing was decided at; called with mu held.
	started func(c *call, at time.Time)
	// answersPaused: no callback answer before this (a 429 on an answer).
	// Answers are not held by a pause of the messages: they are cheap
	// requests, and late ones are refused.
	answersPaused time.Time
	seq           uint64
	inflight      int
	closing       bool
	lastGC        time.Time
	wake          chan struct{}
	loopDone      chan struct{}
	calls         sync.WaitGroup
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
		l := q.laneOf(c)
		l.calls = append(l.calls, c)
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
		for _, l := range q.lanes() {
			kept := l.calls[:0]
			for i, c := range l.calls {
				if c.batch == b && !(i == 0 && l.busy) {
					dropped = append(dropped, c)
					continue
				}
				kept = append(kept, c)
			}
			l.calls = kept
		}
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

// pausedFor reports how long sending messages stays paused after a 429.
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
	if s.inflight >= s.maxInflight {
		return time.Hour, false // a finishing call wakes us
	}
	var (
		best     *call
		bestQ    *chatQueue
		bestL    *lane
		earliest = time.Hour
	)
	for _, q := range s.chats {
		for _, l := range q.lanes() {
			if l.busy || len(l.calls) == 0 {
				continue
			}
			c := l.calls[0]
			paused := s.paused
			if c.prio == prioAnswer {
				paused = s.answersPaused
			}
			if now.Before(paused) {
				earliest = min(earliest, paused.Sub(now))
				continue
			}
			if now.Before(l.notAfter) {
				earliest = min(earliest, l.notAfter.Sub(now))
				continue
			}
			if c.paced {
				if d := tokenDelay(q.lim, now); d > 0 {
					earliest = min(earliest, d)
					continue
				}
			}
			if best == nil || c.prio < best.prio || (c.prio == best.prio && c.seq < best.seq) {
				best, bestQ, bestL = c, q, l
			}
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
	bestL.busy = true
	if s.started != nil {
		s.started(best, now)
	}
	s.inflight++
	s.calls.Add(1)
	go s.run(best, bestQ, bestL)
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
		if !q.idle() {
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
		if q.idle() && !q.dead && q.lim.TokensAt(now) >= float64(q.lim.Burst()) {
			delete(s.chats, chat)
		}
	}
}

// run makes one request, the head of lane l of chat q, and settles its
// outcome.
func (s *sender) run(c *call, q *chatQueue, l *lane) {
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
		l.calls = l.calls[1:]
	case errors.As(err, &tooMany):
		wait := time.Duration(max(tooMany.RetryAfter, 1)) * time.Second
		paused := &s.paused
		if c.prio == prioAnswer {
			paused = &s.answersPaused
		}
		if until := time.Now().Add(wait); until.After(*paused) {
			*paused = until
		}
		s.log.Warn("telegram asked to slow down", slog.String("method", c.method), slog.Duration("retry_after", wait))
	case errors.Is(err, tgbot.ErrorForbidden) && c.prio != prioAnswer:
		// Blocked by the citizen, or removed from the group: no message
		// can reach this chat until it writes again.
		dead = !q.dead
		q.dead = true
		for _, p := range l.calls {
			settled, errs = append(settled, p), append(errs, errUnreachable)
		}
		l.calls = nil
	case errors.As(err, &migrate), errors.Is(err, tgbot.ErrorBadRequest), errors.Is(err, tgbot.ErrorNotFound),
		errors.Is(err, tgbot.ErrorUnauthorized), errors.Is(err, tgbot.ErrorConflict), errors.Is(err, tgbot.ErrorForbidden):
		// Telegram refused the request itself: sending it again would not
		// help.
		settled, errs = append(settled, c), append(errs, fmt.Errorf("telegram: %s: %w", c.method, err))
		l.calls = l.calls[1:]
	case s.apiCtx.Err() != nil:
		settled, errs = append(settled, c), append(errs, fmt.Errorf("telegram: %s: %w: %w", c.method, errStopping, err))
		l.calls = l.calls[1:]
	case c.tries >= maxTries:
		// Still failing: give it up for now, and the rest of its batch to
		// this chat with it, which would arrive out of order. The batch's
		// owner sends it all again later.
		gaveUp := fmt.Errorf("telegram: %s: %w: %w", c.method, errGaveUp, err)
		kept := l.calls[:0]
		for i, p := range l.calls {
			if i == 0 || p.batch == c.batch {
				settled, errs = append(settled, p), append(errs, gaveUp)
				continue
			}
			kept = append(kept, p)
		}
		l.calls = kept
	default:
		// Network trouble or a 5xx: try again shortly.
		l.notAfter = time.Now().Add(time.Duration(c.tries*c.tries) * s.retryBackoff)
	}
	l.busy = false
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
			for _, l := range q.lanes() {
				start := 0
				if l.busy {
					start = 1
				}
				dropped = append(dropped, l.calls[start:]...)
				l.calls = l.calls[:start]
			}
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
