package fakeapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// control serves the /_fake/ endpoints a test drives a fake process with:
//
//	POST /_fake/text     {"user":{...},"text":"...","reply_to":0}  -> {"update_id":N}
//	POST /_fake/press    {"user":{...},"message_id":N,"data":"..."} -> {"update_id":N} | 409
//	POST /_fake/member   {"user":{...},"status":"kicked"|"member"}  -> {"update_id":N}
//	POST /_fake/block    {"chat":N,"blocked":true}
//	POST /_fake/fail     {"method":"sendMessage","chat":0,"code":429,"description":"...","retry_after":1,"times":1}
//	GET  /_fake/calls?after=N&wait_ms=M     -> {"calls":[...],"total":T} (waits for one after N)
//	GET  /_fake/messages?chat=N&min=K&wait_ms=M -> {"messages":[...]} (waits for K bot messages)
//	GET  /_fake/webhook                     -> {"url":"...","allowed_updates":[...]}
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User       User   `json:"user"`
		Text       string `json:"text"`
		ReplyTo    int    `json:"reply_to"`
		MessageID  int    `json:"message_id"`
		Data       string `json:"data"`
		Status     string `json:"status"`
		Chat       int64  `json:"chat"`
		Blocked    bool   `json:"blocked"`
		Method     string `json:"method"`
		Code       int    `json:"code"`
		Desc       string `json:"description"`
		RetryAfter int    `json:"retry_after"`
		Times      int    `json:"times"`
	}
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	}
	q := r.URL.Query()
	wait := time.Duration(atoi(q.Get("wait_ms"))) * time.Millisecond
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	switch r.URL.Path {
	case "/_fake/text":
		writeJSON(w, http.StatusOK, map[string]int64{"update_id": s.TextReplying(req.User, req.Text, req.ReplyTo)})
	case "/_fake/press":
		id, err := s.Press(req.User, req.MessageID, req.Data)
		if err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"update_id": id})
	case "/_fake/member":
		writeJSON(w, http.StatusOK, map[string]int64{"update_id": s.Member(req.User, req.Status)})
	case "/_fake/block":
		s.Block(req.Chat, req.Blocked)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case "/_fake/fail":
		s.Fail(req.Method, req.Chat, req.Code, req.Desc, req.RetryAfter, req.Times)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case "/_fake/calls":
		after := atoi(q.Get("after"))
		_ = s.Wait(ctx, func(s *Server) bool { return len(s.calls) > after })
		calls := s.Calls()
		total := len(calls)
		if after < len(calls) {
			calls = calls[after:]
		} else {
			calls = nil
		}
		writeJSON(w, http.StatusOK, map[string]any{"calls": calls, "total": total})
	case "/_fake/messages":
		chat, _ := strconv.ParseInt(q.Get("chat"), 10, 64)
		want := atoi(q.Get("min"))
		err := s.Wait(ctx, func(s *Server) bool { return len(s.BotMessagesLocked(chat)) >= want })
		status := http.StatusOK
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusRequestTimeout
		}
		writeJSON(w, status, map[string]any{"messages": s.Messages(chat)})
	case "/_fake/webhook":
		url, _, allowed := s.Webhook()
		writeJSON(w, http.StatusOK, map[string]any{"url": url, "allowed_updates": allowed})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown control endpoint"})
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
