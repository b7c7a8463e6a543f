package boltstore

import (
	"context"
	"crypto/rand"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var bucketSecret = []byte("secret")

// Secret returns the secret called name, creating a random one of n bytes the
// first time and keeping it in the database file.
func (s *Store) Secret(_ context.Context, name string, n int) ([]byte, error) {
	var out []byte
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSecret)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(name)); v != nil {
			out = append([]byte(nil), v...)
			return nil
		}
		out = make([]byte, n)
		_, _ = rand.Read(out)
		return b.Put([]byte(name), out)
	})
	if err != nil {
		return nil, s.wrap("secret", err)
	}
	if len(out) < n {
		return nil, fmt.Errorf("bolt: secret %s is %d bytes, want at least %d", name, len(out), n)
	}
	return out, nil
}
