package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
)

// loadEngine compiles a fixture from testdata.
func loadEngine(t testing.TB, file string) *authz.Engine {
	t.Helper()
	cfg, err := Load(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Engine()
}

// tok returns the claims of a push to main in my-org/infra, changed by mods.
func tok(mods ...func(*claims.Claims)) *claims.Claims {
	c := &claims.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:   "https://token.actions.githubusercontent.com",
			Subject:  "repo:my-org/infra:environment:production",
			Audience: jwt.ClaimStrings{"https://github.com/my-org"},
			ID:       "jti-1",
		},
		Actor:             "octocat",
		Environment:       "production",
		EventName:         "push",
		Ref:               "refs/heads/main",
		RefType:           "branch",
		Repository:        "my-org/infra",
		RepositoryID:      "42",
		RepositoryOwner:   "my-org",
		RepositoryOwnerID: "1234567",
		RunAttempt:        "1",
		RunID:             "9001",
		SHA:               "0123456789abcdef0123456789abcdef01234567",
		WorkflowRef:       "my-org/infra/.github/workflows/deploy.yml@refs/heads/main",
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func aud(a ...string) func(*claims.Claims) {
	return func(c *claims.Claims) { c.Audience = a }
}

// outline is the part of a Decision the route and rule tests compare.
type outline struct {
	Outcome     authz.Outcome
	Reason      authz.Reason
	Detail      string
	Policy      string
	Rule        int
	DryRun      bool
	Description string
}

func outlineOf(d authz.Decision) outline {
	return outline{d.Outcome, d.Reason, d.Detail, d.Policy, d.Rule, d.DryRun, d.Description}
}

func TestDecide(t *testing.T) {
	e := loadEngine(t, "valid.yaml")
	deployReq := authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy/prod"}
	allowed := func(policy string, rule int) outline {
		return outline{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: policy, Rule: rule}
	}
	noRule := func(policy string) outline {
		return outline{Outcome: authz.Deny, Reason: authz.ReasonNoRuleMatched, Policy: policy, Rule: -1,
			Description: `policy "` + policy + `": no rule matched`}
	}
	noPolicy := outline{Outcome: authz.Deny, Reason: authz.ReasonNoPolicy, Rule: -1, Description: "no policy for this route"}
	invalidPath := func(detail, why string) outline {
		return outline{Outcome: authz.Deny, Reason: authz.ReasonInvalidPath, Detail: detail, Rule: -1,
			Description: why}
	}
	artifactsTok := tok(aud("artifacts"))

	tests := []struct {
		name   string
		req    authz.Request
		claims *claims.Claims
		want   outline
	}{
		// Route selection.
		{"by match", deployReq, tok(), allowed("deploy", 0)},
		{"by name", authz.Request{Policy: "deploy"}, tok(), allowed("deploy", 0)},
		{"name wins over match", authz.Request{Policy: "by-name-only", Method: "POST", Host: "deploy.internal", Path: "/deploy/x"},
			tok(func(c *claims.Claims) { c.EnterpriseID, c.Environment = "77", "staging" }), allowed("by-name-only", 0)},
		{"unknown name is denied", authz.Request{Policy: "nope", Method: "POST", Host: "deploy.internal", Path: "/deploy/x"}, tok(),
			outline{Outcome: authz.Deny, Reason: authz.ReasonUnknownPolicy, Detail: "nope", Rule: -1, Description: "no policy for this route"}},
		{"host with port", authz.Request{Method: "POST", Host: "deploy.internal:443", Path: "/deploy/"}, tok(), allowed("deploy", 0)},
		{"host case and trailing dot", authz.Request{Method: "POST", Host: "Deploy.Internal.", Path: "/deploy/"}, tok(), allowed("deploy", 0)},
		{"method case", authz.Request{Method: "post", Host: "deploy.internal", Path: "/deploy/"}, tok(), allowed("deploy", 0)},
		{"other method", authz.Request{Method: "GET", Host: "deploy.internal", Path: "/deploy/"}, tok(), noPolicy},
		{"other host", authz.Request{Method: "POST", Host: "deploy.internal.evil.com", Path: "/deploy/"}, tok(), noPolicy},
		{"path with query", authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy/x?force=1"}, tok(), allowed("deploy", 0)},
		{"prefix only in the query", authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy?next=/deploy/"}, tok(), noPolicy},
		{"wildcard subdomain", authz.Request{Host: "eu.artifacts.internal", Path: "/v1/blob"}, artifactsTok, allowed("artifacts", 0)},
		{"wildcard deeper subdomain with port", authz.Request{Host: "a.eu.artifacts.internal:8080", Path: "/v1/"}, artifactsTok, allowed("artifacts", 0)},
		{"wildcard is not the apex", authz.Request{Host: "artifacts.internal", Path: "/v1/"}, artifactsTok, noPolicy},
		{"wildcard is a suffix after a dot", authz.Request{Host: "evilartifacts.internal", Path: "/v1/"}, artifactsTok, noPolicy},
		{"host entry with port", authz.Request{Host: "cache.internal:8443", Path: "/v1/"}, artifactsTok, allowed("artifacts", 0)},
		{"host entry with port needs it", authz.Request{Host: "cache.internal", Path: "/v1/"}, artifactsTok, noPolicy},
		{"host entry with other port", authz.Request{Host: "cache.internal:9443", Path: "/v1/"}, artifactsTok, noPolicy},
		{"no match section: name only", authz.Request{Method: "GET", Host: "x", Path: "/"}, tok(), noPolicy},
		{"empty request", authz.Request{}, tok(), invalidPath("empty", "the request path is empty")},

		// The path is untrusted: compared in normal form, refused when it has
		// none, and only when a path prefix must be compared with it.
		{"dot segments", authz.Request{Method: "POST", Host: "deploy.internal", Path: "/x/../deploy/x"}, tok(), allowed("deploy", 0)},
		{"merged slashes", authz.Request{Method: "POST", Host: "deploy.internal", Path: "//deploy//x"}, tok(), allowed("deploy", 0)},
		{"encoded unreserved", authz.Request{Method: "POST", Host: "deploy.internal", Path: "/%64eploy/x"}, tok(), allowed("deploy", 0)},
		{"dot segments out of the prefix", authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy/../x"}, tok(), noPolicy},
		{"case is kept", authz.Request{Method: "POST", Host: "deploy.internal", Path: "/DEPLOY/x"}, tok(), noPolicy},
		{"encoded slash", authz.Request{Method: "POST", Host: "deploy.internal", Path: "/x%2F..%2Fdeploy/x"}, tok(),
			invalidPath("encoded_slash", "the request path holds an encoded slash or backslash (%2F, %5C)")},
		{"encoded dot segment", authz.Request{Method: "POST", Host: "deploy.internal", Path: "/x/%2e%2e/deploy/x"}, tok(),
			invalidPath("encoded_dot_segment", `the request path holds a percent-encoded "." or ".." segment`)},
		{"parameter", authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy;x/y"}, tok(),
			invalidPath("parameter", `the request path holds a ";" (path parameters are read differently by different servers)`)},
		{"asterisk", authz.Request{Method: "POST", Host: "deploy.internal", Path: "*"}, tok(),
			invalidPath("asterisk", `the request target is "*" (OPTIONS *), not a path`)},
		{"a named policy takes any path", authz.Request{Policy: "deploy", Path: "/x/%2e%2e/deploy;x\\"}, tok(), allowed("deploy", 0)},

		// Audiences: the policy's override replaces the global list.
		{"global audience on an override policy", authz.Request{Policy: "artifacts"}, tok(),
			outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonAudience, Detail: "bad_audience", Policy: "artifacts", Rule: -1,
				Description: "the token's audience is not accepted for this route"}},
		{"override audience on a global policy", authz.Request{Policy: "deploy"}, artifactsTok,
			outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonAudience, Detail: "bad_audience", Policy: "deploy", Rule: -1,
				Description: "the token's audience is not accepted for this route"}},
		{"one of several audiences", authz.Request{Policy: "artifacts"}, tok(aud("other", "artifacts")), allowed("artifacts", 0)},
		{"no audience", authz.Request{Policy: "deploy"}, tok(aud()),
			outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonAudience, Detail: "bad_audience", Policy: "deploy", Rule: -1,
				Description: "the token's audience is not accepted for this route"}},
		{"no claims", authz.Request{Policy: "deploy"}, nil,
			outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Policy: "deploy", Rule: -1, Description: "no verified token"}},

		// Rules.
		{"second rule", authz.Request{Policy: "deploy"}, tok(func(c *claims.Claims) {
			c.Repository, c.Ref, c.JobWorkflowRef = "my-org/app", "refs/heads/feature", "my-org/workflows/.github/workflows/deploy.yml@refs/tags/v1.4.0"
		}), allowed("deploy", 1)},
		{"no rule", authz.Request{Policy: "deploy"}, tok(func(c *claims.Claims) { c.Ref = "refs/heads/dev" }), noRule("deploy")},
		{"other owner", authz.Request{Policy: "deploy"}, tok(func(c *claims.Claims) { c.RepositoryOwnerID = "666" }), noRule("deploy")},
		{"reusable workflow from a branch", authz.Request{Policy: "deploy"}, tok(func(c *claims.Claims) {
			c.Ref, c.JobWorkflowRef = "refs/heads/dev", "my-org/workflows/.github/workflows/deploy.yml@refs/heads/main"
		}), noRule("deploy")},
		{"glob in list", authz.Request{Policy: "artifacts"}, tok(aud("artifacts"), func(c *claims.Claims) { c.Repository = "my-org/app" }), allowed("artifacts", 0)},
		{"regex in list", authz.Request{Policy: "artifacts"}, tok(aud("artifacts"), func(c *claims.Claims) { c.Ref = "refs/tags/v1.2" }), allowed("artifacts", 0)},
		{"regex in list anchored", authz.Request{Policy: "artifacts"}, tok(aud("artifacts"), func(c *claims.Claims) { c.Ref = "refs/tags/v1.2-evil" }), noRule("artifacts")},
		{"not", authz.Request{Policy: "artifacts"}, tok(aud("artifacts"), func(c *claims.Claims) { c.EventName = "pull_request" }), noRule("artifacts")},
		{"not with absent claim", authz.Request{Policy: "artifacts"}, tok(aud("artifacts"), func(c *claims.Claims) { c.EventName = "" }), noRule("artifacts")},
		{"not with other value", authz.Request{Policy: "by-name-only"}, tok(func(c *claims.Claims) { c.EnterpriseID, c.Environment = "77", "staging" }), allowed("by-name-only", 0)},
		{"not never matches an absent claim", authz.Request{Policy: "by-name-only"}, tok(func(c *claims.Claims) { c.EnterpriseID, c.Environment = "77", "" }), noRule("by-name-only")},
		{"owner glob pitfall", authz.Request{Policy: "artifacts"}, tok(aud("artifacts"), func(c *claims.Claims) { c.Repository = "my-org-evil/app" }), noRule("artifacts")},

		// dry_run: a would-be deny is allowed and marked.
		{"dry run allows", authz.Request{Path: "/audit/log"}, tok(func(c *claims.Claims) { c.RepositoryID = "41" }),
			outline{Outcome: authz.Allow, Reason: authz.ReasonDryRun, Policy: "audit", Rule: -1, DryRun: true,
				Description: `policy "audit": no rule matched (allowed: dry_run)`}},
		{"dry run with a matching rule", authz.Request{Path: "/audit"}, tok(),
			outline{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "audit", Rule: 0, DryRun: true}},
		{"dry run still checks the audience", authz.Request{Path: "/audit"}, artifactsTok,
			outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonAudience, Detail: "bad_audience", Policy: "audit", Rule: -1, DryRun: true,
				Description: "the token's audience is not accepted for this route"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Decide(authz.Input{Request: tt.req, Claims: tt.claims})
			if diff := cmp.Diff(tt.want, outlineOf(d)); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
			if d.Outcome != authz.Allow && (d.Set != nil || d.Remove != nil) {
				t.Errorf("refusal carries headers: Set=%v Remove=%v", d.Set, d.Remove)
			}
			if d.Reason == authz.ReasonNoRuleMatched && strings.ContainsAny(d.Description, "=") {
				t.Errorf("deny description %q says too much", d.Description)
			}
		})
	}
}

