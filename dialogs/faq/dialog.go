package faq

import (
	"context"
	"fmt"
	"strings"

	"sportello/bot"
	"sportello/bot/comune"
	"sportello/bot/locale"
)

// Name is the FAQ dialog's name: its buttons are "faq:<topic>",
// "faq:cat.<category>" and "faq:all".
const Name = "faq"

// Dialog answers FAQ topics with the Comune's own values. It is one-shot:
// its buttons work at any time and never interrupt a flow in progress.
type Dialog struct {
	k *Knowledge
	c *comune.Comune
}

var (
	_ bot.Dialog  = (*Dialog)(nil)
	_ bot.OneShot = (*Dialog)(nil)
)

// New returns the FAQ dialog for Comune c.
func New(k *Knowledge, c *comune.Comune) *Dialog { return &Dialog{k: k, c: c} }

// Name implements bot.Dialog.
func (d *Dialog) Name() string { return Name }

// OneShot implements bot.OneShot.
func (d *Dialog) OneShot() bool { return true }

// Start shows the FAQ menu (arg ""), a category ("cat.<id>") or answers a
// topic (its id).
func (d *Dialog) Start(_ context.Context, t *bot.Turn, arg string) error {
	switch {
	case arg == "" || arg == "all":
		d.menu(t, "faq.menu.prompt")
	case strings.HasPrefix(arg, "cat."):
		c := d.k.Category(strings.TrimPrefix(arg, "cat."))
		if c == nil {
			d.menu(t, "faq.menu.unknown")
			return nil
		}
		buttons := make([]bot.Button, 0, len(c.Topics)+1)
		for _, id := range c.Topics {
			buttons = append(buttons, d.topicButton(t, d.k.Topic(id)))
		}
		buttons = append(buttons, t.Button("faq:all", "faq.menu.all", nil))
		t.SayT("faq.cat."+c.ID+".prompt", nil, buttons...)
	default:
		topic := d.k.Topic(arg)
		if topic == nil || topic.Action() {
			d.menu(t, "faq.menu.unknown")
			return nil
		}
		d.answer(t, topic)
	}
	return nil
}

// Continue implements bot.Dialog. The FAQ is one-shot, so it is never the
// active dialog; text goes to the Understander.
func (d *Dialog) Continue(context.Context, *bot.Turn) error { return bot.ErrNotUnderstood }

// Prompt implements bot.Dialog: a one-shot dialog has no question to ask
// again.
func (d *Dialog) Prompt(context.Context, *bot.Turn) error { return nil }

func (d *Dialog) menu(t *bot.Turn, id string) {
	buttons := make([]bot.Button, 0, len(d.k.Categories))
	for _, c := range d.k.Categories {
		buttons = append(buttons, t.Button("faq:cat."+c.ID, "faq.cat."+c.ID+".label", nil))
	}
	t.SayT(id, nil, buttons...)
}

// topicButton is the button that opens topic: its FAQ answer, or the action
// dialog's own entry.
func (d *Dialog) topicButton(t *bot.Turn, topic *Topic) bot.Button {
	if topic.Action() {
		return t.Button(topic.Button, labelID(topic.ID), nil)
	}
	return t.Button("faq:"+topic.ID, labelID(topic.ID), nil)
}

func (d *Dialog) answer(t *bot.Turn, topic *Topic) {
	buttons := make([]bot.Button, 0, len(topic.Follow)+1)
	for _, id := range topic.Follow {
		buttons = append(buttons, d.topicButton(t, d.k.Topic(id)))
	}
	if topic.ID == OtherLanguage {
		// Whatever language the conversation has, say it in both.
		cat, data := t.Catalog(), d.data(t, topic)
		t.Say(cat.Text(locale.Italian, answerID(topic.ID), data)+"\n\n"+cat.Text(locale.English, answerID(topic.ID), data),
			bot.Button{ID: "lang:it", Label: cat.Text(locale.Italian, "language.name", nil)},
			bot.Button{ID: "lang:en", Label: cat.Text(locale.English, "language.name", nil)})
		return
	}
	if !topic.Weak {
		buttons = append(buttons, t.Button("faq:all", "faq.menu.more", nil))
	}
	id := answerID(topic.ID)
	if topic.ID == "non_residents" {
		id = fmt.Sprintf("faq.%s.%s", topic.ID, d.c.NonResidents)
	}
	// Optional parts (walk-ins, confirmation) may leave a blank line.
	t.Say(strings.TrimSpace(t.T(id, d.data(t, topic))), buttons...)
}

func labelID(topic string) string  { return "faq." + topic + ".label" }
func answerID(topic string) string { return "faq." + topic + ".answer" }
