package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"sportello/bot"
	"sportello/bot/booking"
)

// The linearizability check records a history of concurrent book, cancel
// and move operations made directly on a Store and asks porcupine whether
// some sequential order of them explains every result, against a model of
// the calendar: a slot holds at most its capacity, a cancel frees a place, a
// move takes the new place and frees the old one in one step.
//
// The slots come in small groups and a booking only ever moves within its
// group, so groups are independent and the history is partitioned per group
// (porcupine's Partition), which keeps the check fast.
const (
	linGroupSlots = 3
	linCapacity   = 2
)

// linInput is one operation of the history.
type linInput struct {
	Group int
	Kind  string // book, cancel, move
	Code  string
	Slot  int // book: the slot; move: the target
}

// linState is the model's state for one group.
type linState struct {
	count [linGroupSlots]int
	where map[string]int // active code -> slot
}

func (s linState) with(code string, slot int) linState {
	n := linState{count: s.count, where: make(map[string]int, len(s.where)+1)}
	for k, v := range s.where {
		n.where[k] = v
	}
	if old, ok := n.where[code]; ok {
		n.count[old]--
		delete(n.where, code)
	}
	if slot >= 0 {
		n.where[code] = slot
		n.count[slot]++
	}
	return n
}

// bookingModel is the sequential specification of the calendar.
func bookingModel() porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			groups := map[int][]porcupine.Operation{}
			for _, op := range history {
				g := op.Input.(linInput).Group
				groups[g] = append(groups[g], op)
			}
			keys := make([]int, 0, len(groups))
			for g := range groups {
				keys = append(keys, g)
			}
			sort.Ints(keys)
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, g := range keys {
				out = append(out, groups[g])
			}
			return out
		},
		Init: func() any { return linState{where: map[string]int{}} },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(linState), input.(linInput), output.(string)
			slot, active := s.where[in.Code]
			switch in.Kind {
			case "book":
				if active {
					return false, s
				}
				if s.count[in.Slot] < linCapacity {
					return out == "ok", s.with(in.Code, in.Slot)
				}
				return out == "taken", s
			case "cancel":
				if !active {
					return out == "notfound" || out == "inactive", s
				}
				return out == "ok", s.with(in.Code, -1)
			case "move":
				switch {
				case !active:
					return out == "notfound" || out == "inactive", s
				case slot == in.Slot:
					return out == "ok", s
				case s.count[in.Slot] < linCapacity:
					return out == "ok", s.with(in.Code, in.Slot)
				}
				return out == "taken", s
			}
			return false, s
		},
		Equal: func(a, b any) bool {
			x, y := a.(linState), b.(linState)
			if x.count != y.count || len(x.where) != len(y.where) {
				return false
			}
			for k, v := range x.where {
				if w, ok := y.where[k]; !ok || w != v {
					return false
				}
			}
			return true
		},
		DescribeOperation: func(input, output any) string {
			in := input.(linInput)
			return fmt.Sprintf("%s(%s, %d) -> %v", in.Kind, in.Code, in.Slot, output)
		},
	}
}

// linSlot is the start of slot i of group g.
func linSlot(g, i int) time.Time {
	return T0.Add(time.Duration(g*linGroupSlots+i) * 30 * time.Minute).UTC()
}

func linLimits() booking.Limits {
	return booking.Limits{
		Now: T0, Capacity: linCapacity, MaxActive: 1 << 20, MaxActiveConv: 1 << 20,
		RateLimit: 1 << 30, RateWindow: time.Hour, IdempotencyTTL: time.Hour,
		OfferAt: T0, OfferUntil: T0.Add(15 * time.Minute), OfferFrom: T0.AddDate(10, 0, 0), Retention: 30 * 24 * time.Hour,
		Capacities: map[string]int{"centrale": linCapacity},
	}
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, booking.ErrSlotTaken):
		return "taken"
	case errors.Is(err, booking.ErrNotFound):
		return "notfound"
	case errors.Is(err, booking.ErrNotActive):
		return "inactive"
	}
	return "error: " + err.Error()
}

