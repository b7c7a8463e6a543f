package ics

import (
	"bytes"
	"strings"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"
)

func rome(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func parse(t *testing.T, data []byte) *ical.VEvent {
	t.Helper()
	cal, err := ical.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ParseCalendar = %v\n%s", err, data)
	}
	if got := cal.Events(); len(got) != 1 {
		t.Fatalf("Got(len(Events)) = %d, want 1\n%s", len(got), data)
	}
	return cal.Events()[0]
}

func prop(ev *ical.VEvent, p ical.ComponentProperty) string {
	if x := ev.GetProperty(p); x != nil {
		return x.Value
	}
	return ""
}

func TestEncodeParsesBack(t *testing.T) {
	loc := rome(t)
	// 30 March 2026 is the first Monday of summer time: 08:30 in Rome is
	// 06:30 UTC.
	start := time.Date(2026, 3, 30, 8, 30, 0, 0, loc)
	desc := "Porta: la carta d'identità scaduta, una fototessera recente, il codice fiscale.\nCodice prenotazione: K7F3QX; arriva 10 minuti prima, grazie!"
	data, err := Encode(Event{
		UID:         "K7F3QX@comune-di-esempio.sportello",
		Stamp:       time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Start:       start,
		End:         start.Add(20 * time.Minute),
		Summary:     "Appuntamento CIE, Sede centrale",
		Description: desc,
		Location:    "Sede centrale, Via Larga 12, Comune di Esempio",
		Alarms:      []time.Duration{24 * time.Hour, time.Hour},
		AlarmText:   "Domani: appuntamento per la carta d'identità",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if !strings.Contains(s, "DTSTART:20260330T063000Z\r\n") {
		t.Errorf("file has no UTC DTSTART 20260330T063000Z:\n%s", s)
	}
	for i, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line %d is %d octets, more than 75: %q", i+1, len(line), line)
		}
	}
	ev := parse(t, data)
	if got := ev.Id(); got != "K7F3QX@comune-di-esempio.sportello" {
		t.Errorf("Got(UID) = %q", got)
	}
	got, err := ev.GetStartAt()
	if err != nil || !got.Equal(start) {
		t.Errorf("Got(DTSTART) = %v, %v, want %v", got, err, start)
	}
	end, err := ev.GetEndAt()
	if err != nil || !end.Equal(start.Add(20*time.Minute)) {
		t.Errorf("Got(DTEND) = %v, %v, want %v", end, err, start.Add(20*time.Minute))
	}
	if got := ical.FromText(prop(ev, ical.ComponentPropertyDescription)); got != desc {
		t.Errorf("Got(DESCRIPTION) = %q, want %q", got, desc)
	}
	if got := ical.FromText(prop(ev, ical.ComponentPropertyLocation)); got != "Sede centrale, Via Larga 12, Comune di Esempio" {
		t.Errorf("Got(LOCATION) = %q", got)
	}
	if got := prop(ev, ical.ComponentPropertyStatus); got != "CONFIRMED" {
		t.Errorf("Got(STATUS) = %q, want CONFIRMED", got)
	}
	alarms := ev.Alarms()
	if len(alarms) != 2 {
		t.Fatalf("Got(len(Alarms)) = %d, want 2", len(alarms))
	}
	for i, want := range []string{"-P1D", "-PT1H"} {
		if got := alarms[i].GetProperty(ical.ComponentPropertyTrigger).Value; got != want {
			t.Errorf("Got(alarm %d TRIGGER) = %q, want %q", i, got, want)
		}
		if got := alarms[i].GetProperty(ical.ComponentPropertyAction).Value; got != "DISPLAY" {
			t.Errorf("Got(alarm %d ACTION) = %q, want DISPLAY", i, got)
		}
	}
}

// method returns the calendar's METHOD.
func method(t *testing.T, data []byte) string {
	t.Helper()
	cal, err := ical.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cal.CalendarProperties {
		if p.IANAToken == string(ical.PropertyMethod) {
			return p.Value
		}
	}
	return ""
}

