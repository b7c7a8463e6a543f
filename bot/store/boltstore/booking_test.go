package boltstore_test

import (
	"testing"

	"sportello/bot/booking"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/storetest"
)

func openBooking(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBookingConformance(t *testing.T) {
	storetest.RunBooking(t, func(t *testing.T) func() booking.Store {
		s := openBooking(t)
		return func() booking.Store { return s }
	})
}

func TestBookingLinearizable(t *testing.T) {
	storetest.RunLinearizable(t, func(t *testing.T) func() booking.Store {
		s := openBooking(t)
		return func() booking.Store { return s }
	}, 12000)
}
