package redisstore

import (
	"context"
	"crypto/rand"
	"fmt"
)

// Secret returns the secret called name, creating a random one of n bytes the
// first time. Every replica gets the same value: the first writer wins.
func (s *Store) Secret(ctx context.Context, name string, n int) ([]byte, error) {
	key := s.prefix + ":secret:" + name
	fresh := make([]byte, n)
	_, _ = rand.Read(fresh)
	if _, err := s.rdb.SetNX(ctx, key, fresh, 0).Result(); err != nil {
		return nil, s.wrap(ctx, "secret", err)
	}
	v, err := s.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, s.wrap(ctx, "secret", err)
	}
	if len(v) < n {
		return nil, fmt.Errorf("redis: secret %s is %d bytes, want at least %d", name, len(v), n)
	}
	return v, nil
}
