package authz

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/actions-authz/actions-authz/claims"
)

// matcher reports whether a claim value matches a compiled condition value.
// It is only asked about present (non-empty) values: an absent claim never
// matches, not even under not, and the condition checks that first.
type matcher interface {
	match(v string) bool
}

// equal is an exact string, or a glob without wildcards.
type equal string

func (m equal) match(v string) bool { return v == string(m) }

// prefix is a glob whose only wildcards are trailing stars: "refs/tags/v*".
type prefix string

func (m prefix) match(v string) bool { return strings.HasPrefix(v, string(m)) }

// pattern is any other glob, or a regex, anchored at both ends.
type pattern struct{ re *regexp.Regexp }

func (m pattern) match(v string) bool { return m.re.MatchString(v) }

// foldEqual is an exact string compared case-insensitively (Unicode simple
// case folding, as strings.EqualFold and a regex's (?i) fold).
type foldEqual string

func (m foldEqual) match(v string) bool { return strings.EqualFold(v, string(m)) }

// foldPrefix is a trailing-star glob compared case-insensitively.
type foldPrefix string

func (m foldPrefix) match(v string) bool { return hasPrefixFold(v, string(m)) }

// refEqual is an exact workflow_ref or job_workflow_ref: its repository
// part (before the second "/") compared case-insensitively, the rest (the
// workflow path and the ref) exactly.
type refEqual struct{ repo, rest string }

func (m refEqual) match(v string) bool {
	repo, rest := splitRepo(v)
	return rest == m.rest && strings.EqualFold(repo, m.repo)
}

// refPrefix is a trailing-star glob on a workflow ref whose literal part
// reaches past the repository part: that part compared case-insensitively,
// the rest as a prefix, exactly.
type refPrefix struct{ repo, rest string }

