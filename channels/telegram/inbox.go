package telegram

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
)

// Inbox is the durable queue of received updates: per chat, in update_id
// order, each update_id accepted once within the dedupe window. Build one
// with InboxFor on the service's state store.
//
// Its methods are unexported: the two implementations (Redis, bbolt) live in
// this package.
type Inbox interface {
	// add records the updates not seen before, each atomically with its
	// dedupe mark, and reports how many were new. When it returns nil every
	// update is durably queued or was already.
	add(ctx context.Context, items []item, ttl time.Duration) (int, error)
	// claim takes a chat with queued updates that nobody holds and returns
	// its oldest update under a lease; nil when there is no work. wait is a
	// hint of how long until work queued for later becomes due.
	claim(ctx context.Context, lease time.Duration) (c *claim, wait time.Duration, err error)
	// done removes the claimed update. When the chat has more it returns the
	// next one under the same lease, otherwise nil and the chat is free.
	// reachable clears the chat's unreachable mark in the same step.
	done(ctx context.Context, c *claim, lease time.Duration, reachable bool) (*claim, error)
	// retry frees the chat, keeping the update for another try after delay
	// with fails as its failed tries.
	retry(ctx context.Context, c *claim, delay time.Duration, fails failures) error
	// extend renews the lease of a claim still being worked on.
	extend(ctx context.Context, c *claim, lease time.Duration) error
	// setUnreachable marks or clears a chat the bot cannot write to.
	setUnreachable(ctx context.Context, chat int64, unreachable bool) error
	// unreachable reports whether a chat is marked.
	unreachable(ctx context.Context, chat int64) (bool, error)
}

// item is one received update.
type item struct {
	UpdateID int64
	Chat     int64 // ordering key: the chat the update belongs to
	Raw      []byte
	callback string // a button press: the callback query's id (not stored)
}

// claim is an update a worker holds.
type claim struct {
	item
	Fails failures
	token string
}

// failures are an update's failed tries, counted apart by kind since each
// kind has its own bound: a try whose turn failed on the store changed
// nothing, while a try whose replies could not be sent applied the turn,
// and the next try replays its recorded replies. A store blip on that
// replay is one failed turn, whatever number of sends failed before it.
type failures struct {
	Turn int // tries in a row whose turn failed on the store (Config.MaxAttempts)
	Send int // tries whose replies could not be delivered (Config.MaxSendAttempts)
}

// errLeaseLost: another worker took the chat after our lease ran out.
var errLeaseLost = errors.New("telegram: inbox lease lost")

// InboxFor returns the inbox that lives in st, the service's state store:
// a *redisstore.Store or a *boltstore.Store.
func InboxFor(st any) (Inbox, error) {
	switch s := st.(type) {
	case *redisstore.Store:
		return newRedisInbox(s.Client(), s.Prefix()), nil
	case *boltstore.Store:
		return newBoltInbox(s.DB(), time.Now)
	default:
		return nil, fmt.Errorf("telegram: no update inbox for store type %T", st)
	}
}
