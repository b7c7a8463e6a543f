package telegram

import (
	"context"
	"errors"
	"fmt"

	"sportello/bot"
	"sportello/bot/push"
)

// ErrUnreachable is returned by Push for a citizen who blocked the bot: a
// permanent failure, do not retry. It wraps push.ErrUnreachable.
var ErrUnreachable = fmt.Errorf("telegram: citizen blocked the bot: %w", push.ErrUnreachable)

var _ push.Sender = (*Chan)(nil)

// Push sends replies to a citizen outside a conversation turn (reminders,
// notices) at bulk priority: after every reply to citizens talking now. It
// returns when the messages are sent, ErrUnreachable for a citizen who
// blocked the bot, or a *push.RetryAfterError when ctx ends while Telegram's
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
			return &push.RetryAfterError{After: wait, Err: ctx.Err()}
		}
		return fmt.Errorf("telegram: push: %w", ctx.Err())
	default:
		return fmt.Errorf("telegram: push: %w", err)
	}
}
