package schedule_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"sportello/bot/schedule"
	"sportello/bot/store/boltstore"
)

// A producer schedules a job (here: release an unconfirmed booking at its
// deadline) and a Runner runs it when due.
func Example() {
	dir, _ := os.MkdirTemp("", "schedule-example")
	defer os.RemoveAll(dir)
	st, err := boltstore.Open(dir) // or redisstore.New(...) for several replicas
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	ctx, stop := context.WithCancel(context.Background())
	r, err := schedule.NewRunner(st, []schedule.Queue{{
		Name: "tasks",
		Handler: func(ctx context.Context, j schedule.Job) error {
			fmt.Printf("run %s (%s), attempt %d\n", j.ID, j.Payload, j.Attempt)
			stop() // the example is over
			return nil
		},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Scheduling the same ID again would replace the job: producers are idempotent.
	err = st.Schedule(ctx, schedule.Job{Queue: "tasks", ID: "release:ABC123", Due: time.Now(), Payload: []byte("booking ABC123")})
	if err != nil {
		fmt.Println(err)
		return
	}
	r.Kick("tasks") // due now: no need to wait for the next poll
	_ = r.Run(ctx)  // returns once stopped and the handler has finished
	// Output: run release:ABC123 (booking ABC123), attempt 0
}
