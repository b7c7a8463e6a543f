package push

import (
	"reflect"
	"testing"
	"time"

	"sportello/bot"
)

func TestPayloadRoundTrip(t *testing.T) {
	conv := bot.Conversation{Channel: "telegram", User: "-100123"}
	expires := time.Date(2026, 12, 1, 9, 15, 0, 0, time.UTC)
	tests := []struct {
		name    string
		replies []bot.Reply
		bulk    bool
		expires time.Time
	}{
		{"text", []bot.Reply{{Text: "Ciao"}}, false, time.Time{}},
		{"buttons", []bot.Reply{{Text: "Confermi?", Buttons: []bot.Button{{ID: "booking:confirm:ABC", Label: "Sì"}}}}, false, expires},
		{"attachment", []bot.Reply{{Text: "", Attachments: []bot.Attachment{{Name: "a.ics", ContentType: "text/calendar", Data: []byte{0, 1, 0xff, '\n'}}}}}, true, time.Time{}},
		{"several", []bot.Reply{{Text: "uno"}, {Text: "due 🙂 è"}}, true, expires},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := newPayload(conv, tc.replies, tc.bulk, tc.expires).encode()
			if err != nil {
				t.Fatalf("encode = %v", err)
			}
			p, err := decodePayload(b)
			if err != nil {
				t.Fatalf("decodePayload = %v", err)
			}
			if p.conv() != conv || p.Bulk != tc.bulk || !p.expires().Equal(tc.expires) {
				t.Errorf("Got(conv, bulk, expires) = %+v, %v, %v; want %+v, %v, %v", p.conv(), p.Bulk, p.expires(), conv, tc.bulk, tc.expires)
			}
			if got := p.replies(); !reflect.DeepEqual(got, tc.replies) {
				t.Errorf("Got(replies) = %#v, want %#v", got, tc.replies)
			}
		})
	}
}

func TestDecodePayloadRejects(t *testing.T) {
	tests := map[string]string{
		"not json":        `{"v":1,`,
		"other version":   `{"v":2,"channel":"telegram","user":"1","replies":[{"text":"x"}]}`,
		"no version":      `{"channel":"telegram","user":"1","replies":[{"text":"x"}]}`,
		"bad channel":     `{"v":1,"channel":"tele:gram","user":"1","replies":[{"text":"x"}]}`,
		"no user":         `{"v":1,"channel":"telegram","replies":[{"text":"x"}]}`,
		"no replies":      `{"v":1,"channel":"telegram","user":"1","replies":[]}`,
		"bad base64 data": `{"v":1,"channel":"telegram","user":"1","replies":[{"text":"x","attachments":[{"name":"a","data":"!!"}]}]}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decodePayload([]byte(in)); err == nil {
				t.Errorf("Got(decodePayload(%s)) = nil error, want one", in)
			}
		})
	}
}

// FuzzDecodePayload: any stored bytes either decode into a push that
// encodes and decodes to the same push, or are refused; never a panic.
func FuzzDecodePayload(f *testing.F) {
	seed, _ := newPayload(bot.Conversation{Channel: "telegram", User: "1"},
		[]bot.Reply{{Text: "x", Buttons: []bot.Button{{ID: "a:b", Label: "B"}},
			Attachments: []bot.Attachment{{Name: "f", ContentType: "text/plain", Data: []byte("data")}}}},
		true, time.UnixMilli(1700000000000)).encode()
	f.Add(seed)
	f.Add([]byte(`{"v":1,"channel":"console","user":"u","replies":[{"text":""}]}`))
	f.Add([]byte(`{"v":1,"channel":"console","user":"u","replies":[{"text":"x"}],"expires":-5}`))
	f.Add([]byte(`null`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePayload(b)
		if err != nil {
			return
		}
		again, err := newPayload(p.conv(), p.replies(), p.Bulk, p.expires()).encode()
		if err != nil {
			t.Fatalf("re-encode of a decoded payload = %v", err)
		}
		q, err := decodePayload(again)
		if err != nil {
			t.Fatalf("decode of a re-encoded payload = %v", err)
		}
		if q.conv() != p.conv() || q.Bulk != p.Bulk || q.Expires != p.Expires || !reflect.DeepEqual(q.replies(), p.replies()) {
			t.Errorf("Got(round trip) = %+v, want %+v", q, p)
		}
	})
}
