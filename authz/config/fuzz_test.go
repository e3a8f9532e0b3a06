package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/internal/match"
	"github.com/actions-authz/actions-authz/claims"
)

// FuzzParseConfig feeds arbitrary bytes to the policy loader. It must never
// panic, must refuse with a message or return a compiled Engine, and the
// Engine must never allow a token that names no repository owner unless the
// policy opted out of owner pinning or only observes (dry_run).
func FuzzParseConfig(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/invalid/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		e := cfg.Engine()
		if e == nil {
			t.Fatal("a valid configuration without an Engine")
		}
		ownerless := &claims.Claims{
			Ref: "refs/heads/main", Environment: "production", EventName: "push", Workflow: "x",
			JobWorkflowRef: "a/b/.github/workflows/c.yml@refs/heads/main", Actor: "octocat",
		}
		ownerless.Issuer = "https://token.actions.githubusercontent.com"
		ownerless.Subject = "repo:a/b:ref:refs/heads/main"
		ownerless.Audience = cfg.AllAudiences()
		byName := make(map[string]PolicyConfig, len(cfg.Policies))
		for _, p := range cfg.Policies {
			byName[p.Name] = p
		}
		for _, name := range append(e.Policies(), "", "no-such-policy") {
			d := e.Decide(authz.Input{Request: authz.Request{Policy: name, Method: "GET", Host: "h", Path: "/"}, Claims: ownerless})
			if d.Outcome != authz.Allow {
				continue
			}
			p, ok := byName[d.Policy]
			if !ok {
				t.Fatalf("allowed by policy %q, which the file does not have", d.Policy)
			}
			if !p.AllowAnyRepository && !d.DryRun {
				t.Fatalf("policy %q allowed a token without owner claims (rule %d)", d.Policy, d.Rule)
			}
		}
	})
}

// FuzzPattern compiles arbitrary condition values, as a glob or a regex, and
// matches them against arbitrary claim values. Compiling must never panic,
// and a glob must agree with globMatch, a plain reference implementation.
func FuzzPattern(f *testing.F) {
	for _, s := range [][3]string{
		{"refs/tags/v*", "refs/tags/v1.2.3", ""},
		{"my-org/*@refs/heads/main", "my-org/x.yml@refs/heads/main", ""},
		{"a?c*", "abcdef", ""},
		{"v?", "v🚀", ""},
		{"refs/heads/(main|dev)", "refs/heads/dev", "regex"},
		{`v[0-9]+(\.[0-9]+)*`, "v1.2", "regex"},
	} {
		f.Add(s[0], s[1], s[2] == "regex")
	}
	f.Fuzz(func(t *testing.T, pattern, value string, isRegex bool) {
		v := Value{Exact: &pattern}
		if isRegex {
			v = Value{Regex: &pattern}
		}
		m, _, err := compileValue(v, match.Options{Pin: match.PinRepo})
		if err != nil {
			return
		}
		got := m.Match(value)
		if isRegex || len(pattern) > 64 || len(value) > 256 {
			return // globMatch is quadratic; keep it to small inputs
		}
		if want := globMatch(pattern, value); got != want {
			t.Fatalf("glob %q against %q = %v, reference says %v", pattern, value, got, want)
		}
	})
}

// globMatch is the glob semantics of DESIGN.md, written plainly: * matches
// any run of characters ("/" included), ? exactly one character (rune), and
// everything else itself.
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	p, v := []rune(pattern), []rune(s)
	// ok[j] reports whether p[:i] matches v[:j], row by row.
	ok := make([]bool, len(v)+1)
	ok[0] = true
	for i := range p {
		next := make([]bool, len(v)+1)
		for j := 0; j <= len(v); j++ {
			switch p[i] {
			case '*':
				next[j] = ok[j] || (j > 0 && next[j-1])
			case '?':
				next[j] = j > 0 && ok[j-1]
			default:
				next[j] = j > 0 && ok[j-1] && p[i] == v[j-1]
			}
		}
		ok = next
	}
	return ok[len(v)]
}
