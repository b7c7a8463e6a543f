package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"sportello/bot"
)

// MaxPayloadBytes caps one stored push (texts, buttons and attachments).
const MaxPayloadBytes = 1 << 20

// payloadVersion is written into every payload; a decoder meeting another
// version refuses it instead of guessing.
const payloadVersion = 1

// payload is a push as stored in the job; its replies keep their
// attachments' bytes (bot.StoredReplies).
type payload struct {
	V       int               `json:"v"`
	Channel string            `json:"channel"`
	User    string            `json:"user"`
	Replies bot.StoredReplies `json:"replies"`
	Bulk    bool              `json:"bulk,omitempty"`
	Expires int64             `json:"expires,omitempty"` // unix ms; 0 = never
}

func newPayload(conv bot.Conversation, replies []bot.Reply, bulk bool, expires time.Time) payload {
	p := payload{V: payloadVersion, Channel: conv.Channel, User: conv.User, Bulk: bulk}
	if !expires.IsZero() {
		p.Expires = expires.UnixMilli()
	}
	p.Replies = bot.StoredReplies(replies)
	return p
}

func (p payload) encode() ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("push: encode: %w", err)
	}
	if len(b) > MaxPayloadBytes {
		return nil, fmt.Errorf("push: %d bytes is over the %d byte limit for one push", len(b), MaxPayloadBytes)
	}
	return b, nil
}

// decodePayload parses a stored push and checks that it can be delivered.
func decodePayload(b []byte) (payload, error) {
	var p payload
	if len(b) > MaxPayloadBytes {
		return payload{}, errors.New("push: payload over the size limit")
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return payload{}, fmt.Errorf("push: decode: %w", err)
	}
	if p.V != payloadVersion {
		return payload{}, fmt.Errorf("push: payload version %d, want %d", p.V, payloadVersion)
	}
	if err := validChannel(p.Channel); err != nil {
		return payload{}, err
	}
	if p.User == "" || len(p.Replies) == 0 {
		return payload{}, errors.New("push: payload without user or replies")
	}
	return p, nil
}

func (p payload) conv() bot.Conversation { return bot.Conversation{Channel: p.Channel, User: p.User} }

func (p payload) expires() time.Time {
	if p.Expires == 0 {
		return time.Time{}
	}
	return time.UnixMilli(p.Expires)
}

func (p payload) replies() []bot.Reply { return []bot.Reply(p.Replies) }

// validChannel accepts channel names of 1 to 32 lowercase ASCII letters,
// digits, '-' and '_': they become queue names, where ':' separates lanes.
func validChannel(name string) error {
	ok := name != "" && len(name) <= 32
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return fmt.Errorf("push: channel name %q: want 1 to 32 of a-z, 0-9, '-', '_'", name)
	}
	return nil
}
