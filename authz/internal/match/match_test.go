package match

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// compile is Glob, or Regex when the value is written {regex: ...}.
func compile(t *testing.T, s string, isRegex bool, o Options) Matcher {
	t.Helper()
	f := Glob
	if isRegex {
		f = Regex
	}
	m, _, err := f(s, o)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return m
}

// TestFastPaths: plain strings and trailing-star globs compile to string
// comparisons, not regular expressions, under every fold.
func TestFastPaths(t *testing.T) {
	tests := []struct {
		s       string
		isRegex bool
		fold    Fold
		want    Matcher
	}{
		{"refs/heads/main", false, FoldNone, equal("refs/heads/main")},
		{"refs/tags/v*", false, FoldNone, prefix("refs/tags/v")},
		{"refs/tags/v**", false, FoldNone, prefix("refs/tags/v")},
		{"*", false, FoldNone, prefix("")},
		{"1234567", true, FoldNone, equal("1234567")},
		{`my-org/infra\.git`, true, FoldNone, equal("my-org/infra.git")},
		{"My-Org", false, FoldAll, foldEqual("My-Org")},
		{"My-Org/*", false, FoldAll, foldPrefix("My-Org/")},
		{"My-Org", true, FoldAll, foldEqual("My-Org")},
		{"A/b/w.yml@refs/heads/main", false, FoldRepo, refEqual{"A/b", "/w.yml@refs/heads/main"}},
		{"A/b/.github/*", false, FoldRepo, refPrefix{"A/b", "/.github/"}},
		{"A/b*", false, FoldRepo, foldPrefix("A/b")},
	}
	for _, tt := range tests {
		if m := compile(t, tt.s, tt.isRegex, Options{Fold: tt.fold}); m != tt.want {
			t.Errorf("%q (fold %d) compiled to %#v, want %#v", tt.s, tt.fold, m, tt.want)
		}
	}
	if p, ok := compile(t, "a*b?c.d", false, Options{}).(pattern); !ok || p.re.String() != `(?s)^a.*b.c\.d$` {
		t.Errorf("glob compiled to %#v, want (?s)^a.*b.c\\.d$", p)
	}
	if p, ok := compile(t, "a|b", true, Options{}).(pattern); !ok || p.re.String() != `^(?:a|b)$` {
		t.Errorf("regex compiled to %#v, want ^(?:a|b)$", p)
	}
	if p, ok := compile(t, "Ab/c*d?e", false, Options{Fold: FoldRepo}).(pattern); !ok || p.re.String() != `(?s)^(?i:Ab/c).*(?i:d).(?i:e)$` {
		t.Errorf("folded glob compiled to %#v", p)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		s       string
		isRegex bool
		want    string
	}{
		{"", false, `"" never matches: an absent or empty claim never matches`},
		{"", true, `"" never matches: an absent or empty claim never matches`},
		{"a(", true, `invalid regex "a(": missing closing )`},
		{"x(a**)", true, "invalid regex \"x(a**)\": invalid nested repetition operator in `**`"},
		{`a\*`, false, `invalid glob "a\\*": only * and ? are wildcards`},
		{"\xa5*0", false, `invalid glob "\xa5*0": not valid UTF-8`},
		{`a.\Qb`, true, `invalid regex "a.\\Qb": a \Q literal must be closed with \E`},
	}
	for _, tt := range tests {
		f := Glob
		if tt.isRegex {
			f = Regex
		}
		for _, fold := range []Fold{FoldNone, FoldAll, FoldRepo} {
			if _, _, err := f(tt.s, Options{Fold: fold}); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				if !(tt.isRegex && fold != FoldNone && strings.Contains(tt.s, `\Q`)) {
					t.Errorf("%q (fold %d): error %v, want it to start with %q", tt.s, fold, err, tt.want)
				}
			}
		}
	}
}

func TestPins(t *testing.T) {
	tests := []struct {
		s       string
		isRegex bool
		o       Options
		want    bool
	}{
		{"1234567", false, Options{Pin: PinExact}, true},
		{"1234*", false, Options{Pin: PinExact}, false},
		{"(1234567)", true, Options{Pin: PinExact}, true},
		{"1234567|7654321", true, Options{Pin: PinExact}, false},
		{"my-org/*", false, Options{Pin: PinRepo, Fold: FoldAll}, true},
		{"my-*", false, Options{Pin: PinRepo, Fold: FoldAll}, false},
		{"(?i)MY-ORG/(a|b)", true, Options{Pin: PinRepo, Fold: FoldAll}, true},
		{"my-org.*/x", true, Options{Pin: PinRepo}, false},
		{"my-org", false, Options{}, false},
	}
	for _, tt := range tests {
		f := Glob
		if tt.isRegex {
			f = Regex
		}
		if _, pins, err := f(tt.s, tt.o); err != nil || pins != tt.want {
			t.Errorf("%q %+v: pins %v, %v; want %v", tt.s, tt.o, pins, err, tt.want)
		}
	}
}

