package config

import (
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/authz/internal/match"
	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/claims"
)

func str(s string) *string { return &s }

func exact(s string) Value         { return Value{Exact: str(s)} }
func regex(s string) Value         { return Value{Regex: str(s)} }
func negate(v Value) Value         { return Value{Not: &v} }
func anyOfValues(v ...Value) Value { return Value{AnyOf: v} }

func TestMatching(t *testing.T) {
	tests := []struct {
		name  string
		value Value
		claim string
		want  bool
	}{
		{"exact", exact("refs/heads/main"), "refs/heads/main", true},
		{"exact is not a prefix", exact("refs/heads/main"), "refs/heads/main2", false},
		{"exact is case-sensitive", exact("refs/heads/main"), "refs/heads/Main", false},
		{"glob prefix", exact("refs/tags/v*"), "refs/tags/v1.2.3", true},
		{"glob prefix needs the prefix", exact("refs/tags/v*"), "refs/heads/v1", false},
		{"glob star crosses slash", exact("my-org/workflows/*@refs/heads/main"), "my-org/workflows/.github/workflows/deploy.yml@refs/heads/main", true},
		{"glob inner star anchored at the end", exact("my-org/workflows/*@refs/heads/main"), "my-org/workflows/x.yml@refs/heads/main-evil", false},
		{"glob star matches empty", exact("a*b"), "ab", true},
		{"glob question is one character", exact("v?"), "v1", true},
		{"glob question is exactly one", exact("v?"), "v12", false},
		{"glob question is one rune", exact("?"), "🚀", true},
		{"glob is not a regex", exact("refs/heads/ma.n*"), "refs/heads/main", false},
		{"glob matches newlines", exact("a*"), "a\nb", true},
		{"glob star alone", exact("*"), "anything", true},
		// The AWS StringLike pitfall: without the separator the glob is wider than it looks.
		{"sub pitfall", exact("repo:octo-org/octo-repo*"), "repo:octo-org/octo-repo-evil:ref:refs/heads/main", true},
		{"sub with separator", exact("repo:octo-org/octo-repo:*"), "repo:octo-org/octo-repo-evil:ref:refs/heads/main", false},
		{"sub with separator matches", exact("repo:octo-org/octo-repo:*"), "repo:octo-org/octo-repo:ref:refs/heads/main", true},
		{"repository pitfall", exact("my-org/repo*"), "my-org/repo-evil", true},
		{"repository exact", exact("my-org/repo"), "my-org/repo-evil", false},
		{"list any of", anyOfValues(exact("refs/heads/main"), exact("refs/tags/v*")), "refs/tags/v2", true},
		{"list none", anyOfValues(exact("refs/heads/main"), exact("refs/tags/v*")), "refs/heads/dev", false},
		{"list of one", anyOfValues(exact("x")), "x", true},
		{"nested list", anyOfValues(anyOfValues(exact("a")), exact("b")), "a", true},
		{"regex anchored at start", regex("main"), "not-main", false},
		{"regex anchored at end", regex("main"), "main-not", false},
		{"regex alternation anchored", regex("refs/heads/main|refs/tags/v.*"), "refs/heads/main-evil", false},
		{"regex alternation", regex("refs/heads/main|refs/tags/v.*"), "refs/tags/v1", true},
		{"regex literal", regex("1234567"), "1234567", true},
		{"regex literal anchored", regex("1234567"), "12345678", false},
		{"regex with own anchors", regex("^refs/heads/.*$"), "refs/heads/x", true},
		{"regex case-insensitive flag", regex("(?i)Production"), "production", true},
		{"not", negate(exact("pull_request")), "push", true},
		{"not negates", negate(exact("pull_request")), "pull_request", false},
		{"not glob", negate(exact("refs/heads/*")), "refs/tags/v1", true},
		{"not list", negate(anyOfValues(exact("a"), exact("b"))), "b", false},
		{"double not", negate(negate(exact("a"))), "a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, err := compileValue(tt.value, match.Options{})
			if err != nil {
				t.Fatal(err)
			}
			k := policy.Condition{Field: claims.FieldRef, M: m}
			c := &claims.Claims{Ref: tt.claim}
			if got := k.Holds(c); got != tt.want {
				t.Errorf("%s against %q = %v, want %v", tt.value, tt.claim, got, tt.want)
			}
		})
	}
}

// TestAbsentClaimNeverMatches: an absent (empty) claim matches no value, not
// even a negation or a bare *.
func TestAbsentClaimNeverMatches(t *testing.T) {
	for _, v := range []Value{
		exact("*"), exact("?*"), regex(".*"), regex("x?"), negate(exact("production")), negate(regex(".+")),
		negate(negate(exact("*"))), anyOfValues(exact("*"), negate(exact("x"))),
	} {
		m, _, err := compileValue(v, match.Options{})
		if err != nil {
			t.Fatal(err)
		}
		k := policy.Condition{Field: claims.FieldEnvironment, M: m}
		if k.Holds(&claims.Claims{}) {
			t.Errorf("%s holds for an absent environment", v)
		}
	}
}

