package bot

import (
	"time"

	"sportello/bot/locale"
)

// Turn is the handling of one inbound message. Dialogs read the message and
// the conversation state from it and write their replies into it; the engine
// commits the state and hands the replies to the channel.
type Turn struct {
	In      Inbound
	Lang    string
	Now     time.Time
	Session *Session
	Profile *Profile

	cat     *locale.Catalog
	replies []Reply
}

// T renders message id in the citizen's language.
func (t *Turn) T(id string, data any) string { return t.cat.Text(t.Lang, id, data) }

// Plural renders message id with plural forms for n.
func (t *Turn) Plural(id string, n int, data map[string]any) string {
	return t.cat.Plural(t.Lang, id, n, data)
}

// Date writes a date the way the citizen's language writes it.
func (t *Turn) Date(d time.Time) string { return t.cat.Date(t.Lang, d) }

// Clock writes a time of day.
func (t *Turn) Clock(d time.Time) string { return t.cat.Clock(t.Lang, d) }

// Catalog returns the message catalog, for texts in another language than
// the citizen's (a notice for staff, a bilingual answer).
func (t *Turn) Catalog() *locale.Catalog { return t.cat }

// Say sends text with optional buttons.
func (t *Turn) Say(text string, buttons ...Button) {
	t.replies = append(t.replies, Reply{Text: text, Buttons: buttons})
}

// SayT sends message id rendered with data, with optional buttons.
func (t *Turn) SayT(id string, data any, buttons ...Button) {
	t.Say(t.T(id, data), buttons...)
}

// Attach adds a file to the last reply (or to a new one without text).
func (t *Turn) Attach(a Attachment) {
	if len(t.replies) == 0 {
		t.replies = append(t.replies, Reply{})
	}
	last := &t.replies[len(t.replies)-1]
	last.Attachments = append(last.Attachments, a)
}

// AddButtons adds buttons to the last reply.
func (t *Turn) AddButtons(b ...Button) {
	if len(t.replies) == 0 {
		return
	}
	last := &t.replies[len(t.replies)-1]
	last.Buttons = append(last.Buttons, b...)
}

// Button makes a button whose label is message labelID.
func (t *Turn) Button(id, labelID string, data any) Button {
	return Button{ID: id, Label: t.T(labelID, data)}
}

// Replies returns what the turn has said so far.
func (t *Turn) Replies() []Reply { return t.replies }

// Private reports whether the conversation is one to one. Dialogs never ask
// for personal data (names, fiscal codes) outside a private chat.
func (t *Turn) Private() bool { return !t.In.Group }

// Step is the active dialog's current step.
func (t *Turn) Step() string { return t.Session.Step }

// Goto moves the active dialog to step.
func (t *Turn) Goto(step string) { t.Session.Step = step }

// Get returns a value the active dialog stored.
func (t *Turn) Get(key string) string { return t.Session.Data[key] }

// Set stores a value for the active dialog.
func (t *Turn) Set(key, value string) {
	if t.Session.Data == nil {
		t.Session.Data = map[string]string{}
	}
	t.Session.Data[key] = value
}

// Del removes a value the active dialog stored.
func (t *Turn) Del(key string) { delete(t.Session.Data, key) }

// Begin makes dialog the active one at step, with no stored values. Dialogs
// call it from Start.
func (t *Turn) Begin(dialog, step string) {
	t.Session.Dialog, t.Session.Step, t.Session.Data = dialog, step, nil
}

// End finishes the active dialog and forgets its values.
func (t *Turn) End() {
	t.Session.Dialog, t.Session.Step, t.Session.Data = "", "", nil
}

// Active is the active dialog's name, or "".
func (t *Turn) Active() string { return t.Session.Dialog }
