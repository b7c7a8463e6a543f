package redisstore_test

import (
	"testing"

	"sportello/bot/booking"
	"sportello/bot/store/redistest"
	"sportello/bot/store/storetest"
)

func TestBookingConformance(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunBooking(t, func(t *testing.T) func() booking.Store {
		prefix := redistest.Prefix(t, url)
		return func() booking.Store { return open(t, url, prefix) }
	})
}

func TestBookingLinearizable(t *testing.T) {
	url := redistest.URL(t)
	storetest.RunLinearizable(t, func(t *testing.T) func() booking.Store {
		prefix := redistest.Prefix(t, url)
		return func() booking.Store { return open(t, url, prefix) }
	}, 12000)
}
