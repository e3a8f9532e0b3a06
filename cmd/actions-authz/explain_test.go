package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/claims/devissuer/devissuertest"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
	"github.com/actions-authz/actions-authz/internal/cli"
)

// issuedAt is when the test tokens are minted: explain examines them with
// --at, long after they expired in real time.
var issuedAt = time.Date(2025, 1, 29, 1, 49, 23, 0, time.UTC)

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// testIssuers holds one development issuer per URL, minting at issuedAt:
// generating RSA keys is the slow part of these tests.
var testIssuers = struct {
	sync.Mutex
	m map[string]*devissuer.Issuer
}{m: map[string]*devissuer.Issuer{}}

func issuerFor(t *testing.T, url, audience string) *devissuer.Issuer {
	t.Helper()
	testIssuers.Lock()
	defer testIssuers.Unlock()
	key := url + " " + audience
	if iss, ok := testIssuers.m[key]; ok {
		return iss
	}
	iss, err := devissuer.New(devissuer.Options{URL: url, Audience: audience, Now: func() time.Time { return issuedAt }})
	if err != nil {
		t.Fatal(err)
	}
	testIssuers.m[key] = iss
	return iss
}

// mintFile mints a token with claims and writes it to a file.
func mintFile(t *testing.T, iss *devissuer.Issuer, claims map[string]any) (token, path string) {
	t.Helper()
	tok, err := iss.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok, servicetest.WriteFile(t, t.TempDir(), "token", tok+"\n")
}

