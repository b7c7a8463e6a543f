package admin_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"sportello/bot"
	"sportello/bot/admin"
	"sportello/bot/booking"
	"sportello/bot/comune"
	"sportello/bot/store/boltstore"
	"sportello/bot/store/redisstore"
	"sportello/bot/store/redistest"
)

const token = "s3cret-token-for-tests-0123456789"

// Thursday 26 November 2026, 10:00 in Rome.
var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

func service(t *testing.T, st booking.Store) *booking.Service {
	t.Helper()
	svc, err := booking.New(booking.Config{Comune: comune.Demo(), Store: st, PIIKey: []byte("0123456789abcdef-test"), Now: clock,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func boltService(t *testing.T) *booking.Service {
	t.Helper()
	s, err := boltstore.Open(t.TempDir(), boltstore.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return service(t, s)
}

// server serves the admin handler mounted as main mounts it.
func server(t *testing.T, svc *booking.Service, tok string) *httptest.Server {
	t.Helper()
	return serverLogging(t, svc, tok, nil)
}

// serverLogging is server with the handler's log written to log.
func serverLogging(t *testing.T, svc *booking.Service, tok string, log *slog.Logger) *httptest.Server {
	t.Helper()
	h, err := admin.New(admin.Config{Token: tok, Service: svc, Now: clock, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func get(t *testing.T, srv *httptest.Server, method, path string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func errorCode(t *testing.T, r response) string {
	t.Helper()
	var e admin.Error
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Message == "" {
		t.Fatalf("error body %q is not an admin.Error: %v", r.body, err)
	}
	return e.Error.Code
}

func book(t *testing.T, svc *booking.Service, user, name, cf string, start time.Time, office string) *booking.Booking {
	t.Helper()
	b, err := svc.Book(context.Background(), booking.Request{
		Slot: booking.Slot{Office: office, Start: start}, Reason: booking.ReasonRenewal, Name: name, FiscalCode: cf,
		Conv: bot.Conversation{Channel: "test", User: user}, Lang: "it",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDisabledWithoutToken(t *testing.T) {
	srv := server(t, boltService(t), "")
	for _, path := range []string{"/api/v1/offices", "/api/v1/offices/centrale/appointments", "/api/v1/nothing"} {
		r := get(t, srv, "GET", path)
		if r.status != http.StatusServiceUnavailable || errorCode(t, r) != "disabled" {
			t.Errorf("Got(GET %s without a configured token) = %d %s, want 503 disabled", path, r.status, r.body)
		}
	}
}

func TestRefusesWeakTokens(t *testing.T) {
	svc := boltService(t)
	for _, tok := range []string{"short", "fifteen-chars!!", " padded-token-0123456789 "} {
		if _, err := admin.New(admin.Config{Token: tok, Service: svc}); err == nil {
			t.Errorf("admin.New(token %q) succeeded, want an error", tok)
		}
	}
}

func TestAuthentication(t *testing.T) {
	srv := server(t, boltService(t), token)
	tests := []struct {
		name, auth, code, challenge string
	}{
		{"no header", "", "unauthorized", `Bearer realm="sportello-admin"`},
		{"basic", "Basic dXNlcjpwYXNz", "unauthorized", `Bearer realm="sportello-admin"`},
		{"empty bearer", "Bearer ", "unauthorized", `Bearer realm="sportello-admin"`},
		{"wrong token", "Bearer " + token + "x", "invalid_token", `Bearer realm="sportello-admin", error="invalid_token"`},
		{"prefix of the token", "Bearer " + token[:10], "invalid_token", `Bearer realm="sportello-admin", error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/offices", "/api/v1/offices/centrale/appointments", "/api/v1/offices/nowhere/appointments"} {
				r := get(t, srv, "GET", path, "Authorization", tc.auth)
				if r.status != http.StatusUnauthorized || errorCode(t, r) != tc.code {
					t.Errorf("Got(GET %s) = %d %s, want 401 %s", path, r.status, r.body, tc.code)
				}
				if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("Got(WWW-Authenticate) = %q, want %q", got, tc.challenge)
				}
			}
		})
	}
	if r := get(t, srv, "GET", "/api/v1/offices", "Authorization", "bearer "+token); r.status != http.StatusOK {
		t.Errorf("Got(lower-case scheme) = %d, want 200", r.status)
	}
}

func TestOffices(t *testing.T) {
	srv := server(t, boltService(t), token)
	r := get(t, srv, "GET", "/api/v1/offices")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("Got(GET /api/v1/offices) = %d %s", r.status, r.header.Get("Content-Type"))
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Got(Cache-Control) = %q, want no-store", got)
	}
	var out admin.Offices
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Comune != "Comune di Esempio" || out.Timezone != "Europe/Rome" || len(out.Offices) != 2 {
		t.Fatalf("Got(offices) = %+v", out)
	}
	want := admin.Office{ID: "centrale", Name: "Sede centrale", Address: "Via Larga 12", SlotMinutes: 20, Desks: 3,
		WalkIn: []string{"theft", "loss", "minor_first_issue", "travel"}}
	if o := out.Offices[0]; o.ID != want.ID || o.Name != want.Name || o.Address != want.Address || o.SlotMinutes != 20 || o.Desks != 3 || !slices.Equal(o.WalkIn, want.WalkIn) {
		t.Errorf("Got(first office) = %+v, want %+v", o, want)
	}
	if out.Offices[1].WalkIn == nil {
		t.Error("walk_in is null for an office without walk-ins, want []")
	}

	for _, how := range [][]string{{"/api/v1/offices?format=csv"}, {"/api/v1/offices", "Accept", "text/csv"}} {
		r := get(t, srv, "GET", how[0], how[1:]...)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("Got(%v) = %d %s", how, r.status, r.header.Get("Content-Type"))
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 || !slices.Equal(rows[0], []string{"id", "name", "address", "phone", "slot_minutes", "desks", "walk_in"}) ||
			!slices.Equal(rows[1], []string{"centrale", "Sede centrale", "Via Larga 12", "", "20", "3", "theft loss minor_first_issue travel"}) {
			t.Errorf("Got(CSV) = %q", rows)
		}
	}
}

func TestAppointments(t *testing.T) {
	svc := boltService(t)
	var logged bytes.Buffer
	srv := serverLogging(t, svc, token, slog.New(slog.NewJSONHandler(&logged, nil)))
	// Tuesday 1 December 2026 at the centrale: 08:30 and 08:50 (Rome).
	first := book(t, svc, "u1", "Mario Rossi", "RSSMRA80A01H501U", time.Date(2026, 12, 1, 7, 30, 0, 0, time.UTC), "centrale")
	second := book(t, svc, "u2", "=Laura Bianchi", "BNCLRA85M41F205C", time.Date(2026, 12, 1, 7, 50, 0, 0, time.UTC), "centrale")
	gone := book(t, svc, "u3", "Anna Maria De Luca", "DLCNMR90E50H501X", time.Date(2026, 12, 1, 8, 10, 0, 0, time.UTC), "centrale")
	if _, err := svc.Cancel(context.Background(), gone.Code, booking.Owner{Conv: gone.Conv}); err != nil {
		t.Fatal(err)
	}

	r := get(t, srv, "GET", "/api/v1/offices/centrale/appointments?date=2026-12-01")
	if r.status != http.StatusOK {
		t.Fatalf("Got(status) = %d %s", r.status, r.body)
	}
	var day admin.Day
	if err := json.Unmarshal(r.body, &day); err != nil {
		t.Fatal(err)
	}
	// Tuesday: 08:30-12:30 = 12 slots of 20 minutes, 3 desks.
	if day.Office != "centrale" || day.Date != "2026-12-01" || !day.Open || !slices.Equal(day.Hours, []string{"08:30-12:30"}) ||
		day.Capacity != 36 || day.Booked != 2 || len(day.Appointments) != 2 {
		t.Fatalf("Got(day) = %+v", day)
	}
	a := day.Appointments[0]
	// Fiscal codes are masked unless asked for in plain.
	if a.Code != first.Code || a.Time != "08:30" || a.Name != "Mario Rossi" || a.FiscalCode != "RSS***********1U" ||
		a.Status != "booked" || !a.Active || a.Reason != "renewal" || a.Language != "it" || a.ConfirmBy == nil ||
		!a.Start.Equal(first.Start) || !a.End.Equal(first.Start.Add(20*time.Minute)) {
		t.Errorf("Got(first appointment) = %+v", a)
	}
	if _, offset := a.Start.Zone(); offset != 3600 {
		t.Errorf("Got(start offset) = %d, want +01:00 (Rome in December)", offset)
	}

	if strings.Contains(logged.String(), "plain") {
		t.Errorf("a masked list logged %s", logged.String())
	}

	r = get(t, srv, "GET", "/api/v1/offices/centrale/appointments?date=2026-12-01&status=all&fiscal_codes=masked")
	day = admin.Day{}
	if err := json.Unmarshal(r.body, &day); err != nil {
		t.Fatal(err)
	}
	if len(day.Appointments) != 3 || day.Booked != 2 || day.Appointments[2].Status != "cancelled" || day.Appointments[2].Active {
		t.Fatalf("Got(status=all) = %+v", day.Appointments)
	}
	if got := day.Appointments[0].FiscalCode; got != "RSS***********1U" {
		t.Errorf("Got(masked fiscal code) = %q", got)
	}

	// The plain codes on explicit request, and that fact is logged: which
	// office and day, how many codes, no personal data.
	r = get(t, srv, "GET", "/api/v1/offices/centrale/appointments?date=2026-12-01&fiscal_codes=plain")
	day = admin.Day{}
	if err := json.Unmarshal(r.body, &day); err != nil {
		t.Fatal(err)
	}
	if got := day.Appointments[0].FiscalCode; got != "RSSMRA80A01H501U" {
		t.Errorf("Got(plain fiscal code) = %q", got)
	}
	var fact map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logged.String()), "\n") {
		if strings.Contains(line, "plain fiscal codes") {
			if err := json.Unmarshal([]byte(line), &fact); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fact == nil || fact["office"] != "centrale" || fact["date"] != "2026-12-01" || fact["count"] != 2.0 || fact["format"] != "json" {
		t.Errorf("Got(log of the plain list) = %v, want office, date, count and format", fact)
	}
	for _, secret := range []string{"RSSMRA80A01H501U", "BNCLRA85M41F205C", "Mario", "Laura", first.Code} {
		if strings.Contains(logged.String(), secret) {
			t.Errorf("the log has %q: %s", secret, logged.String())
		}
	}

	r = get(t, srv, "GET", "/api/v1/offices/centrale/appointments?date=2026-12-01", "Accept", "text/csv, application/json;q=0.5")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), "appointments-centrale-2026-12-01.csv") {
		t.Fatalf("Got(CSV headers) = %v", r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[1][0] != first.Code || rows[1][2] != "08:30" || rows[1][3] != "08:50" || rows[1][7] != "RSS***********1U" {
		t.Errorf("Got(CSV) = %q", rows)
	}
	r = get(t, srv, "GET", "/api/v1/offices/centrale/appointments?date=2026-12-01&format=csv&fiscal_codes=plain")
	if rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll(); err != nil || len(rows) != 3 || rows[1][7] != "RSSMRA80A01H501U" {
		t.Errorf("Got(plain CSV) = %q, %v", rows, err)
	}
	// A name typed as a formula does not run in a spreadsheet.
	if rows[2][0] != second.Code || rows[2][6] != "'=Laura Bianchi" {
		t.Errorf("Got(CSV row of a formula-like name) = %q, want the name prefixed with '", rows[2])
	}

	// No date: today (Thursday 26 November), open, nothing booked.
	r = get(t, srv, "GET", "/api/v1/offices/nord/appointments")
	day = admin.Day{}
	if err := json.Unmarshal(r.body, &day); err != nil {
		t.Fatal(err)
	}
	if day.Date != "2026-11-26" || !day.Open || day.Appointments == nil || len(day.Appointments) != 0 {
		t.Errorf("Got(today at nord) = %+v", day)
	}
	// A closure says why.
	r = get(t, srv, "GET", "/api/v1/offices/centrale/appointments?date=2026-12-24")
	day = admin.Day{}
	if err := json.Unmarshal(r.body, &day); err != nil {
		t.Fatal(err)
	}
	if day.Open || day.ClosedReason != "Festività" || day.Capacity != 0 {
		t.Errorf("Got(closed day) = %+v", day)
	}
}

func TestErrors(t *testing.T) {
	srv := server(t, boltService(t), token)
	tests := []struct {
		method, path string
		headers      []string
		status       int
		code         string
	}{
		{"GET", "/api/v1/offices/centrale/appointments?date=1/12/2026", nil, 400, "bad_date"},
		{"GET", "/api/v1/offices/centrale/appointments?date=2026-13-01", nil, 400, "bad_date"},
		{"GET", "/api/v1/offices/centrale/appointments?date=2026-12-1", nil, 400, "bad_date"},
		{"GET", "/api/v1/offices/centrale/appointments?date=1066-10-14", nil, 400, "bad_date"},
		{"GET", "/api/v1/offices/centrale/appointments?status=some", nil, 400, "bad_status"},
		{"GET", "/api/v1/offices/centrale/appointments?fiscal_codes=hidden", nil, 400, "bad_fiscal_codes"},
		{"GET", "/api/v1/offices?format=xml", nil, 400, "bad_format"},
		{"GET", "/api/v1/offices", []string{"Accept", "image/png"}, 406, "not_acceptable"},
		{"GET", "/api/v1/offices/nowhere/appointments?date=2026-12-01", nil, 404, "unknown_office"},
		{"GET", "/api/v1/offices/centrale", nil, 404, "not_found"},
		{"GET", "/api/v1/", nil, 404, "not_found"},
		{"POST", "/api/v1/offices", nil, 405, "method_not_allowed"},
		{"DELETE", "/api/v1/offices/centrale/appointments", nil, 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		r := get(t, srv, tc.method, tc.path, tc.headers...)
		if r.status != tc.status || errorCode(t, r) != tc.code {
			t.Errorf("Got(%s %s) = %d %s, want %d %s", tc.method, tc.path, r.status, r.body, tc.status, tc.code)
		}
		if tc.status == 405 && r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("Got(Allow) = %q, want GET, HEAD", r.header.Get("Allow"))
		}
	}
	r := get(t, srv, "GET", "/api/v1/offices/centrale/appointments?date=nonsense")
	var e admin.Error
	_ = json.Unmarshal(r.body, &e)
	if !strings.Contains(e.Error.Message, "YYYY-MM-DD") {
		t.Errorf("Got(bad date message) = %q, want it to say the format", e.Error.Message)
	}
}

func TestCalendarUnavailable(t *testing.T) {
	redis := redistest.Start(t)
	rdb, err := redisstore.NewClient(redis.URL() + "?dial_timeout=200ms&max_retries=0")
	if err != nil {
		t.Fatal(err)
	}
	st := redisstore.New(rdb, "admin-test")
	t.Cleanup(func() { st.Close() })
	srv := server(t, service(t, st), token)
	if r := get(t, srv, "GET", "/api/v1/offices/centrale/appointments?date=2026-12-01"); r.status != http.StatusOK {
		t.Fatalf("Got(status with Redis up) = %d %s", r.status, r.body)
	}
	redis.Stop()
	r := get(t, srv, "GET", "/api/v1/offices/centrale/appointments?date=2026-12-01")
	if r.status != http.StatusServiceUnavailable || errorCode(t, r) != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Errorf("Got(status with Redis down) = %d %s, want 503 unavailable with Retry-After", r.status, r.body)
	}
}

// TestOpenAPIMatchesHandler keeps deploy/admin-openapi.yaml and the handler
// in step: the same paths, every documented parameter understood, and the
// JSON fields the handler writes equal to the documented properties.
func TestOpenAPIMatchesHandler(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/admin-openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		OpenAPI string `yaml:"openapi"`
		Paths   map[string]map[string]struct {
			Parameters []struct {
				Ref  string `yaml:"$ref"`
				Name string `yaml:"name"`
				In   string `yaml:"in"`
			} `yaml:"parameters"`
			Responses map[string]any `yaml:"responses"`
		} `yaml:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name string `yaml:"name"`
			} `yaml:"parameters"`
			Schemas map[string]struct {
				Required   []string       `yaml:"required"`
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Errorf("Got(openapi) = %q, want 3.x", spec.OpenAPI)
	}
	var documented []string
	for path, ops := range spec.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(documented)
	routes := admin.Routes()
	slices.Sort(routes)
	if !slices.Equal(documented, routes) {
		t.Fatalf("Got(documented routes) = %v, want the handler's %v", documented, routes)
	}

	svc := boltService(t)
	srv := server(t, svc, token)
	book(t, svc, "u1", "Mario Rossi", "RSSMRA80A01H501U", time.Date(2026, 12, 1, 7, 30, 0, 0, time.UTC), "centrale")
	// Every documented query parameter is read: a bad value is refused.
	for path, ops := range spec.Paths {
		for _, p := range ops["get"].Parameters {
			name := p.Name
			if p.Ref != "" {
				name = spec.Components.Parameters[p.Ref[strings.LastIndex(p.Ref, "/")+1:]].Name
			}
			if p.In == "path" {
				continue
			}
			url := strings.Replace(path, "{id}", "centrale", 1) + "?" + name + "=not-a-valid-value"
			if r := get(t, srv, "GET", url); r.status != http.StatusBadRequest {
				t.Errorf("Got(GET %s) = %d, want 400: the parameter is documented but not read", url, r.status)
			}
		}
		for code := range ops["get"].Responses {
			if !slices.Contains([]string{"200", "400", "401", "404", "406", "503"}, code) {
				t.Errorf("%s documents status %s the handler never sends", path, code)
			}
		}
	}

	check := func(schema string, obj map[string]any) {
		t.Helper()
		s, ok := spec.Components.Schemas[schema]
		if !ok {
			t.Fatalf("schema %s is not documented", schema)
		}
		for key := range obj {
			if _, ok := s.Properties[key]; !ok {
				t.Errorf("%s: the handler writes %q, which is not documented", schema, key)
			}
		}
		for _, key := range s.Required {
			if _, ok := obj[key]; !ok {
				t.Errorf("%s: %q is documented as required but the handler did not write it", schema, key)
			}
		}
	}
	decode := func(path string) map[string]any {
		t.Helper()
		var m map[string]any
		r := get(t, srv, "GET", path)
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return m
	}
	offices := decode("/api/v1/offices")
	check("Offices", offices)
	for _, o := range offices["offices"].([]any) {
		check("Office", o.(map[string]any))
	}
	seen := map[string]bool{}
	for _, path := range []string{"/api/v1/offices/centrale/appointments?date=2026-12-01", "/api/v1/offices/centrale/appointments?date=2026-12-24"} {
		day := decode(path)
		check("Day", day)
		for k := range day {
			seen[k] = true
		}
		for _, a := range day["appointments"].([]any) {
			check("Appointment", a.(map[string]any))
			for k := range a.(map[string]any) {
				seen["appointment."+k] = true
			}
		}
	}
	for key := range spec.Components.Schemas["Day"].Properties {
		if !seen[key] {
			t.Errorf("Day: %q is documented but the handler never wrote it", key)
		}
	}
	for key := range spec.Components.Schemas["Appointment"].Properties {
		if !seen["appointment."+key] {
			t.Errorf("Appointment: %q is documented but the handler never wrote it", key)
		}
	}
	check("Error", decode("/api/v1/offices/nowhere/appointments"))
}
