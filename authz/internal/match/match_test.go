package match

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode/utf8"
)

// compileSrc compiles src with Regex when it starts with "re:", else with
// Glob.
func compileSrc(src string, o Options) (Matcher, bool, error) {
	if s, ok := strings.CutPrefix(src, "re:"); ok {
		return Regex(s, o)
	}
	return Glob(src, o)
}

// compile is compileSrc for a value that compiles.
func compile(t *testing.T, src string, o Options) Matcher {
	t.Helper()
	m, _, err := compileSrc(src, o)
	if err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	return m
}

// TestFastPaths: plain strings and trailing-star globs compile to string
// comparisons, not regular expressions, under every fold.
func TestFastPaths(t *testing.T) {
	tests := []struct {
		src  string
		fold Fold
		want Matcher
	}{
		{"refs/heads/main", FoldNone, equal("refs/heads/main")},
		{"refs/tags/v*", FoldNone, prefix("refs/tags/v")},
		{"refs/tags/v**", FoldNone, prefix("refs/tags/v")},
		{"*", FoldNone, prefix("")},
		{"re:1234567", FoldNone, equal("1234567")},
		{`re:my-org/infra\.git`, FoldNone, equal("my-org/infra.git")},
		{"My-Org", FoldAll, foldEqual("My-Org")},
		{"My-Org/*", FoldAll, foldPrefix("My-Org/")},
		{"re:My-Org", FoldAll, foldEqual("My-Org")},
		{"A/b/w.yml@refs/heads/main", FoldRepo, refEqual{"A/b", "/w.yml@refs/heads/main"}},
		{"A/b/.github/*", FoldRepo, refPrefix{"A/b", "/.github/"}},
		{"A/b*", FoldRepo, foldPrefix("A/b")},
	}
	for _, tt := range tests {
		if m := compile(t, tt.src, Options{Fold: tt.fold}); m != tt.want {
			t.Errorf("%q (fold %d) compiled to %#v, want %#v", tt.src, tt.fold, m, tt.want)
		}
	}
	if p, ok := compile(t, "a*b?c.d", Options{}).(pattern); !ok || p.re.String() != `(?s)^a.*b.c\.d$` {
		t.Errorf("glob compiled to %#v, want (?s)^a.*b.c\\.d$", p)
	}
	if p, ok := compile(t, "re:a|b", Options{}).(pattern); !ok || p.re.String() != `^(?:a|b)$` {
		t.Errorf("regex compiled to %#v, want ^(?:a|b)$", p)
	}
	if p, ok := compile(t, "Ab/c*d?e", Options{Fold: FoldRepo}).(pattern); !ok || p.re.String() != `(?s)^(?i:Ab/c).*(?i:d).(?i:e)$` {
		t.Errorf("folded glob compiled to %#v", p)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"", `"" never matches: an absent or empty claim never matches`},
		{"re:", `"" never matches: an absent or empty claim never matches`},
		{"re:a(", `invalid regex "a(": missing closing )`},
		{"re:x(a**)", "invalid regex \"x(a**)\": invalid nested repetition operator in `**`"},
		{`a\*`, `invalid glob "a\\*": only * and ? are wildcards`},
		{"\xa5*0", `invalid glob "\xa5*0": not valid UTF-8`},
		{`re:a.\Qb`, `invalid regex "a.\\Qb": a \Q literal must be closed with \E`},
	}
	for _, tt := range tests {
		for _, fold := range []Fold{FoldNone, FoldAll, FoldRepo} {
			_, _, err := compileSrc(tt.src, Options{Fold: fold})
			unclosedQ := fold != FoldNone && strings.Contains(tt.src, `\Q`) // folding rewrites the pattern whole
			if (err == nil || !strings.HasPrefix(err.Error(), tt.want)) && !unclosedQ {
				t.Errorf("%q (fold %d): error %v, want it to start with %q", tt.src, fold, err, tt.want)
			}
		}
	}
}

func TestPins(t *testing.T) {
	tests := []struct {
		src  string
		o    Options
		want bool
	}{
		{"1234567", Options{Pin: PinExact}, true},
		{"1234*", Options{Pin: PinExact}, false},
		{"re:(1234567)", Options{Pin: PinExact}, true},
		{"re:1234567|7654321", Options{Pin: PinExact}, false},
		{"my-org/*", Options{Pin: PinRepo, Fold: FoldAll}, true},
		{"my-*", Options{Pin: PinRepo, Fold: FoldAll}, false},
		{"re:(?i)MY-ORG/(a|b)", Options{Pin: PinRepo, Fold: FoldAll}, true},
		{"re:my-org.*/x", Options{Pin: PinRepo}, false},
		{"my-org", Options{}, false},
	}
	for _, tt := range tests {
		if _, pins, err := compileSrc(tt.src, tt.o); err != nil || pins != tt.want {
			t.Errorf("%q %+v: pins %v, %v; want %v", tt.src, tt.o, pins, err, tt.want)
		}
	}
}