const explainConfig = `
issuers:
  - url: https://token.actions.githubusercontent.com
audiences: ["https://private.example.test"]
policies:
  - name: deploy
    match: {path_prefixes: [/deploy/], methods: [POST]}
    allow:
      - repository_owner_id: "123456"
        repository_id: "456789"
        environment: production
  - name: default
    match: {path_prefixes: [/]}
    allow:
      - repository_owner_id: "123456"
`

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	config := servicetest.WriteFile(t, dir, "config.yaml", explainConfig)
	iss := issuerFor(t, "https://token.actions.githubusercontent.com", "https://private.example.test")
	jwks := servicetest.WriteFile(t, dir, "jwks.json", string(iss.JWKS()))
	other := issuerFor(t, "https://token.actions.githubusercontent.com", "other")
	otherJWKS := servicetest.WriteFile(t, dir, "other-jwks.json", string(other.JWKS()))

	tok, tokFile := mintFile(t, iss, nil)
	_, strangerFile := mintFile(t, iss, map[string]any{"repository": "evil/repo", "repository_owner_id": "999"})
	_, prodFile := mintFile(t, iss, map[string]any{"environment": "production"})
	_, wrongAudFile := mintFile(t, iss, map[string]any{"aud": "https://elsewhere.example"})
	bearerFile := servicetest.WriteFile(t, dir, "bearer", "Bearer "+tok+"\n")

	claimsOK := servicetest.WriteFile(t, dir, "claims.json", `{"iss":"https://token.actions.githubusercontent.com","aud":"https://private.example.test",
		"sub":"repo:octo-org/octo-repo:ref:refs/heads/main","repository_owner_id":"123456","repository_id":"456789","environment":"production","repo_property_x":"y","chek_run_id":"1"}`)
	claimsStaging := servicetest.WriteFile(t, dir, "staging.json", `{"aud":"https://private.example.test","repository_owner_id":"123456","repository_id":"456789","environment":"staging"}`)
	claimsNumber := servicetest.WriteFile(t, dir, "number.json", `{"aud":"https://private.example.test","repository_owner_id":123456}`)
	claimsNotJSON := servicetest.WriteFile(t, dir, "bad.json", `repository_owner_id: "1"`)

	at := func(d time.Duration) string { return rfc3339(issuedAt.Add(d)) }
	base := []string{"explain", "--config", config}
	tests := []struct {
		name   string
		args   []string
		code   int      // exit code
		stdout []string // each must appear
		stderr []string
	}{
		{
			name: "valid one minute after iat",
			args: []string{"--token-file", tokFile, "--jwks-file", jwks, "--at", at(time.Minute)},
			code: 0,
			stdout: []string{"token: valid as of 2025-01-29T01:50:23Z", "repository_owner_id    123456",
				`policy "default" (policies[1]) is the first whose match matches GET /`, "allow[0]: matched",
				"decision: allow (allowed), rule allow[0]", "upstream: x-github-repository: octo-org/octo-repo", "upstream: removed authorization"},
		},
		{
			name:   "expired one hour after iat",
			args:   []string{"--token-file", tokFile, "--jwks-file", jwks, "--at", at(time.Hour)},
			code:   1,
			stdout: []string{"token: invalid as of 2025-01-29T02:49:23Z: expired (token has expired)", "claims as sent (NOT verified)", "decision: unauthenticated (invalid_token: expired): token has expired"},
		},
		{
			name:   "expired now, without --at",
			args:   []string{"--token-file", tokFile, "--jwks-file", jwks},
			code:   1,
			stdout: []string{"token: invalid: expired"},
		},
		{
			name:   "one hour before iat",
			args:   []string{"--token-file", tokFile, "--jwks-file", jwks, "--at", at(-time.Hour)},
			code:   1,
			stdout: []string{"issued_in_future (token was issued in the future)", "decision: unauthenticated"},
		},
		{
			name:   "another issuer's key set",
			args:   []string{"--token-file", tokFile, "--jwks-file", otherJWKS, "--at", at(time.Minute)},
			code:   1,
			stdout: []string{"token: invalid as of 2025-01-29T01:50:23Z: unknown_key (token signing key is not known)", "decision: unauthenticated (invalid_token: unknown_key)"},
		},
		{
			name:   "audience no issuer is configured for",
			args:   []string{"--token-file", wrongAudFile, "--jwks-file", jwks, "--at", at(time.Minute)},
			code:   1,
			stdout: []string{"bad_audience"},
		},
		{
			name:   "token on the command line, with a Bearer prefix in a file",
			args:   []string{"--token-file", bearerFile, "--jwks-file", jwks, "--at", at(time.Minute)},
			code:   0,
			stdout: []string{"token: valid", "decision: allow"},
		},
		{
			name:   "token flag",
			args:   []string{"--token", tok, "--jwks-file", jwks, "--at", at(time.Minute)},
			code:   0,
			stdout: []string{"decision: allow"},
		},
		{
			name: "a stranger is denied, and the trace says which claim failed",
			args: []string{"--token-file", strangerFile, "--jwks-file", jwks, "--at", at(time.Minute)},
			code: 1,
			stdout: []string{"token: valid", `allow[0]: no: repository_owner_id is "999" (want "123456")`,
				`decision: deny (no_rule_matched)`},
			stderr: nil,
		},
		{
			name: "policy selected by method and path; first failing condition per rule",
			args: []string{"--token-file", tokFile, "--jwks-file", jwks, "--at", at(time.Minute), "--method", "POST", "--path", "/deploy/app"},
			code: 1,
			stdout: []string{`policy "deploy" (policies[0]) is the first whose match matches POST /deploy/app`,
				`allow[0]: no: environment is absent (want "production")`, "decision: deny (no_rule_matched)"},
		},
		{
			name:   "policy named as by an Envoy route",
			args:   []string{"--token-file", prodFile, "--jwks-file", jwks, "--at", at(time.Minute), "--policy", "deploy"},
			code:   0,
			stdout: []string{`policy "deploy" named by the route`, "decision: allow (allowed), rule allow[0]", "upstream: x-github-environment: production"},
		},
		{
			name:   "unknown policy name",
			args:   []string{"--token-file", tokFile, "--jwks-file", jwks, "--at", at(time.Minute), "--policy", "nope"},
			code:   1,
			stdout: []string{`the route names policy "nope", which is not configured`, "decision: deny (unknown_policy: nope)"},
		},
		{
			name:   "claims file, allowed",
			args:   []string{"--claims-file", claimsOK, "--policy", "deploy"},
			code:   0,
			stdout: []string{"token: not verified (claims read from", "repo_property_x        \"y\"", "audience: accepted", "decision: allow"},
			stderr: []string{`claim "chek_run_id" is not one GitHub documents (kept: a policy may name it)`},
		},
		{
			name:   "claims file, denied",
			args:   []string{"--claims-file", claimsStaging, "--policy", "deploy"},
			code:   1,
			stdout: []string{`allow[0]: no: environment is "staging" (want "production")`, "decision: deny (no_rule_matched)"},
		},
		{name: "claims file with a number", args: []string{"--claims-file", claimsNumber}, code: 2},
		{name: "claims file not JSON", args: []string{"--claims-file", claimsNotJSON}, code: 2},
		{name: "no token", args: nil, code: 2},
		{name: "two tokens", args: []string{"--token", tok, "--token-file", tokFile}, code: 2},
		{name: "bad --at", args: []string{"--token-file", tokFile, "--at", "yesterday"}, code: 2},
		{name: "--at with claims", args: []string{"--claims-file", claimsOK, "--at", at(0)}, code: 2},
		{name: "missing token file", args: []string{"--token-file", filepath.Join(dir, "nope")}, code: 2},
		{name: "empty token", args: []string{"--token", "  "}, code: 2},
		{name: "missing jwks file", args: []string{"--token-file", tokFile, "--jwks-file", filepath.Join(dir, "nope.json")}, code: 2},
		{name: "unexpected argument", args: []string{"--token-file", tokFile, "extra"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append(append([]string{}, base...), tc.args...), &stdout, &stderr)
			got := 0
			if err != nil {
				got = cli.ExitCode(err)
			}
			if got != tc.code {
				t.Errorf("exit %d, want %d (err %v)\nstdout:\n%s\nstderr:\n%s", got, tc.code, err, stdout.String(), stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			out := stdout.String() + stderr.String()
			if err != nil {
				out += err.Error()
			}
			if strings.Contains(out, tok) {
				t.Error("the token appears in the output")
			}
		})
	}
}

