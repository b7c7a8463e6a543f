package faq

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"sportello/bot"
	"sportello/dialogs/internal/fuzzy"
)

// How a word of the question was recognised.
type matchKind uint8

const (
	byWord   matchKind = iota // the word itself
	byStem                    // an inflection of a listed word ("costi" for "costo")
	byPrefix                  // a listed prefix ("rinnov*")
	byTypo                    // within edit distance of a listed word
	byPhrase                  // a listed phrase
	byAge                     // a number with an age unit ("5 anni")
)

func (k matchKind) String() string {
	return [...]string{"word", "stem", "prefix", "typo", "phrase", "age"}[k]
}

// Strength of each kind of recognition: a typo is less sure than the word.
const (
	strengthPrefix = 0.95
	strengthTypo1  = 0.8
	strengthTypo2  = 0.65
	strengthAge    = 0.9
)

// lexicon maps words and phrases to concepts. It is built once from the
// knowledge file and only read afterwards, by any number of goroutines.
type lexicon struct {
	exact    map[string][]int
	stem     map[string][]int
	prefixes []prefixEntry // longest first
	phrases  map[string][]*phrase
	stop     map[string]bool
	plain    map[string]bool
	typos    []typoEntry // words of 4+ letters, by length
	typoPre  []typoEntry // prefixes of 5+ letters

	foreign   map[string]uint8 // word -> languages (bit per language)
	itEn      map[string]bool  // Italian or English words
	greetings []*phrase        // foreign greetings

	ageIT, ageITBefore, ageEN, ageENAfter, ageENBefore, ageGlued, ageNotAfter map[string]bool
	minor, adult                                                              int

	phraseSkip map[string]bool

	headBytes, tailBytes, maxTypos int
}

type prefixEntry struct {
	prefix   string
	concepts []int
}

// phrase is a sequence of normalised words; "#" stands for any number. A
// phrase without concepts is a stop phrase ("volevo sapere").
type phrase struct {
	words    []string
	stems    []string
	concepts []int
	text     string
	exact    bool // "=i moved": the words themselves, not their inflections
}

type typoEntry struct {
	word     string
	concepts []int
	prefix   bool
	letters  uint32 // which letters a-z the word has
}

// letters returns the set of letters a-z in w, one bit each. Two words
// within n edits differ in at most 2n of these bits, which rules out most
// candidates before the edit distance is computed.
func letters(w string) uint32 {
	var m uint32
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= 'a' && c <= 'z' {
			m |= 1 << (c - 'a')
		}
	}
	return m
}

// foreignName names the languages of other_languages, in file order.
func foreignName(i int) string { return [...]string{"de", "fr", "es"}[i] }

