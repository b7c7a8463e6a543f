package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"sportello/bot"
	"sportello/bot/locale"
	"sportello/bot/store"
)

// worker claims chats with queued updates and handles their updates in order
// until Shutdown.
func (c *Chan) worker() {
	defer c.workers.Done()
	ctx := context.Background()
	failures := 0
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		cl, wait, err := c.inbox.claim(ctx, c.cfg.Lease)
		if err != nil {
			failures++
			c.log.Warn("inbox unavailable", slog.Any("error", err))
			if !c.idle(min(time.Duration(failures)*200*time.Millisecond, 5*time.Second)) {
				return
			}
			continue
		}
		failures = 0
		if cl == nil {
			idle := c.cfg.IdlePoll
			if wait >= 0 && wait < idle {
				idle = max(wait, time.Millisecond)
			}
			if !c.idle(idle) {
				return
			}
			continue
		}
		for cl != nil {
			cl = c.process(ctx, cl)
		}
	}
}

// idle waits for new work, d, or Shutdown (false).
func (c *Chan) idle(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.stop:
		return false
	case <-c.wake:
	case <-t.C:
	}
	return true
}

// stopped reports whether Shutdown has begun.
func (c *Chan) stopped() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// process handles one claimed update and settles it in the inbox. It returns
// the chat's next update when the worker should go on with it.
//
// The order of effects is what makes a crash harmless: the turn commits the
// conversation together with the update's id (bot.Inbound.ID), the replies
// are sent, and only then is the update removed from the inbox. A crash
// before the removal hands the update to a worker again; the engine
// recognises it and returns the same replies without a second effect.
func (c *Chan) process(ctx context.Context, cl *claim) *claim {
	var u models.Update
	if err := json.Unmarshal(cl.Raw, &u); err != nil {
		c.log.Warn("dropping an update that does not decode", slog.Int64("update_id", cl.UpdateID), slog.Any("error", err))
		c.metrics.update("failed", 1)
		return c.settle(ctx, cl, false)
	}
	me := c.me.Load()
	if me == nil {
		me = &identity{}
	}
	a := classify(&u, *me, ownCommand)
	switch a.kind {
	case actIgnore:
		c.metrics.update("ignored", 1)
		return c.settle(ctx, cl, false)
	case actBlocked:
		c.markUnreachable(ctx, a.chat)
		c.metrics.update("handled", 1)
		return c.settle(ctx, cl, false)
	case actBack:
		c.send.revive(a.chat)
		c.metrics.update("handled", 1)
		return c.settle(ctx, cl, true)
	case actNotMine:
		// Answered with a note at intake (answerCallbacks).
		c.metrics.update("ignored", 1)
		return c.settle(ctx, cl, false)
	}

	c.send.revive(a.chat)
	replies, err := c.engine.Handle(ctx, a.in)
	if err != nil {
		if errors.Is(err, bot.ErrStopping) {
			c.release(ctx, cl, 0, cl.Fails)
			return nil
		}
		transient := errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrBusy) || errors.Is(err, store.ErrLeaseLost)
		if transient && cl.Fails.Turn+1 < c.cfg.MaxAttempts {
			// Nothing of the turn was kept (or, on a replay, nothing was
			// read): try the update again shortly rather than apologise
			// for a blip. Failed sends before it do not count here.
			c.metrics.update("retried", 1)
			c.release(ctx, cl, c.backoff(cl.Fails.Turn), failures{Turn: cl.Fails.Turn + 1, Send: cl.Fails.Send})
			return nil
		}
		// The engine's apology is in replies: send it, and let the citizen
		// write again.
		c.metrics.update("failed", 1)
	} else {
		c.metrics.update("handled", 1)
	}
	// The failed tries the update has if its replies cannot be sent: one
	// more failed send; and, when the turn went through this time, no
	// failed turn in a row any more.
	sendFailed := failures{Turn: cl.Fails.Turn, Send: cl.Fails.Send + 1}
	if err == nil {
		sendFailed.Turn = 0
	}
	var calls []*call
	if a.cb != nil && a.cbMsg != nil {
		if e := c.closeKeyboard(a, langOf(a.in.LangHint)); e != nil {
			calls = append(calls, e)
		}
	}
	calls = append(calls, c.render(a.chat, a.replyTo, replies, prioReply)...)
	b := c.send.send(calls)
	if c.observe != nil {
		c.observe(cl.UpdateID)
	}
	err = c.await(ctx, cl, b)
	switch {
	case errors.Is(err, errLeaseLost):
		// Another worker has the update and replays its replies.
		return nil
	case errors.Is(err, errStopping):
		// Shut down before the replies went out: leave the update queued;
		// the next start replays the turn's recorded replies.
		c.release(ctx, cl, 0, cl.Fails)
		return nil
	case errors.Is(err, errGaveUp) && sendFailed.Send < c.cfg.MaxSendAttempts:
		// Telegram could not be reached for a while. The turn is kept
		// with its replies (Inbound.ID): try the update again later, and
		// the engine hands back the same replies without a second effect.
		delay := c.backoff(cl.Fails.Send)
		c.log.Warn("replies not delivered; the update will be tried again", slog.Int64("update_id", cl.UpdateID),
			slog.Int("attempt", sendFailed.Send), slog.Duration("delay", delay), slog.Any("error", err))
		c.metrics.update("retried", 1)
		c.release(ctx, cl, delay, sendFailed)
		return nil
	case errors.Is(err, errGaveUp):
		c.log.Error("dropping replies that could not be delivered", slog.Int64("update_id", cl.UpdateID),
			slog.Int("attempts", sendFailed.Send), slog.String("conv", c.chatTag(a.chat)), slog.Any("error", err))
	case err != nil && !errors.Is(err, errUnreachable):
		// Telegram refused a request (400): sending it again would fail
		// the same way.
		c.log.Warn("a reply was refused", slog.Int64("update_id", cl.UpdateID), slog.Any("error", err))
	}
	// The citizen wrote, so the chat is reachable again; unless the reply
	// has just found it blocked (403), which the sender has recorded.
	return c.settle(ctx, cl, !errors.Is(err, errUnreachable))
}

