package bot

import (
	"encoding/json"
	"time"
)

// Session is one conversation in progress. It expires after the idle time
// (30 minutes by default); everything a dialog needs between two messages of
// the citizen lives here.
type Session struct {
	// Dialog is the active flow, or "" at the main menu.
	Dialog string `json:"dialog,omitempty"`
	// Step is the active flow's current step.
	Step string `json:"step,omitempty"`
	// Data holds the active flow's answers so far.
	Data map[string]string `json:"data,omitempty"`
	// Misses counts messages in a row the engine did not understand.
	Misses int `json:"misses,omitempty"`
	// Turns counts the messages handled in this session.
	Turns   int       `json:"turns"`
	Started time.Time `json:"started"`
	// Last is the latest message applied with a delivery id and the replies
	// it produced (see Inbound.ID).
	Last *Delivered `json:"last,omitempty"`
}

// Delivered records one applied message: its delivery id and its replies,
// attachments included, so a redelivery is answered the same way.
type Delivered struct {
	ID      string        `json:"id"`
	Replies StoredReplies `json:"replies,omitempty"`
}

func newDelivered(id string, replies []Reply) *Delivered {
	return &Delivered{ID: id, Replies: StoredReplies(replies)}
}

// replies returns the recorded replies.
func (d *Delivered) replies() []Reply { return []Reply(d.Replies) }

// StoredReplies are replies as a store keeps them (a delivered turn in the
// session, a push waiting in the outbox): unlike Reply's own JSON, which is
// what channels and scripts see, they keep the attachments' bytes. Empty
// lists and data come back nil, as they were before encoding.
type StoredReplies []Reply

type storedReply struct {
	Text        string       `json:"text"`
	Buttons     []Button     `json:"buttons,omitempty"`
	Attachments []storedFile `json:"attachments,omitempty"`
}

type storedFile struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data,omitempty"` // base64 in JSON
}

// MarshalJSON keeps the attachments' bytes.
func (s StoredReplies) MarshalJSON() ([]byte, error) {
	out := make([]storedReply, 0, len(s))
	for _, r := range s {
		sr := storedReply{Text: r.Text, Buttons: r.Buttons}
		for _, a := range r.Attachments {
			sr.Attachments = append(sr.Attachments, storedFile(a))
		}
		out = append(out, sr)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *StoredReplies) UnmarshalJSON(b []byte) error {
	var in []storedReply
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	out := make(StoredReplies, 0, len(in))
	for _, sr := range in {
		r := Reply{Text: sr.Text}
		if len(sr.Buttons) > 0 {
			r.Buttons = sr.Buttons
		}
		for _, a := range sr.Attachments {
			if len(a.Data) == 0 {
				a.Data = nil
			}
			r.Attachments = append(r.Attachments, Attachment(a))
		}
		out = append(out, r)
	}
	*s = out
	return nil
}

// Profile is what Sportello remembers about a citizen across sessions. It is
// kept for the profile retention time after the last message.
type Profile struct {
	// Lang is the citizen's language ("it" or "en").
	Lang string `json:"lang,omitempty"`
	// LangChosen is true once the citizen picked the language explicitly;
	// detection never overrides an explicit choice.
	LangChosen bool `json:"lang_chosen,omitempty"`
	// Subscriptions are the notices the citizen asked for.
	Subscriptions []string `json:"subscriptions,omitempty"`
	// Data holds small per-citizen values owned by dialogs.
	Data      map[string]string `json:"data,omitempty"`
	FirstSeen time.Time         `json:"first_seen"`
}

// Subscribed reports whether the citizen subscribed to topic.
func (p *Profile) Subscribed(topic string) bool {
	for _, s := range p.Subscriptions {
		if s == topic {
			return true
		}
	}
	return false
}

// decodeSession decodes a stored session. A blob that does not decode (a
// corrupted or foreign value) starts a fresh session instead of failing every
// later turn of that citizen.
func decodeSession(b []byte) (Session, bool) {
	var s Session
	if b == nil || json.Unmarshal(b, &s) != nil {
		return Session{}, false
	}
	return s, true
}

func decodeProfile(b []byte) (Profile, bool) {
	var p Profile
	if b == nil || json.Unmarshal(b, &p) != nil {
		return Profile{}, false
	}
	return p, true
}
