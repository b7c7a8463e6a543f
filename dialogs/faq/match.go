package faq

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"sportello/bot"
	"sportello/bot/locale"
)

// Scoring constants. Evidence (the weighted concepts of a topic) becomes a
// score of 1 - exp(-evidence/evidenceScale): 2 points of evidence give 0.63,
// just over bot.SureScore.
const (
	evidenceScale = 2.0
	// needCap is the most evidence a topic gets when none of its "need"
	// entries is present: a score of 0.45, never a sure answer.
	needCap = 1.2
	// ambiguity is how close (in evidence) a topic that only shares the
	// best topic's evidence may come before the answer becomes a question.
	ambiguity = 0.4
	// weakFloor: a weak topic (thanks, insult, another service) gives way
	// when a real topic has this much evidence.
	weakFloor = 2.0
	weakShare = 0.3
	// ownFloor: a second question needs this much evidence of its own,
	// from words that are not typos and that the best topic has not taken.
	// A topic sure on its own that has it is a second question even when
	// it shares its key concept with the best one ("ho perso la carta: cosa
	// porto e quanto costa?").
	ownFloor = 1.0
	// unsure is the score a sure reading drops to when it is ambiguous.
	unsure = 0.55
	// otherLanguageScore is the confidence of the language check.
	otherLanguageScore = 0.95
	// minScore: readings below it are not returned.
	minScore = 0.15
	// maxMatches returned, best first.
	maxMatches = 5
)

// OtherLanguage is the topic that answers a message in a language Sportello
// does not speak.
const OtherLanguage = "other_language"

// Matcher reads a citizen's free text as topics of the knowledge file. It
// is the engine's Understander; it is safe for concurrent use.
type Matcher struct {
	k      *Knowledge
	labels map[string]map[string]string // lang -> topic -> button label
	pool   sync.Pool
}

var _ bot.Understander = (*Matcher)(nil)

// NewMatcher returns a matcher for k, with button labels from cat.
func NewMatcher(k *Knowledge, cat *locale.Catalog) *Matcher {
	m := &Matcher{k: k, labels: map[string]map[string]string{}}
	for _, lang := range locale.Languages() {
		m.labels[lang] = map[string]string{}
		for _, t := range k.Topics {
			m.labels[lang][t.ID] = cat.Text(lang, labelID(t.ID), nil)
		}
	}
	m.pool.New = func() any { return &scratch{} }
	return m
}

// scratch is the reusable working memory of one question.
type scratch struct {
	a      analysis
	scores []scored
	used   []bool
}

// scored is one topic's reading of the question.
type scored struct {
	topic    *Topic
	evidence float64
	needOK   bool
	score    float64
	// residual is the evidence left once the best topic has taken its
	// concepts; set for the topics after the best.
	residual float64
	note     string
}

// Understand returns the readings of text, best first (bot.Understander).
func (m *Matcher) Understand(lang, text string) []bot.Match {
	s := m.pool.Get().(*scratch)
	defer m.pool.Put(s)
	m.run(text, s)
	var out []bot.Match
	for _, sc := range s.scores {
		if sc.score < minScore || len(out) == maxMatches {
			break
		}
		out = append(out, m.match(lang, sc))
	}
	return out
}

func (m *Matcher) match(lang string, sc scored) bot.Match {
	labels := m.labels[lang]
	if labels == nil {
		labels = m.labels[locale.Italian]
	}
	t := sc.topic
	mt := bot.Match{Dialog: Name, Arg: t.ID, Label: labels[t.ID], Score: sc.score}
	if t.Action() {
		mt.Dialog, mt.Arg = t.Dialog, ""
	}
	return mt
}

