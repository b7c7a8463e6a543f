package booking_test

import (
	"regexp"
	"strings"
	"testing"

	"sportello/bot/comune"
	"sportello/bot/locale"
)

// articleBefore matches an article or preposition written before the
// Comune's name: "nel Comune di Esempio" reads well, "nel Città di Torino"
// does not, so the texts must not put one there.
func articleBefore(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b(il|lo|la|l'|al|allo|alla|del|dello|della|dal|nel|sul|col|di|a|da|in|per|the|of|at|from|to)\s+` +
		regexp.QuoteMeta(name))
}

// TestComuneNameReadsWell walks the booking flow's non-resident paths
// (restricted with an exception and without, not allowed, allowed) in both
// languages for a Comune called "Comune di ..." and one called "Città di
// ...", and checks no article or preposition comes before the name.
func TestComuneNameReadsWell(t *testing.T) {
	for _, name := range []string{"Comune di Esempio", "Città di Torino"} {
		before := articleBefore(name)
		for _, policy := range []string{comune.NonResidentsRestricted, comune.NonResidentsNotAllowed, comune.NonResidentsAllowed} {
			h := newHarness(t, withComune(namedComune(t, name, policy)))
			for _, lang := range locale.Languages() {
				var said []string
				walk := func(user string, presses ...string) {
					t.Helper()
					if lang == "en" {
						h.text(user, "english")
					}
					r := h.press(user, "menu:book")
					r = append(r, h.press(user, "book:reason:renewal")...)
					r = append(r, h.press(user, "book:office:centrale")...)
					r = h.press(user, button(t, r, "book:day:"))
					r = append(r, h.press(user, button(t, r, "book:slot:"))...)
					r = append(r, h.text(user, "Mario Rossi")...)
					r = append(r, h.text(user, cfMario)...)
					for _, p := range presses {
						r = append(r, h.press(user, p)...)
					}
					for _, x := range r {
						said = append(said, x.Text)
					}
				}
				user := policy + "-" + lang + "-" + name
				walk(user+"-no", "book:res:no", "book:exc:0", "book:confirm")
				if policy == comune.NonResidentsRestricted {
					walk(user+"-none", "book:res:no", "book:exc:none")
				}
				text := strings.Join(said, "\n")
				if !strings.Contains(text, name) {
					t.Fatalf("%s %s (%s): the walk never showed the name:\n%s", name, lang, policy, text)
				}
				if m := before.FindString(text); m != "" {
					t.Errorf("%s %s (%s): %q reads badly in\n%s", name, lang, policy, m, text)
				}
			}
		}
	}
}

// TestNoBookingTextPutsAnArticleBeforeTheComune renders every booking
// message with the Comune's name, so texts the walks above do not reach
// (notices, lists) are checked too.
func TestNoBookingTextPutsAnArticleBeforeTheComune(t *testing.T) {
	h := newHarness(t)
	name := "Città di Torino"
	before := articleBefore(name)
	checked := 0
	for _, lang := range locale.Languages() {
		for _, id := range h.cat.IDs(lang) {
			if !strings.HasPrefix(id, "booking.") {
				continue
			}
			text := h.cat.Text(lang, id, map[string]any{"Comune": name})
			if !strings.Contains(text, name) {
				continue
			}
			checked++
			if m := before.FindString(text); m != "" {
				t.Errorf("%s %s: %q reads badly in %q", lang, id, m, text)
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d booking messages show the Comune's name: the check is broken", checked)
	}
}

// namedComune is the demo Comune with another name and non-resident policy.
func namedComune(t testing.TB, name, policy string) *comune.Comune {
	t.Helper()
	yml := string(comune.DemoYAML())
	for old, repl := range map[string]string{
		"name: Comune di Esempio":   "name: " + name,
		"non_residents: restricted": "non_residents: " + policy,
	} {
		if !strings.Contains(yml, old) {
			t.Fatalf("demo.yaml has no %q", old)
		}
		yml = strings.Replace(yml, old, repl, 1)
	}
	c, err := comune.Parse([]byte(yml), "named.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