// History runs ops operations from workers goroutines spread over the
// handles and returns the recorded history. Each worker owns the bookings
// it makes; it books into a random group, and cancels or moves (within the
// group) one of its own active bookings.
func History(t testing.TB, handles []booking.Store, groups, workers, ops int) []porcupine.Operation {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	clock := func() int64 { return int64(time.Since(start)) }
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := handles[w%len(handles)]
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			mine := map[string]int{} // active code -> group
			var codes []string
			for i := range ops / workers {
				var in linInput
				switch k := rng.IntN(4); {
				case k < 2 || len(codes) == 0:
					g := rng.IntN(groups)
					in = linInput{Group: g, Kind: "book", Code: fmt.Sprintf("W%03dN%05d", w, i), Slot: rng.IntN(linGroupSlots)}
				default:
					code := codes[rng.IntN(len(codes))]
					in = linInput{Group: mine[code], Kind: "cancel", Code: code}
					if k == 3 {
						in.Kind, in.Slot = "move", rng.IntN(linGroupSlots)
					}
				}
				lim := linLimits()
				call := clock()
				var err error
				switch in.Kind {
				case "book":
					slot := linSlot(in.Group, in.Slot)
					b := &booking.Booking{
						Code: in.Code, Office: "centrale", Start: slot, Reason: booking.ReasonRenewal,
						Status: booking.StatusBooked, Person: in.Code, Conv: bot.Conversation{Channel: "lin", User: in.Code},
						PurgeAt: slot.Add(lim.Retention),
					}
					_, err = st.Insert(ctx, b, lim)
				case "cancel":
					_, err = st.End(ctx, in.Code, booking.StatusCancelled, lim)
				case "move":
					slot := linSlot(in.Group, in.Slot)
					_, err = st.Move(ctx, in.Code, booking.Slot{Office: "centrale", Start: slot},
						booking.Plan{Status: booking.StatusBooked, PurgeAt: slot.Add(lim.Retention)}, lim)
				}
				ret := clock()
				out := outcome(err)
				if strings.HasPrefix(out, "error") {
					t.Errorf("%s %s: %v", in.Kind, in.Code, err)
					return
				}
				switch {
				case in.Kind == "book" && out == "ok":
					mine[in.Code] = in.Group
					codes = append(codes, in.Code)
				case in.Kind == "cancel" && out == "ok":
					delete(mine, in.Code)
					for j, c := range codes {
						if c == in.Code {
							codes = append(codes[:j], codes[j+1:]...)
							break
						}
					}
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: w, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return history
}

// CheckHistory checks a history against the model of the calendar.
func CheckHistory(history []porcupine.Operation, timeout time.Duration) porcupine.CheckResult {
	return porcupine.CheckOperationsTimeout(bookingModel(), history, timeout)
}

// CheckThenAct wraps a Store with the classic mistake this package must
// never make: it reads how many places a slot has left, and only then,
// in another step, books or moves without the Store checking capacity. It
// exists to show that the linearizability check catches such a bug.
func CheckThenAct(st booking.Store) booking.Store { return checkThenAct{st} }

type checkThenAct struct{ booking.Store }

func (c checkThenAct) full(ctx context.Context, slot booking.Slot, capacity int) (bool, error) {
	taken, err := c.Taken(ctx, slot.Office, slot.Start, slot.Start.Add(time.Minute))
	runtime.Gosched() // the gap between the check and the act
	return taken[slot.Start.Unix()/60] >= capacity, err
}

func (c checkThenAct) Insert(ctx context.Context, b *booking.Booking, lim booking.Limits) (*booking.Booking, error) {
	if full, err := c.full(ctx, b.Slot(), lim.Capacity); err != nil || full {
		return nil, errors.Join(err, booking.ErrSlotTaken)
	}
	lim.Capacity = 1 << 30
	return c.Store.Insert(ctx, b, lim)
}

func (c checkThenAct) Move(ctx context.Context, code string, to booking.Slot, p booking.Plan, lim booking.Limits) (*booking.Result, error) {
	if full, err := c.full(ctx, to, lim.Capacity); err != nil || full {
		return nil, errors.Join(err, booking.ErrSlotTaken)
	}
	lim.Capacity = 1 << 30
	return c.Store.Move(ctx, code, to, p, lim)
}

// RunLinearizable checks a recorded history of ops concurrent operations on
// handles onto one fresh data set, and that the same check reports the
// broken check-then-act version as not linearizable.
func RunLinearizable(t *testing.T, fresh BookingFresh, ops int) {
	t.Run("Atomic", func(t *testing.T) {
		open := fresh(t)
		handles := []booking.Store{open(), open(), open(), open()}
		t0 := time.Now()
		history := History(t, handles, ops/60, 32, ops)
		if len(history) < ops {
			t.Fatalf("history has %d operations, want %d", len(history), ops)
		}
		t1 := time.Now()
		if got := CheckHistory(history, 2*time.Minute); got != porcupine.Ok {
			t.Fatalf("history of %d operations: %s, want Ok (linearizable)", len(history), got)
		}
		t.Logf("%d operations recorded in %s, checked in %s", len(history), t1.Sub(t0), time.Since(t1))
	})
	t.Run("BrokenCheckThenActIsCaught", func(t *testing.T) {
		open := fresh(t)
		var handles []booking.Store
		for range 4 {
			handles = append(handles, CheckThenAct(open()))
		}
		// Few groups: many bookers per slot, so the gap is hit.
		history := History(t, handles, 4, 32, 2000)
		if got := CheckHistory(history, 2*time.Minute); got != porcupine.Illegal {
			t.Fatalf("broken check-then-act history: %s, want Illegal", got)
		}
	})
}
