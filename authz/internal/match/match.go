// Package match compiles the values of claim conditions (exact strings,
// globs and RE2 regexes) into matchers, and reports whether each one pins
// the repository owner: whether it cannot match every owner's value.
//
// A glob's * matches any run of characters, "/" included, and ? any one
// character; nothing else is special. A regex is anchored at both ends.
// Plain strings and trailing-star globs compile to string comparisons, not
// regular expressions. What a claim needs, which part of its value ignores
// case and what pins the owner, comes in Options as plain values: the
// package knows nothing of the configuration file or of claim names.
package match

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Matcher reports whether a claim value matches a compiled condition value.
// It is only asked about present (non-empty) values: an absent claim never
// matches, not even under Not, and the caller checks that first.
type Matcher interface {
	Match(v string) bool
}

// Pin says what it takes for a value on a claim to pin the owner.
type Pin uint8

// The ways a claim pins the owner.
const (
	PinNever Pin = iota // the claim says nothing about the owner
	PinExact            // *_id and repository_owner: only a value that is one fixed string
	PinRepo             // repository: a literal prefix that holds "/", the whole owner
)

// Fold says which part of a claim's value compares case-insensitively.
type Fold uint8

// The parts of a value that ignore case.
const (
	FoldNone Fold = iota // the whole value compares exactly
	FoldAll              // repository_owner, repository: GitHub names are case-insensitive
	FoldRepo             // workflow_ref, job_workflow_ref: the owner/repo before the second "/"
)

// Options are how values on one claim compile: what pins the owner, and
// which part of the value ignores case.
type Options struct {
	Pin  Pin
	Fold Fold
}

// equal is an exact string, or a glob without wildcards.
type equal string

func (m equal) Match(v string) bool { return v == string(m) }

// prefix is a glob whose only wildcards are trailing stars: "refs/tags/v*".
type prefix string

func (m prefix) Match(v string) bool { return strings.HasPrefix(v, string(m)) }

// pattern is any other glob, or a regex, anchored at both ends.
type pattern struct{ re *regexp.Regexp }

func (m pattern) Match(v string) bool { return m.re.MatchString(v) }

// foldEqual is an exact string compared case-insensitively (Unicode simple
// case folding, as strings.EqualFold and a regex's (?i) fold).
type foldEqual string

func (m foldEqual) Match(v string) bool { return strings.EqualFold(v, string(m)) }

// foldPrefix is a trailing-star glob compared case-insensitively.
type foldPrefix string

func (m foldPrefix) Match(v string) bool { return hasPrefixFold(v, string(m)) }

// refEqual is an exact workflow_ref or job_workflow_ref: its repository
// part (before the second "/") compared case-insensitively, the rest (the
// workflow path and the ref) exactly.
type refEqual struct{ repo, rest string }

func (m refEqual) Match(v string) bool {
	repo, rest := splitRepo(v)
	return rest == m.rest && strings.EqualFold(repo, m.repo)
}

// refPrefix is a trailing-star glob on a workflow ref whose literal part
// reaches past the repository part: that part compared case-insensitively,
// the rest as a prefix, exactly.
type refPrefix struct{ repo, rest string }

func (m refPrefix) Match(v string) bool {
	repo, rest := splitRepo(v)
	return strings.HasPrefix(rest, m.rest) && strings.EqualFold(repo, m.repo)
}

// splitRepo splits a workflow ref ("owner/repo/.github/workflows/x.yml@ref")
// before its second "/": owner and repository names cannot hold one. A value
// with fewer than two is all repository part.
func splitRepo(s string) (repo, rest string) {
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return s, ""
	}
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return s, ""
	}
	return s[:i+1+j], s[i+1+j:]
}

// anyOf matches if any of its matchers does.
type anyOf []Matcher

func (m anyOf) Match(v string) bool {
	for _, x := range m {
		if x.Match(v) {
			return true
		}
	}
	return false
}

// AnyOf returns a matcher that matches if any of ms does; a list of one is
// that one matcher.
func AnyOf(ms []Matcher) Matcher {
	if len(ms) == 1 {
		return ms[0]
	}
	return anyOf(ms)
}

// not negates a matcher.
type not struct{ m Matcher }

func (m not) Match(v string) bool { return !m.m.Match(v) }

// Not returns the negation of m.
func Not(m Matcher) Matcher { return not{m} }

// Set reports whether m matches a claim with the values vs (at least one):
// a plain matcher when any value matches, an AnyOf when any of its items
// does, and a Not when its operand does not, that is, when no value matches
// what it negates. With one value it is m.Match.
func Set(m Matcher, vs []string) bool {
	if len(vs) == 1 {
		return m.Match(vs[0])
	}
	switch m := m.(type) {
	case not:
		return !Set(m.m, vs)
	case anyOf:
		for _, x := range m {
			if Set(x, vs) {
				return true
			}
		}
		return false
	}
	for _, v := range vs {
		if m.Match(v) {
			return true
		}
	}
	return false
}

