package config

import (
	"errors"
	"strconv"
	"strings"

	"github.com/actions-authz/actions-authz/authz/internal/yamlshape"
	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads a rule: a mapping from claim names to values. The
// conditions keep the order of the file and record their line. Claim names
// are checked when the configuration is compiled, where the error can name
// the policy.
func (r *RuleConfig) UnmarshalYAML(n *yaml.Node) error {
	n = yamlshape.Deref(n)
	if n.Kind != yaml.MappingNode {
		return &yamlshape.Problem{Line: n.Line, Msg: "a rule must be a mapping of claim names to values"}
	}
	var errs []error
	conds := make([]ConditionConfig, 0, len(n.Content)/2)
	first := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			errs = append(errs, &yamlshape.Problem{Line: k.Line, Msg: "claim names must be plain strings (merge keys and anchors are not supported here)"})
			continue
		}
		if line, dup := first[k.Value]; dup {
			errs = append(errs, &yamlshape.Problem{Line: k.Line, Place: k.Value,
				Msg: "claim appears twice in this rule (first on line " + strconv.Itoa(line) + "); use a list for any-of"})
			continue
		}
		first[k.Value] = k.Line
		var val Value
		if err := val.UnmarshalYAML(v); err != nil {
			errs = append(errs, yamlshape.Errors(yamlshape.Problems(k.Value, err))...)
			continue
		}
		conds = append(conds, ConditionConfig{Claim: k.Value, Value: val, Line: k.Line})
	}
	r.Conditions = conds
	return errors.Join(errs...)
}

// UnmarshalYAML reads a value: a string, a sequence of values, {regex: "..."}
// or {not: <value>}. Anything else, including an unquoted number or boolean,
// is an error.
func (v *Value) UnmarshalYAML(n *yaml.Node) error {
	return v.unmarshal(n, 0)
}

// unmarshal is UnmarshalYAML for a value nested depth lists or nots deep.
func (v *Value) unmarshal(n *yaml.Node, depth int) error {
	n = yamlshape.Deref(n)
	if depth > maxValueDepth {
		return &yamlshape.Problem{Line: n.Line, Msg: "lists and not nest more than " + strconv.Itoa(maxValueDepth) + " levels deep in this value"}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		s, err := stringScalar(n)
		if err != nil {
			return err
		}
		*v = Value{Exact: &s}
		return nil
	case yaml.SequenceNode:
		items := make([]Value, len(n.Content))
		var errs []error
		for i, c := range n.Content {
			if err := items[i].unmarshal(c, depth+1); err != nil {
				errs = append(errs, yamlshape.Errors(yamlshape.Problems(yamlshape.Index(i), err))...)
			}
		}
		*v = Value{AnyOf: items}
		return errors.Join(errs...)
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			keys := make([]string, 0, len(n.Content)/2)
			for i := 0; i < len(n.Content); i += 2 {
				keys = append(keys, n.Content[i].Value)
			}
			return &yamlshape.Problem{Line: n.Line, Msg: "a mapping value must have exactly one key, regex or not; this one has " +
				strconv.Itoa(len(keys)) + " (" + strings.Join(keys, ", ") + ")"}
		}
		k, c := n.Content[0], yamlshape.Deref(n.Content[1])
		switch k.Value {
		case "regex":
			if c.Kind != yaml.ScalarNode {
				return &yamlshape.Problem{Line: c.Line, Place: "regex", Msg: "the pattern must be a string"}
			}
			s, err := stringScalar(c)
			if err != nil {
				return yamlshape.Problems("regex", err)[0]
			}
			*v = Value{Regex: &s}
			return nil
		case "not":
			var inner Value
			if err := inner.unmarshal(c, depth+1); err != nil {
				return errors.Join(yamlshape.Errors(yamlshape.Problems("not", err))...)
			}
			*v = Value{Not: &inner}
			return nil
		}
		return &yamlshape.Problem{Line: k.Line, Msg: "unknown key " + strconv.Quote(k.Value) + " in a value; want regex or not"}
	}
	return &yamlshape.Problem{Line: n.Line, Msg: "unsupported value; want a string, a list, {regex: ...} or {not: ...}"}
}

// stringScalar returns the string of a scalar node, refusing the other
// scalar types with a hint to quote them.
func stringScalar(n *yaml.Node) (string, error) {
	const hint = ": GitHub claims are strings"
	switch n.ShortTag() {
	case "!!str":
		return n.Value, nil
	case "!!null":
		return "", &yamlshape.Problem{Line: n.Line, Msg: "missing value"}
	case "!!int", "!!float":
		return "", &yamlshape.Problem{Line: n.Line, Msg: "value " + n.Value + " is a number; quote it (" + strconv.Quote(n.Value) + ")" + hint}
	case "!!bool":
		return "", &yamlshape.Problem{Line: n.Line, Msg: "value " + n.Value + " is a boolean; quote it (" + strconv.Quote(n.Value) + ")" + hint}
	}
	return "", &yamlshape.Problem{Line: n.Line, Msg: "value " + strconv.Quote(n.Value) + " has type " + n.ShortTag() + "; quote it" + hint}
}

// String renders v as it would be written in the file, in flow style:
// "refs/heads/main", ["a", "b"], {regex: "v[0-9]+"}, {not: "main"}.
func (v Value) String() string {
	switch {
	case v.Exact != nil:
		return strconv.Quote(*v.Exact)
	case v.Regex != nil:
		return "{regex: " + strconv.Quote(*v.Regex) + "}"
	case v.Not != nil:
		return "{not: " + v.Not.String() + "}"
	case v.AnyOf != nil:
		parts := make([]string, len(v.AnyOf))
		for i, it := range v.AnyOf {
			parts[i] = it.String()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return "<empty>"
}
