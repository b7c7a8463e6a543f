package booking_test

import (
	"fmt"
	"testing"

	"sportello/bot/codicefiscale"
)

// fiscalCode returns a valid, distinct fiscal code for n (a different
// place-of-birth number and surname letters for each n).
func fiscalCode(n int) string {
	letters := "BCDFGHLMNPRSTVZ"
	first := fmt.Sprintf("%c%c%cMRA80A01H%03d", letters[n%15], letters[(n/15)%15], letters[(n/225)%15], n%1000)
	return first + string(codicefiscale.CheckChar(first))
}

// benchmarkBookAndCancel runs one citizen's whole conversation per
// iteration through the engine: open the booking, reason, office, day, time,
// name, fiscal code, residence, confirm (the .ics included), then list the
// appointments and cancel with its confirmation step: 14 turns.
func benchmarkBookAndCancel(b *testing.B, opts ...option) {
	h := newHarness(b, opts...)
	b.ResetTimer()
	for i := range b.N {
		user := fmt.Sprintf("bench-%d", i)
		h.toName(user, "renewal", "centrale")
		h.text(user, "Mario Rossi")
		// The generated codes do not match the name: one more turn.
		h.press(user, button(b, h.text(user, fiscalCode(i)), "book:cf:ok"))
		h.press(user, "book:res:yes")
		r := h.press(user, "book:confirm")
		attachment(b, r)
		r = h.text(user, "/appuntamenti")
		h.press(user, button(b, r, "appointments:cancel:"))
		contains(b, h.press(user, "appointments:cancel:yes"), "annullato")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*14)/1e3, "µs/turn")
}

func BenchmarkBookAndCancelBolt(b *testing.B)  { benchmarkBookAndCancel(b) }
func BenchmarkBookAndCancelRedis(b *testing.B) { benchmarkBookAndCancel(b, onRedis()) }

func TestBenchFiscalCodesAreValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := range 3000 {
		cf := fiscalCode(i)
		if !codicefiscale.Valid(cf) || seen[cf] {
			t.Fatalf("Got(fiscalCode(%d)) = %s, invalid or repeated", i, cf)
		}
		seen[cf] = true
	}
}