// TestFoldRegex: a regex on a folded claim ignores case where the claim
// does, whatever flags it sets, and nowhere else.
func TestFoldRegex(t *testing.T) {
	tests := []struct {
		re, v string
		fold  Fold
		want  bool
	}{
		{"my-org", "MY-ORG", FoldAll, true},
		{"(?-i)my-org", "My-Org", FoldAll, true},
		{"[a-c]x", "BX", FoldAll, true},
		{"ab/cd/ef", "AB/CD/ef", FoldRepo, true},
		{"ab/cd/ef", "ab/cd/EF", FoldRepo, false},
		{"(ab/c)d/.*", "AB/CD/x", FoldRepo, true},
		{"ab/cd/.*", "ab/cd/X", FoldRepo, true},
		{"k", "\u212a", FoldAll, true}, // the Kelvin sign folds to k
		// A negated class refuses every spelling of what it excludes.
		{"my-org/[^t].*", "my-org/test", FoldAll, false},
		{"my-org/[^t].*", "MY-ORG/Test", FoldAll, false},
		{"my-org/[^t].*", "my-org/prod", FoldAll, true},
		{`my-org/\W.*`, "my-org/-x", FoldAll, true},
		{`my-org/\W.*`, "my-org/\u212ax", FoldAll, false}, // the Kelvin sign is a word rune under (?i)
		{"[^a-z]b/c/.*", "Xb/c/d", FoldRepo, false},
		{"[^a-z]b/c/.*", "9B/C/d", FoldRepo, true},
	}
	for _, tt := range tests {
		if got := compile(t, "re:"+tt.re, Options{Fold: tt.fold}).Match(tt.v); got != tt.want {
			t.Errorf("regex %q (fold %d) against %q = %v, want %v", tt.re, tt.fold, tt.v, got, tt.want)
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

// foldAllSamples are regexes and values on which a FoldAll regex must
// agree with Go's own (?i).
var foldAllSamples = struct{ res, values []string }{
	res: []string{
		"my-org/[^t].*", "my-org/[^a-z0-9-].*", `my-org/\W.*`, `my-org/\w+`, `[^/]+/[^/]+`,
		`my-org/[^\x{212a}]`, "my-org/[a-c]x", "(?i)my-org/[^t].*", `my-org/\PL.*`, `my-org/\pL+`,
		`[[:^alpha:]]x`, "my-org/(?:[^t]|t[^e]).*", "stra[^ß]e", "[^kK]x", `my-org/\Q[^t]`,
	},
	values: []string{
		"my-org/test", "MY-ORG/Test", "my-org/prod", "my-org/-x", "my-org/\u212ax", "My-Org/K",
		"my-org/bx", "MY-ORG/BX", "a/b", "A/B/c", "1x", "Xx", "straße", "strasse", "STRAẞE",
		"\u212ax", "kx", "my-org/9", "my-org/", "my-org/\u212a",
	},
}

// TestFoldAllAgreesWithGo: a FoldAll regex matches exactly what Go's
// regexp matches under (?i), negated classes included.
func TestFoldAllAgreesWithGo(t *testing.T) {
	for _, re := range foldAllSamples.res {
		m := compile(t, "re:"+re, Options{Fold: FoldAll})
		goRE, err := goFoldAll(re)
		if err != nil {
			t.Fatalf("regex %q: %v", re, err)
		}
		for _, v := range foldAllSamples.values {
			if got, want := m.Match(v), goRE.MatchString(v); got != want {
				t.Errorf("regex %q against %q = %v, Go's (?i) says %v", re, v, got, want)
			}
		}
	}
}

// FuzzFoldAll: whatever the regex and value, a FoldAll regex agrees with
// Go's (?i).
func FuzzFoldAll(f *testing.F) {
	for _, re := range foldAllSamples.res {
		for _, v := range foldAllSamples.values[:4] {
			f.Add(re, v)
		}
	}
	f.Fuzz(func(t *testing.T, re, v string) {
		if clearsFold.MatchString(re) || strings.Contains(strings.ToLower(re), "10ffff") {
			// FoldAll ignores (?-i) on purpose (docs/policy.md); Go's (?i)
			// honours it, so the two are not comparable there. A class that
			// holds U+10FFFF is folded as a negated one (see foldClass):
			// only a class that names that rune can differ.
			return
		}
		m, _, err := Regex(re, Options{Fold: FoldAll})
		if err != nil {
			return
		}
		goRE, err := goFoldAll(re)
		if err != nil {
			t.Fatalf("regex %q compiles for FoldAll, not for Go's (?i): %v", re, err)
		}
		if got, want := m.Match(v), goRE.MatchString(v); got != want {
			t.Fatalf("regex %q against %q = %v, Go's (?i) says %v", re, v, got, want)
		}
	})
}

// clearsFold finds a flag group that turns case folding off, (?-i) or
// (?s-i:...), in a pattern's text.
var clearsFold = regexp.MustCompile(`\(\?[imsU]*-[imsU]*i`)

// goFoldAll is the reference of the FoldAll tests: re as Go's parser reads
// it under (?i), anchored at both ends. It anchors the parsed pattern, not
// its text, so that a \Q running to the end does not swallow the anchors.
func goFoldAll(re string) (*regexp.Regexp, error) {
	parsed, err := syntax.Parse(re, syntax.Perl|syntax.FoldCase)
	if err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + parsed.String() + `)$`)
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
	a, b := compile(t, "a", Options{}), compile(t, "b*", Options{})
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
