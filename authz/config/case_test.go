package config

import (
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
)

// TestNameCase: repository_owner, repository and the repository part of
// workflow_ref and job_workflow_ref compare case-insensitively, as GitHub
// compares owner and repository names, in every kind of value; a negation
// refuses every spelling of what it excludes. IDs, the workflow path and
// the ref stay exact.
func TestNameCase(t *testing.T) {
	const wf = "My-Org/Workflows/.github/workflows/Deploy.yml@refs/heads/Main"
	tests := []struct {
		name  string
		claim string
		value Value
		token string
		want  bool
	}{
		// repository_owner
		{"owner exact", "repository_owner", exact("My-Org"), "my-org", true},
		{"owner exact, token upper", "repository_owner", exact("my-org"), "MY-ORG", true},
		{"owner exact, other owner", "repository_owner", exact("my-org"), "my-org2", false},
		{"owner glob prefix", "repository_owner", exact("My-*"), "my-org", true},
		{"owner glob", "repository_owner", exact("m?-O*g"), "MY-org", true},
		{"owner list", "repository_owner", anyOfValues(exact("a"), exact("MY-ORG")), "my-org", true},
		{"owner regex", "repository_owner", regex("my-(org|team)"), "My-Team", true},
		{"owner regex class", "repository_owner", regex("[a-z-]+"), "My-Org", true},
		{"owner regex cannot opt out", "repository_owner", regex("(?-i)my-org"), "MY-ORG", true},
		{"owner regex class cannot opt out", "repository_owner", regex("(?-i:[a-z]+)-org"), "MY-org", true},
		{"owner not", "repository_owner", negate(exact("evil")), "EVIL", false},
		{"owner not glob", "repository_owner", negate(exact("evil-*")), "Evil-Corp", false},
		{"owner not list", "repository_owner", negate(anyOfValues(exact("a"), exact("evil"))), "eViL", false},
		{"owner not regex", "repository_owner", negate(regex("evil|bad")), "BAD", false},
		{"owner not regex with (?-i)", "repository_owner", negate(regex("(?-i)evil")), "Evil", false},
		{"owner not, other owner", "repository_owner", negate(exact("evil")), "good", true},
		{"owner Kelvin sign folds as regex (?i) does", "repository_owner", exact("k-org"), "\u212a-org", true},
		{"owner prefix, Kelvin sign", "repository_owner", exact("k-*"), "\u212a-org", true},

		// repository
		{"repository exact", "repository", exact("my-org/untrusted"), "My-Org/Untrusted", true},
		{"repository not", "repository", negate(exact("my-org/untrusted")), "My-Org/Untrusted", false},
		{"repository not, other", "repository", negate(exact("my-org/untrusted")), "My-Org/Trusted", true},
		{"repository glob", "repository", exact("my-org/infra-*"), "MY-ORG/Infra-Prod", true},
		{"repository inner glob", "repository", exact("my-org/*-prod"), "MY-ORG/Infra-PROD", true},
		{"repository regex", "repository", regex(`my-org/infra\.(dev|prod)`), "My-Org/Infra.Prod", true},
		{"repository not regex", "repository", negate(regex("my-org/(a|b)")), "MY-ORG/B", false},

		// workflow refs: the repository part ignores case, the rest does not
		{"workflow_ref exact", "workflow_ref", exact("my-org/workflows/.github/workflows/Deploy.yml@refs/heads/Main"), wf, true},
		{"workflow_ref exact, path case differs", "workflow_ref", exact("my-org/workflows/.github/workflows/deploy.yml@refs/heads/Main"), wf, false},
		{"workflow_ref exact, ref case differs", "workflow_ref", exact("my-org/workflows/.github/workflows/Deploy.yml@refs/heads/main"), wf, false},
		{"workflow_ref prefix within the repository part", "workflow_ref", exact("my-org/work*"), wf, true},
		{"workflow_ref prefix past it", "workflow_ref", exact("my-org/workflows/.github/workflows/Deploy.yml@*"), wf, true},
		{"workflow_ref prefix past it, path case differs", "workflow_ref", exact("my-org/workflows/.github/workflows/deploy.yml@*"), wf, false},
		{"workflow_ref prefix, repository longer", "workflow_ref", exact("my-org/workflows/.github/*"), "My-Org/Workflows2/.github/workflows/x.yml@refs/heads/main", false},
		{"job_workflow_ref glob", "job_workflow_ref", exact("my-org/*/.github/workflows/Deploy.yml@refs/tags/v*"), "MY-ORG/W/.github/workflows/Deploy.yml@refs/tags/v1", true},
		{"job_workflow_ref glob, ref case differs", "job_workflow_ref", exact("my-org/*/.github/workflows/Deploy.yml@refs/tags/v*"), "MY-ORG/W/.github/workflows/Deploy.yml@refs/tags/V1", false},
		{"job_workflow_ref glob, path case differs", "job_workflow_ref", exact("my-org/w/.github/workflows/d?ploy.yml@*"), "MY-ORG/W/.github/workflows/Deploy.yml@refs/heads/main", false},
		{"job_workflow_ref regex", "job_workflow_ref", regex(`my-org/workflows/\.github/workflows/Deploy\.yml@refs/heads/Main`), wf, true},
		{"job_workflow_ref regex, ref case differs", "job_workflow_ref", regex(`my-org/workflows/\.github/workflows/Deploy\.yml@refs/heads/main`), wf, false},
		{"job_workflow_ref regex, group in repository part", "job_workflow_ref", regex(`(my-org/work[a-z]+)/\.github/workflows/Deploy\.yml@.*`), wf, true},
		{"job_workflow_ref regex, path opts into (?i)", "job_workflow_ref", regex(`my-org/workflows/(?i:\.github/workflows/deploy\.yml)@refs/heads/Main`), wf, true},
		{"job_workflow_ref not", "job_workflow_ref", negate(exact("evil/w/.github/workflows/x.yml@refs/heads/main")), "EVIL/W/.github/workflows/x.yml@refs/heads/main", false},
		{"job_workflow_ref not glob", "job_workflow_ref", negate(exact("evil/*")), "Evil/W/.github/workflows/x.yml@refs/heads/main", false},
		{"job_workflow_ref not regex", "job_workflow_ref", negate(regex("evil/.*")), "EVIL/W/.github/workflows/x.yml@refs/heads/main", false},

		// exact claims
		{"repository_owner_id", "repository_owner_id", exact("abc"), "ABC", false},
		{"repository_id glob", "repository_id", exact("a*"), "A1", false},
		{"enterprise", "enterprise", exact("my-ent"), "My-Ent", false},
		{"ref", "ref", exact("refs/heads/main"), "refs/heads/Main", false},
		{"environment", "environment", exact("production"), "Production", false},
		{"sub", "sub", exact("repo:my-org/infra:*"), "repo:My-Org/infra:ref:refs/heads/main", false},
		{"ref regex keeps its own (?i)", "ref", regex("(?i)refs/heads/main"), "refs/heads/Main", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := claims.LookupField(tt.claim)
			if !ok {
				t.Fatalf("unknown claim %q", tt.claim)
			}
			m, _, err := compileValue(tt.value, rulesOf(f))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Match(tt.token); got != tt.want {
				t.Errorf("%s %s against %q = %v, want %v", tt.claim, tt.value, tt.token, got, tt.want)
			}
		})
	}
}

