package authz

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
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