// TestEncodeMethod: RFC 5546: a booked appointment is published, a
// cancelled one is a CANCEL (which calendars apply to the entry with the
// same UID), both from an ORGANIZER.
func TestEncodeMethod(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, rome(t))
	for _, tc := range []struct {
		cancelled bool
		want      string
	}{{false, "PUBLISH"}, {true, "CANCEL"}} {
		data, err := Encode(Event{UID: "X@y", Sequence: 1, Start: start, End: start.Add(time.Hour), Summary: "s",
			Organizer: "anagrafe@comune-di-esempio.example", OrganizerName: "Comune di Esempio", Cancelled: tc.cancelled})
		if err != nil {
			t.Fatal(err)
		}
		if got := method(t, data); got != tc.want {
			t.Errorf("Got(METHOD, cancelled=%v) = %q, want %q", tc.cancelled, got, tc.want)
		}
		org := parse(t, data).GetProperty(ical.ComponentPropertyOrganizer)
		if org == nil || org.Value != "mailto:anagrafe@comune-di-esempio.example" || len(org.ICalParameters["CN"]) != 1 || org.ICalParameters["CN"][0] != "Comune di Esempio" {
			t.Errorf("Got(ORGANIZER, cancelled=%v) = %+v, want the Comune's address and name", tc.cancelled, org)
		}
	}
	// Without an address there is no ORGANIZER line, and the file still
	// parses.
	data, err := Encode(Event{UID: "X@y", Start: start, End: start.Add(time.Hour), Summary: "s", Cancelled: true})
	if err != nil {
		t.Fatal(err)
	}
	if org := parse(t, data).GetProperty(ical.ComponentPropertyOrganizer); org != nil {
		t.Errorf("Got(ORGANIZER) = %+v without an address", org)
	}
}

func TestEncodeCancelled(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, rome(t))
	data, err := Encode(Event{UID: "X@y", Sequence: 2, Start: start, End: start.Add(time.Hour), Summary: "s",
		Alarms: []time.Duration{time.Hour}, Cancelled: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := method(t, data); got != "CANCEL" {
		t.Errorf("Got(METHOD) = %q, want CANCEL", got)
	}
	ev := parse(t, data)
	if got := prop(ev, ical.ComponentPropertyStatus); got != "CANCELLED" {
		t.Errorf("Got(STATUS) = %q, want CANCELLED", got)
	}
	if got := prop(ev, ical.ComponentPropertySequence); got != "2" {
		t.Errorf("Got(SEQUENCE) = %q, want 2", got)
	}
	if got := len(ev.Alarms()); got != 0 {
		t.Errorf("Got(len(Alarms)) = %d, want 0 on a cancelled event", got)
	}
}

func TestEncodeRefusesBrokenEvents(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tests := map[string]Event{
		"no uid":         {Start: start, End: start.Add(time.Hour), Summary: "s"},
		"no summary":     {UID: "u", Start: start, End: start.Add(time.Hour)},
		"end before":     {UID: "u", Start: start, End: start, Summary: "s"},
		"no start":       {UID: "u", End: start, Summary: "s"},
		"alarm after it": {UID: "u", Start: start, End: start.Add(time.Hour), Summary: "s", Alarms: []time.Duration{-time.Hour}},
	}
	for name, e := range tests {
		if _, err := Encode(e); err == nil {
			t.Errorf("%s: Encode succeeded, want an error", name)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0:                                "PT0S",
		-24 * time.Hour:                  "-P1D",
		-time.Hour:                       "-PT1H",
		-90 * time.Minute:                "-PT1H30M",
		26*time.Hour + 5*time.Second:     "P1DT2H5S",
		-(48*time.Hour + 15*time.Minute): "-P2DT15M",
	}
	for d, want := range tests {
		if got := Duration(d); got != want {
			t.Errorf("Got(Duration(%s)) = %q, want %q", d, got, want)
		}
	}
}
