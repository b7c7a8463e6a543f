package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sportello/bot"
	core "sportello/bot/booking"
	"sportello/bot/comune"
	"sportello/bot/locale"
)

// Sender delivers messages to a citizen's conversation once per id, and
// drops a message not delivered by expires (zero: it never expires): the
// push outbox. push.Outbox takes the expiry as an option; SenderFunc adapts
// it:
//
//	booking.SenderFunc(func(ctx context.Context, id string, conv bot.Conversation, r []bot.Reply, expires time.Time) error {
//		var opts []push.SendOption
//		if !expires.IsZero() {
//			opts = append(opts, push.ExpiresAt(expires))
//		}
//		return outbox.Send(ctx, id, conv, r, opts...)
//	})
type Sender interface {
	Send(ctx context.Context, id string, conv bot.Conversation, replies []bot.Reply, expires time.Time) error
}

// SenderFunc makes a function a Sender.
type SenderFunc func(ctx context.Context, id string, conv bot.Conversation, replies []bot.Reply, expires time.Time) error

// Send implements Sender.
func (f SenderFunc) Send(ctx context.Context, id string, conv bot.Conversation, replies []bot.Reply, expires time.Time) error {
	return f(ctx, id, conv, replies, expires)
}

// NotifierConfig wires a Notifier.
type NotifierConfig struct {
	Catalog *locale.Catalog
	Comune  *comune.Comune
	Sender  Sender
	// Now stamps the calendar files of released bookings; default
	// time.Now.
	Now func() time.Time
}

// Notifier renders the calendar's notices in the citizen's language, with
// the buttons that answer them (handled by the appt dialog), and hands them
// to the Sender with the notice's id, so a notice retried after a crash
// reaches the citizen once.
type Notifier struct {
	cfg NotifierConfig
	r   render
}

var _ core.Notifier = (*Notifier)(nil)

// NewNotifier checks cfg and returns a Notifier.
func NewNotifier(cfg NotifierConfig) (*Notifier, error) {
	if cfg.Catalog == nil || cfg.Comune == nil || cfg.Sender == nil {
		return nil, errors.New("booking notifier: Catalog, Comune and Sender are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Notifier{cfg: cfg, r: render{c: cfg.Comune}}, nil
}

// Notify implements core.Notifier.
func (n *Notifier) Notify(ctx context.Context, note core.Notice) error {
	b := note.Booking
	if b == nil || note.ID == "" {
		return fmt.Errorf("booking notifier: notice %q without booking or id", note.Kind)
	}
	lang := locale.Normalize(b.Lang)
	if lang == "" {
		lang = locale.Italian
	}
	cat := n.cfg.Catalog
	tx := langTexts{cat: cat, lang: lang}
	data := map[string]any{
		"Code": b.Code, "Office": n.r.officeName(b.Office), "Address": n.r.officeAddress(b.Office),
		"Date": "", "Time": "", "Deadline": "", "Until": "", "Days": n.cfg.Comune.Booking.HorizonDays,
	}
	if !b.Start.IsZero() {
		l := n.r.local(b.Start)
		data["Date"], data["Time"] = tx.Date(l), tx.Clock(l)
	}
	if !b.ConfirmBy.IsZero() {
		data["Deadline"] = n.r.when(tx, b.ConfirmBy)
	}
	if !b.Until.IsZero() {
		data["Until"] = n.r.when(tx, b.Until)
	}
	button := func(id, label string) bot.Button {
		return bot.Button{ID: id, Label: cat.Text(lang, label, map[string]any{"Code": b.Code})}
	}
	rebook := button("menu:"+BookName, "menu.book")
	reply := bot.Reply{Text: cat.Text(lang, "booking.notice."+string(note.Kind), data)}
	// A request to confirm is pointless after its deadline, an offer after
	// its hold: the outbox drops them instead of sending them late.
	var expires time.Time
	switch note.Kind {
	case core.NoticeConfirm:
		expires = b.ConfirmBy
	case core.NoticeOffer:
		expires = b.Until
	}
	switch note.Kind {
	case core.NoticeConfirm:
		reply.Buttons = []bot.Button{
			button(ApptName+":confirm:"+b.Code, "booking.mine.confirm"),
			button(ApptName+":cancel:"+b.Code, "booking.mine.cancel"),
		}
	case core.NoticeOffer:
		reply.Buttons = []bot.Button{
			button(ApptName+":accept:"+b.Code, "booking.mine.accept"),
			button(ApptName+":decline:"+b.Code, "booking.mine.decline"),
		}
	case core.NoticeReleased:
		reply.Buttons = []bot.Button{rebook}
		if n.cfg.Comune.Office(b.Office) != nil && !b.Start.IsZero() {
			file, err := n.r.icsFor(cat, lang, n.cfg.Now(), b, true, true)
			if err != nil {
				return fmt.Errorf("booking notifier: %w", err)
			}
			reply.Attachments = []bot.Attachment{file}
		}
	case core.NoticeOfferExpired, core.NoticeWaitExpired:
		reply.Buttons = []bot.Button{rebook}
	default:
		return fmt.Errorf("booking notifier: unknown notice kind %q", note.Kind)
	}
	for _, btn := range reply.Buttons {
		if !bot.ValidButtonID(btn.ID) {
			return fmt.Errorf("booking notifier: button id %q is not valid", btn.ID)
		}
	}
	if err := n.cfg.Sender.Send(ctx, note.ID, b.Conv, []bot.Reply{reply}, expires); err != nil {
		return fmt.Errorf("booking notifier: send %s of %s: %w", note.Kind, b.Code, err)
	}
	return nil
}
