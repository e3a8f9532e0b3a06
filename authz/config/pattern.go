package config

import (
	"errors"

	"github.com/actions-authz/actions-authz/authz/internal/match"
	"github.com/actions-authz/actions-authz/authz/internal/yamlshape"
	"github.com/actions-authz/actions-authz/claims"
)

// rulesOf returns how a condition on claim f compiles: what pins the owner,
// and which part of the value ignores case.
func rulesOf(f claims.Field) match.Options {
	switch f {
	case claims.FieldRepositoryOwnerID, claims.FieldRepositoryID, claims.FieldEnterpriseID:
		return match.Options{Pin: match.PinExact}
	case claims.FieldRepositoryOwner:
		return match.Options{Pin: match.PinExact, Fold: match.FoldAll}
	case claims.FieldRepository:
		return match.Options{Pin: match.PinRepo, Fold: match.FoldAll}
	case claims.FieldWorkflowRef, claims.FieldJobWorkflowRef:
		return match.Options{Fold: match.FoldRepo}
	}
	return match.Options{}
}

// compileValue compiles v into a matcher and reports whether, on a claim
// with the given rules, it pins the owner: it cannot match every owner. The
// matcher ignores case where the rules say so, in every kind of value, so
// that a negation refuses every spelling of what it excludes. Errors are
// placed relative to the value ("[1]", "not").
func compileValue(v Value, kind match.Options) (match.Matcher, bool, error) {
	set := 0
	for _, ok := range []bool{v.Exact != nil, v.AnyOf != nil, v.Regex != nil, v.Not != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return nil, false, &yamlshape.Problem{Msg: "a value sets exactly one of a string, a list, regex or not"}
	}
	switch {
	case v.Exact != nil:
		return match.Glob(*v.Exact, kind)
	case v.Regex != nil:
		return match.Regex(*v.Regex, kind)
	case v.Not != nil:
		m, _, err := compileValue(*v.Not, kind)
		if err != nil {
			return nil, false, errors.Join(yamlshape.Errors(yamlshape.Problems("not", err))...)
		}
		return match.Not(m), false, nil // a negation matches almost every owner
	}
	if len(v.AnyOf) == 0 {
		return nil, false, &yamlshape.Problem{Msg: "an empty list never matches"}
	}
	ms := make([]match.Matcher, 0, len(v.AnyOf))
	pins := true
	var errs []error
	for i, it := range v.AnyOf {
		m, p, err := compileValue(it, kind)
		if err != nil {
			errs = append(errs, yamlshape.Errors(yamlshape.Problems(yamlshape.Index(i), err))...)
			continue
		}
		ms = append(ms, m)
		pins = pins && p
	}
	if len(errs) > 0 {
		return nil, false, errors.Join(errs...)
	}
	return match.AnyOf(ms), pins, nil
}
