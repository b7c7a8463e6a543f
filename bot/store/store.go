// Package store holds what every state backend shares: the lease a turn works
// under, the write it commits, and the errors callers check with errors.Is.
//
// A backend keeps, per conversation key, two opaque blobs: the session (the
// conversation in progress, expiring after a short idle time) and the profile
// (what outlives a session: the citizen's language and subscriptions). The
// engine decides what the blobs contain; backends only make the access safe.
//
// Concurrency contract, kept by every backend and checked by storetest:
//   - Acquire takes a per-conversation lease and loads both blobs in one step.
//     While the lease is held, Acquire for the same key waits.
//   - Commit writes and releases in one atomic step. It succeeds only if the
//     lease is still ours, or nobody took it after it expired and the session
//     is unchanged since we loaded it. Otherwise it fails with ErrLeaseLost
//     and writes nothing, so no update is ever lost.
package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

var (
	// ErrUnavailable wraps every failure to reach the backing store
	// (connection refused, timeout, server loading). Callers answer the
	// citizen with a "try again shortly" message and keep no partial state.
	ErrUnavailable = errors.New("state store unavailable")
	// ErrLeaseLost means another worker changed the conversation after our
	// lease expired; the commit wrote nothing.
	ErrLeaseLost = errors.New("conversation lease lost")
	// ErrBusy means the lease could not be obtained before the context's
	// deadline because another worker kept it.
	ErrBusy = errors.New("conversation busy")
	// ErrClosed is returned by a store after Close.
	ErrClosed = errors.New("state store closed")
)

// Lease is a held per-conversation lock together with the state loaded under
// it. Session and Profile are nil when absent or expired.
type Lease struct {
	Key     string
	Token   string
	Version int64 // session version when loaded; 0 when there was none
	Session []byte
	Profile []byte
	Expires time.Time
}

// Write is what a turn commits. An empty Session deletes the session; a nil
// Profile leaves the stored profile as it is.
type Write struct {
	Session    []byte
	SessionTTL time.Duration
	Profile    []byte
	ProfileTTL time.Duration
}

// NewToken returns a random lease token.
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Backoff returns how long to wait before the n-th retry (n from 0) of a
// contended lease: short first, capped, and never longer than the time left
// on the lease holder's lock.
func Backoff(n int, lockLeft time.Duration) time.Duration {
	d := time.Millisecond << min(n, 6) // 1ms .. 64ms
	if lockLeft > 0 && lockLeft < d {
		d = lockLeft
	}
	return d
}
