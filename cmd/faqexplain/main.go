// Command faqexplain prints how the FAQ matcher reads questions: the concept
// each word gave, the best topics with the evidence behind their scores, and
// what the engine does with them.
//
//	go run ./cmd/faqexplain "quanto costa la carta?" "I lost my ID"
//	echo "ho perso la carta" | go run ./cmd/faqexplain
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"sportello/bot/locale"
	"sportello/dialogs/faq"
	"sportello/locales"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "faqexplain:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	lang := locale.Italian
	if len(args) > 1 && (args[0] == "-lang" || args[0] == "--lang") {
		if lang = locale.Normalize(args[1]); lang == "" {
			return fmt.Errorf("-lang must be it or en, not %q", args[1])
		}
		args = args[2:]
	}
	cat, err := locale.Load(locales.FS())
	if err != nil {
		return err
	}
	k, err := faq.Load(locales.FS())
	if err != nil {
		return err
	}
	m := faq.NewMatcher(k, cat)
	if len(args) == 0 {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			if q := strings.TrimSpace(sc.Text()); q != "" {
				fmt.Fprintln(stdout, m.Explain(lang, q))
			}
		}
		return sc.Err()
	}
	for _, q := range args {
		fmt.Fprintln(stdout, m.Explain(lang, q))
	}
	return nil
}
