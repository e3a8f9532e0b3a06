package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestParseConfigBounds checks that documents describing huge or infinite
// trees through aliases, and values nested without end, are refused with a
// message instead of exhausting the stack or the memory, and that ordinary
// anchors still work. Before these bounds, the self-referencing cases crashed
// the process with a fatal stack overflow (found while writing
// FuzzParseConfig), which a configuration reload would have hit too.
func TestParseConfigBounds(t *testing.T) {
	const head = "issuers: [{url: https://token.actions.githubusercontent.com}]\naudiences: [x]\n"
	policy := func(rule string) string {
		return head + "policies:\n  - name: p\n    allow:\n      - repository_owner_id: \"1\"\n        " + rule + "\n"
	}
	// Ten levels of ten aliases each: 10^10 nodes once expanded.
	var laughs strings.Builder
	laughs.WriteString(head + "x-laughs:\n  l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&laughs, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	laughsRule := laughs.String() + "policies:\n  - name: p\n    allow:\n      - repository_owner_id: \"1\"\n        ref: *l9\n"
	deep := func(n int) string { return strings.Repeat("{not: ", n) + "main" + strings.Repeat("}", n) }
	deepList := func(n int) string { return strings.Repeat("[", n) + "main" + strings.Repeat("]", n) }

	tests := []struct {
		name string
		doc  string
		want string // "" means valid
	}{
		{"alias inside its own list", policy("ref: &v [*v]"), "contains it"},
		{"alias inside its own not", policy("ref: &v {not: *v}"), "contains it"},
		{"alias inside its own mapping", head + "server: &s {tls: *s}\npolicies: []\n", "contains it"},
		{"billion laughs in a value", laughsRule, "expands to more than 100000 nodes"},
		{"billion laughs anywhere", laughs.String(), "expands to more than 100000 nodes"},
		{"not nested 9 deep", policy("ref: " + deep(9)), "nest more than 8 levels"},
		{"not nested 5000 deep", policy("ref: " + deep(5000)), "nest more than 8 levels"},
		{"lists nested 5000 deep", policy("ref: " + deepList(5000)), "nest more than 8 levels"},
		{"not nested 3 deep", policy("ref: " + deep(3)), ""},
		{"a rule shared through an anchor", head + "policies:\n  - name: a\n    allow: [&r {repository_owner_id: \"1\", ref: [main, dev]}]\n  - name: b\n    allow: [*r]\n", ""},
		{"a value shared through an anchor", policy("ref: &refs [refs/heads/main, refs/heads/dev]\n        head_ref: *refs"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Parse accepted the document, want an error containing %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestParseConfigUnclosedQuote is the YAML path to a crash FuzzPattern found:
// a regex whose \Q literal is not closed made the loader panic.
func TestParseConfigUnclosedQuote(t *testing.T) {
	doc := "issuers: [{url: https://token.actions.githubusercontent.com}]\naudiences: [x]\n" +
		"policies:\n  - name: p\n    allow:\n      - repository_owner_id: \"1\"\n        ref: {regex: 'refs/.\\Qmain'}\n"
	_, err := Parse([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), `line 7: policy "p" (policies[0]): allow[0]: ref: invalid regex`) {
		t.Fatalf("Parse = %v, want an invalid regex error on line 7", err)
	}
}
