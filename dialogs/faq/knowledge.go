// Package faq answers citizens' questions about the electronic identity card
// (CIE): a one-shot dialog that answers a topic with the Comune's own values,
// and the Understander that reads free text (with typos, missing accents and
// informal phrasing, in Italian or English) as one of those topics.
//
// The knowledge lives in locales/: knowledge.yaml holds the topics, the words
// citizens use for them and the national facts; faq.<lang>.yaml holds the
// answers. Nothing a citizen reads is in this package.
package faq

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"sportello/bot"
	"sportello/bot/comune"
)

// KnowledgeFile is the file in the locale files that holds the topics.
const KnowledgeFile = "knowledge.yaml"

// Knowledge is the parsed knowledge file: topics, categories, national facts
// and the compiled lexicon the matcher reads questions with. It is read once
// at start and never changes.
type Knowledge struct {
	Facts      Facts       `yaml:"facts"`
	Matching   Matching    `yaml:"matching"`
	Stopwords  langWords   `yaml:"stopwords"`
	Other      otherLangs  `yaml:"other_languages"`
	Ages       ages        `yaml:"ages"`
	Plain      []string    `yaml:"plain"`
	ConceptDef yaml.Node   `yaml:"concepts"` // a mapping, kept in file order
	Topics     []*Topic    `yaml:"topics"`
	Categories []*Category `yaml:"categories"`

	byID     map[string]*Topic
	concepts []string // concept names by index
	card     int      // the concept "card", which every question about the CIE has
	lex      *lexicon
}

// Facts are the national rules answers quote; the Comune's values come from
// the Comune file.
type Facts struct {
	StateFee               string    `yaml:"state_fee"`
	RenewalDays            int       `yaml:"renewal_days"`
	PaperInvalidFrom       time.Time `yaml:"paper_invalid_from"`
	DeliveryWorkingDays    int       `yaml:"delivery_working_days"`
	CollectFromWorkingDay  int       `yaml:"collect_from_working_day"`
	AppointmentMinutesMin  int       `yaml:"appointment_minutes_min"`
	AppointmentMinutesMax  int       `yaml:"appointment_minutes_max"`
	PINTries               int       `yaml:"pin_tries"`
	PUKTries               int       `yaml:"puk_tries"`
	FingerprintsFromAge    int       `yaml:"fingerprints_from_age"`
	PhotoMonths            int       `yaml:"photo_months"`
	MinorParentsNamesUnder int       `yaml:"minor_parents_names_under"`
}

// Matching bounds the work spent on one question.
type Matching struct {
	HeadBytes int `yaml:"head_bytes"`
	TailBytes int `yaml:"tail_bytes"`
	MaxFuzzy  int `yaml:"max_fuzzy"`
	// PhraseSkip are filler words that may stand inside a phrase.
	PhraseSkip []string `yaml:"phrase_skip"`
}

type langWords struct {
	IT []string `yaml:"it"`
	EN []string `yaml:"en"`
}

type otherLangs struct {
	DE        []string `yaml:"de"`
	FR        []string `yaml:"fr"`
	ES        []string `yaml:"es"`
	Greetings []string `yaml:"greetings"`
}

type ages struct {
	ITUnits  []string `yaml:"it_units"`
	ITBefore []string `yaml:"it_before"`
	ENUnits  []string `yaml:"en_units"`
	ENAfter  []string `yaml:"en_after"`
	ENBefore []string `yaml:"en_before"`
	Glued    []string `yaml:"glued"`
	NotAfter []string `yaml:"not_after"`
	Minor    string   `yaml:"minor"`
	Adult    string   `yaml:"adult"`
}

// Topic is one thing citizens ask. A FAQ topic is answered by the faq
// dialog with message faq.<id>.answer; an action topic (Dialog set) starts
// another dialog, such as booking.
type Topic struct {
	ID string `yaml:"id"`
	// Dialog is the dialog that answers; "" is the faq dialog itself.
	Dialog string `yaml:"dialog"`
	// Button is the id of the button that opens an action topic.
	Button string `yaml:"button"`
	// Weak topics (thanks, insults) give way to any real question in the
	// same message.
	Weak bool `yaml:"weak"`
	// Hidden topics are not questions about the card (thanks, insults,
	// other services): they are in no category of the FAQ menu.
	Hidden bool `yaml:"hidden"`
	// When weighs the concepts that speak for (or against) the topic.
	When map[string]float64 `yaml:"when"`
	// Need lists the concepts (or "a+b" combinations) of which at least
	// one must be present for a sure answer.
	Need []string `yaml:"need"`
	// WalkIn is the urgent case of the Comune file (theft, loss, ...) the
	// topic is about: the answer says which offices take it without
	// appointment.
	WalkIn string `yaml:"walk_in"`
	// Follow are the topics offered as buttons under the answer. Under an
	// action topic, they are offered beside the action when the question
	// reads as them too ("prenota": booking starts, how to book is offered).
	Follow []string `yaml:"follow"`
	// Examples are questions this topic answers, per language.
	Examples map[string][]string `yaml:"examples"`

	weights []weight
	need    [][]int
}

type weight struct {
	concept int
	w       float64
}

// Category groups topics in the FAQ menu.
type Category struct {
	ID     string   `yaml:"id"`
	Topics []string `yaml:"topics"`
}

// Action reports whether another dialog answers the topic.
func (t *Topic) Action() bool { return t.Dialog != "" }

// Topic returns the topic with id, or nil.
func (k *Knowledge) Topic(id string) *Topic { return k.byID[id] }