// backoff is the pause before an update is tried again after attempts
// failed tries: one second, doubling, at most a minute (with the default
// RetryBackoff). The longest series of tries stays well within a session's
// idle time, which keeps the engine's record of the turn.
func (c *Chan) backoff(attempts int) time.Duration {
	return min(5*c.cfg.RetryBackoff<<min(attempts, 16), time.Minute)
}

// await waits for a batch to be sent, renewing the claim meanwhile. It
// returns the batch's error, errLeaseLost when the claim was lost, or
// errStopping when Shutdown's deadline passed first.
func (c *Chan) await(ctx context.Context, cl *claim, b *batch) error {
	tick := time.NewTicker(c.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-b.done:
			return b.wait(ctx)
		case <-c.hard:
			c.send.cancel(b)
			return errStopping
		case <-tick.C:
			if err := c.inbox.extend(ctx, cl, c.cfg.Lease); errors.Is(err, errLeaseLost) {
				c.log.Warn("lost the claim on a chat while sending", slog.Int64("update_id", cl.UpdateID))
				return errLeaseLost
			}
		}
	}
}

// settle removes a handled update and returns the chat's next one, unless
// the channel is stopping.
func (c *Chan) settle(ctx context.Context, cl *claim, reachable bool) *claim {
	for try := 0; ; try++ {
		next, err := c.inbox.done(ctx, cl, c.cfg.Lease, reachable)
		if err == nil {
			if next != nil && c.stopped() {
				c.release(ctx, next, 0, next.Fails)
				return nil
			}
			return next
		}
		if errors.Is(err, errLeaseLost) || errors.Is(err, store.ErrClosed) || try == 4 ||
			!c.pause(time.Duration(try+1)*100*time.Millisecond) {
			// Another worker has the chat, the store is gone, or
			// Shutdown's deadline has passed: the update will be
			// handled again and the engine will recognise it.
			c.log.Warn("could not settle an update", slog.Int64("update_id", cl.UpdateID), slog.Any("error", err))
			return nil
		}
	}
}

// pause waits d, or until Shutdown's deadline passes (false). Soft
// Shutdown does not cut it short: workers finish what they hold.
func (c *Chan) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.hard:
		return false
	case <-t.C:
		return true
	}
}