// TestFoldRegex: a regex on a folded claim ignores case where the claim
// does, whatever flags it sets, and nowhere else.
func TestFoldRegex(t *testing.T) {
	tests := []struct {
		s    string
		fold Fold
		v    string
		want bool
	}{
		{"my-org", FoldAll, "MY-ORG", true},
		{"(?-i)my-org", FoldAll, "My-Org", true},
		{"[a-c]x", FoldAll, "BX", true},
		{"ab/cd/ef", FoldRepo, "AB/CD/ef", true},
		{"ab/cd/ef", FoldRepo, "ab/cd/EF", false},
		{"(ab/c)d/.*", FoldRepo, "AB/CD/x", true},
		{"ab/cd/.*", FoldRepo, "ab/cd/X", true},
		{"k", FoldAll, "\u212a", true}, // the Kelvin sign folds to k
	}
	for _, tt := range tests {
		if got := compile(t, tt.s, true, Options{Fold: tt.fold}).Match(tt.v); got != tt.want {
			t.Errorf("regex %q (fold %d) against %q = %v, want %v", tt.s, tt.fold, tt.v, got, tt.want)
		}
	}
}

func TestHasPrefixFold(t *testing.T) {
	for _, s := range []string{"", "a", "My-Org/x", "\u212aelvin", "straße", "ǅ", "\xff", "日本"} {
		for _, p := range []string{"", "m", "my-org/", "kelvin", "STRASSE", "ǆ", "\xff", "日"} {
			want := false
			for i := 0; i <= len(s); i++ {
				if utf8.ValidString(s[:i]) && strings.EqualFold(s[:i], p) || i == len(s) && strings.EqualFold(s, p) {
					want = true
				}
			}
			if got := hasPrefixFold(s, p); got != want {
				t.Errorf("hasPrefixFold(%q, %q) = %v, want %v", s, p, got, want)
			}
		}
	}
}

func TestFoldClass(t *testing.T) {
	got := foldClass([]rune{'a', 'c', 'x', 'x'})
	want := []rune{'A', 'C', 'X', 'X', 'a', 'c', 'x', 'x'}
	if string(got) != string(want) {
		t.Errorf("foldClass([a-cx]) = %q, want %q", got, want)
	}
	if got := foldClass([]rune{'k', 'k'}); !strings.ContainsRune(string(got), '\u212a') {
		t.Errorf("foldClass([k]) = %q, want the Kelvin sign in it", got)
	}
}

func TestSplitRepo(t *testing.T) {
	for s, want := range map[string][2]string{
		"o/r/.github/w.yml@x": {"o/r", "/.github/w.yml@x"},
		"o/r":                 {"o/r", ""},
		"o":                   {"o", ""},
		"o/r/":                {"o/r", "/"},
	} {
		if repo, rest := splitRepo(s); repo != want[0] || rest != want[1] {
			t.Errorf("splitRepo(%q) = %q, %q, want %q, %q", s, repo, rest, want[0], want[1])
		}
	}
}

// TestSet: a claim with several values matches when any value does; a
// negation holds when no value matches what it negates, in lists too.
func TestSet(t *testing.T) {
	a, b := compile(t, "a", false, Options{}), compile(t, "b*", false, Options{})
	tests := []struct {
		m    Matcher
		vs   []string
		want bool
	}{
		{a, []string{"x", "a"}, true},
		{a, []string{"x", "y"}, false},
		{Not(a), []string{"x", "a"}, false},
		{Not(a), []string{"x", "y"}, true},
		{AnyOf([]Matcher{Not(a), b}), []string{"a", "bc"}, true},
		{AnyOf([]Matcher{Not(a), b}), []string{"a", "c"}, false},
		{Not(AnyOf([]Matcher{a, b})), []string{"c", "d"}, true},
		{Not(Not(a)), []string{"c", "a"}, true},
		{Not(a), []string{"a"}, false},
	}
	for i, tt := range tests {
		if got := Set(tt.m, tt.vs); got != tt.want {
			t.Errorf("%d: Set(%#v, %q) = %v, want %v", i, tt.m, tt.vs, got, tt.want)
		}
	}
	if m := AnyOf([]Matcher{a}); m != a {
		t.Errorf("AnyOf of one = %#v, want the one", m)
	}
}
