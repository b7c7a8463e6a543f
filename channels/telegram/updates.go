package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"

	"sportello/bot"
)

// Channel is the name of this channel in conversations.
const Channel = "telegram"

// allowedUpdates are the update kinds Sportello asks Telegram for.
func allowedUpdates() []string {
	return []string{models.AllowedUpdateMessage, models.AllowedUpdateCallbackQuery, models.AllowedUpdateMyChatMember}
}

// updateHead is what intake reads of an update: its id and the chat whose
// order it belongs to.
type updateHead struct {
	ID      int64 `json:"update_id"`
	Message *struct {
		Chat struct {
			ID int64 `json:"id"`
		} `json:"chat"`
	} `json:"message"`
	CallbackQuery *struct {
		ID   string `json:"id"`
		From struct {
			ID int64 `json:"id"`
		} `json:"from"`
		Message *struct {
			Chat struct {
				ID int64 `json:"id"`
			} `json:"chat"`
		} `json:"message"`
	} `json:"callback_query"`
	MyChatMember *struct {
		Chat struct {
			ID int64 `json:"id"`
		} `json:"chat"`
	} `json:"my_chat_member"`
}

var errNoUpdateID = errors.New("telegram: update without update_id")

// readHead parses an update's id and chat. chat is 0 for updates Sportello
// has nothing to do with.
func readHead(raw []byte) (item, error) {
	var h updateHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return item{}, fmt.Errorf("telegram: update is not JSON: %w", err)
	}
	if h.ID <= 0 {
		return item{}, errNoUpdateID
	}
	it := item{UpdateID: h.ID, Raw: raw}
	if h.CallbackQuery != nil {
		it.callback = h.CallbackQuery.ID
	}
	switch {
	case h.Message != nil:
		it.Chat = h.Message.Chat.ID
	case h.CallbackQuery != nil && h.CallbackQuery.Message != nil:
		it.Chat = h.CallbackQuery.Message.Chat.ID
	case h.CallbackQuery != nil:
		it.Chat = h.CallbackQuery.From.ID
	case h.MyChatMember != nil:
		it.Chat = h.MyChatMember.Chat.ID
	}
	return it, nil
}

// updateID reads just the update_id of an update that may not parse as a
// whole; 0 when it cannot.
func updateID(raw []byte) int64 {
	var h struct {
		ID int64 `json:"update_id"`
	}
	if json.Unmarshal(raw, &h) != nil || h.ID <= 0 {
		return 0
	}
	return h.ID
}

// identity is who the bot is (getMe).
type identity struct {
	ID       int64
	Username string
}

type actionKind int

const (
	actIgnore  actionKind = iota
	actTurn               // a message or a button for the engine
	actNotMine            // a button pressed on someone else's message in a group
	actBlocked            // the citizen blocked the bot
	actBack               // the citizen unblocked it
)

// action is what an update asks Sportello to do.
type action struct {
	kind    actionKind
	chat    int64
	in      bot.Inbound
	replyTo int // group chats: the member's message Sportello answers
	cb      *models.CallbackQuery
	cbMsg   *models.Message // the message the pressed button is on, when accessible
}

// convUser is the conversation's user id: the chat in a private chat, the
// chat and the member in a group, so that each member of a group has a
// conversation of their own.
func convUser(chat, from int64, group bool) string {
	if group {
		return strconv.FormatInt(chat, 10) + ":" + strconv.FormatInt(from, 10)
	}
	return strconv.FormatInt(chat, 10)
}

// chatOfUser is the chat a conversation's replies go to.
func chatOfUser(user string) (int64, error) {
	head, _, _ := strings.Cut(user, ":")
	chat, err := strconv.ParseInt(head, 10, 64)
	if err != nil || chat == 0 {
		return 0, fmt.Errorf("telegram: %q is not a Telegram chat", user)
	}
	return chat, nil
}

func isGroup(t models.ChatType) bool {
	return t == models.ChatTypeGroup || t == models.ChatTypeSupergroup
}

