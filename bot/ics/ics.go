// Package ics writes an appointment as an iCalendar (.ics, RFC 5545) file a
// citizen adds to their calendar with one tap.
//
// Times are written as UTC instants: every calendar shows them in the
// reader's own zone, and the file needs no VTIMEZONE definition that could
// drift from the time zone database. Texts come from the caller, already in
// the citizen's language.
package ics

import (
	"errors"
	"fmt"
	"strings"
	"time"

	ical "github.com/arran4/golang-ical"
)

// ContentType is the MIME type of the files Encode writes.
const ContentType = "text/calendar; charset=utf-8"

// ProductID names Sportello as the producer of the files.
const ProductID = "-//Sportello//CIE appointments//IT"

// Event is one appointment.
type Event struct {
	// UID identifies the appointment for ever: a moved or cancelled
	// appointment keeps its UID, so calendars update the entry instead of
	// adding a second one.
	UID string
	// Sequence counts the revisions of the appointment (0 when booked,
	// then one more for each move or cancellation).
	Sequence int
	// Stamp is when the file was made.
	Stamp      time.Time
	Start, End time.Time
	Summary    string
	// Description is free text (several lines allowed).
	Description string
	// Location is the office's name and address.
	Location string
	// URL is an optional link (the Comune's page).
	URL string
	// Organizer is the e-mail address of who holds the appointment (the
	// registry office), and OrganizerName its name: RFC 5546 wants an
	// ORGANIZER on published and cancelled events. Empty: no ORGANIZER.
	Organizer, OrganizerName string
	// Alarms are reminders before the start (for example 24h and 1h).
	Alarms []time.Duration
	// AlarmText is what the reminders say.
	AlarmText string
	// Cancelled makes the file a cancellation (RFC 5546: METHOD:CANCEL,
	// STATUS:CANCELLED, same UID, higher Sequence): importing it takes the
	// appointment off calendars that apply iTIP methods; others may need
	// the entry deleted by hand.
	Cancelled bool
}

// Encode writes e as an .ics file with one VEVENT.
func Encode(e Event) ([]byte, error) {
	switch {
	case strings.TrimSpace(e.UID) == "":
		return nil, errors.New("ics: event without UID")
	case e.Start.IsZero() || !e.End.After(e.Start):
		return nil, fmt.Errorf("ics: event %s: end %s is not after start %s", e.UID, e.End, e.Start)
	case strings.TrimSpace(e.Summary) == "":
		return nil, fmt.Errorf("ics: event %s without summary", e.UID)
	}
	cal := ical.NewCalendar()
	cal.SetProductId(ProductID)
	if e.Cancelled {
		cal.SetMethod(ical.MethodCancel)
	} else {
		cal.SetMethod(ical.MethodPublish)
	}
	cal.SetCalscale("GREGORIAN")

	ev := cal.AddEvent(e.UID)
	stamp := e.Stamp
	if stamp.IsZero() {
		stamp = e.Start
	}
	ev.SetDtStampTime(stamp)
	ev.SetSequence(e.Sequence)
	ev.SetStartAt(e.Start)
	ev.SetEndAt(e.End)
	ev.SetSummary(e.Summary)
	if e.Description != "" {
		ev.SetDescription(e.Description)
	}
	if e.Location != "" {
		ev.SetLocation(e.Location)
	}
	if e.URL != "" {
		ev.SetURL(e.URL)
	}
	if e.Organizer != "" {
		var params []ical.PropertyParameter
		if e.OrganizerName != "" {
			params = append(params, ical.WithCN(e.OrganizerName))
		}
		ev.SetOrganizer(e.Organizer, params...)
	}
	ev.SetTimeTransparency(ical.TransparencyOpaque)
	if e.Cancelled {
		ev.SetStatus(ical.ObjectStatusCancelled)
		return []byte(cal.Serialize(ical.WithNewLine("\r\n"))), nil
	}
	ev.SetStatus(ical.ObjectStatusConfirmed)
	text := e.AlarmText
	if text == "" {
		text = e.Summary
	}
	for _, before := range e.Alarms {
		if before <= 0 {
			return nil, fmt.Errorf("ics: event %s: alarm %s is not before the start", e.UID, before)
		}
		a := ev.AddAlarm()
		a.SetAction(ical.ActionDisplay)
		a.SetTrigger(Duration(-before))
		a.SetProperty(ical.ComponentPropertyDescription, text)
	}
	return []byte(cal.Serialize(ical.WithNewLine("\r\n"))), nil
}

// Duration writes d as an RFC 5545 duration ("-P1D", "-PT1H30M", "PT0S").
func Duration(d time.Duration) string {
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	b.WriteByte('P')
	d = d.Truncate(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	if days > 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	if d == 0 {
		if days == 0 {
			b.WriteString("T0S")
		}
		return b.String()
	}
	b.WriteByte('T')
	h, m, s := d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second
	if h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%dS", s)
	}
	return b.String()
}