// pinnedBy reports whether a pattern with the given literal prefix pins the
// owner: complete is true when the prefix is all the pattern can match.
func pinnedBy(kind Pin, lit string, complete bool) bool {
	switch kind {
	case PinExact:
		return complete
	case PinRepo:
		return complete || strings.Contains(lit, "/")
	}
	return false
}

// errEmpty is the error of an empty glob or regex.
var errEmpty = errors.New(`"" never matches: an absent or empty claim never matches`)

// Glob compiles an exact string or a glob and reports whether, under o, it
// pins the owner. * matches any run of characters, "/" included, and ? any
// one character. Nothing else is special, so [ ] { } and \ are refused in a
// glob rather than silently taken literally. The matcher ignores case where
// o.Fold says so.
func Glob(s string, o Options) (Matcher, bool, error) {
	if s == "" {
		return nil, false, errEmpty
	}
	wild := strings.IndexAny(s, "*?")
	if wild < 0 {
		return literal(s, o.Fold, false), pinnedBy(o.Pin, s, true), nil
	}
	if !utf8.ValidString(s) {
		// Claims are JSON strings, always valid UTF-8; and regexp refuses
		// invalid UTF-8, so this glob could not be compiled below.
		return nil, false, errors.New("invalid glob " + strconv.Quote(s) + ": not valid UTF-8")
	}
	if strings.ContainsAny(s, `[]{}\`) {
		return nil, false, errors.New("invalid glob " + strconv.Quote(s) +
			`: only * and ? are wildcards, and [ ] { } \ are not allowed in a glob; use a list for alternatives or {regex: ...}`)
	}
	pins := pinnedBy(o.Pin, s[:wild], false)
	if lit := strings.TrimRight(s, "*"); !strings.ContainsAny(lit, "*?") {
		return literal(lit, o.Fold, true), pins, nil
	}
	// Literal text before fold (all of it, the repository part, or none)
	// ignores case.
	fold := 0
	switch o.Fold {
	case FoldAll:
		fold = len(s)
	case FoldRepo:
		repo, _ := splitRepo(s)
		fold = len(repo)
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	text := func(lit string, at int) {
		if n := min(max(fold-at, 0), len(lit)); n > 0 {
			b.WriteString(`(?i:` + regexp.QuoteMeta(lit[:n]) + `)`)
			lit = lit[n:]
		}
		b.WriteString(regexp.QuoteMeta(lit))
	}
	for at := 0; at < len(s); {
		i := strings.IndexAny(s[at:], "*?")
		if i < 0 {
			text(s[at:], at)
			break
		}
		text(s[at:at+i], at)
		if s[at+i] == '*' {
			b.WriteString(`.*`)
		} else {
			b.WriteString(`.`)
		}
		at += i + 1
	}
	b.WriteString(`$`)
	return pattern{regexp.MustCompile(b.String())}, pins, nil
}

// literal matches lit exactly, or with isPrefix the values that start with
// it, ignoring case where fold says so.
func literal(lit string, fold Fold, isPrefix bool) Matcher {
	if fold == FoldRepo {
		repo, rest := splitRepo(lit)
		switch {
		case !isPrefix:
			return refEqual{repo, rest}
		case rest != "":
			return refPrefix{repo, rest}
		}
		// lit ends within the repository part, and so does the value's
		// prefix that matches it.
		fold = FoldAll
	}
	switch {
	case fold == FoldAll && isPrefix:
		return foldPrefix(lit)
	case fold == FoldAll:
		return foldEqual(lit)
	case isPrefix:
		return prefix(lit)
	}
	return equal(lit)
}

// Regex compiles an RE2 pattern anchored at both ends. It pins the owner
// only through its literal prefix (regexp.LiteralPrefix): the whole match
// for PinExact, a prefix holding "/" for PinRepo. Where o.Fold ignores
// case, the pattern is made case-insensitive there (see foldRegex),
// whatever flags it sets.
func Regex(s string, o Options) (Matcher, bool, error) {
	if s == "" {
		return nil, false, errEmpty
	}
	raw, err := regexp.Compile(s)
	if err != nil {
		return nil, false, regexError(s, err)
	}
	if o.Fold != FoldNone {
		return foldRegex(s, o)
	}
	lit, complete := raw.LiteralPrefix()
	pins := pinnedBy(o.Pin, lit, complete)
	if complete {
		return equal(lit), pins, nil
	}
	// Wrapping a valid pattern fails only when a \Q literal runs to its end
	// and would swallow the closing ")$".
	re, err := regexp.Compile(`^(?:` + s + `)$`)
	if err != nil {
		return nil, false, errors.New("invalid regex " + strconv.Quote(s) + `: a \Q literal must be closed with \E`)
	}
	return pattern{re}, pins, nil
}

// regexError describes err, from compiling regex s.
func regexError(s string, err error) error {
	msg := err.Error()
	var se *syntax.Error
	if errors.As(err, &se) {
		msg = string(se.Code)
		if se.Expr != s {
			msg += " in `" + se.Expr + "`"
		}
	}
	return errors.New("invalid regex " + strconv.Quote(s) + ": " + msg)
}