// Category returns the category with id, or nil.
func (k *Knowledge) Category(id string) *Category {
	for _, c := range k.Categories {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// Concepts returns the concept names, in file order.
func (k *Knowledge) Concepts() []string { return slices.Clone(k.concepts) }

// Load reads and checks the knowledge file from the locale files.
func Load(fsys fs.FS) (*Knowledge, error) {
	data, err := fs.ReadFile(fsys, KnowledgeFile)
	if err != nil {
		return nil, fmt.Errorf("faq: %w", err)
	}
	return Parse(data)
}

// Parse reads and checks a knowledge file's content.
func Parse(data []byte) (*Knowledge, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var k Knowledge
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("faq: %s: %w", KnowledgeFile, err)
	}
	if err := k.compile(); err != nil {
		return nil, fmt.Errorf("faq: %s: %w", KnowledgeFile, err)
	}
	return &k, nil
}

func (k *Knowledge) compile() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	f := k.Facts
	if f.StateFee == "" || f.RenewalDays <= 0 || f.PaperInvalidFrom.IsZero() || f.DeliveryWorkingDays <= 0 ||
		f.CollectFromWorkingDay <= 0 || f.AppointmentMinutesMin <= 0 || f.AppointmentMinutesMax < f.AppointmentMinutesMin ||
		f.PINTries <= 0 || f.PUKTries <= 0 || f.FingerprintsFromAge <= 0 || f.PhotoMonths <= 0 || f.MinorParentsNamesUnder <= 0 {
		fail("facts: every fact is required and must be positive")
	}
	if k.Matching.HeadBytes <= 0 || k.Matching.TailBytes < 0 || k.Matching.MaxFuzzy < 0 {
		fail("matching: head_bytes must be positive, tail_bytes and max_fuzzy not negative")
	}

	// Concepts, in file order.
	if k.ConceptDef.Kind != yaml.MappingNode {
		return errors.Join(append(errs, errors.New("concepts: must be a mapping of concept to words"))...)
	}
	index := map[string]int{}
	words := map[int][]string{}
	for i := 0; i+1 < len(k.ConceptDef.Content); i += 2 {
		name := k.ConceptDef.Content[i].Value
		var list []string
		if err := k.ConceptDef.Content[i+1].Decode(&list); err != nil {
			fail("concepts.%s: %v", name, err)
			continue
		}
		if _, dup := index[name]; dup {
			fail("concepts.%s: defined twice", name)
			continue
		}
		index[name] = len(k.concepts)
		words[len(k.concepts)] = list
		k.concepts = append(k.concepts, name)
	}

	var ok bool
	if k.card, ok = index["card"]; !ok {
		fail("concepts: the concept \"card\" is required")
	}
	k.byID = map[string]*Topic{}
	for i, t := range k.Topics {
		if t == nil || t.ID == "" {
			fail("topics[%d]: id is required", i)
			continue
		}
		if !bot.ValidButtonID("faq:"+t.ID) || strings.ContainsAny(t.ID, ":.") {
			fail("topic %q: id must be letters, digits, '_' or '-'", t.ID)
		}
		if _, dup := k.byID[t.ID]; dup {
			fail("topic %q: defined twice", t.ID)
		}
		k.byID[t.ID] = t
		if t.Action() && !bot.ValidButtonID(t.Button) {
			fail("topic %q: an action topic needs a valid button id", t.ID)
		}
		if t.WalkIn != "" && !slices.Contains(comune.WalkInCases(), t.WalkIn) {
			fail("topic %q: walk_in %q is not a case of the Comune file (%s)", t.ID, t.WalkIn, strings.Join(comune.WalkInCases(), ", "))
		}
		if !t.Action() && t.Button != "" {
			fail("topic %q: only action topics have a button", t.ID)
		}
		names := make([]string, 0, len(t.When))
		for c := range t.When {
			names = append(names, c)
		}
		slices.Sort(names)
		for _, c := range names {
			ci, ok := index[c]
			if !ok {
				fail("topic %q: unknown concept %q", t.ID, c)
				continue
			}
			if t.When[c] != 0 {
				t.weights = append(t.weights, weight{ci, t.When[c]})
			}
		}
		for _, n := range t.Need {
			var group []int
			for c := range strings.SplitSeq(n, "+") {
				ci, ok := index[c]
				if !ok {
					fail("topic %q: need %q: unknown concept %q", t.ID, n, c)
					continue
				}
				if t.When[c] <= 0 {
					fail("topic %q: need %q: concept %q must weigh for the topic", t.ID, n, c)
				}
				group = append(group, ci)
			}
			t.need = append(t.need, group)
		}
	}
	for _, t := range k.Topics {
		if t == nil {
			continue
		}
		for _, f := range t.Follow {
			if k.byID[f] == nil {
				fail("topic %q: follow: unknown topic %q", t.ID, f)
			}
		}
	}
	seen := map[string]bool{}
	for i, c := range k.Categories {
		if c == nil || c.ID == "" || !bot.ValidButtonID("faq:cat."+c.ID) {
			fail("categories[%d]: a valid id is required", i)
			continue
		}
		if len(c.Topics) == 0 {
			fail("category %q: no topics", c.ID)
		}
		for _, id := range c.Topics {
			if k.byID[id] == nil {
				fail("category %q: unknown topic %q", c.ID, id)
			}
			seen[id] = true
		}
	}
	for _, t := range k.Topics {
		if t != nil && !t.Action() && !t.Hidden && !seen[t.ID] {
			fail("topic %q: in no category, so no button reaches it", t.ID)
		}
	}
	for _, u := range []string{k.Ages.Minor, k.Ages.Adult} {
		if _, ok := index[u]; !ok {
			fail("ages: unknown concept %q", u)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	lex, err := compileLexicon(k, index, words)
	if err != nil {
		return err
	}
	k.lex = lex
	return nil
}
