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

// pinKind says what it takes for a condition on a claim to pin the owner.
type pinKind uint8

const (
	pinNever pinKind = iota // the claim says nothing about the owner
	pinExact                // *_id and repository_owner: only a value that is one fixed string
	pinRepo                 // repository: a literal prefix that holds "/", the whole owner
)

// pinKindOf returns how a condition on claim f can pin the owner.
func pinKindOf(f claims.Field) pinKind {
	switch f {
	case claims.FieldRepositoryOwnerID, claims.FieldRepositoryID, claims.FieldRepositoryOwner, claims.FieldEnterpriseID:
		return pinExact
	case claims.FieldRepository:
		return pinRepo
	}
	return pinNever
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

// compileValue compiles v into a matcher and reports whether, on a claim of
// the given pin kind, it pins the owner: it cannot match every owner. Errors
// are placed relative to the value ("[1]", "not").
func compileValue(v Value, kind pinKind) (matcher, bool, error) {
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
func compileGlob(s string, kind pinKind) (matcher, bool, error) {
	if s == "" {
		return nil, false, &problem{msg: `"" never matches: an absent or empty claim never matches`}
	}
	wild := strings.IndexAny(s, "*?")
	if wild < 0 {
		return equal(s), pinnedBy(kind, s, true), nil
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
	pins := pinnedBy(kind, s[:wild], false)
	if lit := strings.TrimRight(s, "*"); !strings.ContainsAny(lit, "*?") {
		return prefix(lit), pins, nil
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for s != "" {
		i := strings.IndexAny(s, "*?")
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(s))
			break
		}
		b.WriteString(regexp.QuoteMeta(s[:i]))
		if s[i] == '*' {
			b.WriteString(`.*`)
		} else {
			b.WriteString(`.`)
		}
		s = s[i+1:]
	}
	b.WriteString(`$`)
	return pattern{regexp.MustCompile(b.String())}, pins, nil
}

// compileRegex compiles an RE2 pattern anchored at both ends. It pins the
// owner only through its literal prefix (regexp.LiteralPrefix): the whole
// match for *_id and repository_owner, a prefix holding "/" for repository.
func compileRegex(s string, kind pinKind) (matcher, bool, error) {
	if s == "" {
		return nil, false, &problem{msg: `"" never matches: an absent or empty claim never matches`}
	}
	raw, err := regexp.Compile(s)
	if err != nil {
		msg := err.Error()
		var se *syntax.Error
		if errors.As(err, &se) {
			msg = string(se.Code)
			if se.Expr != s {
				msg += " in `" + se.Expr + "`"
			}
		}
		return nil, false, &problem{msg: "invalid regex " + strconv.Quote(s) + ": " + msg}
	}
	lit, complete := raw.LiteralPrefix()
	pins := pinnedBy(kind, lit, complete)
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
