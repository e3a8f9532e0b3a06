package examples_test

// The actions-authz configurations under examples/ (policies/*.yaml and
// each */config.yaml), their test files and the workflow that calls them.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
)

// exampleConfigs are every actions-authz configuration under examples/,
// relative to this directory.
func exampleConfigs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"policies/*.yaml", "*/config.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no example configurations found")
	}
	return files
}

// Every example configuration passes actions-authz check, which loads it
// and prints its warnings: it loads, and has none.
func TestExampleConfigsPassCheck(t *testing.T) {
	for _, f := range exampleConfigs(t) {
		t.Run(f, func(t *testing.T) {
			cfg, err := config.Load(f)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if len(cfg.Policies) == 0 {
				t.Error("no policies")
			}
			if w := cfg.Warnings(); len(w) > 0 {
				t.Errorf("check warns about an example: %q", w)
			}
		})
	}
}

// exampleRequest selects the policy of an exampleCase, as explain's flags
// do: --policy, or --method (GET by default) and --path (/ by default).
type exampleRequest struct{ policy, method, path string }

// exampleCase is one token run through an example configuration.
type exampleCase struct {
	request exampleRequest // zero: the only policy, by name
	claims  map[string]any // devissuer claim overrides
}

// issuedAt is when the test tokens are minted; they are verified a minute
// later, as of then.
var issuedAt = time.Date(2025, 1, 29, 1, 49, 23, 0, time.UTC)

