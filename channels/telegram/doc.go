// Package telegram is Sportello's Telegram channel, built on
// github.com/go-telegram/bot. It turns Telegram updates into bot.Inbound
// messages for the engine and renders the engine's replies: text as HTML
// (every <, > and & escaped; replies are plain text), cut at paragraph
// boundaries to Telegram's 4,096 characters (at a line break rather than
// leave a stub before an early paragraph break), with the buttons under the
// last piece; buttons as inline keyboards whose callback_data is the button
// id; attachments (the booking's .ics) as documents after their reply's
// text, under the attachment's file name, whose extension is what Telegram
// derives the type from (text/calendar for .ics; the multipart part's own
// Content-Type is not used). Every pressed button's callback is answered as
// soon as the update is recorded, before its turn, and the message it was
// on is edited: its keyboard removed and the choice written under it, so a
// stale button cannot be pressed twice.
//
// A turn's consecutive replies are joined into one message, a blank line
// between their texts, where that is faithful to them: a reply with buttons
// or files ends a message (the buttons under it, the files after it), a
// reply with files and no text is not joined, and the joined text fits one
// message with room for the "✓ label" mark under it. Every message is paced
// (about one a second per chat), so "All right, let's continue in English."
// and the menu, a booking's summary and its question, or the confirmation
// and the line its calendar file comes with reach the citizen at once
// rather than seconds apart. Pushes are laid out the same way. The layout
// depends only on the replies (and the catalog), so a replay of an update's
// recorded replies sends the same messages.
//
// # Conversations
//
// A private chat is one conversation (User = the chat id), with the
// citizen's Telegram language_code as the language hint. In a group each
// member has a conversation of their own (User = "<chat>:<member>"); the bot
// answers only when addressed (a mention of its username, a reply to one of
// its messages, /command@botname, or one of its own commands), replies to
// the member's message, and marks the Inbound as Group so dialogs never ask
// for personal data there. A button pressed by another member than the one
// it was for gets a short note and does nothing.
//
// # Exactly one effect per update
//
// Updates arrive by long polling (the default) or by webhook
// (TELEGRAM_WEBHOOK_URL). Either way they go through the Inbox, a durable
// queue in the service's state store (Redis, or the embedded bbolt file):
//
//  1. Intake records the raw update in its chat's queue together with a
//     dedupe mark on its update_id (25 hours, longer than Telegram keeps
//     updates), in one atomic step: one Lua script, or one bbolt
//     transaction. An update_id already marked is not queued again.
//  2. Only then is the update acknowledged: the webhook answers 200 (503
//     when the store cannot record it, so Telegram retries), and the poller
//     confirms it with the next getUpdates offset (the library's own loop
//     confirms updates before they are handled, so the poller makes that one
//     request itself). A request without the right
//     X-Telegram-Bot-Api-Secret-Token gets 401 before its body is read. An
//     update that cannot be read but whose update_id can is logged and
//     skipped, and acknowledged the same way (200, or the next offset), so
//     Telegram does not deliver it again; a webhook body that is not an
//     update at all (not JSON, no update_id) gets 400.
//  3. Workers (Config.Workers) claim a chat under a renewable lease and
//     handle its updates one at a time, in update_id order; different chats
//     run in parallel, on any replica.
//  4. The engine turn carries the update_id as bot.Inbound.ID: the engine
//     commits the conversation together with that id and the turn's
//     replies. If the same update is handled again, the engine returns the
//     recorded replies and changes nothing.
//  5. The replies are sent; then the update is removed from the inbox.
//
// A crash before step 2 leaves the update unacknowledged: Telegram sends it
// again. A crash between 2 and 4 leaves it queued: another worker (or the
// next start) handles it once. A crash between 4 and 5 leaves it queued
// with its turn applied: the next worker gets the recorded replies from the
// engine and sends them, without a second effect. The one thing a crash can
// do is send a reply twice (when it dies after sending and before removing
// the update), since Telegram's sendMessage has no idempotency key. The
// engine's record lives in the conversation's session, so it covers an
// update handled again within the session's idle time (30 minutes), which a
// lease of Config.Lease (60 s) comfortably meets.
//
// A turn that fails on the store (unavailable, busy) keeps nothing, so the
// update is tried again after a backoff, up to Config.MaxAttempts tries in a
// row; the last sends the engine's apology.
//
// Replies that cannot be sent because Telegram cannot be reached (network
// errors, 5xx, after the sender's own retries of each request) are not
// dropped either: the update stays queued and is tried again after a
// backoff, up to Config.MaxSendAttempts (about five minutes in all, well
// within the session's idle time), and the engine hands back the turn's
// recorded replies (pieces that went out before the trouble go out again).
// Replies Telegram refuses (400) are logged and dropped.
//
// The inbox counts the two kinds of failed tries apart, each against its
// own bound. A store blip on the replay after failed sends is one failed
// turn: the update is tried again and its recorded replies go out once the
// store answers, instead of an apology for a turn that was applied. A try
// whose turn goes through starts the count of failed turns again.
//
// # Sending
//
// One sender makes every request: each chat's messages in order, about one a
// second per chat (after a short burst), twenty a minute per group, and
// TELEGRAM_RATE a second overall. Replies to citizens who are talking now go
// before bulk pushes. Callback answers go first, in a lane of their own: not
// paced, not held behind the chat's messages or by a pause of the messages.
// A 429 pauses the messages (or, on an answer, the answers) for retry_after
// and the request is retried, never dropped. A 403 (the citizen
// blocked the bot) marks the chat unreachable in the store and calls
// Options.OnUnreachable; pushes to it then fail at once with ErrUnreachable,
// until the citizen writes again (or unblocks: Telegram's my_chat_member
// update).
//
// Shutdown stops intake and claims, lets the workers finish the updates they
// hold, replies included, and the sender send what is queued; what its
// deadline cuts off stays in the inbox for the next start.
package telegram
