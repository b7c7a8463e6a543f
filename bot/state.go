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
	Replies []storedReply `json:"replies,omitempty"`
}

// storedReply is a Reply with its attachments' bytes, which Reply's own JSON
// leaves out.
type storedReply struct {
	Text        string       `json:"text,omitempty"`
	Buttons     []Button     `json:"buttons,omitempty"`
	Attachments []storedFile `json:"attachments,omitempty"`
}

type storedFile struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

func newDelivered(id string, replies []Reply) *Delivered {
	d := &Delivered{ID: id, Replies: make([]storedReply, 0, len(replies))}
	for _, r := range replies {
		s := storedReply{Text: r.Text, Buttons: r.Buttons}
		for _, a := range r.Attachments {
			s.Attachments = append(s.Attachments, storedFile(a))
		}
		d.Replies = append(d.Replies, s)
	}
	return d
}

// replies returns the recorded replies.
func (d *Delivered) replies() []Reply {
	out := make([]Reply, 0, len(d.Replies))
	for _, s := range d.Replies {
		r := Reply{Text: s.Text, Buttons: s.Buttons}
		for _, a := range s.Attachments {
			r.Attachments = append(r.Attachments, Attachment(a))
		}
		out = append(out, r)
	}
	return out
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
