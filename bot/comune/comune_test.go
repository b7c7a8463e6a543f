package comune_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sportello/bot/comune"
)

func TestExampleFileWorksAsWritten(t *testing.T) {
	c, err := comune.Load(filepath.Join("..", "..", "deploy", "comune.example.yaml"))
	if err != nil {
		t.Fatalf("Load(comune.example.yaml) = %v", err)
	}
	if c.Name != "Comune di Esempio" || c.Fees.CIE != "22.21" || c.Fees.CIEDuplicate != "27.37" {
		t.Errorf("got %q fees %q/%q", c.Name, c.Fees.CIE, c.Fees.CIEDuplicate)
	}
	if c.NonResidents != comune.NonResidentsRestricted {
		t.Errorf("NonResidents = %q", c.NonResidents)
	}
	b := c.Booking
	if b.HorizonDays != 60 || b.MinNoticeHours != 2 || b.MaxActivePerPerson != 1 || b.ConfirmDaysBefore != 3 || b.WaitlistHoldMinutes != 15 ||
		b.WaitlistOfferHours.String() != "08:00-20:00" {
		t.Errorf("Booking = %+v", b)
	}
	o := c.Office("centrale")
	if o == nil || o.Desks != 3 || o.SlotMinutes != 20 || len(o.WalkIn) != 4 {
		t.Fatalf("office centrale = %+v", o)
	}
	// Monday 30 November 2026: 4h + 2h of 20-minute slots.
	mon := time.Date(2026, 11, 30, 12, 0, 0, 0, c.Location())
	if got := len(c.Slots(o, mon)); got != 18 {
		t.Errorf("slots on Monday = %d, want 18", got)
	}
	if got := c.Slots(o, mon)[0].Format("15:04 MST"); got != "08:30 CET" {
		t.Errorf("first slot = %s, want 08:30 CET", got)
	}
	// Tuesday: no hours in the file.
	if got := c.Slots(o, mon.AddDate(0, 0, 1)); len(got) != 0 {
		t.Errorf("Tuesday has %d slots, want 0", len(got))
	}
	// Extraordinary Saturday opening 2026-12-12 08:30-15:30: 21 slots.
	sat := time.Date(2026, 12, 12, 9, 0, 0, 0, c.Location())
	d := c.Day(o, sat)
	if !d.Extraordinary || len(c.Slots(o, sat)) != 21 {
		t.Errorf("12 December: %+v with %d slots, want extraordinary with 21", d, len(c.Slots(o, sat)))
	}
	// Closure 24-26 December, both ends included.
	for day := 24; day <= 26; day++ {
		d := c.Day(o, time.Date(2026, 12, day, 10, 0, 0, 0, c.Location()))
		if d.Open() || d.Closure == nil || d.Closure.Reason.In("en") != "Holidays" {
			t.Errorf("%d December = %+v, want closed for Holidays", day, d)
		}
	}
}

func TestDemoIsValid(t *testing.T) {
	c := comune.Demo()
	if len(c.Offices) < 2 || c.Contacts.Phone == "" || len(c.NonResidentExceptions) == 0 {
		t.Errorf("demo Comune is too thin: %+v", c)
	}
}

func TestHolidays(t *testing.T) {
	c := comune.Demo()
	o := c.Office("centrale")
	for _, tc := range []struct {
		date string
		want string
	}{
		{"2026-12-08", "immaculate"}, // a Tuesday
		{"2027-01-06", "epiphany"},
		{"2027-03-29", "easter_monday"},
		{"2027-06-24", "patron"},
		{"2026-12-09", ""},
	} {
		day, _ := time.ParseInLocation(time.DateOnly, tc.date, c.Location())
		d := c.Day(o, day)
		if d.Holiday != tc.want {
			t.Errorf("%s: Holiday = %q, want %q", tc.date, d.Holiday, tc.want)
		}
		if tc.want != "" && d.Open() {
			t.Errorf("%s: open on a holiday", tc.date)
		}
	}
	for year, want := range map[int]string{2026: "2026-04-05", 2027: "2027-03-28", 2028: "2028-04-16", 2038: "2038-04-25"} {
		if got := comune.Easter(year).Format(time.DateOnly); got != want {
			t.Errorf("Easter(%d) = %s, want %s", year, got, want)
		}
	}
}