// Each example policy lets in the token its comment describes and keeps
// out one that differs in what the policy checks. The tokens are signed by a
// development issuer that takes the example's issuer URL and audience, and
// verified as actions-authz explain verifies them (the configuration's
// verifier, with that issuer's key set as a file and the clock at the
// token's lifetime), so the whole path runs: issuer, audience, signature,
// lifetime, policy.
func TestExamplePoliciesAllowAndDeny(t *testing.T) {
	post := func(path string) exampleRequest { return exampleRequest{method: "POST", path: path} }
	get := func(path string) exampleRequest { return exampleRequest{path: path} }
	policy := func(name string) exampleRequest { return exampleRequest{policy: name} }
	tests := map[string]struct {
		allow []exampleCase
		deny  []exampleCase
	}{
		"policies/organisation.yaml": {
			allow: []exampleCase{{claims: map[string]any{"repository": "octo-org/any-repo", "repository_id": "1"}}},
			deny:  []exampleCase{{claims: map[string]any{"repository": "octo-evil/octo-repo", "repository_owner_id": "999"}}},
		},
		"policies/repositories.yaml": {
			allow: []exampleCase{{}, {claims: map[string]any{"repository": "octo-org/second", "repository_id": "456790"}}},
			deny: []exampleCase{
				{claims: map[string]any{"repository": "octo-org/third", "repository_id": "456791"}},
				{claims: map[string]any{"repository": "evil/octo-repo", "repository_owner_id": "999"}}, // same repository_id, another owner
			},
		},
		"policies/main-branch.yaml": {
			allow: []exampleCase{{}, {claims: map[string]any{"event_name": "workflow_dispatch"}}},
			deny: []exampleCase{
				{claims: map[string]any{"ref": "refs/heads/feature"}},
				{claims: map[string]any{"ref": "refs/tags/main", "ref_type": "tag"}},
				{claims: map[string]any{"event_name": "pull_request_target"}},
			},
		},
		"policies/protected-environment.yaml": {
			allow: []exampleCase{{request: post("/deploy/app"), claims: map[string]any{"environment": "production"}}},
			deny: []exampleCase{
				{request: post("/deploy/app")},
				{request: post("/deploy/app"), claims: map[string]any{"environment": "staging"}},
			},
		},
		"policies/reusable-workflow.yaml": {
			allow: []exampleCase{{claims: map[string]any{"repository": "octo-org/app", "repository_id": "7",
				"job_workflow_ref": "octo-org/deploy-workflows/.github/workflows/deploy.yml@refs/tags/v2.1.0"}}},
			deny: []exampleCase{
				{claims: map[string]any{"job_workflow_ref": "octo-org/deploy-workflows/.github/workflows/deploy.yml@refs/heads/main"}},
				{}, // the caller's own workflow
			},
		},
		"policies/custom-properties.yaml": {
			allow: []exampleCase{
				{claims: map[string]any{"repo_property_team": "platform", "repo_property_sandbox": false}},
				{claims: map[string]any{"repo_property_regions": []any{"us-east-1", "eu-west-1"}}},
			},
			deny: []exampleCase{
				{claims: map[string]any{"repo_property_team": "platform", "repo_property_sandbox": true}},
				{claims: map[string]any{"repo_property_team": "platform"}}, // sandbox unset: absent never matches
				{claims: map[string]any{"repo_property_regions": []any{"us-east-1", "eu-west-1"}, "ref": "refs/heads/dev"}},
				{claims: map[string]any{"repository": "octo-evil/infra", "repository_owner_id": "999", "repo_property_team": "platform", "repo_property_sandbox": false}},
			},
		},
		"policies/github-hosted.yaml": {
			allow: []exampleCase{{}},
			deny:  []exampleCase{{claims: map[string]any{"runner_environment": "self-hosted"}}},
		},
		"policies/enterprise.yaml": {
			allow: []exampleCase{{claims: map[string]any{"enterprise": "octo-enterprise", "enterprise_id": "4242"}}},
			deny: []exampleCase{
				{claims: map[string]any{"enterprise": "other", "enterprise_id": "4243"}},
				{claims: map[string]any{"enterprise": "octo-enterprise", "enterprise_id": "4242", "repository_visibility": "public"}},
			},
		},
		"policies/ghes.yaml": {
			allow: []exampleCase{{claims: map[string]any{"repository": "octo-org/app", "repository_owner_id": "12"}}},
			deny:  []exampleCase{{claims: map[string]any{"repository": "octo-org/app", "repository_owner_id": "12", "ref": "refs/heads/dev"}}},
		},
		"compose/config.yaml": {
			allow: []exampleCase{
				{request: policy("deploy"), claims: map[string]any{"environment": "production"}},
				{request: policy("default")},
			},
			deny: []exampleCase{
				{request: policy("deploy")},
				{request: policy("default"), claims: map[string]any{"repository_owner_id": "999"}},
			},
		},
		"forward-auth/config.yaml": {
			allow: []exampleCase{
				{request: post("/deploy/app"), claims: map[string]any{"repository": "octo-org/infra", "environment": "production"}},
				{request: get("/hello")},
			},
			deny: []exampleCase{
				{request: post("/deploy/app")},
				{request: get("/hello"), claims: map[string]any{"repository_id": "1"}},
			},
		},
		"dev/config.yaml": {
			allow: []exampleCase{{request: get("/hello")}},
			deny:  []exampleCase{{request: get("/hello"), claims: map[string]any{"repository_owner_id": "999"}}},
		},
	}

	// Every example has its cases, and every case its example.
	found := exampleConfigs(t)
	for name := range tests {
		if !slices.Contains(found, name) {
			t.Errorf("cases for %s, which does not exist", name)
		}
	}
	for _, name := range found {
		if _, ok := tests[name]; !ok {
			t.Errorf("examples/%s has no allow and deny cases", name)
		}
	}

	at := issuedAt.Add(time.Minute)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Issuers) != 1 {
				t.Fatalf("want one issuer, have %d", len(cfg.Issuers))
			}
			iss, err := devissuer.New(devissuer.Options{URL: cfg.Issuers[0].URL, Audience: cfg.AllAudiences()[0],
				Now: func() time.Time { return issuedAt }})
			if err != nil {
				t.Fatal(err)
			}
			// The verifier explain --jwks-file --at builds: every issuer's
			// keys from the file, the clock at the given moment.
			jwks := filepath.Join(t.TempDir(), "jwks.json")
			if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
				t.Fatal(err)
			}
			vc := cfg.VerifierConfig()
			vc.Issuers = slices.Clone(cfg.Issuers)
			for i := range vc.Issuers {
				vc.Issuers[i].JWKSURL, vc.Issuers[i].JWKSFile = "", jwks
			}
			vc.Now = func() time.Time { return at }
			v, err := claims.NewVerifier(vc)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Refresh(context.Background(), cfg.Issuers[0].URL); err != nil {
				t.Fatal(err)
			}
			authorizer := authz.NewAuthorizer(v, cfg.Engine())

			runCase := func(t *testing.T, c exampleCase, wantAllow bool) {
				tok, err := iss.Mint(c.claims)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(context.Background(), tok); err != nil {
					t.Fatalf("the token did not verify against %s: %v", name, err)
				}
				req := authz.Request{Policy: c.request.policy, Method: c.request.method, Path: c.request.path}
				if c.request == (exampleRequest{}) {
					req.Policy = cfg.Policies[0].Name
				}
				if req.Method == "" {
					req.Method = "GET"
				}
				if req.Path == "" {
					req.Path = "/"
				}
				header := cfg.Engine().TokenHeader()
				req.Headers = map[string]string{header: tok}
				if header == "authorization" {
					req.Headers[header] = "Bearer " + tok
				}
				d := authorizer.Authorize(context.Background(), req)
				switch {
				case wantAllow && d.Outcome != authz.Allow:
					t.Errorf("%v: %s (%s: %s), want allow", c.claims, d.Outcome, d.Reason, d.Description)
				case !wantAllow && d.Outcome == authz.Allow:
					t.Errorf("%v: allowed, want deny", c.claims)
				case !wantAllow && (d.Outcome != authz.Deny || d.Reason != authz.ReasonNoRuleMatched):
					t.Errorf("%v: %s (%s: %s), want deny (no_rule_matched): denied, but not by the policy's rules", c.claims, d.Outcome, d.Reason, d.Description)
				}
			}
			for i, c := range tc.allow {
				t.Run("allow"+string(rune('0'+i)), func(t *testing.T) { runCase(t, c, true) })
			}
			for i, c := range tc.deny {
				t.Run("deny"+string(rune('0'+i)), func(t *testing.T) { runCase(t, c, false) })
			}
		})
	}
}

