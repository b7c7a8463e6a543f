package bot

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestStoredRepliesKeepAttachmentBytes(t *testing.T) {
	in := StoredReplies{
		{Text: "a", Buttons: []Button{{ID: "x:y", Label: "Y"}}},
		{Text: "b", Attachments: []Attachment{{Name: "f.ics", ContentType: "text/calendar", Data: []byte("BEGIN:VCALENDAR\x00\xff")}}},
		{Text: ""},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out StoredReplies
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("Got(round trip) = %+v, want %+v", out, in)
	}
	// Reply's own JSON (what channels and scripts see) leaves the bytes out.
	plain, _ := json.Marshal(in[1])
	if string(plain) != `{"text":"b","attachments":[{"name":"f.ics","content_type":"text/calendar"}]}` {
		t.Errorf("Got(Reply JSON) = %s", plain)
	}
}