func TestExplainConfigErrors(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		errorHas string
	}{
		{name: "missing config", config: "testdata/nope.yaml", errorHas: "nope.yaml"},
		{name: "invalid config names the place", config: "testdata/invalid.yaml", errorHas: `policy "default"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"explain", "--config", tc.config, "--token", "x.y.z"}, &stdout, &stderr)
			if err == nil || cli.ExitCode(err) != 2 {
				t.Fatalf("err = %v, want exit 2", err)
			}
			if !strings.Contains(err.Error(), tc.errorHas) {
				t.Errorf("error %q does not mention %q", err, tc.errorHas)
			}
		})
	}
}

// Without --jwks-file, explain fetches the keys of the token's issuer
// through discovery, like the service.
func TestExplainFetchesKeys(t *testing.T) {
	iss := devissuertest.Start(t, devissuer.Options{Now: func() time.Time { return issuedAt }})

	dir := t.TempDir()
	config := servicetest.WriteFile(t, dir, "config.yaml", `
issuers:
  - url: `+iss.URL()+`
audiences: ["https://github.com/octo-org"]
policies:
  - name: default
    allow:
      - repository_owner_id: "123456"
`)
	_, tokFile := mintFile(t, iss.Issuer, nil)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"explain", "--config", config, "--token-file", tokFile, "--policy", "default", "--at", rfc3339(issuedAt.Add(time.Minute))}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("explain: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "token: valid") {
		t.Errorf("stdout:\n%s", stdout.String())
	}

	// An issuer whose keys cannot be had: exit 2, naming the issuer.
	iss.Down.Store(true)
	stdout.Reset()
	err = run(context.Background(), []string{"explain", "--config", config, "--token-file", tokFile, "--policy", "default"}, &stdout, &stderr)
	if err == nil || cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), iss.URL()) {
		t.Errorf("with the issuer down: err = %v, want exit 2 naming %s", err, iss.URL())
	}
}

// TestTokenMaxLifetime: token.max_lifetime reaches the verifier. A token
// meant to live two hours is refused under the default (1h) and accepted
// where the file allows three.
func TestTokenMaxLifetime(t *testing.T) {
	dir := t.TempDir()
	iss := issuerFor(t, "https://token.actions.githubusercontent.com", "https://private.example.test")
	jwks := servicetest.WriteFile(t, dir, "jwks.json", string(iss.JWKS()))
	_, tokFile := mintFile(t, iss, map[string]any{"lifetime": 2 * 3600})
	tests := []struct {
		name   string
		extra  string
		code   int // -1: success
		output string
	}{
		{"default limit", "", 1, "lifetime_too_long"},
		{"raised limit", "token: {max_lifetime: 3h}\n", -1, "valid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			config := servicetest.WriteFile(t, t.TempDir(), "config.yaml", explainConfig+tc.extra)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"explain", "--config", config, "--token-file", tokFile,
				"--jwks-file", jwks, "--at", rfc3339(issuedAt.Add(time.Minute))}, &stdout, &stderr)
			if tc.code == -1 && err != nil {
				t.Fatalf("explain: %v\n%s%s", err, stdout.String(), stderr.String())
			}
			if tc.code != -1 && (err == nil || cli.ExitCode(err) != tc.code) {
				t.Fatalf("explain: %v (exit %d), want exit %d\n%s", err, cli.ExitCode(err), tc.code, stdout.String())
			}
			if !strings.Contains(stdout.String(), tc.output) {
				t.Errorf("output lacks %q:\n%s", tc.output, stdout.String())
			}
		})
	}
}