// TestSlotsAcrossDaylightSaving opens an office on the Sundays the clocks
// change: slots keep their wall-clock times.
func TestSlotsAcrossDaylightSaving(t *testing.T) {
	c, err := comune.Parse([]byte(`
name: Comune di Prova
fees: {cie: "22.21", cie_duplicate: "27.37"}
national_holidays: false
offices:
  - id: x
    name: X
    address: Via Roma 1
    slot_minutes: 30
    desks: 1
    hours:
      sunday: ["01:00-04:00"]
`), "dst.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := c.Office("x")
	for _, date := range []string{"2027-03-28", "2026-10-25"} {
		day, _ := time.ParseInLocation(time.DateOnly, date, c.Location())
		var got []string
		for _, s := range c.Slots(o, day) {
			got = append(got, s.Format("15:04"))
		}
		want := map[string]string{
			"2026-10-25": "01:00 01:30 02:00 02:30 03:00 03:30", // 02:00-03:00 happens twice: one slot each
			"2027-03-28": "01:00 01:30 03:00 03:30",             // 02:00-03:00 does not exist
		}[date]
		if strings.Join(got, " ") != want {
			t.Errorf("%s slots = %v, want %s", date, got, want)
		}
		slots := c.Slots(o, day)
		for i := 1; i < len(slots); i++ {
			if !slots[i].After(slots[i-1]) {
				t.Errorf("%s: slot %s not after %s", date, slots[i], slots[i-1])
			}
		}
	}
}

func TestInvalidFilesNameLineAndField(t *testing.T) {
	valid := `name: Comune di Prova
fees: {cie: "22.21", cie_duplicate: "27.37"}
offices:
  - id: centrale
    name: Sede
    address: Via Roma 1
    slot_minutes: 20
    desks: 2
    hours:
      monday: ["08:30-12:30"]
`
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"unknown field", strings.Replace(valid, "desks: 2", "desks: 2\n    deskz: 3", 1), []string{"line 9", "deskz"}},
		{"bad hours", strings.Replace(valid, "08:30-12:30", "8.30 to 12.30", 1), []string{"line 10", "08:30-12:30"}},
		{"end before start", strings.Replace(valid, "08:30-12:30", "12:30-08:30", 1), []string{"line 10", "offices[0].hours.monday[0]", "ends before it starts"}},
		{"bad weekday", strings.Replace(valid, "monday", "lunedi", 1), []string{"line 10", "not a day of the week"}},
		{"bad policy", valid + "non_residents: maybe\n", []string{"line 11", "non_residents", "allowed, restricted or not_allowed"}},
		{"missing fee", strings.Replace(valid, `, cie_duplicate: "27.37"`, "", 1), []string{"fees.cie_duplicate", "required"}},
		{"bad fee", strings.Replace(valid, `"22.21"`, `"22,21"`, 1), []string{"line 2", "22.21"}},
		{"zero desks", strings.Replace(valid, "desks: 2", "desks: 0", 1), []string{"line 8", "offices[0].desks"}},
		{"duplicate id", valid + "  - id: centrale\n    name: B\n    address: C\n    slot_minutes: 20\n    desks: 1\n", []string{"line 11", "used by two offices"}},
		{"bad walk-in", strings.Replace(valid, "desks: 2", "desks: 2\n    walk_in: [thef]", 1), []string{"line 9", "walk_in[0]", "thef"}},
		{"bad date", valid + "closures:\n  - {from: 24/12/2026}\n", []string{"line 12", "2026-12-24"}},
		{"closure backwards", valid + "closures:\n  - {from: 2026-12-24, to: 2026-12-20}\n", []string{"line 12", "closures[0].to"}},
		{"bad horizon", valid + "booking:\n  horizon_days: 0\n", []string{"line 12", "booking.horizon_days"}},
		{"bad yaml", "name: [", []string{"line"}},
		{"empty", "", []string{"empty"}},
		{"no offices", "name: X\nfees: {cie: \"1.00\", cie_duplicate: \"2.00\"}\n", []string{"offices", "at least one"}},
		{"bad timezone", valid + "timezone: Mars/Olympus\n", []string{"line 11", "timezone"}},
		// Asked a day before, released a day before: no time to answer.
		{"confirm inside min notice", valid + "booking:\n  min_notice_hours: 24\n  confirm_days_before: 1\n",
			[]string{"line 13", "booking.confirm_days_before", "min_notice_hours", "at least 2", "at most 12"}},
		{"confirm window too short", valid + "booking:\n  confirm_days_before: 2\n  min_notice_hours: 37\n",
			[]string{"line 12", "booking.confirm_days_before", "min_notice_hours", "at least 3", "at most 36"}},
		{"offer hours backwards", valid + "booking:\n  waitlist_offer_hours: \"20:00-08:00\"\n",
			[]string{"line 12", "booking.waitlist_offer_hours", "ends before it starts"}},
		{"offer hours not a period", valid + "booking:\n  waitlist_offer_hours: \"8-20\"\n",
			[]string{"line 12", "08:30-12:30"}},
		{"confirm window of minutes", valid + "booking:\n  min_notice_hours: 23\n  confirm_days_before: 1\n",
			[]string{"line 13", "booking.confirm_days_before"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := comune.Parse([]byte(tc.file), "c.yaml")
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tc.file)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestConfirmWindowCombinations: confirm_days_before must leave the citizen
// at least AnswerWindow between the request and the release, which comes
// min_notice_hours before the appointment; without a confirmation step any
// min notice goes.
func TestConfirmWindowCombinations(t *testing.T) {
	base := `name: Comune di Prova
fees: {cie: "22.21", cie_duplicate: "27.37"}
offices:
  - {id: centrale, name: Sede, address: Via Roma 1, slot_minutes: 20, desks: 2, hours: {monday: ["08:30-12:30"]}}
`
	tests := []struct {
		booking string
		ok      bool
	}{
		{"{min_notice_hours: 2, confirm_days_before: 3}", true}, // the example file
		{"{min_notice_hours: 12, confirm_days_before: 1}", true},
		{"{min_notice_hours: 36, confirm_days_before: 2}", true},
		{"{confirm_days_before: 1}", true}, // default min notice (2 hours)
		{"{min_notice_hours: 720, confirm_days_before: 0}", true},
		{"{min_notice_hours: 720}", true},
		{"{min_notice_hours: 13, confirm_days_before: 1}", false},
		{"{min_notice_hours: 24, confirm_days_before: 1}", false},
		{"{min_notice_hours: 48, confirm_days_before: 2}", false},
		{"{min_notice_hours: 720, confirm_days_before: 30}", false},
	}
	for _, tc := range tests {
		t.Run(tc.booking, func(t *testing.T) {
			_, err := comune.Parse([]byte(base+"booking: "+tc.booking+"\n"), "c.yaml")
			if got := err == nil; got != tc.ok {
				t.Errorf("Parse(booking: %s) = %v, want accepted %v", tc.booking, err, tc.ok)
			}
		})
	}
	if comune.AnswerWindow != 12*time.Hour {
		t.Errorf("AnswerWindow = %v, want 12h (the tests above assume it)", comune.AnswerWindow)
	}
}

func TestWaitlistOfferHours(t *testing.T) {
	base := `name: Comune di Prova
fees: {cie: "22.21", cie_duplicate: "27.37"}
offices:
  - {id: centrale, name: Sede, address: Via Roma 1, slot_minutes: 20, desks: 2, hours: {monday: ["08:30-12:30"]}}
`
	for _, tc := range []struct{ booking, want string }{
		{"", "08:00-20:00"},
		{"booking: {waitlist_offer_hours: \"09:30-18:00\"}\n", "09:30-18:00"},
		{"booking: {waitlist_offer_hours: \"00:00-24:00\"}\n", "00:00-24:00"},
	} {
		c, err := comune.Parse([]byte(base+tc.booking), "c.yaml")
		if err != nil {
			t.Fatalf("Parse(%q) = %v", tc.booking, err)
		}
		if got := c.Booking.WaitlistOfferHours.String(); got != tc.want {
			t.Errorf("Got(waitlist_offer_hours of %q) = %s, want %s", tc.booking, got, tc.want)
		}
	}
}

func TestLoadMissingFileNamesTheVariable(t *testing.T) {
	_, err := comune.Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "SPORTELLO_COMUNE") {
		t.Errorf("Load(missing) = %v", err)
	}
}