func TestPinning(t *testing.T) {
	tests := []struct {
		claim string
		value Value
		want  bool
	}{
		{"repository_owner_id", exact("1234567"), true},
		{"repository_owner_id", exact("1234*"), false},
		{"repository_owner_id", exact("123456?"), false},
		{"repository_owner_id", exact("*"), false},
		{"repository_owner_id", regex("1234567"), true},
		{"repository_owner_id", regex("^1234567$"), true},
		{"repository_owner_id", regex("(1234567)"), true},
		{"repository_owner_id", regex("1234567|7654321"), false}, // pins in fact; LiteralPrefix cannot tell: use a list
		{"repository_owner_id", regex("123.*"), false},
		{"repository_owner_id", regex("(?i)1234567"), true}, // digits have no case
		{"repository_owner", regex("(?i)my-org"), true},     // names ignore case: one owner however spelt
		{"repository_owner_id", anyOfValues(exact("1"), exact("2")), true},
		{"repository_owner_id", anyOfValues(exact("1"), exact("2*")), false},
		{"repository_owner_id", negate(exact("666")), false},
		{"repository_id", exact("89"), true},
		{"enterprise_id", exact("77"), true},
		{"enterprise_id", exact("7*"), false},
		{"repository_owner", exact("my-org"), true},
		{"repository_owner", exact("my-org*"), false},
		{"repository", exact("my-org/infra"), true},
		{"repository", exact("my-org/*"), true},
		{"repository", exact("my-org/infra-?"), true},
		{"repository", exact("my-*"), false},
		{"repository", exact("my-org*/infra"), false},
		{"repository", exact("*/infra"), false},
		{"repository", exact("?y-org/infra"), false},
		{"repository", regex("my-org/.*"), true},
		{"repository", regex("my-org/(a|b)"), true},
		{"repository", regex("my-org.*/x"), false},
		{"repository", regex("(?i)my-org/.*"), true},
		{"repository", regex("my-org/x|evil/x"), false},
		{"repository", anyOfValues(exact("my-org/a"), exact("other/*")), true},
		{"repository", anyOfValues(exact("my-org/a"), exact("*/a")), false},
		{"repository", negate(exact("evil/x")), false},
		{"ref", exact("refs/heads/main"), false},
		{"sub", exact("repo:my-org/infra:ref:refs/heads/main"), false}, // sub templates are chosen by the repository
		{"job_workflow_ref", exact("my-org/w/.github/workflows/d.yml@refs/heads/main"), false},
	}
	for _, tt := range tests {
		f, ok := claims.LookupField(tt.claim)
		if !ok {
			t.Fatalf("unknown claim %q", tt.claim)
		}
		_, pins, err := compileValue(tt.value, rulesOf(f))
		if err != nil {
			t.Fatal(err)
		}
		if pins != tt.want {
			t.Errorf("%s: %s pins = %v, want %v", tt.claim, tt.value, pins, tt.want)
		}
	}
}

func TestInvalidValues(t *testing.T) {
	tests := []struct {
		value Value
		want  string
	}{
		{Value{}, "exactly one of"},
		{Value{Exact: str("a"), Regex: str("b")}, "exactly one of"},
		{exact(""), `"" never matches`},
		{regex(""), `"" never matches`},
		{Value{AnyOf: []Value{}}, "empty list"},
		{regex("a("), `invalid regex "a(": missing closing )`},
		{regex("a**"), `invalid regex "a**": invalid nested repetition operator`},
		{exact(`a\*`), "invalid glob"},
		{exact("{a,b}*"), "invalid glob"},
		{anyOfValues(exact("a"), regex("(")), `[1]: invalid regex`},
		{negate(regex("(")), `not: invalid regex`},
		// Found by FuzzPattern: regexp.MustCompile panicked on both.
		{exact("\xa5*0"), "not valid UTF-8"},
		{regex(`a.\Qb`), `\Q literal must be closed with \E`},
	}
	for _, tt := range tests {
		_, _, err := compileValue(tt.value, match.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("compileValue(%s) = %v, want an error holding %q", tt.value, err, tt.want)
		}
	}
	// A closed \Q...\E literal anchors like any other regex.
	if m, _, err := compileValue(regex(`a.\Q*\E`), match.Options{}); err != nil || !m.Match("ax*") || m.Match("ax*y") {
		t.Errorf(`regex a.\Q*\E: err %v, or it does not match exactly "ax*"`, err)
	}
	// Brackets and braces are plain characters in an exact value.
	if _, _, err := compileValue(exact("Build [linux] {x}"), match.Options{}); err != nil {
		t.Errorf("exact value with brackets: %v", err)
	}
}
