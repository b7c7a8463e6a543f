package bot

import (
	"context"
	"errors"
)

// A Dialog is a flow with steps: booking, the expiry calculator, the FAQ. It
// reads like the conversation it implements and writes its answers into the
// Turn; the engine keeps its state between messages.
type Dialog interface {
	// Name is the dialog's id. Its buttons have ids "<name>:<...>".
	Name() string
	// Start begins the flow. arg comes from the button or the understood
	// question that started it ("" from the menu).
	Start(ctx context.Context, t *Turn, arg string) error
	// Continue handles the citizen's next message (text or button) while
	// the dialog is active. It returns ErrNotUnderstood to let the engine
	// try the message as a question of its own, and ErrStale for a button
	// that does not fit the current step.
	Continue(ctx context.Context, t *Turn) error
	// Prompt asks the current step's question again (after a language
	// switch, a help message, an old button or an interruption).
	Prompt(ctx context.Context, t *Turn) error
}

// OneShot is implemented by dialogs that answer and end at once, such as a
// FAQ answer. Their buttons work at any time, and answering them does not
// interrupt a flow in progress: the engine asks the flow's question again.
type OneShot interface {
	OneShot() bool
}

// Errors dialogs return to the engine.
var (
	// ErrNotUnderstood: the message is not an answer to the current step.
	ErrNotUnderstood = errors.New("not understood")
	// ErrStale: a button from an earlier message, no longer valid.
	ErrStale = errors.New("stale button")
)

// Match is one reading of free text: start dialog Dialog with Arg.
type Match struct {
	Dialog string
	Arg    string
	// Label is shown on the "did you mean" button for this match.
	Label string
	// Score is the matcher's confidence, 0 to 1.
	Score float64
}

// Understander reads free text that is neither a command nor an answer to the
// current step, and returns its readings, best first.
type Understander interface {
	Understand(lang, text string) []Match
}

// Confidence thresholds for Understander scores.
const (
	// SureScore and above: act on the best reading.
	SureScore = 0.6
	// MaybeScore and above: offer the readings as "did you mean" buttons.
	MaybeScore = 0.3
)