// TestNameCasePinning: a case-insensitive regex pins the owner when its
// literal prefix does, whatever its case flags; what did not pin still
// does not.
func TestNameCasePinning(t *testing.T) {
	tests := []struct {
		claim string
		value Value
		want  bool
	}{
		{"repository_owner", regex("(?i)my-org"), true},
		{"repository_owner", regex("(?i:My-Org)"), true},
		{"repository_owner", regex("[Mm][Yy]-org"), true},
		{"repository_owner", regex("^(?i)my-org$"), true},
		{"repository_owner", regex("(?i)my-org|evil"), false},
		{"repository_owner", regex("(?i)my-.*"), false},
		{"repository_owner", regex("my-org^x"), false},
		{"repository_owner", regex("(my-org)"), true},
		{"repository", regex("(?i)my-org/.*"), true},
		{"repository", regex("(?i)MY-ORG/(a|b)"), true},
		{"repository", regex("(?i)my-org.*/x"), false},
		{"repository", exact("My-Org/*"), true},
		{"repository", negate(regex("(?i)evil/.*")), false},
	}
	for _, tt := range tests {
		f, _ := claims.LookupField(tt.claim)
		_, pins, err := compileValue(tt.value, rulesOf(f))
		if err != nil {
			t.Fatal(err)
		}
		if pins != tt.want {
			t.Errorf("%s: %s pins = %v, want %v", tt.claim, tt.value, pins, tt.want)
		}
	}
}

// TestNameCaseDecide runs the examples through a loaded policy and
// Explain: a differently-cased owner is allowed, a differently-cased
// excluded repository is not, and the trace agrees with the decision.
func TestNameCaseDecide(t *testing.T) {
	cfg := parse(t, `
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: ["https://github.com/my-org"]
policies:
  - name: p
    allow:
      - repository_owner: My-Org
        repository: {not: "my-org/untrusted"}
      - repository_owner: {regex: "(?i)OTHER-ORG"}
`)
	if w := cfg.Warnings(); len(w) != 2 {
		t.Errorf("warnings %q, want two (owner pinned by name only)", w)
	}
	e := cfg.Engine()
	tests := []struct {
		repo string
		want authz.Outcome
		rule int
	}{
		{"my-org/infra", authz.Allow, 0},
		{"MY-ORG/infra", authz.Allow, 0},
		{"my-org/untrusted", authz.Deny, -1},
		{"My-Org/Untrusted", authz.Deny, -1},
		{"other-org/x", authz.Allow, 1},
		{"evil/x", authz.Deny, -1},
	}
	for _, tt := range tests {
		owner, _, _ := strings.Cut(tt.repo, "/")
		in := authz.Input{Request: authz.Request{Policy: "p"}, Claims: tok(func(c *claims.Claims) { c.Repository, c.RepositoryOwner = tt.repo, owner })}
		d := e.Decide(in)
		if d.Outcome != tt.want || d.Rule != tt.rule {
			t.Errorf("%s: %v rule %d, want %v rule %d", tt.repo, d.Outcome, d.Rule, tt.want, tt.rule)
		}
		x := e.Explain(in)
		if x.Decision.Outcome != d.Outcome || len(x.Rules) != 2 || x.Rules[0].Matched != (tt.rule == 0) || x.Rules[1].Matched != (tt.rule == 1) {
			t.Errorf("%s: Explain %+v disagrees with Decide", tt.repo, x)
		}
	}
	x := e.Explain(authz.Input{Request: authz.Request{Policy: "p"}, Claims: tok(func(c *claims.Claims) { c.Repository = "My-Org/Untrusted" })})
	if s := x.String(); !strings.Contains(s, `allow[0]: no: repository is "My-Org/Untrusted" (want {not: "my-org/untrusted"})`) {
		t.Errorf("Explain.String() =\n%s", s)
	}
}
