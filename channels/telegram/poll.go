package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// poll is the long-polling loop. Each batch from getUpdates is recorded in
// the inbox first; only then does the next getUpdates confirm it (offset =
// last update_id + 1). A batch that cannot be recorded is asked for again,
// so no update is confirmed before it is safe.
func (c *Chan) poll() {
	defer c.poller.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var offset int64
	failures := 0
	pause := func() bool {
		failures++
		t := time.NewTimer(min(time.Duration(failures*failures)*100*time.Millisecond, 5*time.Second))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for ctx.Err() == nil {
		raws, err := c.getUpdates(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("getUpdates failed", slog.Any("error", err))
			if !pause() {
				return
			}
			continue
		}
		var items []item
		last := offset - 1
		unreadable := 0
		for _, raw := range raws {
			it, err := readHead(raw)
			if err != nil {
				// Nothing can be done with it: confirm it with the rest
				// when its update_id can be read, so it is not served
				// again and again.
				unreadable++
				id := updateID(raw)
				if id > 0 {
					last = max(last, id)
					c.metrics.update("failed", 1)
				}
				c.log.Warn("skipping an unreadable update", slog.Int64("update_id", id), slog.Any("error", err))
				continue
			}
			last = max(last, it.UpdateID)
			if it.Chat != 0 {
				items = append(items, it)
			}
		}
		if unreadable > 0 && unreadable == len(raws) && last < offset {
			// Not one update of the batch can even be identified: the
			// same batch comes again; do not ask for it in a tight loop.
			if !pause() {
				return
			}
			continue
		}
		n, err := c.inbox.add(ctx, items, c.cfg.DedupeTTL)
		if err != nil {
			// Not recorded: do not confirm; the same batch comes again.
			c.log.Warn("could not record updates; asking Telegram again", slog.Any("error", err))
			if !pause() {
				return
			}
			continue
		}
		failures = 0
		c.metrics.update("queued", n)
		c.metrics.update("duplicate", len(items)-n)
		if n > 0 {
			c.answerCallbacks(items)
		}
		c.poke(n)
		if last >= offset {
			offset = last + 1
		}
	}
}

// getUpdates is the one Bot API call made without the library: the
// library's loop confirms updates as soon as it has read them, before they
// are handled, so the poller makes the request itself.
func (c *Chan) getUpdates(ctx context.Context, offset int64) ([]json.RawMessage, error) {
	body, err := json.Marshal(map[string]any{
		"offset":          offset,
		"limit":           100,
		"timeout":         int(c.cfg.PollTimeout / time.Second),
		"allowed_updates": allowedUpdates(),
	})
	if err != nil {
		return nil, err
	}
	url := c.cfg.APIURL + "/bot" + c.cfg.Token + "/getUpdates"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("telegram: getUpdates: %s", c.redact(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.httpc.Do(req)
	if err != nil {
		// The URL holds the token: never let it reach a log.
		return nil, fmt.Errorf("telegram: getUpdates: %s", c.redact(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("telegram: getUpdates: read: %w", err)
	}
	var r struct {
		OK          bool              `json:"ok"`
		Result      []json.RawMessage `json:"result"`
		Description string            `json:"description"`
		ErrorCode   int               `json:"error_code"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("telegram: getUpdates: HTTP %d, not a Bot API answer", resp.StatusCode)
	}
	if !r.OK {
		if r.ErrorCode == http.StatusTooManyRequests && r.Parameters.RetryAfter > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(r.Parameters.RetryAfter) * time.Second):
			}
		}
		return nil, fmt.Errorf("telegram: getUpdates: %d %s", r.ErrorCode, r.Description)
	}
	return r.Result, nil
}

func (c *Chan) redact(s string) string {
	if c.cfg.Token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.Token, "***")
}