func (m refPrefix) match(v string) bool {
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

// hasPrefixFold is strings.HasPrefix under Unicode simple case folding, as
// strings.EqualFold compares: rune by rune, since runes that fold together
// may differ in length ("K", the Kelvin sign, is three bytes, "k" one).
func hasPrefixFold(s, prefix string) bool {
	for _, pr := range prefix {
		if s == "" {
			return false
		}
		sr, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		if sr != pr && !equalFoldRune(sr, pr) {
			return false
		}
	}
	return true
}

// equalFoldRune reports whether a and b are the same rune under simple case
// folding (the loop of strings.EqualFold).
func equalFoldRune(a, b rune) bool {
	if b < a {
		a, b = b, a
	}
	if b < utf8.RuneSelf {
		return 'A' <= a && a <= 'Z' && b == a+'a'-'A'
	}
	r := unicode.SimpleFold(a)
	for r != a && r < b {
		r = unicode.SimpleFold(r)
	}
	return r == b
}

// anyOf matches if any of its matchers does.
type anyOf []matcher

func (m anyOf) match(v string) bool {
	for _, x := range m {
		if x.match(v) {
			return true
		}
	}
	return false
}

// not negates a matcher.
type not struct{ m matcher }

func (m not) match(v string) bool { return !m.m.match(v) }

// matchSet reports whether m matches a claim with the values vs (at least
// one): a plain matcher when any value matches, a list when any of its items
// does, and a negation when its operand does not, that is, when no value
// matches what it negates. With one value it is m.match.
func matchSet(m matcher, vs []string) bool {
	if len(vs) == 1 {
		return m.match(vs[0])
	}
	switch m := m.(type) {
	case not:
		return !matchSet(m.m, vs)
	case anyOf:
		for _, x := range m {
			if matchSet(x, vs) {
				return true
			}
		}
		return false
	}
	for _, v := range vs {
		if m.match(v) {
			return true
		}
	}
	return false
}

// pinKind says what it takes for a condition on a claim to pin the owner.
type pinKind uint8

const (
	pinNever pinKind = iota // the claim says nothing about the owner
	pinExact                // *_id and repository_owner: only a value that is one fixed string
	pinRepo                 // repository: a literal prefix that holds "/", the whole owner
)

// foldKind says which part of a claim's value compares case-insensitively.
type foldKind uint8

const (
	foldNone foldKind = iota // the whole value compares exactly
	foldAll                  // repository_owner, repository: GitHub names are case-insensitive
	foldRepo                 // workflow_ref, job_workflow_ref: the owner/repo before the second "/"
)

// claimRules are how conditions on one claim compile: what pins the owner,
// and which part of the value ignores case.
type claimRules struct {
	pin  pinKind
	fold foldKind
}

// rulesOf returns the compilation rules of a condition on claim f.
func rulesOf(f claims.Field) claimRules {
	switch f {
	case claims.FieldRepositoryOwnerID, claims.FieldRepositoryID, claims.FieldEnterpriseID:
		return claimRules{pin: pinExact}
	case claims.FieldRepositoryOwner:
		return claimRules{pin: pinExact, fold: foldAll}
	case claims.FieldRepository:
		return claimRules{pin: pinRepo, fold: foldAll}
	case claims.FieldWorkflowRef, claims.FieldJobWorkflowRef:
		return claimRules{fold: foldRepo}
	}
	return claimRules{}
}

// pinnedBy reports whether a pattern with the given literal prefix pins the
// owner: complete is true when the prefix is all the pattern can match.
func pinnedBy(kind pinKind, lit string, complete bool) bool {
	switch kind {
	case pinExact:
		return complete
	case pinRepo:
		return complete || strings.Contains(lit, "/")
	}
	return false
}

// compileValue compiles v into a matcher and reports whether, on a claim
// with the given rules, it pins the owner: it cannot match every owner. The
// matcher ignores case where the rules say so, in every kind of value, so
// that a negation refuses every spelling of what it excludes. Errors are
// placed relative to the value ("[1]", "not").
func compileValue(v Value, kind claimRules) (matcher, bool, error) {
	set := 0
	for _, ok := range []bool{v.Exact != nil, v.AnyOf != nil, v.Regex != nil, v.Not != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return nil, false, &problem{msg: "a value sets exactly one of a string, a list, regex or not"}
	}
	switch {
	case v.Exact != nil:
		return compileGlob(*v.Exact, kind)
	case v.Regex != nil:
		return compileRegex(*v.Regex, kind)
	case v.Not != nil:
		m, _, err := compileValue(*v.Not, kind)
		if err != nil {
			return nil, false, errors.Join(asErrors(problems("not", err))...)
		}
		return not{m}, false, nil // a negation matches almost every owner
	}
	if len(v.AnyOf) == 0 {
		return nil, false, &problem{msg: "an empty list never matches"}
	}
	ms := make(anyOf, 0, len(v.AnyOf))
	pins := true
	var errs []error
	for i, it := range v.AnyOf {
		m, p, err := compileValue(it, kind)
		if err != nil {
			errs = append(errs, asErrors(problems(index(i), err))...)
			continue
		}
		ms = append(ms, m)
		pins = pins && p
	}
	if len(errs) > 0 {
		return nil, false, errors.Join(errs...)
	}
	if len(ms) == 1 {
		return ms[0], pins, nil
	}
	return ms, pins, nil
}

// compileGlob compiles an exact string or a glob: * matches any run of
// characters, "/" included, and ? any one character. Nothing else is special,
// so [ ] { } and \ are refused in a glob rather than silently taken literally.
func compileGlob(s string, kind claimRules) (matcher, bool, error) {
	if s == "" {
		return nil, false, &problem{msg: `"" never matches: an absent or empty claim never matches`}
	}
	wild := strings.IndexAny(s, "*?")
	if wild < 0 {
		return exactMatcher(s, kind.fold), pinnedBy(kind.pin, s, true), nil
	}
	if !utf8.ValidString(s) {
		// Claims are JSON strings, always valid UTF-8; and regexp refuses
		// invalid UTF-8, so this glob could not be compiled below.
		return nil, false, &problem{msg: "invalid glob " + strconv.Quote(s) + ": not valid UTF-8"}
	}
	if strings.ContainsAny(s, `[]{}\`) {
		return nil, false, &problem{msg: "invalid glob " + strconv.Quote(s) +
			`: only * and ? are wildcards, and [ ] { } \ are not allowed in a glob; use a list for alternatives or {regex: ...}`}
	}
	pins := pinnedBy(kind.pin, s[:wild], false)
	if lit := strings.TrimRight(s, "*"); !strings.ContainsAny(lit, "*?") {
		return prefixMatcher(lit, kind.fold), pins, nil
	}
	// Literal text before fold (all of it, the repository part, or none)
	// ignores case.
	fold := 0
	switch kind.fold {
	case foldAll:
		fold = len(s)
	case foldRepo:
		repo, _ := splitRepo(s)
		fold = len(repo)
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	literal := func(lit string, at int) {
		if n := min(max(fold-at, 0), len(lit)); n > 0 {
			b.WriteString(`(?i:` + regexp.QuoteMeta(lit[:n]) + `)`)
			lit = lit[n:]
		}
		b.WriteString(regexp.QuoteMeta(lit))
	}
	for at := 0; at < len(s); {
		i := strings.IndexAny(s[at:], "*?")
		if i < 0 {
			literal(s[at:], at)
			break
		}
		literal(s[at:at+i], at)
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

// exactMatcher matches s exactly, ignoring case where fold says so.
func exactMatcher(s string, fold foldKind) matcher {
	switch fold {
	case foldAll:
		return foldEqual(s)
	case foldRepo:
		repo, rest := splitRepo(s)
		return refEqual{repo, rest}
	}
	return equal(s)
}

// prefixMatcher matches values that start with lit, ignoring case where
// fold says so.
func prefixMatcher(lit string, fold foldKind) matcher {
	switch fold {
	case foldAll:
		return foldPrefix(lit)
	case foldRepo:
		repo, rest := splitRepo(lit)
		if rest == "" {
			// lit ends within the repository part, and so does the
			// value's prefix that matches it.
			return foldPrefix(lit)
		}
		return refPrefix{repo, rest}
	}
	return prefix(lit)
}

// compileRegex compiles an RE2 pattern anchored at both ends. It pins the
// owner only through its literal prefix (regexp.LiteralPrefix): the whole
// match for *_id and repository_owner, a prefix holding "/" for repository.
// On a claim that ignores case, the pattern is made case-insensitive where
// the claim is (see foldRegex), whatever flags it sets.
func compileRegex(s string, kind claimRules) (matcher, bool, error) {
	if s == "" {
		return nil, false, &problem{msg: `"" never matches: an absent or empty claim never matches`}
	}
	raw, err := regexp.Compile(s)
	if err != nil {
		return nil, false, regexProblem(s, err)
	}
	if kind.fold != foldNone {
		return foldRegex(s, kind)
	}
	lit, complete := raw.LiteralPrefix()
	pins := pinnedBy(kind.pin, lit, complete)
	if complete {
		return equal(lit), pins, nil
	}
	// Wrapping a valid pattern fails only when a \Q literal runs to its end
	// and would swallow the closing ")$".
	re, err := regexp.Compile(`^(?:` + s + `)$`)
	if err != nil {
		return nil, false, &problem{msg: "invalid regex " + strconv.Quote(s) + `: a \Q literal must be closed with \E`}
	}
	return pattern{re}, pins, nil
}

// regexProblem describes err, from compiling regex s.
func regexProblem(s string, err error) *problem {
	msg := err.Error()
	var se *syntax.Error
	if errors.As(err, &se) {
		msg = string(se.Code)
		if se.Expr != s {
			msg += " in `" + se.Expr + "`"
		}
	}
	return &problem{msg: "invalid regex " + strconv.Quote(s) + ": " + msg}
}

// foldRegex compiles s, a valid regex, for a claim that ignores case in all
// of its value (foldAll) or in its repository part (foldRepo). It works on
// the parsed pattern rather than adding a flag, so that no (?-i) inside can
// turn case-sensitivity back on: every literal and character class folds
// case, for foldRepo only those before the pattern's second literal "/" at
// its top level, as a glob's text before its second "/". The owner is pinned
// by the literal prefix of the parsed pattern, whatever its case flags.
func foldRegex(s string, kind claimRules) (matcher, bool, error) {
	re, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return nil, false, regexProblem(s, err)
	}
	if kind.fold == foldAll {
		foldAllOf(re)
	} else {
		foldLeading(re, 2)
	}
	lit, complete := literalOf(re)
	pins := pinnedBy(kind.pin, lit, complete)
	if complete && kind.fold == foldAll {
		return foldEqual(lit), pins, nil
	}
	out, err := regexp.Compile(`^(?:` + re.String() + `)$`)
	if err != nil {
		return nil, false, regexProblem(s, err)
	}
	return pattern{out}, pins, nil
}

// foldAllOf makes every literal and character class of re fold case.
func foldAllOf(re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpLiteral:
		re.Flags |= syntax.FoldCase
	case syntax.OpCharClass:
		re.Rune = foldClass(re.Rune)
	}
	for _, sub := range re.Sub {
		foldAllOf(sub)
	}
}

// foldLeading folds case in re up to the point where it has matched need
// more literal "/" (counted in literals at its top level and in the
// captures and concatenations there), and returns how many it still needs.
// A literal that holds the last one needed is split in two.
func foldLeading(re *syntax.Regexp, need int) int {
	switch re.Op {
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if need = foldLeading(sub, need); need == 0 {
				break
			}
		}
		return need
	case syntax.OpCapture:
		return foldLeading(re.Sub[0], need)
	case syntax.OpLiteral:
		for i, r := range re.Rune {
			if r != '/' {
				continue
			}
			if need--; need == 0 {
				head := &syntax.Regexp{Op: syntax.OpLiteral, Flags: re.Flags | syntax.FoldCase, Rune: slices.Clone(re.Rune[:i+1])}
				tail := &syntax.Regexp{Op: syntax.OpLiteral, Flags: re.Flags, Rune: slices.Clone(re.Rune[i+1:])}
				*re = syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: []*syntax.Regexp{head, tail}}
				return 0
			}
		}
		re.Flags |= syntax.FoldCase
		return need
	}
	foldAllOf(re)
	return need
}

// foldClass returns the character class ranges r (pairs lo, hi) with every
// rune's simple case folds added, as the regexp parser folds a class under
// (?i). Only runes with a case mapping have other folds, so it visits those
// alone, not every rune of a class such as [^/].
func foldClass(r []rune) []rune {
	out := slices.Clone(r)
	for i := 0; i+1 < len(r); i += 2 {
		lo, hi := r[i], r[i+1]
		for _, cr := range unicode.CaseRanges {
			a, b := max(lo, rune(cr.Lo)), min(hi, rune(cr.Hi))
			for c := a; c <= b; c++ {
				for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
					out = append(out, f, f)
				}
			}
		}
	}
	return normalizeClass(out)
}

// normalizeClass sorts class ranges and merges those that overlap or touch.
func normalizeClass(r []rune) []rune {
	type span struct{ lo, hi rune }
	spans := make([]span, 0, len(r)/2)
	for i := 0; i+1 < len(r); i += 2 {
		spans = append(spans, span{r[i], r[i+1]})
	}
	slices.SortFunc(spans, func(a, b span) int { return int(a.lo - b.lo) })
	out := r[:0:0]
	for _, sp := range spans {
		if n := len(out); n > 0 && sp.lo <= out[n-1]+1 {
			out[n-1] = max(out[n-1], sp.hi)
			continue
		}
		out = append(out, sp.lo, sp.hi)
	}
	return out
}

// literalOf returns the literal text every match of re starts with, and
// whether that text is all re matches. Leading ^ and trailing $ of the whole
// pattern are skipped (the pattern is anchored anyway); case flags are not
// looked at, since the claims this serves ignore case.
func literalOf(re *syntax.Regexp) (string, bool) {
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	if len(subs) > 0 && subs[0].Op == syntax.OpBeginText {
		subs = subs[1:]
	}
	if n := len(subs); n > 0 && subs[n-1].Op == syntax.OpEndText {
		subs = subs[:n-1]
	}
	var b strings.Builder
	for _, sub := range subs {
		lit, complete := plainLiteral(sub)
		b.WriteString(lit)
		if !complete {
			return b.String(), false
		}
	}
	return b.String(), true
}

// plainLiteral is literalOf without anchors: literals, and captures and
// concatenations of them.
func plainLiteral(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune), true
	case syntax.OpEmptyMatch:
		return "", true
	case syntax.OpCapture:
		return plainLiteral(re.Sub[0])
	case syntax.OpConcat:
		var b strings.Builder
		for _, sub := range re.Sub {
			lit, complete := plainLiteral(sub)
			b.WriteString(lit)
			if !complete {
				return b.String(), false
			}
		}
		return b.String(), true
	}
	return "", false
}