func compileLexicon(k *Knowledge, index map[string]int, words map[int][]string) (*lexicon, error) {
	l := &lexicon{
		exact: map[string][]int{}, stem: map[string][]int{}, phrases: map[string][]*phrase{},
		stop: map[string]bool{}, plain: map[string]bool{}, foreign: map[string]uint8{}, itEn: map[string]bool{},
		ageIT: set(k.Ages.ITUnits), ageITBefore: set(k.Ages.ITBefore), ageEN: set(k.Ages.ENUnits),
		ageENAfter: set(k.Ages.ENAfter), ageENBefore: set(k.Ages.ENBefore), ageGlued: set(k.Ages.Glued), ageNotAfter: set(k.Ages.NotAfter),
		minor: index[k.Ages.Minor], adult: index[k.Ages.Adult],
		phraseSkip: set(k.Matching.PhraseSkip),
		headBytes:  k.Matching.HeadBytes, tailBytes: k.Matching.TailBytes, maxTypos: k.Matching.MaxFuzzy,
	}
	addPhrase := func(n string, concepts []int, exact bool) {
		p := newPhrase(n, concepts)
		p.exact = exact
		key := phraseKey(p.words[0])
		l.phrases[key] = append(l.phrases[key], p)
	}
	for _, w := range slices.Concat(k.Stopwords.IT, k.Stopwords.EN) {
		n := bot.Normalize(w)
		switch {
		case n == "":
		case strings.Contains(n, " "):
			addPhrase(n, nil, false)
		default:
			l.stop[n] = true
		}
	}
	for _, w := range k.Plain {
		l.plain[bot.Normalize(w)] = true
	}
	prefixes := map[string][]int{}
	for ci := range k.concepts {
		for _, raw := range words[ci] {
			isPrefix := strings.HasSuffix(raw, "*")
			exactOnly := strings.HasPrefix(raw, "=")
			n := normalizeEntry(strings.TrimPrefix(strings.TrimSuffix(raw, "*"), "="))
			switch {
			case n == "":
				return nil, fmt.Errorf("concepts.%s: %q is empty once normalised", k.concepts[ci], raw)
			case isPrefix && strings.Contains(n, " "):
				return nil, fmt.Errorf("concepts.%s: %q: a prefix must be one word", k.concepts[ci], raw)
			case isPrefix && len(n) < 3:
				return nil, fmt.Errorf("concepts.%s: %q: a prefix needs 3 letters at least", k.concepts[ci], raw)
			case isPrefix:
				prefixes[n] = addConcept(prefixes[n], ci)
			case strings.Contains(n, " "):
				addPhrase(n, []int{ci}, exactOnly)
			default:
				l.exact[n] = addConcept(l.exact[n], ci)
				if s := stem(n); len(s) >= 3 && !exactOnly {
					l.stem[s] = addConcept(l.stem[s], ci)
				}
			}
		}
	}
	// Phrases listed under several concepts mean all of them.
	for key, ps := range l.phrases {
		merged := map[string]*phrase{}
		var out []*phrase
		for _, p := range ps {
			if m := merged[p.text]; m != nil {
				for _, c := range p.concepts {
					m.concepts = addConcept(m.concepts, c)
				}
				continue
			}
			merged[p.text] = p
			out = append(out, p)
		}
		// Longest first, so "how much time" wins over "how much".
		slices.SortStableFunc(out, func(a, b *phrase) int { return cmp.Compare(len(b.words), len(a.words)) })
		l.phrases[key] = out
	}
	for p, cs := range prefixes {
		l.prefixes = append(l.prefixes, prefixEntry{p, cs})
		if len(p) >= 5 {
			l.typoPre = append(l.typoPre, typoEntry{word: p, concepts: cs, prefix: true, letters: letters(p)})
		}
	}
	slices.SortFunc(l.prefixes, func(a, b prefixEntry) int {
		return cmp.Or(cmp.Compare(len(b.prefix), len(a.prefix)), cmp.Compare(a.prefix, b.prefix))
	})
	for w, cs := range l.exact {
		if len(w) >= 4 {
			l.typos = append(l.typos, typoEntry{word: w, concepts: cs, letters: letters(w)})
		}
	}
	byLength := func(a, b typoEntry) int {
		return cmp.Or(cmp.Compare(len(a.word), len(b.word)), cmp.Compare(a.word, b.word))
	}
	slices.SortFunc(l.typos, byLength)
	slices.SortFunc(l.typoPre, byLength)

	// A word of another language that is Italian or English too ("la",
	// "carte") counts for neither.
	for i, list := range [][]string{k.Other.DE, k.Other.FR, k.Other.ES} {
		for _, w := range list {
			if n := bot.Normalize(w); !strings.Contains(n, " ") {
				l.foreign[n] |= 1 << i
			}
		}
	}
	for w := range l.stop {
		l.itEn[w] = true
	}
	for w := range l.exact {
		l.itEn[w] = true
	}
	for w := range l.plain {
		l.itEn[w] = true
	}
	for _, g := range k.Other.Greetings {
		if p := newPhrase(bot.Normalize(g), nil); p != nil {
			l.greetings = append(l.greetings, p)
		}
	}
	return l, nil
}

// normalizeEntry normalises a listed word or phrase, keeping "#" (any
// number) as a word of its own.
func normalizeEntry(raw string) string {
	words := strings.Fields(raw)
	for i, w := range words {
		if w != "#" {
			words[i] = bot.Normalize(w)
		}
	}
	return strings.Join(strings.Fields(strings.Join(words, " ")), " ")
}

// newPhrase returns the phrase of normalised text n, or nil when n is empty.
func newPhrase(n string, concepts []int) *phrase {
	p := &phrase{words: strings.Fields(n), concepts: concepts, text: n}
	if len(p.words) == 0 {
		return nil
	}
	for _, w := range p.words {
		p.stems = append(p.stems, stem(w))
	}
	return p
}

