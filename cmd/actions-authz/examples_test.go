package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/authz"
)

// exampleConfigs are every actions-authz configuration under examples/.
func exampleConfigs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"../../examples/policies/*.yaml", "../../examples/*/config.yaml"} {
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

func TestExampleConfigsPassCheck(t *testing.T) {
	for _, f := range exampleConfigs(t) {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), []string{"check", "--config", f}, &stdout, &stderr); err != nil {
				t.Fatalf("check: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), ": ok (") {
				t.Errorf("check output %q", stdout.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("check warns about an example: %s", stderr.String())
			}
		})
	}
}

// exampleCase is one token run through an example configuration.
type exampleCase struct {
	request []string       // explain flags selecting the policy; default --policy NAME of the only policy
	claims  map[string]any // devissuer claim overrides
}

// Each example policy lets in the token its comment describes and keeps
// out one that differs in what the policy checks. The tokens are signed by a
// development issuer that takes the example's issuer URL and audience, and
// explain verifies them with that issuer's key set, so the whole path runs:
// issuer, audience, signature, lifetime, policy.
func TestExamplePoliciesAllowAndDeny(t *testing.T) {
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
			allow: []exampleCase{{request: []string{"--method", "POST", "--path", "/deploy/app"}, claims: map[string]any{"environment": "production"}}},
			deny: []exampleCase{
				{request: []string{"--method", "POST", "--path", "/deploy/app"}},
				{request: []string{"--method", "POST", "--path", "/deploy/app"}, claims: map[string]any{"environment": "staging"}},
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
				{request: []string{"--policy", "deploy"}, claims: map[string]any{"environment": "production"}},
				{request: []string{"--policy", "default"}},
			},
			deny: []exampleCase{
				{request: []string{"--policy", "deploy"}},
				{request: []string{"--policy", "default"}, claims: map[string]any{"repository_owner_id": "999"}},
			},
		},
		"forward-auth/config.yaml": {
			allow: []exampleCase{
				{request: []string{"--method", "POST", "--path", "/deploy/app"}, claims: map[string]any{"repository": "octo-org/infra", "environment": "production"}},
				{request: []string{"--path", "/hello"}},
			},
			deny: []exampleCase{
				{request: []string{"--method", "POST", "--path", "/deploy/app"}},
				{request: []string{"--path", "/hello"}, claims: map[string]any{"repository_id": "1"}},
			},
		},
		"dev/config.yaml": {
			allow: []exampleCase{{request: []string{"--path", "/hello"}}},
			deny:  []exampleCase{{request: []string{"--path", "/hello"}, claims: map[string]any{"repository_owner_id": "999"}}},
		},
	}

	// Every example has its cases, and every case its example.
	var found []string
	for _, f := range exampleConfigs(t) {
		found = append(found, filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f))
	}
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

	at := rfc3339(issuedAt.Add(time.Minute))
	for name, tc := range tests {
		path := filepath.Join("../../examples", name)
		cfg, err := authz.LoadConfig(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cfg.Issuers) != 1 {
			t.Fatalf("%s: want one issuer, have %d", name, len(cfg.Issuers))
		}
		iss := issuerFor(t, cfg.Issuers[0].URL, cfg.AllAudiences()[0])
		jwks := writeFile(t, t.TempDir(), "jwks.json", string(iss.JWKS()))
		runCase := func(t *testing.T, c exampleCase, wantAllow bool) {
			_, tokFile := mintFile(t, iss, c.claims)
			request := c.request
			if request == nil {
				request = []string{"--policy", cfg.Policies[0].Name}
			}
			args := append([]string{"explain", "--config", path, "--token-file", tokFile, "--jwks-file", jwks, "--at", at}, request...)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, &stdout, &stderr)
			out := stdout.String()
			if !strings.Contains(out, "token: valid") {
				t.Fatalf("the token did not verify against %s:\n%s%s", name, out, stderr.String())
			}
			switch {
			case wantAllow && err != nil:
				t.Errorf("%v: %v\n%s", c.claims, err, out)
			case !wantAllow && (err == nil || exitCode(err) != 1):
				t.Errorf("%v: err = %v, want exit 1\n%s", c.claims, err, out)
			case !wantAllow && !strings.Contains(out, "decision: deny (no_rule_matched)"):
				t.Errorf("%v: denied, but not by the policy's rules:\n%s", c.claims, out)
			}
		}
		t.Run(name, func(t *testing.T) {
			for i, c := range tc.allow {
				t.Run("allow"+string(rune('0'+i)), func(t *testing.T) { runCase(t, c, true) })
			}
			for i, c := range tc.deny {
				t.Run("deny"+string(rune('0'+i)), func(t *testing.T) { runCase(t, c, false) })
			}
		})
	}
}

// TestExamplePolicyTests runs each test file under examples/policies/tests
// against the example policy of the same name, as CI would.
func TestExamplePolicyTests(t *testing.T) {
	files, err := filepath.Glob("../../examples/policies/tests/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example test files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			config := filepath.Join("../../examples/policies", filepath.Base(f))
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), []string{"test", "--config", config, f}, &stdout, &stderr); err != nil {
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
	data, err := os.ReadFile("../../examples/workflow/.github/workflows/call-private-service.yml")
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
	cfg, err := authz.LoadConfig("../../examples/policies/organisation.yaml")
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
