package main

import (
	"strings"
	"testing"
)

func TestExplainArgumentsAndInput(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-lang", "en", "how much is it?"}, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "=> answers cost (Cost)") {
		t.Errorf("Got(faqexplain) =\n%s\nwant the cost topic, labelled in English", out.String())
	}
	out.Reset()
	if err := run(nil, strings.NewReader("ho perso la carta\n\nquanto costa?\n"), &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "=> "); got != 2 {
		t.Errorf("Got(verdicts for two lines of input) = %d, want 2:\n%s", got, out.String())
	}
	if err := run([]string{"-lang", "de", "x"}, strings.NewReader(""), &out); err == nil {
		t.Error("Got(-lang de) = no error, want one")
	}
}