// classify decides what an update asks for.
func classify(u *models.Update, me identity, known func(cmd string) bool) action {
	id := strconv.FormatInt(u.ID, 10)
	switch {
	case u.Message != nil:
		m := u.Message
		if m.From == nil || m.From.IsBot || (m.Chat.Type != models.ChatTypePrivate && !isGroup(m.Chat.Type)) {
			return action{}
		}
		text := m.Text
		if text == "" {
			text = m.Caption
		}
		a := action{kind: actTurn, chat: m.Chat.ID}
		group := isGroup(m.Chat.Type)
		if group {
			var ok bool
			if text, ok = addressed(m, text, me, known); !ok {
				return action{}
			}
			a.replyTo = m.ID
		}
		a.in = bot.Inbound{
			Conv:     bot.Conversation{Channel: Channel, User: convUser(m.Chat.ID, m.From.ID, group)},
			ID:       id,
			Text:     text,
			LangHint: m.From.LanguageCode,
			Group:    group,
		}
		return a
	case u.CallbackQuery != nil:
		cq := u.CallbackQuery
		a := action{kind: actTurn, cb: cq}
		var chatType models.ChatType
		switch cq.Message.Type {
		// Without a message (a button on an inline message, or a game)
		// a.chat stays 0: nothing of ours.
		case models.MaybeInaccessibleMessageTypeMessage:
			if m := cq.Message.Message; m != nil {
				a.cbMsg = m
				a.chat, chatType = m.Chat.ID, m.Chat.Type
			}
		case models.MaybeInaccessibleMessageTypeInaccessibleMessage:
			if m := cq.Message.InaccessibleMessage; m != nil {
				a.chat, chatType = m.Chat.ID, m.Chat.Type
			}
		}
		if a.chat == 0 || cq.Data == "" {
			return action{kind: actNotMine, cb: cq, chat: cq.From.ID}
		}
		group := isGroup(chatType)
		if group && a.cbMsg != nil {
			if r := a.cbMsg.ReplyToMessage; r != nil && r.From != nil && r.From.ID != cq.From.ID {
				a.kind = actNotMine
				return a
			}
			a.replyTo = 0
			if r := a.cbMsg.ReplyToMessage; r != nil {
				a.replyTo = r.ID
			}
		}
		a.in = bot.Inbound{
			Conv:     bot.Conversation{Channel: Channel, User: convUser(a.chat, cq.From.ID, group)},
			ID:       id,
			Button:   cq.Data,
			LangHint: cq.From.LanguageCode,
			Group:    group,
		}
		return a
	case u.MyChatMember != nil:
		cm := u.MyChatMember
		if cm.Chat.Type != models.ChatTypePrivate {
			return action{}
		}
		switch cm.NewChatMember.Type {
		case models.ChatMemberTypeBanned:
			return action{kind: actBlocked, chat: cm.Chat.ID}
		case models.ChatMemberTypeMember:
			return action{kind: actBack, chat: cm.Chat.ID}
		}
	}
	return action{}
}

// addressed reports whether a group message speaks to the bot (a mention of
// its username, a reply to one of its messages, a /command@botname, or one of
// its own commands without a suffix), and returns the text with the mention
// taken out.
func addressed(m *models.Message, text string, me identity, known func(string) bool) (string, bool) {
	if r := m.ReplyToMessage; r != nil && r.From != nil && me.ID != 0 && r.From.ID == me.ID {
		return stripMention(text, me.Username), true
	}
	if strings.HasPrefix(text, "/") {
		first, _, _ := strings.Cut(text, " ")
		cmd, target, hasTarget := strings.Cut(first[1:], "@")
		if hasTarget {
			return text, me.Username != "" && strings.EqualFold(target, me.Username)
		}
		return text, known != nil && known(strings.ToLower(cmd))
	}
	if me.Username == "" {
		return text, false
	}
	stripped := stripMention(text, me.Username)
	return stripped, stripped != text
}

// stripMention removes every "@username" (any case, as a whole word) from
// text.
func stripMention(text, username string) string {
	if username == "" {
		return text
	}
	at := "@" + strings.ToLower(username)
	lower := strings.ToLower(text)
	if len(lower) != len(text) {
		// Case folding changed byte lengths: fall back to an exact match.
		lower, at = text, "@"+username
	}
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(lower[i:], at)
		if j < 0 {
			break
		}
		j += i
		end := j + len(at)
		if r, _ := utf8.DecodeRuneInString(text[end:]); end < len(text) && (r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteString(text[i:end])
			i = end
			continue
		}
		b.WriteString(text[i:j])
		i = end
	}
	if i == 0 {
		return text
	}
	b.WriteString(text[i:])
	return strings.Join(strings.Fields(b.String()), " ")
}