// run reads text and scores every topic into s.scores, best first.
func (m *Matcher) run(text string, s *scratch) {
	k := m.k
	a := &s.a
	a.reset(len(k.concepts))
	k.lex.read(text, a)
	s.scores = s.scores[:0]
	if a.foreign != "" {
		s.scores = append(s.scores, scored{topic: k.byID[OtherLanguage], score: otherLanguageScore, needOK: true,
			note: "written in " + a.foreign})
		return
	}
	strongest := 0.0
	for _, t := range k.Topics {
		if len(t.need) == 0 {
			continue
		}
		ev, ok := evidence(t, a.strength, nil)
		if !t.Weak && ok {
			strongest = max(strongest, ev)
		}
		s.scores = append(s.scores, scored{topic: t, evidence: ev, needOK: ok})
	}
	for i := range s.scores {
		sc := &s.scores[i]
		if sc.topic.Weak && strongest >= weakFloor {
			sc.evidence *= weakShare
			sc.note = "gives way to a real question"
		}
		if !sc.needOK {
			sc.evidence = min(sc.evidence, needCap)
		}
		sc.score = toScore(sc.evidence)
	}
	slices.SortStableFunc(s.scores, func(x, y scored) int { return cmp.Compare(y.score, x.score) })
	if len(s.scores) == 0 || s.scores[0].score < bot.MaybeScore {
		return
	}

	// The best topic takes its concepts. A topic with evidence of its own
	// beyond them is a second question; one that only shares them is a
	// competing reading, which makes the answer unsure when it comes close.
	best := &s.scores[0]
	if cap(s.used) < len(a.strength) {
		s.used = make([]bool, len(a.strength))
	}
	s.used = s.used[:len(a.strength)]
	clear(s.used)
	for _, w := range best.topic.weights {
		if w.w > 0 && a.strength[w.concept] > 0 {
			s.used[w.concept] = true
		}
	}
	ambiguous := false
	for i := 1; i < len(s.scores); i++ {
		sc := &s.scores[i]
		if sc.score < minScore {
			break
		}
		res, ok := evidence(sc.topic, a.strength, s.used)
		if !ok {
			res = min(res, needCap)
		}
		if sc.topic.Weak && strongest >= weakFloor {
			res *= weakShare
		}
		sc.residual = res
		if best.topic.Action() && best.score >= bot.SureScore && sc.score >= bot.MaybeScore && slices.Contains(best.topic.Follow, sc.topic.ID) {
			// Doing it and explaining it are not rivals: the action is
			// taken and the explanation offered beside it.
			sc.score = min(max(sc.score, bot.SureScore), best.score)
			sc.note = "offered with " + best.topic.ID
			continue
		}
		mine := own(sc.topic, a, s.used)
		if mine >= ownFloor && (toScore(res) >= bot.SureScore || (sc.needOK && sc.score >= bot.SureScore)) {
			// Never above the best: leaving out the best topic's concepts
			// also leaves out their penalties.
			sc.score = min(max(toScore(res), bot.SureScore), best.score)
			sc.note = "a second question"
			continue
		}
		if sc.evidence > best.evidence-ambiguity && best.score >= bot.SureScore {
			ambiguous = true
			sc.note = "competes with " + best.topic.ID
		}
		sc.score = min(sc.score, unsure-0.01)
	}
	if ambiguous {
		best.score = min(best.score, unsure)
		best.note = "too close to another reading"
	}
	// A reading that rests on typos alone ("dolor" for "donor") is a guess.
	solid := false
	for _, w := range best.topic.weights {
		if w.w > 0 && a.solid[w.concept] && w.concept != k.card {
			solid = true
			break
		}
	}
	if !solid && best.score >= bot.SureScore {
		best.score = unsure
		best.note = "rests on typos only"
	}
	slices.SortStableFunc(s.scores, func(x, y scored) int { return cmp.Compare(y.score, x.score) })
}

