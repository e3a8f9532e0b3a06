package yamlshape

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// parse returns the root mapping of doc.
func parse(t *testing.T, doc string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	return Deref(n.Content[0])
}

func TestProblemError(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "c.yaml", Line: 3, Place: "a: b", Msg: "bad"}, "c.yaml:3: a: b: bad"},
		{Problem{File: "c.yaml", Msg: "bad"}, "c.yaml: bad"},
		{Problem{Line: 3, Msg: "bad"}, "line 3: bad"},
		{Problem{Place: "a", Msg: "bad"}, "a: bad"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestPlaces(t *testing.T) {
	for _, tt := range [][3]string{{"allow", "[1]", "allow[1]"}, {"allow[1]", "ref", "allow[1]: ref"}, {"", "ref", "ref"}, {"ref", "", "ref"}} {
		if got := At(tt[0], tt[1]); got != tt[2] {
			t.Errorf("At(%q, %q) = %q, want %q", tt[0], tt[1], got, tt[2])
		}
	}
	err := errors.Join(&Problem{Line: 2, Place: "not", Msg: "a"}, errors.Join(errors.New("b")))
	var got []string
	for _, p := range Problems("x"+Index(4), err) {
		got = append(got, p.Error())
	}
	if want := []string{"line 2: x[4]: not: a", "x[4]: b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Problems = %q, want %q", got, want)
	}
	if Problems("x", nil) != nil {
		t.Error("Problems of nil is not nil")
	}
}

func TestNodes(t *testing.T) {
	n := parse(t, "d: &y two\na: &x {b: [one, *y]}\nc: *x\n")
	if got := Scalar(Child(Child(n, "c"), "b"), "b"); got != "" {
		t.Errorf("Scalar of a sequence = %q", got)
	}
	if got := Item(Child(Child(n, "c"), "b"), 1); got == nil || got.Value != "two" {
		t.Errorf("Item through aliases = %v, want the node two", got)
	}
	if Item(Child(n, "a"), 0) != nil || Child(n, "zz") != nil || Item(Child(Child(n, "a"), "b"), 2) != nil {
		t.Error("a missing node is not nil")
	}
	if Scalar(n, "d") != "two" || Line(Child(n, "d"), 9) != 1 || Line(nil, 9) != 9 {
		t.Error("Scalar or Line")
	}
}

func TestCheckExpansion(t *testing.T) {
	if err := CheckExpansion(parse(t, "a: &a [x, x]\nb: [*a, *a]\n"), 16); err != nil {
		t.Errorf("small document: %v", err)
	}
	if err := CheckExpansion(parse(t, "a: &a [x, x]\nb: [*a, *a, *a]\n"), 16); err == nil || !strings.Contains(err.Error(), "more than 16 nodes") {
		t.Errorf("large document: %v", err)
	}
	if err := CheckExpansion(parse(t, "a: &a [x, *a]\n"), 10); err == nil || !strings.Contains(err.Error(), "line 1: an alias refers to a node that contains it") {
		t.Errorf("infinite document: %v", err)
	}
}

type (
	doc struct {
		Name  string  `yaml:"name"`
		Items []item  `yaml:"items"`
		Sub   *sub    `yaml:"sub"`
		Sub2  sub     `yaml:"sub2"`
		Rules []self  `yaml:"rules"`
		Vals  []other `yaml:"vals"`
		Skip  string  `yaml:"-"`
	}
	item struct {
		ID string `yaml:"id"`
	}
	sub struct {
		A string `yaml:"a"`
	}
	self  struct{}
	other struct{}
)

func (*self) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &Problem{Line: n.Line, Place: "rule", Msg: "not a mapping"}
	}
	return nil
}

func (*other) UnmarshalYAML(n *yaml.Node) error { return nil }

func TestChecker(t *testing.T) {
	root := parse(t, `
name: x
nmae: y
name: z
items: [{id: a}, {idd: b}]
sub: &s {a: x, c: y}
extra: {<<: *s}
sub2: {<<: [{a: x, d: y}]}
rules: [{}, x, null]
vals: [null]
`)
	c := Checker{
		ItemPlace: func(elem reflect.Type, i int, n *yaml.Node) string {
			if elem == reflect.TypeFor[item]() {
				return "item " + Scalar(n, "id")
			}
			return ""
		},
		Repair: map[reflect.Type]string{reflect.TypeFor[self](): "empty"},
	}
	c.Check(root, reflect.TypeFor[doc](), "")
	var got []string
	for _, p := range c.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		`line 3: unknown key "nmae" (known: name, items, sub, sub2, rules, vals)`,
		`line 4: key "name" given twice (first on line 2)`,
		`line 5: item : unknown key "idd" (known: id)`,
		`line 6: sub: unknown key "c" (known: a)`,
		`line 7: unknown key "extra" (known: name, items, sub, sub2, rules, vals)`,
		`line 8: sub2: unknown key "d" (known: a)`,
		`line 9: rules[1]: rule: not a mapping`,
		`line 9: rules[2]: empty`,
		`line 10: vals[0]: missing value`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rules := Child(root, "rules")
	if !c.Patched[root] || !c.Patched[Child(root, "sub")] || c.Patched[Item(rules, 0)] || !c.Patched[Item(rules, 1)] || !c.Patched[Item(rules, 2)] {
		t.Errorf("patched %v", c.Patched)
	}
	if n := Item(rules, 1); n.Kind != yaml.MappingNode || len(n.Content) != 0 {
		t.Errorf("a broken rule is not replaced by an empty mapping: %+v", n)
	}
	if Child(root, "nmae") != nil || Child(Child(root, "sub"), "c") != nil {
		t.Error("unknown keys are not cut")
	}
}

func TestFind(t *testing.T) {
	root := parse(t, "token:\n  max_bytes: 1\nissuers:\n  - url: x\n  - {}\n")
	tests := []struct {
		path, place   string
		line          int
		missingFromIt bool
	}{
		{"token.max_bytes", "token: max_bytes", 2, false},
		{"issuers[0].url", "issuers[0]: url", 4, false},
		{"issuers[1].url", "issuers[1]: url", 5, true},
		{"issuers[2].url", "issuers[2]", 0, true},
		{"cache.max_entries", "cache", 0, true},
	}
	for _, tt := range tests {
		line, place, from := Find(root, tt.path)
		if line != tt.line || place != tt.place || (from != nil) != tt.missingFromIt {
			t.Errorf("Find(%q) = %d, %q, %v; want %d, %q, missing %v", tt.path, line, place, from, tt.line, tt.place, tt.missingFromIt)
		}
	}
}
