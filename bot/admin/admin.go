// Package admin is the staff API of the registry office: the offices, and
// one office's appointments of a day, as JSON or CSV. It is documented in
// deploy/admin-openapi.yaml (a test keeps the two in step).
//
// Every request needs "Authorization: Bearer <SPORTELLO_ADMIN_TOKEN>". With
// no token configured the API is disabled and answers 503 to everything: it
// is never open.
//
// Fiscal codes are masked by default ("RSS***********1U"): lists end up
// printed, mailed and in spreadsheets, and personal data shown to operators
// is masked. ?fiscal_codes=plain is the explicit opt-in for the office's own
// work (checking residence in ANPR, asking a non-resident's Comune for the
// nulla osta, preparing the CIE application before the citizen arrives);
// each such request is logged as a fact (office, day, how many codes,
// format, caller address), never with the codes themselves. Everything sits
// behind the admin token, is sent with Cache-Control: no-store, and the
// calendar deletes the data pii_retention_days after the appointment. Names
// are always shown: the desk calls people by name.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sportello/bot/booking"
	"sportello/bot/codicefiscale"
	"sportello/bot/comune"
	"sportello/bot/store"
)

// MinTokenLength is the shortest SPORTELLO_ADMIN_TOKEN accepted.
const MinTokenLength = 16

// Routes are the API's routes, as ServeMux patterns.
func Routes() []string {
	return []string{
		"GET /api/v1/offices",
		"GET /api/v1/offices/{id}/appointments",
	}
}

// Config wires the handler.
type Config struct {
	// Token is SPORTELLO_ADMIN_TOKEN; "" disables the API.
	Token   string
	Service *booking.Service
	Logger  *slog.Logger
	Now     func() time.Time
}

// Handler serves the staff API under /api/v1/. Mount it on the service's
// mux with mux.Handle("/api/v1/", h).
type Handler struct {
	cfg   Config
	c     *comune.Comune
	token [sha256.Size]byte
	mux   *http.ServeMux
	log   *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// New checks cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("admin: Service is required")
	}
	if cfg.Token != "" && len(cfg.Token) < MinTokenLength {
		return nil, fmt.Errorf("admin: SPORTELLO_ADMIN_TOKEN must be at least %d characters (or unset to disable the staff API)", MinTokenLength)
	}
	if strings.TrimSpace(cfg.Token) != cfg.Token {
		return nil, errors.New("admin: SPORTELLO_ADMIN_TOKEN must not start or end with spaces")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, c: cfg.Service.Comune(), log: cfg.Logger, mux: http.NewServeMux()}
	h.token = sha256.Sum256([]byte(cfg.Token))
	h.mux.HandleFunc("GET /api/v1/offices", h.offices)
	h.mux.HandleFunc("GET /api/v1/offices/{id}/appointments", h.appointments)
	// Same paths, other methods: 405 in the API's own error format.
	h.mux.HandleFunc("/api/v1/offices", methodNotAllowed)
	h.mux.HandleFunc("/api/v1/offices/{id}/appointments", methodNotAllowed)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: see deploy/admin-openapi.yaml")
	})
	return h, nil
}

// Enabled reports whether a token is configured.
func (h *Handler) Enabled() bool { return h.cfg.Token != "" }