// evidence adds the weights of the concepts present in strength, leaving
// out the concepts in skip: those the best topic has explained. It reports
// whether one of the topic's "need" entries is present.
func evidence(t *Topic, strength []float64, skip []bool) (float64, bool) {
	ev := 0.0
	for _, w := range t.weights {
		s := strength[w.concept]
		if s == 0 || (skip != nil && skip[w.concept]) {
			continue
		}
		ev += w.w * s
	}
	for _, group := range t.need {
		ok := true
		for _, c := range group {
			if strength[c] == 0 || (skip != nil && skip[c]) {
				ok = false
				break
			}
		}
		if ok {
			return max(ev, 0), true
		}
	}
	return max(ev, 0), false
}

// own is the positive evidence of t from the concepts not in used and
// found as more than typos.
func own(t *Topic, a *analysis, used []bool) float64 {
	ev := 0.0
	for _, w := range t.weights {
		if w.w > 0 && !used[w.concept] && a.solid[w.concept] {
			ev += w.w * a.strength[w.concept]
		}
	}
	return ev
}

func toScore(ev float64) float64 {
	if ev <= 0 {
		return 0
	}
	return 1 - math.Exp(-ev/evidenceScale)
}

// Explain prints how text was read: the concept each word or phrase gave,
// then the best topics with the evidence that made their score.
func (m *Matcher) Explain(lang, text string) string {
	s := &scratch{}
	m.run(text, s)
	a := &s.a
	var b strings.Builder
	fmt.Fprintf(&b, "text: %q", a.text)
	if a.cut {
		b.WriteString(" (cut: head and tail of a long message)")
	}
	b.WriteString("\n")
	if a.foreign != "" {
		fmt.Fprintf(&b, "language: %s, not Italian or English\n", a.foreign)
	}
	for _, h := range a.hits {
		words := strings.Join(a.tokens[h.from:h.to], " ")
		how := h.kind.String()
		if h.kind == byTypo {
			how = fmt.Sprintf("typo of %q (%d edit)", h.entry, h.dist)
		} else if h.kind == byPrefix || h.kind == byStem {
			how = fmt.Sprintf("%s %q", how, h.entry)
		}
		fmt.Fprintf(&b, "  %-22s -> %-14s %s, strength %.2f\n", words, m.k.concepts[h.concept], how, h.strength)
	}
	for i, sc := range s.scores {
		if i == 6 || (sc.score < minScore && i > 0) {
			break
		}
		fmt.Fprintf(&b, "%-16s score %.2f  evidence %.2f", sc.topic.ID, sc.score, sc.evidence)
		if !sc.needOK && sc.topic.need != nil {
			fmt.Fprintf(&b, " (none of need %v: capped at %.1f)", sc.topic.Need, needCap)
		}
		if i > 0 && sc.residual != 0 {
			fmt.Fprintf(&b, " residual %.2f", sc.residual)
		}
		if sc.note != "" {
			b.WriteString(" [" + sc.note + "]")
		}
		b.WriteString("\n   ")
		for _, w := range sc.topic.weights {
			if st := a.strength[w.concept]; st > 0 {
				fmt.Fprintf(&b, " %s %+.2f", m.k.concepts[w.concept], w.w*st)
			}
		}
		b.WriteString("\n")
	}
	verdict := "no reading: the engine's fallback"
	if len(s.scores) > 0 {
		top := s.scores[0]
		switch {
		case top.score >= bot.SureScore:
			verdict = "answers " + top.topic.ID
			if len(s.scores) > 1 && s.scores[1].score >= bot.SureScore {
				verdict += ", offers " + s.scores[1].topic.ID
			}
		case top.score >= bot.MaybeScore:
			verdict = "asks \"did you mean\""
		}
	}
	fmt.Fprintf(&b, "=> %s (%s)\n", verdict, m.labels[cmp.Or(locale.Normalize(lang), locale.Italian)][cmp.Or(topID(s.scores), OtherLanguage)])
	return b.String()
}

func topID(s []scored) string {
	if len(s) == 0 {
		return ""
	}
	return s[0].topic.ID
}