func addConcept(cs []int, c int) []int {
	if slices.Contains(cs, c) {
		return cs
	}
	return append(cs, c)
}

func set(words []string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		m[bot.Normalize(w)] = true
	}
	return m
}

func phraseKey(first string) string {
	if first == "#" || isDigits(first) {
		return "#"
	}
	return stem(first)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// stem strips the most common inflections of Italian and English words, so
// that "costi", "costa" and "costs" all read as "cost". It is deliberately
// light: participles keep their ending ("scaduta" is not "scade").
func stem(w string) string {
	if len(w) >= 6 && strings.HasSuffix(w, "ing") {
		w = w[:len(w)-3]
	} else if len(w) >= 5 && strings.HasSuffix(w, "ed") {
		w = w[:len(w)-2]
	}
	if len(w) >= 4 && w[len(w)-1] == 's' && w[len(w)-2] != 's' {
		w = w[:len(w)-1]
	}
	// Italian infinitive with a pronoun attached: rinnovarla, ritirarlo.
	for _, clitic := range []string{"gli", "la", "lo", "le", "li", "ne", "mi", "ci", "si"} {
		if len(w) >= 7 && strings.HasSuffix(w, clitic) {
			base := w[:len(w)-len(clitic)]
			if strings.HasSuffix(base, "ar") || strings.HasSuffix(base, "er") || strings.HasSuffix(base, "ir") {
				w = base + "e"
				break
			}
		}
	}
	if len(w) >= 6 && (strings.HasSuffix(w, "are") || strings.HasSuffix(w, "ere") || strings.HasSuffix(w, "ire")) {
		return w[:len(w)-3]
	}
	if len(w) >= 4 && strings.IndexByte("aeioy", w[len(w)-1]) >= 0 {
		return w[:len(w)-1]
	}
	return w
}

// hit is one concept found in the question.
type hit struct {
	concept  int
	strength float64
	from, to int // token span
	kind     matchKind
	entry    string // the listed word, prefix or phrase
	dist     int    // edit distance of a typo
}

// analysis is what the lexicon reads in one question. Scratch space is
// reused between questions.
type analysis struct {
	text     string // the normalised (and cut) text
	tokens   []string
	stems    []string
	used     []bool
	hits     []hit
	strength []float64 // per concept, the strongest hit
	solid    []bool    // per concept, found as more than a typo
	foreign  string    // "de", "fr", "es" when the text is in that language
	cut      bool
}

func (a *analysis) reset(concepts int) {
	a.text, a.foreign, a.cut = "", "", false
	a.tokens, a.stems, a.used, a.hits = a.tokens[:0], a.stems[:0], a.used[:0], a.hits[:0]
	if cap(a.strength) < concepts {
		a.strength = make([]float64, concepts)
	}
	a.strength = a.strength[:concepts]
	clear(a.strength)
	if cap(a.solid) < concepts {
		a.solid = make([]bool, concepts)
	}
	a.solid = a.solid[:concepts]
	clear(a.solid)
}

func (a *analysis) add(h hit) {
	a.hits = append(a.hits, h)
	a.strength[h.concept] = max(a.strength[h.concept], h.strength)
	if h.kind != byTypo {
		a.solid[h.concept] = true
	}
}

// truncate keeps the head and the tail of a long message, cut at spaces:
// people often tell their story first and ask at the end.
func (l *lexicon) truncate(text string) (string, bool) {
	if len(text) <= l.headBytes+l.tailBytes {
		return text, false
	}
	head := text[:l.headBytes]
	if i := strings.LastIndexAny(head, " \n\t"); i > 0 {
		head = head[:i]
	}
	tail := text[len(text)-l.tailBytes:]
	if i := strings.IndexAny(tail, " \n\t"); i >= 0 {
		tail = tail[i+1:]
	}
	return head + " " + tail, true
}

// read analyses text into a.
func (l *lexicon) read(text string, a *analysis) {
	text, a.cut = l.truncate(text)
	a.text = bot.Normalize(text)
	for tok := range strings.FieldsSeq(a.text) {
		a.tokens = append(a.tokens, tok)
		a.stems = append(a.stems, stem(tok))
		a.used = append(a.used, false)
	}
	a.foreign = l.language(a)
	if a.foreign != "" {
		return
	}
	l.readPhrases(a)
	l.readAges(a)
	typos := 0
	for i, tok := range a.tokens {
		if a.used[i] {
			continue
		}
		if cs := l.exact[tok]; cs != nil {
			for _, c := range cs {
				a.add(hit{concept: c, strength: 1, from: i, to: i + 1, kind: byWord, entry: tok})
			}
			continue
		}
		if l.stop[tok] || isDigits(tok) {
			continue
		}
		plain := l.plain[tok] // a real word: no stem, no typo
		if cs := l.stem[a.stems[i]]; cs != nil && len(a.stems[i]) >= 3 && len(tok) >= 4 && !plain {
			for _, c := range cs {
				a.add(hit{concept: c, strength: 1, from: i, to: i + 1, kind: byStem, entry: a.stems[i]})
			}
			continue
		}
		if p := l.prefix(tok); p != nil {
			for _, c := range p.concepts {
				a.add(hit{concept: c, strength: strengthPrefix, from: i, to: i + 1, kind: byPrefix, entry: p.prefix + "*"})
			}
			continue
		}
		if plain || len(tok) < 4 || typos >= l.maxTypos {
			continue
		}
		typos++
		l.readTypo(a, i)
	}
}

func (l *lexicon) prefix(tok string) *prefixEntry {
	for i := range l.prefixes {
		if strings.HasPrefix(tok, l.prefixes[i].prefix) {
			return &l.prefixes[i]
		}
	}
	return nil
}

// readPhrases marks the listed phrases, longest first at each position.
func (l *lexicon) readPhrases(a *analysis) {
	for i := 0; i < len(a.tokens); i++ {
		key := a.stems[i]
		if isDigits(a.tokens[i]) {
			key = "#"
		}
		for _, p := range l.phrases[key] {
			n := l.phraseAt(a, p, i)
			if n == 0 {
				continue
			}
			for j := i; j < i+n; j++ {
				a.used[j] = true
			}
			for _, c := range p.concepts {
				a.add(hit{concept: c, strength: 1, from: i, to: i + n, kind: byPhrase, entry: p.text})
			}
			i += n - 1
			break
		}
	}
}

// phraseAt reports how many tokens from i phrase p spans, or 0 when it is
// not there. One filler word ("più", "really") may stand between two of its
// words: "non riesco più a trovare".
func (l *lexicon) phraseAt(a *analysis, p *phrase, i int) int {
	k, skipped := i, false
	for j, w := range p.words {
		for {
			if k >= len(a.tokens) {
				return 0
			}
			tok := a.tokens[k]
			if tok == w || (w == "#" && isDigits(tok)) || (!p.exact && len(p.stems[j]) >= 3 && a.stems[k] == p.stems[j]) {
				break
			}
			if j == 0 || skipped || !l.phraseSkip[tok] {
				return 0
			}
			skipped = true
			k++
		}
		k++
	}
	return k - i
}

// readAges finds ages: "mio figlio di 5 anni", "ha 15 anni", "my 5 year
// old", "my 10yo".
func (l *lexicon) readAges(a *analysis) {
	word := func(i int) string {
		if i < 0 || i >= len(a.tokens) {
			return ""
		}
		return a.tokens[i]
	}
	for i, tok := range a.tokens {
		if a.used[i] || tok[0] < '0' || tok[0] > '9' {
			continue
		}
		j := strings.IndexFunc(tok, func(r rune) bool { return r < '0' || r > '9' })
		num, next := tok, -1
		switch {
		case j > 0 && l.ageGlued[tok[j:]]:
			num, next = tok[:j], i+1
		case j > 0:
		case l.ageIT[word(i+1)] && l.ageITBefore[word(i-1)]:
			next = i + 2
		case l.ageEN[word(i+1)] && l.ageENAfter[word(i+2)]:
			next = i + 3
		case l.ageENBefore[word(i-1)]:
			next = i + 1
		}
		n, err := strconv.Atoi(num)
		if next < 0 || err != nil || n > 120 || l.ageNotAfter[word(next)] {
			continue
		}
		c := l.adult
		if n < 18 {
			c = l.minor
		}
		a.add(hit{concept: c, strength: strengthAge, from: i, to: next, kind: byAge, entry: strings.Join(a.tokens[i:next], " ")})
	}
}

// readTypo reads token i as the closest listed word or prefix, if one is
// close enough: two letters swapped in a word of 4 letters, one edit for
// words of 5+ letters, two for 8+.
func (l *lexicon) readTypo(a *analysis, i int) {
	tok := a.tokens[i]
	limit := 1
	if len(tok) >= 8 {
		limit = 2
	}
	best := limit + 1 // no candidate yet
	var found []*typoEntry
	consider := func(e *typoEntry, d int) {
		switch {
		case d == 0 || d > limit || d > best:
		case d < best:
			best, found = d, append(found[:0], e)
		default:
			found = append(found, e)
		}
	}
	if len(tok) > fuzzy.MaxLen {
		return
	}
	// The letters of each start of the word: starts[n] for tok[:n].
	var starts [fuzzy.MaxLen + 1]uint32
	for n := 1; n <= len(tok); n++ {
		starts[n] = starts[n-1] | letters(tok[n-1:n])
	}
	mask := starts[len(tok)]
	if len(tok) == 4 {
		// Four letters: only two letters swapped ("lsot" for "lost").
		for j := range l.typos {
			e := &l.typos[j]
			if len(e.word) == 4 && e.letters == mask && fuzzy.Distance(tok, e.word, 1) == 1 {
				consider(e, 1)
			}
		}
	}
	for j := range l.typoPre {
		if len(tok) < 5 {
			break
		}
		// A prefix matches the start of the word, give or take a letter,
		// within one edit.
		e := &l.typoPre[j]
		for _, n := range []int{len(e.word) - 1, len(e.word), len(e.word) + 1} {
			if n > len(tok) || bits.OnesCount32(starts[n]^e.letters) > 2 {
				continue
			}
			if d := fuzzy.Distance(tok[:n], e.word, 1); d <= 1 {
				consider(e, d)
				break
			}
		}
	}
	// Candidate words are sorted by length: only those within limit.
	start, _ := slices.BinarySearchFunc(l.typos, len(tok)-limit, func(e typoEntry, n int) int { return cmp.Compare(len(e.word), n) })
	for j := start; j < len(l.typos) && len(l.typos[j].word) <= len(tok)+limit && len(tok) >= 5; j++ {
		e := &l.typos[j]
		if len(e.word) < 5 || bits.OnesCount32(mask^e.letters) > 2*limit {
			continue
		}
		consider(e, fuzzy.Distance(tok, e.word, min(best, limit)))
	}
	if len(found) == 0 {
		return
	}
	strength := strengthTypo1
	if best == 2 {
		strength = strengthTypo2
	}
	var concepts []int
	for _, e := range found {
		for _, c := range e.concepts {
			concepts = addConcept(concepts, c)
		}
	}
	// A typo that could be any of several ideas says nothing.
	if len(concepts) > 2 {
		return
	}
	for _, c := range concepts {
		a.add(hit{concept: c, strength: strength, from: i, to: i + 1, kind: byTypo, entry: found[0].word, dist: best})
	}
}

// language returns "de", "fr" or "es" when the text is written in one of
// them: two distinct words of it that outnumber the Italian and English
// ones, or one of its greetings on its own.
func (l *lexicon) language(a *analysis) string {
	for _, g := range l.greetings {
		if len(g.words) == len(a.tokens) && l.phraseAt(a, g, 0) == len(a.tokens) {
			return l.foreignOf(a)
		}
	}
	var counts [3]int
	itEn := 0
	for i, tok := range a.tokens {
		if slices.Contains(a.tokens[:i], tok) {
			continue
		}
		bits, en := l.foreign[tok], l.itEn[tok]
		if bits != 0 && en {
			continue
		}
		if bits != 0 {
			for j := range counts {
				if bits&(1<<j) != 0 {
					counts[j]++
				}
			}
		} else if en {
			itEn++
		}
	}
	best := 0
	for j := range counts {
		if counts[j] > counts[best] {
			best = j
		}
	}
	if counts[best] >= 2 && counts[best] > itEn {
		return foreignName(best)
	}
	return ""
}

// foreignOf names the foreign language of a greeting, for the record.
func (l *lexicon) foreignOf(a *analysis) string {
	var counts [3]int
	for _, tok := range a.tokens {
		for j := range counts {
			if l.foreign[tok]&(1<<j) != 0 {
				counts[j]++
			}
		}
	}
	best := 0
	for j := range counts {
		if counts[j] > counts[best] {
			best = j
		}
	}
	return foreignName(best)
}