// release frees the chat and keeps the update for later, with fails as its
// failed tries.
func (c *Chan) release(ctx context.Context, cl *claim, delay time.Duration, fails failures) {
	if err := c.inbox.retry(ctx, cl, delay, fails); err != nil && !errors.Is(err, errLeaseLost) {
		c.log.Warn("could not release an update", slog.Int64("update_id", cl.UpdateID), slog.Any("error", err))
	}
}

// langOf is the catalog language for a Telegram language_code.
func langOf(code string) string {
	if l := locale.Normalize(code); l != "" {
		return l
	}
	return locale.Italian
}

// chatTag identifies a chat in logs without its id, with the same keyed
// tag the engine logs for the conversation.
func (c *Chan) chatTag(chat int64) string {
	return bot.LogTag(c.logKey, bot.Conversation{Channel: Channel, User: strconv.FormatInt(chat, 10)})
}

// noPreview asks Telegram not to show a preview of the first link in a
// message (an office's web page would take half the screen): a new value
// for each request rather than a shared, mutable package variable.
func noPreview() *models.LinkPreviewOptions {
	return &models.LinkPreviewOptions{IsDisabled: tgbot.True()}
}

// clip shortens s to at most n bytes, for logs.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// answerCallbacks answers the button presses among items, just recorded in
// the inbox: at once, before their turn, so the citizen's spinner stops
// however long the chat's earlier updates take (Telegram refuses an answer
// after about 15 s). A press on a button that is not the member's own, or
// not Sportello's, gets a note instead of a turn. Only the first answer to a
// press counts: if a redelivered press is answered again, Telegram refuses
// that answer, harmlessly.
func (c *Chan) answerCallbacks(items []item) {
	for _, it := range items {
		if it.callback == "" {
			continue
		}
		text := ""
		var u models.Update
		if err := json.Unmarshal(it.Raw, &u); err == nil && u.CallbackQuery != nil {
			if a := classify(&u, identity{}, nil); a.kind == actNotMine {
				text = c.cat.Text(langOf(u.CallbackQuery.From.LanguageCode), "telegram.not_yours", nil)
			}
		}
		c.send.send([]*call{c.answer(it.Chat, it.callback, text)})
	}
}

// answer is an answerCallbackQuery, with an optional toast.
func (c *Chan) answer(chat int64, id, text string) *call {
	return &call{chat: chat, method: "answerCallbackQuery", prio: prioAnswer,
		do: func(ctx context.Context, api *tgbot.Bot) error {
			_, err := api.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: id, Text: text})
			return err
		}}
}

// closeKeyboard edits the message whose button was pressed: its buttons go,
// so they cannot be pressed twice, and the choice is written under the text.
func (c *Chan) closeKeyboard(a action, lang string) *call {
	m := a.cbMsg
	if m.ReplyMarkup == nil || len(m.ReplyMarkup.InlineKeyboard) == 0 {
		return nil
	}
	label := ""
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData == a.cb.Data {
				label = b.Text
			}
		}
	}
	chat, id := a.chat, m.ID
	if m.Text == "" {
		return &call{chat: chat, method: "editMessageReplyMarkup", prio: prioReply,
			do: func(ctx context.Context, api *tgbot.Bot) error {
				_, err := api.EditMessageReplyMarkup(ctx, &tgbot.EditMessageReplyMarkupParams{ChatID: chat, MessageID: id})
				return edited(err)
			}}
	}
	text := escapeHTML(m.Text)
	if label != "" {
		mark := c.cat.Text(lang, "telegram.chosen", map[string]any{"Label": label})
		if chars(m.Text)+2+chars(mark) <= MaxMessageChars {
			text += "\n\n<b>" + escapeHTML(mark) + "</b>"
		}
	}
	return &call{chat: chat, method: "editMessageText", prio: prioReply,
		do: func(ctx context.Context, api *tgbot.Bot) error {
			_, err := api.EditMessageText(ctx, &tgbot.EditMessageTextParams{
				ChatID: chat, MessageID: id, Text: text, ParseMode: models.ParseModeHTML, LinkPreviewOptions: noPreview(),
			})
			return edited(err)
		}}
}

// edited treats Telegram's "message is not modified" as success: the edit
// was made by an earlier try of the same update.
func edited(err error) error {
	if errors.Is(err, tgbot.ErrorBadRequest) && strings.Contains(err.Error(), "message is not modified") {
		return nil
	}
	return err
}
