package authz

import (
	"errors"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// problem is one configuration error: where it is and what is wrong.
type problem struct {
	file  string // set by LoadConfig
	line  int    // 0 when unknown
	place string // e.g. `policy "deploy" (policies[0]): allow[1]: ref`
	msg   string
}

func (p *problem) Error() string {
	var b strings.Builder
	switch {
	case p.file != "" && p.line > 0:
		b.WriteString(p.file + ":" + strconv.Itoa(p.line) + ": ")
	case p.file != "":
		b.WriteString(p.file + ": ")
	case p.line > 0:
		b.WriteString("line " + strconv.Itoa(p.line) + ": ")
	}
	if p.place != "" {
		b.WriteString(p.place + ": ")
	}
	b.WriteString(p.msg)
	return b.String()
}

// at joins two parts of a place: "allow" and "[1]" give "allow[1]", "allow[1]"
// and "ref" give "allow[1]: ref".
func at(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case child[0] == '[':
		return parent + child
	}
	return parent + ": " + child
}

// index renders a sequence index as a place: "[3]".
func index(i int) string { return "[" + strconv.Itoa(i) + "]" }

// problems flattens err (a *problem, an errors.Join of them, or anything
// else) into problems placed under place.
func problems(place string, err error) []*problem {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok { // errors.Join
		var out []*problem
		for _, e := range j.Unwrap() {
			out = append(out, problems(place, e)...)
		}
		return out
	}
	var p *problem
	if errors.As(err, &p) {
		q := *p
		q.place = at(place, p.place)
		return []*problem{&q}
	}
	return []*problem{{place: place, msg: err.Error()}}
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// UnmarshalYAML reads a rule: a mapping from claim names to values. The
// conditions keep the order of the file and record their line. Claim names
// are checked when the configuration is compiled, where the error can name
// the policy.
func (r *RuleConfig) UnmarshalYAML(n *yaml.Node) error {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return &problem{line: n.Line, msg: "a rule must be a mapping of claim names to values"}
	}
	var errs []error
	conds := make([]ConditionConfig, 0, len(n.Content)/2)
	first := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			errs = append(errs, &problem{line: k.Line, msg: "claim names must be plain strings (merge keys and anchors are not supported here)"})
			continue
		}
		if line, dup := first[k.Value]; dup {
			errs = append(errs, &problem{line: k.Line, place: k.Value,
				msg: "claim appears twice in this rule (first on line " + strconv.Itoa(line) + "); use a list for any-of"})
			continue
		}
		first[k.Value] = k.Line
		var val Value
		if err := val.UnmarshalYAML(v); err != nil {
			errs = append(errs, asErrors(problems(k.Value, err))...)
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
	n = deref(n)
	if depth > maxValueDepth {
		return &problem{line: n.Line, msg: "lists and not nest more than " + strconv.Itoa(maxValueDepth) + " levels deep in this value"}
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
				errs = append(errs, asErrors(problems(index(i), err))...)
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
			return &problem{line: n.Line, msg: "a mapping value must have exactly one key, regex or not; this one has " +
				strconv.Itoa(len(keys)) + " (" + strings.Join(keys, ", ") + ")"}
		}
		k, c := n.Content[0], deref(n.Content[1])
		switch k.Value {
		case "regex":
			if c.Kind != yaml.ScalarNode {
				return &problem{line: c.Line, place: "regex", msg: "the pattern must be a string"}
			}
			s, err := stringScalar(c)
			if err != nil {
				return problems("regex", err)[0]
			}
			*v = Value{Regex: &s}
			return nil
		case "not":
			var inner Value
			if err := inner.unmarshal(c, depth+1); err != nil {
				return errors.Join(asErrors(problems("not", err))...)
			}
			*v = Value{Not: &inner}
			return nil
		}
		return &problem{line: k.Line, msg: "unknown key " + strconv.Quote(k.Value) + " in a value; want regex or not"}
	}
	return &problem{line: n.Line, msg: "unsupported value; want a string, a list, {regex: ...} or {not: ...}"}
}

// stringScalar returns the string of a scalar node, refusing the other
// scalar types with a hint to quote them.
func stringScalar(n *yaml.Node) (string, error) {
	const hint = ": GitHub claims are strings"
	switch n.ShortTag() {
	case "!!str":
		return n.Value, nil
	case "!!null":
		return "", &problem{line: n.Line, msg: "missing value"}
	case "!!int", "!!float":
		return "", &problem{line: n.Line, msg: "value " + n.Value + " is a number; quote it (" + strconv.Quote(n.Value) + ")" + hint}
	case "!!bool":
		return "", &problem{line: n.Line, msg: "value " + n.Value + " is a boolean; quote it (" + strconv.Quote(n.Value) + ")" + hint}
	}
	return "", &problem{line: n.Line, msg: "value " + strconv.Quote(n.Value) + " has type " + n.ShortTag() + "; quote it" + hint}
}

func asErrors(ps []*problem) []error {
	out := make([]error, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
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