func TestDecideHeaders(t *testing.T) {
	e := loadEngine(t, "valid.yaml")
	in := authz.Input{
		Request: authz.Request{Policy: "deploy", Headers: map[string]string{
			"authorization":          "Bearer x.y.z",
			"x-github-repository":    "my-org/spoofed", // set by the policy: overwritten, not removed
			"x-github-anything-else": "spoofed",        // not set: removed
			"X-GitHub-Mixed-Case":    "spoofed",        // a front door that did not lower-case
			"x-githubber":            "not the prefix",
			"content-type":           "application/json",
		}},
		Claims: tok(func(c *claims.Claims) { c.Environment = "production"; c.RunAttempt = "" }),
	}
	d := e.Decide(in)
	if d.Outcome != authz.Allow {
		t.Fatalf("Decide = %+v, want Allow", d)
	}
	wantSet := []authz.Header{
		{Name: "x-github-repository", Value: "my-org/infra"},
		{Name: "x-github-repository-id", Value: "42"},
		{Name: "x-github-repository-owner", Value: "my-org"},
		{Name: "x-github-repository-owner-id", Value: "1234567"},
		{Name: "x-github-ref", Value: "refs/heads/main"},
		{Name: "x-github-sha", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Name: "x-github-workflow-ref", Value: "my-org/infra/.github/workflows/deploy.yml@refs/heads/main"},
		{Name: "x-github-job-workflow-ref", Value: ""},
		{Name: "x-github-environment", Value: "production"},
		{Name: "x-github-event-name", Value: "push"},
		{Name: "x-github-actor", Value: "octocat"},
		{Name: "x-github-run-id", Value: "9001"},
		{Name: "x-github-run-attempt", Value: ""},
	}
	if diff := cmp.Diff(wantSet, d.Set); diff != "" {
		t.Errorf("Set (-want +got):\n%s", diff)
	}
	wantRemove := []string{"authorization", "x-github-anything-else", "x-github-mixed-case"}
	if diff := cmp.Diff(wantRemove, d.Remove); diff != "" {
		t.Errorf("Remove (-want +got):\n%s", diff)
	}
	for _, r := range d.Remove {
		for _, s := range d.Set {
			if r == s.Name {
				t.Errorf("%s is both set and removed: Envoy removes after setting", r)
			}
		}
	}

	// remove_token: false keeps the token header; a custom prefix is honoured.
	e = loadEngine(t, "loopback.yaml")
	in.Policy = "dev"
	in.Headers = map[string]string{"x-github-oidc-token": "x.y.z", "x-gha-run-id": "1", "x-github-repository": "kept"}
	in.Claims = tok(aud("dev"), func(c *claims.Claims) { c.RepositoryOwnerID = "1" })
	d = e.Decide(in)
	if d.Outcome != authz.Allow {
		t.Fatalf("Decide = %+v, want Allow", d)
	}
	if diff := cmp.Diff([]authz.Header{{Name: "x-gha-repository", Value: "my-org/infra"}, {Name: "x-gha-ref", Value: "refs/heads/main"}}, d.Set); diff != "" {
		t.Errorf("Set (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"x-gha-run-id"}, d.Remove); diff != "" {
		t.Errorf("Remove (-want +got):\n%s", diff)
	}
}

func TestPolicies(t *testing.T) {
	e := loadEngine(t, "valid.yaml")
	if diff := cmp.Diff([]string{"deploy", "artifacts", "audit", "by-name-only"}, e.Policies()); diff != "" {
		t.Errorf("Policies (-want +got):\n%s", diff)
	}
	if e.TokenHeader() != "authorization" {
		t.Errorf("TokenHeader() = %q", e.TokenHeader())
	}
}

func TestExplain(t *testing.T) {
	e := loadEngine(t, "valid.yaml")
	x := e.Explain(authz.Input{
		Request: authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy/x"},
		Claims:  tok(func(c *claims.Claims) { c.Ref = "refs/heads/dev" }),
	})
	want := []authz.RuleTrace{
		{Index: 0, Claim: "ref", Condition: `"refs/heads/main"`, Actual: "refs/heads/dev"},
		{Index: 1, Claim: "job_workflow_ref", Condition: `"my-org/workflows/.github/workflows/deploy.yml@refs/tags/v*"`, Actual: ""},
	}
	if diff := cmp.Diff(want, x.Rules); diff != "" {
		t.Errorf("Rules (-want +got):\n%s", diff)
	}
	if x.Decision.Reason != authz.ReasonNoRuleMatched || !x.AudienceOK {
		t.Errorf("Explain = %+v", x)
	}
	s := x.String()
	for _, w := range []string{
		`policy: policy "deploy" (policies[0]) is the first whose match matches POST deploy.internal/deploy/x`,
		`audience: accepted (policy accepts "https://github.com/my-org")`,
		`allow[0]: no: ref is "refs/heads/dev" (want "refs/heads/main")`,
		`allow[1]: no: job_workflow_ref is absent (want "my-org/workflows/.github/workflows/deploy.yml@refs/tags/v*")`,
		`decision: deny (no_rule_matched): policy "deploy": no rule matched`,
	} {
		if !strings.Contains(s, w) {
			t.Errorf("Explain.String() =\n%s\nwant a line holding %q", s, w)
		}
	}

	x = e.Explain(authz.Input{Request: authz.Request{Policy: "artifacts"}, Claims: tok(aud("artifacts"))})
	if len(x.Rules) != 1 || !x.Rules[0].Matched || x.Decision.Outcome != authz.Allow {
		t.Errorf("Explain = %+v, want rule 0 matched", x)
	}
	if s := x.String(); !strings.Contains(s, "allow[0]: matched") || !strings.Contains(s, "decision: allow (allowed), rule allow[0]") {
		t.Errorf("Explain.String() =\n%s", s)
	}

	x = e.Explain(authz.Input{Request: authz.Request{Policy: "deploy"}, Claims: tok(aud("artifacts"))})
	if x.AudienceOK || x.Rules != nil || !strings.Contains(x.String(), "audience: refused") {
		t.Errorf("Explain = %+v, want the audience refused and no rules", x)
	}
	x = e.Explain(authz.Input{Request: authz.Request{Policy: "gone"}, Claims: tok()})
	if !strings.Contains(x.Selection, `"gone", which is not configured`) {
		t.Errorf("Selection = %q", x.Selection)
	}
	x = e.Explain(authz.Input{Request: authz.Request{Method: "GET", Path: "/nowhere"}, Claims: tok()})
	if !strings.Contains(x.Selection, "no policy has a match for GET /nowhere") {
		t.Errorf("Selection = %q", x.Selection)
	}
	x = e.Explain(authz.Input{Request: authz.Request{Method: "GET", Path: "/x/%2e%2e/audit"}, Claims: tok()})
	if !strings.Contains(x.Selection, `the path "/x/%2e%2e/audit" must be compared with path_prefixes but cannot be: the request path holds a percent-encoded`) ||
		x.Decision.Reason != authz.ReasonInvalidPath {
		t.Errorf("Selection = %q, reason %s", x.Selection, x.Decision.Reason)
	}
}

// TestDecideAllocations: a refusal allocates nothing, an allow only its
// header slices.
func TestDecideAllocations(t *testing.T) {
	e := loadEngine(t, "valid.yaml")
	headers := map[string]string{"authorization": "Bearer x", "x-github-repository": "spoof", "content-type": "text/plain"}
	tests := []struct {
		name string
		in   authz.Input
		max  float64
	}{
		{"allow", authz.Input{Request: authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy/x", Headers: headers}, Claims: tok()}, 2},
		{"allow via regex", authz.Input{Request: authz.Request{Policy: "artifacts", Headers: headers}, Claims: tok(aud("artifacts"), func(c *claims.Claims) { c.Ref = "refs/tags/v1.2" })}, 2},
		{"no rule", authz.Input{Request: authz.Request{Policy: "deploy", Headers: headers}, Claims: tok(func(c *claims.Claims) { c.Ref = "x" })}, 0},
		{"no policy", authz.Input{Request: authz.Request{Method: "GET", Host: "x", Path: "/", Headers: headers}, Claims: tok()}, 0},
		{"invalid path", authz.Input{Request: authz.Request{Method: "GET", Host: "x", Path: "/x/%2e%2e/audit", Headers: headers}, Claims: tok()}, 0},
		{"path to normalise", authz.Input{Request: authz.Request{Method: "GET", Host: "x", Path: "//x/../nowhere", Headers: headers}, Claims: tok()}, 1},
		{"audience", authz.Input{Request: authz.Request{Policy: "artifacts", Headers: headers}, Claims: tok()}, 0},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(100, func() { e.Decide(tt.in) }); got > tt.max {
			t.Errorf("%s: %v allocations per Decide, want at most %v", tt.name, got, tt.max)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	e := loadEngine(b, "valid.yaml")
	headers := map[string]string{
		"authorization": "Bearer x", ":authority": "deploy.internal", ":path": "/deploy/x", ":method": "POST",
		"user-agent": "curl/8", "accept": "*/*", "x-request-id": "abc", "x-github-repository": "spoof",
	}
	for _, bb := range []struct {
		name string
		in   authz.Input
	}{
		{"allow/match", authz.Input{Request: authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy/x", Headers: headers}, Claims: tok()}},
		{"allow/regex", authz.Input{Request: authz.Request{Policy: "artifacts", Headers: headers}, Claims: tok(aud("artifacts"), func(c *claims.Claims) { c.Ref = "refs/tags/v1.2" })}},
		{"deny/no_rule", authz.Input{Request: authz.Request{Policy: "deploy", Headers: headers}, Claims: tok(func(c *claims.Claims) { c.Ref = "x" })}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Decide(bb.in)
			}
		})
	}
}

// The path is normalised, and refused, only when a policy's path_prefixes
// must be compared with it: a policy that matches by method or host alone
// before it takes the request whatever its path, and one whose method or
// host does not match never looks at it.
func TestRoutePathOnlyWhenCompared(t *testing.T) {
	cfg, err := Parse([]byte(`
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: ["https://github.com/my-org"]
policies:
  - name: writes
    match: {methods: [PUT], path_prefixes: [/deploy/]}
    allow: [{repository_owner_id: "1234567"}]
  - name: admin
    match: {hosts: [admin.internal]}
    allow: [{repository_owner_id: "1234567"}]
  - name: default
    match: {path_prefixes: [/]}
    allow: [{repository_owner_id: "1234567"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Engine()
	tests := []struct {
		req    authz.Request
		policy string
		reason authz.Reason
	}{
		{authz.Request{Method: "GET", Host: "admin.internal", Path: "/x%2F..%2Fdeploy"}, "admin", authz.ReasonAllowed},
		{authz.Request{Method: "OPTIONS", Host: "admin.internal", Path: "*"}, "admin", authz.ReasonAllowed},
		{authz.Request{Method: "OPTIONS", Host: "other.internal", Path: "*"}, "", authz.ReasonInvalidPath},
		{authz.Request{Method: "PUT", Host: "admin.internal", Path: "/deploy;x/y"}, "", authz.ReasonInvalidPath},
		{authz.Request{Method: "PUT", Host: "other.internal", Path: "//deploy/x"}, "writes", authz.ReasonAllowed},
		{authz.Request{Method: "GET", Host: "other.internal", Path: "//deploy/x"}, "default", authz.ReasonAllowed},
		{authz.Request{Method: "GET", Host: "other.internal", Path: ""}, "", authz.ReasonInvalidPath},
	}
	for _, tt := range tests {
		d := e.Decide(authz.Input{Request: tt.req, Claims: tok()})
		if d.Policy != tt.policy || d.Reason != tt.reason {
			t.Errorf("%s %s %q: policy %q (%s), want %q (%s)", tt.req.Method, tt.req.Host, tt.req.Path, d.Policy, d.Reason, tt.policy, tt.reason)
		}
	}
}

// Request paths are compared in normal form, so a path prefix must be
// written in it: one in another form would never match.
func TestPathPrefixInNormalForm(t *testing.T) {
	tests := []struct {
		prefix string
		want   string // "" when valid
	}{
		{"/deploy/", ""},
		{"/", ""},
		{"/a%3Bb", ""},
		{"/%64eploy/", `path prefix "/%64eploy/" is not in normal form: request paths are compared as "/deploy/", write that`},
		{"/deploy//", `is not in normal form: request paths are compared as "/deploy/"`},
		{"/x/../deploy/", `request paths are compared as "/deploy/"`},
		{"/a%3bb", `request paths are compared as "/a%3Bb"`},
		{"/deploy;v1/", `invalid path prefix "/deploy;v1/": holds a ";"`},
		{"/a%2Fb", `invalid path prefix "/a%2Fb": holds an encoded slash`},
		{"/a\\b", `invalid path prefix "/a\\b": holds a backslash, which requests are refused for`},
	}
	for _, tt := range tests {
		doc := `
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: ["https://github.com/my-org"]
policies:
  - name: p
    match: {path_prefixes: ['` + tt.prefix + `']}
    allow: [{repository_owner_id: "1234567"}]
`
		_, err := Parse([]byte(doc))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("prefix %q: %v", tt.prefix, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("prefix %q: error %v, want it to hold %q", tt.prefix, err, tt.want)
		}
	}
}

// TestBodyNeverSaysWhichClaimFailed: a real 403 from Decide names the policy
// and nothing about the token.
func TestBodyNeverSaysWhichClaimFailed(t *testing.T) {
	e := loadEngine(t, "valid.yaml")
	d := e.Decide(authz.Input{Request: authz.Request{Policy: "deploy"}, Claims: tok(func(c *claims.Claims) { c.Ref = "refs/heads/secret-branch" })})
	body := string(d.Body())
	for _, leak := range []string{"ref", "secret-branch", "my-org/infra", "1234567"} {
		if strings.Contains(body, leak) {
			t.Errorf("403 body %s mentions %q", body, leak)
		}
	}
	if !strings.Contains(body, `"policy":"deploy"`) {
		t.Errorf("403 body %s does not name the policy", body)
	}
}