// ServeHTTP checks the token, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !h.Enabled() {
		writeError(w, http.StatusServiceUnavailable, "disabled", "the staff API is disabled: SPORTELLO_ADMIN_TOKEN is not set")
		return
	}
	if !h.authorized(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized checks the bearer token in constant time (hashes of equal
// length, so not even the token's length leaks) and answers 401 otherwise.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	const realm = `Bearer realm="sportello-admin"`
	scheme, given, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(given) == "" {
		w.Header().Set("WWW-Authenticate", realm)
		writeError(w, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token>")
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(given)))
	if subtle.ConstantTimeCompare(sum[:], h.token[:]) != 1 {
		h.log.Warn("admin api: wrong token", slog.String("remote_addr", r.RemoteAddr), slog.String("path", r.URL.Path))
		w.Header().Set("WWW-Authenticate", realm+`, error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", "the token is not valid")
		return false
	}
	return true
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "only GET is allowed here")
}

// Office is one office in GET /api/v1/offices.
type Office struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Address     string   `json:"address"`
	Phone       string   `json:"phone"`
	SlotMinutes int      `json:"slot_minutes"`
	Desks       int      `json:"desks"`
	WalkIn      []string `json:"walk_in"`
}

// Offices is the answer of GET /api/v1/offices.
type Offices struct {
	Comune   string   `json:"comune"`
	Timezone string   `json:"timezone"`
	Offices  []Office `json:"offices"`
}

func (h *Handler) offices(w http.ResponseWriter, r *http.Request) {
	format, ok := negotiate(w, r)
	if !ok {
		return
	}
	out := Offices{Comune: h.c.Name, Timezone: h.c.Timezone, Offices: []Office{}}
	for _, o := range h.c.Offices {
		walkIn := append([]string{}, o.WalkIn...)
		out.Offices = append(out.Offices, Office{ID: o.ID, Name: o.Name, Address: o.Address, Phone: o.Phone,
			SlotMinutes: o.SlotMinutes, Desks: o.Desks, WalkIn: walkIn})
	}
	if format == "json" {
		writeJSON(w, out)
		return
	}
	rows := [][]string{{"id", "name", "address", "phone", "slot_minutes", "desks", "walk_in"}}
	for _, o := range out.Offices {
		rows = append(rows, []string{o.ID, o.Name, o.Address, o.Phone, strconv.Itoa(o.SlotMinutes), strconv.Itoa(o.Desks), strings.Join(o.WalkIn, " ")})
	}
	writeCSV(w, "offices.csv", rows)
}

// Appointment is one booking in an office's day.
type Appointment struct {
	Code  string    `json:"code"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Time is the start as the desk reads it ("08:30", Comune time).
	Time        string     `json:"time"`
	Status      string     `json:"status"`
	Active      bool       `json:"active"`
	Reason      string     `json:"reason"`
	Name        string     `json:"name"`
	FiscalCode  string     `json:"fiscal_code"`
	NonResident bool       `json:"non_resident"`
	Language    string     `json:"language"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmBy   *time.Time `json:"confirm_by,omitempty"`
}

// Day is the answer of GET /api/v1/offices/{id}/appointments.
type Day struct {
	Office   string `json:"office"`
	Date     string `json:"date"`
	Timezone string `json:"timezone"`
	Open     bool   `json:"open"`
	// Hours are the day's opening hours ("08:30-12:30").
	Hours []string `json:"hours"`
	// ClosedReason says why the office is closed that day, when it is.
	ClosedReason string `json:"closed_reason,omitempty"`
	// Capacity is the number of appointments the day can take; Booked
	// how many places are held.
	Capacity     int           `json:"capacity"`
	Booked       int           `json:"booked"`
	Appointments []Appointment `json:"appointments"`
}

func (h *Handler) appointments(w http.ResponseWriter, r *http.Request) {
	format, ok := negotiate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	o := h.c.Office(r.PathValue("id"))
	if o == nil {
		writeError(w, http.StatusNotFound, "unknown_office", fmt.Sprintf("no office with id %q: see GET /api/v1/offices", r.PathValue("id")))
		return
	}
	day, err := h.date(q.Get("date"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_date", err.Error())
		return
	}
	status := q.Get("status")
	if status != "" && status != "active" && status != "all" {
		writeError(w, http.StatusBadRequest, "bad_status", "status must be active (the default) or all")
		return
	}
	mask := true
	switch q.Get("fiscal_codes") {
	case "", "masked":
	case "plain":
		mask = false
	default:
		writeError(w, http.StatusBadRequest, "bad_fiscal_codes", "fiscal_codes must be masked (the default) or plain")
		return
	}

	bookings, err := h.cfg.Service.Appointments(r.Context(), o.ID, day)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := Day{Office: o.ID, Date: day.Format(time.DateOnly), Timezone: h.c.Timezone, Hours: []string{}, Appointments: []Appointment{}}
	d := h.c.Day(o, day)
	out.Open = d.Open()
	for _, p := range d.Periods {
		out.Hours = append(out.Hours, p.String())
	}
	switch {
	case d.Closure != nil:
		out.ClosedReason = d.Closure.Reason.In("it")
		if out.ClosedReason == "" {
			out.ClosedReason = "closure"
		}
	case d.Holiday != "":
		out.ClosedReason = "holiday: " + d.Holiday
	case !d.Open():
		out.ClosedReason = "no opening hours"
	}
	out.Capacity = len(h.c.Slots(o, day)) * o.Desks
	for _, b := range bookings {
		if b.Status.Active() {
			out.Booked++
		}
		if status != "all" && !b.Status.Active() {
			continue
		}
		a := Appointment{
			Code: b.Code, Start: b.Start.In(h.c.Location()), End: b.Start.Add(time.Duration(o.SlotMinutes) * time.Minute).In(h.c.Location()),
			Time: b.Start.In(h.c.Location()).Format("15:04"), Status: string(b.Status), Active: b.Status.Active(),
			Reason: string(b.Reason), Name: b.Name, FiscalCode: b.FiscalCode, NonResident: b.NonResident, Language: b.Lang,
			CreatedAt: b.CreatedAt.In(h.c.Location()),
		}
		if mask {
			a.FiscalCode = codicefiscale.Mask(a.FiscalCode)
		}
		if !b.ConfirmBy.IsZero() {
			by := b.ConfirmBy.In(h.c.Location())
			a.ConfirmBy = &by
		}
		out.Appointments = append(out.Appointments, a)
	}
	if !mask {
		h.log.Info("admin api: plain fiscal codes shown", slog.String("office", o.ID), slog.String("date", out.Date),
			slog.Int("count", len(out.Appointments)), slog.String("format", format), slog.String("remote_addr", r.RemoteAddr))
	}
	if format == "json" {
		writeJSON(w, out)
		return
	}
	rows := [][]string{{"code", "date", "time", "end", "status", "reason", "name", "fiscal_code", "non_resident", "language", "confirm_by"}}
	for _, a := range out.Appointments {
		by := ""
		if a.ConfirmBy != nil {
			by = a.ConfirmBy.Format(time.RFC3339)
		}
		rows = append(rows, []string{a.Code, out.Date, a.Time, a.End.Format("15:04"), a.Status, a.Reason, a.Name, a.FiscalCode,
			strconv.FormatBool(a.NonResident), a.Language, by})
	}
	writeCSV(w, "appointments-"+o.ID+"-"+out.Date+".csv", rows)
}

// date reads ?date= (YYYY-MM-DD, default today) as midnight in the
// Comune's time zone.
func (h *Handler) date(s string) (time.Time, error) {
	loc := h.c.Location()
	if s == "" {
		now := h.cfg.Now().In(loc)
		return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc), nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil || len(s) != len(time.DateOnly) {
		return time.Time{}, fmt.Errorf("date %q must be a calendar day written YYYY-MM-DD, like 2026-12-01", truncate(s, 40))
	}
	if d.Year() < 2000 || d.Year() > 2200 {
		return time.Time{}, fmt.Errorf("date %q is out of range", s)
	}
	return d, nil
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		h.log.Warn("admin api: calendar unavailable", slog.String("path", r.URL.Path), slog.Any("error", err))
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the calendar is not reachable right now; retry shortly")
		return
	}
	h.log.Error("admin api: failed", slog.String("path", r.URL.Path), slog.Any("error", err))
	writeError(w, http.StatusInternalServerError, "internal", "internal error")
}

// negotiate picks JSON or CSV: ?format= first, then the Accept header,
// where text/csv wins only when it is preferred over JSON. A request that
// accepts neither gets 406.
func negotiate(w http.ResponseWriter, r *http.Request) (string, bool) {
	switch f := r.URL.Query().Get("format"); f {
	case "json", "csv":
		return f, true
	case "":
	default:
		writeError(w, http.StatusBadRequest, "bad_format", "format must be json or csv")
		return "", false
	}
	accept := strings.TrimSpace(r.Header.Get("Accept"))
	if accept == "" {
		return "json", true
	}
	qJSON, qCSV := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		switch mt {
		case "application/json", "application/*":
			qJSON = max(qJSON, q)
		case "text/csv", "text/*":
			qCSV = max(qCSV, q)
		case "*/*":
			qJSON, qCSV = max(qJSON, q), max(qCSV, q)
		}
	}
	switch {
	case qCSV > qJSON && qCSV > 0:
		return "csv", true
	case qJSON > 0:
		return "json", true
	}
	writeError(w, http.StatusNotAcceptable, "not_acceptable", "this API answers application/json or text/csv")
	return "", false
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeCSV writes rows as RFC 4180 CSV. Cells a spreadsheet would run as a
// formula (=, +, -, @ first) get a leading apostrophe: names are typed by
// citizens.
func writeCSV(w http.ResponseWriter, filename string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	for i, row := range rows {
		if i > 0 {
			for j, cell := range row {
				row[j] = defuse(cell)
			}
		}
		_ = cw.Write(row)
	}
	cw.Flush()
}

func defuse(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// Error is the body of every error answer.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong: a stable code and a message for people.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Error{Error: ErrorBody{Code: code, Message: message}})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
