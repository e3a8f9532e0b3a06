package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
	"github.com/actions-authz/actions-authz/internal/cli"
)

// TestPolicyTest runs the test command over test files of every kind: cases
// that pass and fail with bare claims, tokens verified with a key set at a
// moment of their lifetime, and files that are not valid test files.
func TestPolicyTest(t *testing.T) {
	dir := t.TempDir()
	config := servicetest.WriteFile(t, dir, "config.yaml", explainConfig)
	iss := issuerFor(t, "https://token.actions.githubusercontent.com", "https://private.example.test")
	jwks := servicetest.WriteFile(t, dir, "jwks.json", string(iss.JWKS()))
	_, prodToken := mintFile(t, iss, map[string]any{"environment": "production", "repo_property_team": "platform"})
	during, after := rfc3339(issuedAt.Add(time.Minute)), rfc3339(issuedAt.Add(time.Hour))

	tests := []struct {
		name   string
		file   string
		code   int
		stdout []string // in order
		stderr []string // in the error, in order
	}{
		{
			name: "bare claims pass",
			file: `
- name: production deploy
  method: POST
  path: /deploy/app
  claims: {aud: https://private.example.test, repository_owner_id: "123456", repository_id: "456789", environment: production}
  expect: allow
  rule: 0
- name: staging deploy
  method: POST
  host: deploy.internal
  path: /deploy/app
  claims: {aud: https://private.example.test, repository_owner_id: "123456", repository_id: "456789", environment: staging}
  expect: deny
  reason: no_rule_matched
- name: other path, default policy
  path: /hello
  claims: {aud: https://private.example.test, repository_owner_id: "123456"}
  expect: allow
- name: several audiences, one accepted
  policy: default
  claims: {aud: [https://github.com/octo-org, https://private.example.test], repository_owner_id: "123456"}
  expect: allow
- name: unknown route policy
  policy: nope
  claims: {aud: https://private.example.test, repository_owner_id: "123456"}
  expect: "403"
  reason: unknown_policy
- name: no token
  policy: default
  expect: "401"
  reason: missing_token
`,
			code:   0,
			stdout: []string{"ok   production deploy", "ok   staging deploy", "ok   no token", "6 passed, 0 failed"},
		},
		{
			name: "tokens, verified at a moment",
			file: `
- name: valid production token
  policy: deploy
  token_file: ` + prodToken + `
  at: ` + during + `
  expect: allow
- name: the same token, expired
  policy: deploy
  token_file: ` + prodToken + `
  at: ` + after + `
  expect: "401"
  reason: expired
- name: a token that is not one
  policy: deploy
  token: not.a.token
  expect: "401"
  reason: invalid_token
`,
			code:   0,
			stdout: []string{"ok   valid production token", "ok   the same token, expired", "3 passed, 0 failed"},
		},
		{
			name: "failing cases are named with explain's trace",
			file: `
- name: wrong rule
  policy: default
  claims: {aud: https://private.example.test, repository_owner_id: "123456"}
  expect: deny
- name: passes
  policy: default
  claims: {aud: https://private.example.test, repository_owner_id: "123456"}
  expect: allow
- name: wrong audience
  policy: deploy
  claims: {aud: https://elsewhere.example, repository_owner_id: "123456"}
  expect: allow
  rule: 0
`,
			code: 1,
			stdout: []string{
				"FAIL wrong rule (", ".yaml:1): want deny, got allow (allowed)",
				`    policy: policy "default" named by the route`, "    decision: allow (allowed), rule allow[0]",
				"ok   passes",
				"FAIL wrong audience (", ".yaml:9): want allow, got unauthenticated (audience: bad_audience)",
				"    audience: refused",
				"1 passed, 2 failed",
			},
			stderr: []string{"2 of 3 cases failed"},
		},
		{
			name: "errors name their line",
			file: `
- name: typo
  expct: allow
  policy: default
- name: impossible
  policy: default
  claims: {aud: x}
  expect: deny
  rule: 0
- name: no target
  claims: {aud: x}
  expect: allow
- name: bare claims cannot expire
  policy: default
  claims: {aud: x}
  expect: "401"
  reason: expired
- name: no such rule
  policy: default
  claims: {aud: x}
  expect: allow
  rule: 1
- name: unknown outcome
  policy: default
  claims: {aud: x}
  expect: maybe
`,
			code: 2,
			stderr: []string{
				`.yaml:2: case: unknown key "expct"`,
				`.yaml:8: case "impossible": only an allow is decided by a rule`,
				`.yaml:9: case "no target": no request target`,
				`.yaml:16: case "bare claims cannot expire": bare claims are not verified`,
				`.yaml:21: case "no such rule": policy "default" has 1 allow rules: allow[1] does not exist`,
				`.yaml:25: case "unknown outcome": expect "maybe"`,
			},
		},
		{name: "not a list", file: "name: x\n", code: 2, stderr: []string{".yaml:1: a test file is one list of cases"}},
		{name: "empty list", file: "[]\n", code: 2, stderr: []string{".yaml:1: no test cases"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := servicetest.WriteFile(t, t.TempDir(), "cases.yaml", strings.TrimPrefix(tt.file, "\n"))
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"test", "--config", config, "--jwks-file", jwks, file}, &stdout, &stderr)
			if got := cli.ExitCode(err); err != nil && got != tt.code || err == nil && tt.code != 0 {
				t.Fatalf("exit %d (%v), want %d\n%s", got, err, tt.code, stdout.String())
			}
			inOrder(t, "stdout", stdout.String(), tt.stdout)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			inOrder(t, "error", msg, tt.stderr)
		})
	}
}

// inOrder checks that out holds each of want, in order.
func inOrder(t *testing.T, what, out string, want []string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s lacks %q (in order):\n%s", what, w, out)
			return
		}
		rest = rest[i+len(w):]
	}
}

func TestPolicyTestUsage(t *testing.T) {
	config := servicetest.WriteFile(t, t.TempDir(), "config.yaml", explainConfig)
	bad := servicetest.WriteFile(t, t.TempDir(), "bad.yaml", "issuers: []\n")
	for _, args := range [][]string{
		{"test"},
		{"test", "--config", config},
		{"test", "x.yaml"},
		{"test", "--config", bad, "x.yaml"},
		{"test", "--config", config, "/nonexistent/tests.yaml"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); cli.ExitCode(err) != 2 {
			t.Errorf("%q: exit %d (%v), want 2", args, cli.ExitCode(err), err)
		}
	}
}

// TestDocsTestExample: the test-file example in docs/commands.md passes
// against the example policy it names.
func TestDocsTestExample(t *testing.T) {
	data, err := os.ReadFile("../../docs/commands.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "# examples/policies/tests/custom-properties.yaml (excerpt)\n"
	_, rest, ok := strings.Cut(string(data), marker)
	if !ok {
		t.Fatal("docs/commands.md has no test-file example")
	}
	example, _, _ := strings.Cut(rest, "```")
	file := servicetest.WriteFile(t, t.TempDir(), "example.yaml", example)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"test", "--config", "../../examples/policies/custom-properties.yaml", file}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
}
