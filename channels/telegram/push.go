package telegram

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sportello/bot"
)

// ErrUnreachable is returned by Push for a citizen who blocked the bot: a
// permanent failure, do not retry.
var ErrUnreachable = errors.New("telegram: citizen unreachable (bot blocked)")

// RetryAfterError is returned by Push when Telegram asked to slow down and
// ctx ended before the message could go: try again after After. (Shaped
// like bot/push's, which replaces it once that package lands.)
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("telegram: rate limited, retry after %s: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// Push sends replies to a citizen outside a conversation turn (reminders,
// notices) at bulk priority: after every reply to citizens talking now. It
// returns when the messages are sent, ErrUnreachable for a citizen who
// blocked the bot, or a *RetryAfterError when ctx ends while Telegram's
// rate limit holds the messages back (those not yet sent are dropped).
func (c *Chan) Push(ctx context.Context, conv bot.Conversation, replies []bot.Reply) error {
	if conv.Channel != Channel {
		return fmt.Errorf("telegram: push to a %q conversation", conv.Channel)
	}
	chat, err := chatOfUser(conv.User)
	if err != nil {
		return err
	}
	blocked, err := c.inbox.unreachable(ctx, chat)
	if err != nil {
		return fmt.Errorf("telegram: push: %w", err)
	}
	if blocked {
		return ErrUnreachable
	}
	b := c.send.send(c.render(chat, 0, replies, prioBulk))
	err = b.wait(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errUnreachable):
		return ErrUnreachable
	case ctx.Err() != nil:
		c.send.cancel(b)
		if wait := c.send.pausedFor(); wait > 0 {
			return &RetryAfterError{After: wait, Err: ctx.Err()}
		}
		return fmt.Errorf("telegram: push: %w", ctx.Err())
	default:
		return fmt.Errorf("telegram: push: %w", err)
	}
}
