package booking

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	core "sportello/bot/booking"
	"sportello/bot/codicefiscale"
	"sportello/bot/comune"
	"sportello/bot/locale"
	"sportello/locales"
)

// TestEveryMessageTheDialogsUseExists reads the message ids written in the
// package's Go files, and the families the dialogs build from a prefix
// (one message per reason, status, notice kind, fiscal code error...), and
// checks each exists in both languages.
func TestEveryMessageTheDialogsUseExists(t *testing.T) {
	cat, err := locale.Load(locales.FS())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	literal := regexp.MustCompile(`"((?:booking|menu|button|date)\.[a-z_.]+[a-z_])"`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			if !strings.HasSuffix(m[1], ".") {
				want[m[1]] = true
			}
		}
	}
	for _, r := range core.Reasons() {
		want["booking.reason."+string(r)] = true
		want["booking.docs."+string(r)] = true
	}
	for k := codicefiscale.KindEmpty; k <= codicefiscale.KindCheck; k++ {
		want["booking.cf.error."+k.String()] = true
	}
	for pos := 1; pos <= codicefiscale.Length; pos++ {
		want["booking.cf.part."+string(codicefiscale.PartAt(pos))] = true
	}
	for _, s := range []core.Status{core.StatusWaiting, core.StatusOffered, core.StatusBooked, core.StatusConfirmed,
		core.StatusCancelled, core.StatusReleased, core.StatusDeclined, core.StatusExpired, "asked"} {
		want["booking.mine.item."+string(s)] = true
	}
	for _, k := range []core.NoticeKind{core.NoticeConfirm, core.NoticeReleased, core.NoticeOffer, core.NoticeOfferExpired, core.NoticeWaitExpired} {
		want["booking.notice."+string(k)] = true
	}
	for _, p := range []string{"too_short", "too_long", "digits", "symbols", "one_word"} {
		want["booking.name."+p] = true
	}
	for _, c := range []string{comune.WalkInTheft, comune.WalkInLoss, comune.WalkInMinorFirstIssue, comune.WalkInDamaged, comune.WalkInTravel} {
		want["booking.walkin."+c] = true
	}
	if len(want) < 100 {
		t.Fatalf("found only %d message ids: the scan is broken", len(want))
	}
	for id := range want {
		for _, lang := range locale.Languages() {
			if !cat.Has(lang, id) {
				t.Errorf("message %q is used but missing in %s", id, lang)
			}
		}
	}
}

// TestNameProblems checks the name rules.
func TestNameProblems(t *testing.T) {
	tests := map[string]string{
		"Mario Rossi":              "",
		"Anna Maria De Luca":       "",
		"Niccolò D'Amico":          "",
		"Jean-Luc O’Neil":          "",
		"José Ñúñez":               "",
		"Mario":                    "one_word",
		"Al":                       "too_short",
		"A B":                      "too_short",
		"Mario R0ssi":              "digits",
		"Mario_Rossi":              "symbols",
		"Mario <b>":                "symbols",
		strings.Repeat("a ", 60):   "too_long",
		"Μαρία Παπαδοπούλου":       "",
		"Иван Петров":              "",
		"王 小明":                     "",
		"Mario\u200bRossi Bianchi": "symbols",
	}
	for in, want := range tests {
		if got := nameProblem(strings.TrimSpace(in)); got != want {
			t.Errorf("Got(nameProblem(%q)) = %q, want %q", in, got, want)
		}
	}
}

func TestParseAction(t *testing.T) {
	tests := []struct {
		arg, action, code string
		ok                bool
	}{
		{"confirm:ABC234", "confirm", "ABC234", true},
		{"confirm:abc234", "confirm", "ABC234", false},
		{"confirm:ABC-234", "confirm", "ABC234", false},
		{"confirm:ABC23", "confirm", "", false},
		{"confirm", "confirm", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		action, code, ok := parseAction(tc.arg)
		if ok != tc.ok || (ok && (action != tc.action || code != tc.code)) {
			t.Errorf("Got(parseAction(%q)) = %q, %q, %v, want %q, %q, %v", tc.arg, action, code, ok, tc.action, tc.code, tc.ok)
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Comune di Esempio":            "comune-di-esempio",
		"Comune di Reggio nell'Emilia": "comune-di-reggio-nell-emilia",
		"  Città  ":                    "citta", "東京": "comune",
	} {
		if got := slug(in); got != want {
			t.Errorf("Got(slug(%q)) = %q, want %q", in, got, want)
		}
	}
}
