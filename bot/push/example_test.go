package push_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"sportello/bot"
	"sportello/bot/push"
	"sportello/bot/store/boltstore"
)

// consoleSender prints each pushed reply as a JSON line, as the terminal
// chat does.
type consoleSender struct{ done func() }

func (c consoleSender) Push(ctx context.Context, conv bot.Conversation, replies []bot.Reply) error {
	for _, r := range replies {
		line, _ := json.Marshal(map[string]bot.Reply{"push": r})
		fmt.Println(string(line))
	}
	c.done()
	return nil
}

// An Outbox enqueues a push; the Deliverer of the process serving the
// channel hands it to the channel's Sender.
func Example() {
	dir, _ := os.MkdirTemp("", "push-example")
	defer os.RemoveAll(dir)
	st, err := boltstore.Open(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	ctx, stop := context.WithCancel(context.Background())
	d, err := push.NewDeliverer(st, map[string]push.Sender{"console": consoleSender{done: stop}})
	if err != nil {
		fmt.Println(err)
		return
	}
	outbox := push.NewOutbox(st, push.WithKicker(d))
	err = outbox.Send(ctx, "confirm:ABC123", bot.Conversation{Channel: "console", User: "local"},
		[]bot.Reply{{Text: "Please confirm your appointment", Buttons: []bot.Button{{ID: "booking:confirm:ABC123", Label: "Confirm"}}}},
		push.ExpiresAt(time.Now().Add(time.Hour)))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = d.Run(ctx)
	// Output: {"push":{"text":"Please confirm your appointment","buttons":[{"id":"booking:confirm:ABC123","label":"Confirm"}]}}
}
