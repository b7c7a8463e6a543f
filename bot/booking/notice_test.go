package booking

import (
	"testing"
	"time"
)

// TestNoticeIDRoundTrip: the ids of confirmation requests and offers carry
// what Delivered needs (code, kind, deadline to the minute); other notices
// and other pushes are not receipts.
func TestNoticeIDRoundTrip(t *testing.T) {
	start := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	by := time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		b        Booking
		deadline time.Time
		ok       bool
	}{
		{"confirm", Booking{Code: "K7F3QX", Start: start, Notice: NoticeConfirm, ConfirmBy: by}, by, true},
		{"offer", Booking{Code: "K7F3QX", Start: start, Notice: NoticeOffer, Until: by.Add(15 * time.Minute)}, by.Add(15 * time.Minute), true},
		{"released", Booking{Code: "K7F3QX", Start: start, Notice: NoticeReleased, ConfirmBy: by}, time.Time{}, false},
		{"waitlist expired", Booking{Code: "K7F3QX", Notice: NoticeWaitExpired}, time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := noticeID(&tc.b)
			code, kind, deadline, ok := parseNoticeID(id)
			if ok != tc.ok {
				t.Fatalf("parseNoticeID(%q) ok = %v, want %v", id, ok, tc.ok)
			}
			if ok && (code != tc.b.Code || kind != tc.b.Notice || !deadline.Equal(tc.deadline)) {
				t.Errorf("parseNoticeID(%q) = %s %s %v, want %s %s %v", id, code, kind, deadline, tc.b.Code, tc.b.Notice, tc.deadline)
			}
		})
	}
	for _, id := range []string{"", "remind:K7F3QX", "booking:K7F3QX:offer:x:zz!", "other:K7F3QX:offer:1:2", "booking:a:b:c:d:e"} {
		if _, _, _, ok := parseNoticeID(id); ok {
			t.Errorf("parseNoticeID(%q) ok, want not a receipt", id)
		}
	}
}