// TestExamplePolicyTests runs actions-authz test over each test file under
// examples/policies/tests against the example policy of the same name, as
// CI would.
func TestExamplePolicyTests(t *testing.T) {
	files, err := filepath.Glob("policies/tests/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example test files")
	}
	bin := requireBinary(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			policyFile := filepath.Join("policies", filepath.Base(f))
			var stdout, stderr strings.Builder
			cmd := exec.Command(bin, "test", "--config", policyFile, f)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("test: %v\n%s%s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), " passed, 0 failed") {
				t.Errorf("output:\n%s", stdout.String())
			}
		})
	}
}

// The workflow example requests a token for an audience the example
// policies accept, and sends it as a Bearer token.
func TestExampleWorkflow(t *testing.T) {
	data, err := os.ReadFile("workflow/.github/workflows/call-private-service.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Permissions map[string]string `yaml:"permissions"`
		Env         map[string]string `yaml:"env"`
		Jobs        map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	if wf.Permissions["id-token"] != "write" {
		t.Errorf("permissions.id-token = %q, want write", wf.Permissions["id-token"])
	}
	cfg, err := config.Load("policies/organisation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if aud := wf.Env["AUDIENCE"]; !slices.Contains(cfg.AllAudiences(), aud) {
		t.Errorf("the workflow asks for audience %q; the example policies accept %q", aud, cfg.AllAudiences())
	}
	var script string
	for _, j := range wf.Jobs {
		for _, s := range j.Steps {
			script += s.Run
		}
	}
	for _, want := range []string{`"audience=$AUDIENCE"`, "$ACTIONS_ID_TOKEN_REQUEST_URL", `::add-mask::$token`, `Authorization: Bearer $token`} {
		if !strings.Contains(script, want) {
			t.Errorf("the workflow's script lacks %s", want)
		}
	}
}
