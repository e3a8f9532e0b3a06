package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
)

func TestDecideShadow(t *testing.T) {
	e := loadEngine(t, "shadow.yaml")
	feature := func(c *claims.Claims) { c.Ref = "refs/heads/feature" }
	release := func(c *claims.Claims) { c.Ref = "refs/heads/release/1.2" }
	otherRepo := func(c *claims.Claims) { c.RepositoryID = "43" }
	staging := func(c *claims.Claims) { c.Environment = "staging" }

	type verdicts struct {
		Outcome    authz.Outcome
		Reason     authz.Reason
		Rule       int
		Shadow     authz.ShadowVerdict
		ShadowRule int // compared only with ShadowAllow
		Enforced   authz.ShadowVerdict
		Disagrees  bool
	}
	tests := []struct {
		name   string
		policy string
		claims *claims.Claims
		want   verdicts
	}{
		{"stricter: both allow", "stricter", tok(),
			verdicts{authz.Allow, authz.ReasonAllowed, 0, authz.ShadowAllow, 0, authz.ShadowAllow, false}},
		{"stricter: shadow would deny another branch", "stricter", tok(feature),
			verdicts{authz.Allow, authz.ReasonAllowed, 0, authz.ShadowDeny, 0, authz.ShadowAllow, true}},
		{"stricter: shadow would deny another repository", "stricter", tok(otherRepo),
			verdicts{authz.Allow, authz.ReasonAllowed, 0, authz.ShadowDeny, 0, authz.ShadowAllow, true}},
		{"looser: both allow main, by the first shadow rule", "looser", tok(),
			verdicts{authz.Allow, authz.ReasonAllowed, 0, authz.ShadowAllow, 0, authz.ShadowAllow, false}},
		{"looser: shadow would allow a release branch", "looser", tok(release),
			verdicts{authz.Deny, authz.ReasonNoRuleMatched, -1, authz.ShadowAllow, 1, authz.ShadowDeny, true}},
		{"looser: both deny a feature branch", "looser", tok(feature),
			verdicts{authz.Deny, authz.ReasonNoRuleMatched, -1, authz.ShadowDeny, 0, authz.ShadowDeny, false}},
		{"dry run: would deny, shadow allows", "trial", tok(staging),
			verdicts{authz.Allow, authz.ReasonDryRun, -1, authz.ShadowAllow, 0, authz.ShadowDeny, true}},
		{"dry run: both allow", "trial", tok(),
			verdicts{authz.Allow, authz.ReasonAllowed, 0, authz.ShadowAllow, 0, authz.ShadowAllow, false}},
		{"dry run: both would deny", "trial", tok(otherRepo),
			verdicts{authz.Allow, authz.ReasonDryRun, -1, authz.ShadowDeny, 0, authz.ShadowDeny, false}},
		{"no shadow rules", "no-shadow", tok(),
			verdicts{authz.Allow, authz.ReasonAllowed, 0, authz.ShadowNone, 0, authz.ShadowAllow, false}},
		{"audience refused: rules not reached", "stricter", tok(aud("other")),
			verdicts{authz.Unauthenticated, authz.ReasonAudience, -1, authz.ShadowNone, 0, authz.ShadowNone, false}},
		{"no verified token: rules not reached", "stricter", nil,
			verdicts{authz.Unauthenticated, authz.ReasonInvalidToken, -1, authz.ShadowNone, 0, authz.ShadowNone, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Decide(authz.Input{Request: authz.Request{Policy: tt.policy}, Claims: tt.claims})
			got := verdicts{d.Outcome, d.Reason, d.Rule, d.Shadow, 0, d.Enforced(), d.ShadowDisagrees()}
			if d.Shadow == authz.ShadowAllow {
				got.ShadowRule = d.ShadowRule
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

// TestShadowNeverChangesTheOutcome: the same policy with and without its
// shadow list decides every token alike.
func TestShadowNeverChangesTheOutcome(t *testing.T) {
	const base = `
issuers: [{url: "https://token.actions.githubusercontent.com"}]
audiences: ["https://github.com/my-org"]
policies:
  - name: p
    allow:
      - repository_owner_id: "1234567"
        ref: refs/heads/main
`
	const shadow = `    shadow:
      - repository_owner_id: "1234567"
        ref: {not: refs/heads/main}
`
	without := parse(t, base).Engine()
	with := parse(t, base+shadow).Engine()
	for _, ref := range []string{"refs/heads/main", "refs/heads/dev", "refs/tags/v1"} {
		in := authz.Input{Request: authz.Request{Policy: "p"}, Claims: tok(func(c *claims.Claims) { c.Ref = ref })}
		a, b := without.Decide(in), with.Decide(in)
		if diff := cmp.Diff(outlineOf(a), outlineOf(b)); diff != "" {
			t.Errorf("ref %s: shadow changed the decision (-without +with):\n%s", ref, diff)
		}
		if !b.ShadowDisagrees() {
			t.Errorf("ref %s: the opposite shadow list agrees with the enforced one", ref)
		}
	}
}

func TestShadowAllowAnyRepository(t *testing.T) {
	// allow_any_repository lifts owner pinning for shadow rules too.
	cfg := parse(t, `
issuers: [{url: "https://token.actions.githubusercontent.com"}]
audiences: [my-service]
policies:
  - name: p
    allow_any_repository: true
    allow:
      - ref: refs/heads/main
    shadow:
      - environment: production
`)
	d := cfg.Engine().Decide(authz.Input{Request: authz.Request{Policy: "p"}, Claims: tok(aud("my-service"))})
	if d.Outcome != authz.Allow || d.Shadow != authz.ShadowAllow {
		t.Errorf("Decide = %v, shadow %v; want allow, shadow allow", d.Outcome, d.Shadow)
	}
}

func parse(t *testing.T, yaml string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestExplainShadow: explain traces the shadow rules beside the enforced
// ones, so a platform team sees why the stricter list would refuse.
func TestExplainShadow(t *testing.T) {
	e := loadEngine(t, "shadow.yaml")
	x := e.Explain(authz.Input{Request: authz.Request{Policy: "stricter"}, Claims: tok(func(c *claims.Claims) { c.Ref = "refs/heads/feature" })})
	if len(x.Rules) != 1 || !x.Rules[0].Matched {
		t.Fatalf("Rules = %+v, want allow[0] matched", x.Rules)
	}
	want := []authz.RuleTrace{{Index: 0, Claim: "ref", Condition: `"refs/heads/main"`, Actual: "refs/heads/feature"}}
	if diff := cmp.Diff(want, x.Shadow); diff != "" {
		t.Errorf("Shadow (-want +got):\n%s", diff)
	}
	if s := x.String(); !strings.Contains(s, `shadow[0]: no: ref is "refs/heads/feature" (want "refs/heads/main")`) {
		t.Errorf("Explain.String() =\n%s", s)
	}
	if x = e.Explain(authz.Input{Request: authz.Request{Policy: "no-shadow"}, Claims: tok()}); x.Shadow != nil || strings.Contains(x.String(), "shadow[") {
		t.Errorf("a policy without shadow rules: Shadow = %+v", x.Shadow)
	}
}
