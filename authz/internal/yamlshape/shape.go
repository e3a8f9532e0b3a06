package yamlshape

import (
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// Checker walks a node tree against the Go types it will be decoded into.
// It reports keys a struct does not have (naming the keys it has), keys
// given twice and the errors of the types that decode themselves (those
// that implement yaml.Unmarshaler), and repairs the tree as it goes: such
// keys are cut out of their mapping, and the node of a Repair type that
// fails to decode is replaced by an empty mapping. Both are recorded in
// Patched, so that the caller's later checks need not report follow-on
// problems (a required key missing because it was misspelt, an empty
// value). Type mismatches of plain fields are left to the decoder.
type Checker struct {
	// ItemPlace, when set, names item i of a sequence of elem in places;
	// "" keeps the default, the sequence's place followed by "[i]".
	ItemPlace func(elem reflect.Type, i int, item *yaml.Node) string
	// Repair are the self-decoding types whose node is replaced by an
	// empty mapping when it fails to decode, each with the message for a
	// null in its place. A null of another such type is "missing value".
	Repair map[reflect.Type]string

	Problems []*Problem
	Patched  map[*yaml.Node]bool // the mappings cut and the nodes replaced
}

// Check checks n, at place, against type t, and what it holds against the
// types of t's fields and items.
func (s *Checker) Check(n *yaml.Node, t reflect.Type, place string) {
	n = Deref(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		s.checkSelfDecoding(n, t, place)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind == yaml.MappingNode {
			s.checkMapping(n, t, place)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			p := ""
			if s.ItemPlace != nil {
				p = s.ItemPlace(t.Elem(), i, item)
			}
			if p == "" {
				p = At(place, Index(i))
			}
			s.Check(item, t.Elem(), p)
		}
	}
}

// checkSelfDecoding decodes n into a new t, as the decoder will, and reports
// its errors with their place. A null would be dropped silently from a list.
func (s *Checker) checkSelfDecoding(n *yaml.Node, t reflect.Type, place string) {
	nullMsg, repair := s.Repair[t]
	var err error
	switch {
	case n.ShortTag() == "!!null" && repair:
		err = &Problem{Line: n.Line, Msg: nullMsg}
	case n.ShortTag() == "!!null":
		err = &Problem{Line: n.Line, Msg: "missing value"}
	default:
		err = n.Decode(reflect.New(t).Interface())
	}
	if err == nil {
		return
	}
	s.Problems = append(s.Problems, Problems(place, err)...)
	if repair {
		*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
		s.patch(n)
	}
}

func (s *Checker) patch(n *yaml.Node) {
	if s.Patched == nil {
		s.Patched = make(map[*yaml.Node]bool)
	}
	s.Patched[n] = true
}

// checkMapping checks the keys of mapping n against struct type t.
func (s *Checker) checkMapping(n *yaml.Node, t reflect.Type, place string) {
	fields, names := yamlFields(t)
	seen := make(map[string]int)
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" { // "<<: *anchor", or a list of them
			if m := Deref(v); m != nil && m.Kind == yaml.SequenceNode {
				for _, c := range m.Content {
					s.Check(c, t, place)
				}
			} else {
				s.Check(v, t, place)
			}
			kept = append(kept, k, v)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			s.Problems = append(s.Problems, &Problem{Line: k.Line, Place: place,
				Msg: "key " + strconv.Quote(k.Value) + " given twice (first on line " + strconv.Itoa(line) + ")"})
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			s.Problems = append(s.Problems, &Problem{Line: k.Line, Place: place,
				Msg: "unknown key " + strconv.Quote(k.Value) + " (known: " + strings.Join(names, ", ") + ")"})
			continue
		}
		s.Check(v, ft, At(place, k.Value))
		kept = append(kept, k, v)
	}
	if len(kept) < len(n.Content) {
		n.Content = kept
		s.patch(n)
	}
}

// yamlFields returns the YAML keys of struct type t with their types, and
// the keys in declaration order for messages.
func yamlFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := make(map[string]reflect.Type, t.NumField())
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}
