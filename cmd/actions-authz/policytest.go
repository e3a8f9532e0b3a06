package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/internal/cli"
	"github.com/actions-authz/actions-authz/internal/fileread"
)

const testUsage = `actions-authz test: run policy unit tests

  actions-authz test --config FILE [--jwks-file F] TESTS...

Each TESTS file is YAML: one list of cases. A case gives a token (token,
token_file) or bare claims (claims), or neither for a request without a
token; a request target (policy, and/or method, host, path); and the
expected outcome (expect: allow, deny or 401; reason: for 401, and for a
deny if you like; rule: the index of the allow rule that must decide).
Every case is decided by the same code as the service: bare claims skip
only the token's verification. A failing case is printed with the trace
explain gives. Exit status: 0 when every case passes, 1 when any fails, 2
on a usage, configuration or test file error.

Flags:
`

// testCase is one case of a test file, as written.
type testCase struct {
	Name      string         `yaml:"name"`
	Policy    string         `yaml:"policy"`
	Method    string         `yaml:"method"`
	Host      string         `yaml:"host"`
	Path      string         `yaml:"path"`
	Claims    map[string]any `yaml:"claims"`
	Token     string         `yaml:"token"`
	TokenFile string         `yaml:"token_file"`
	At        string         `yaml:"at"`
	Expect    string         `yaml:"expect"`
	Reason    string         `yaml:"reason"`
	Rule      *int           `yaml:"rule"`

	file string
	line int
	at   time.Time
	c    *claims.Claims // decoded Claims
}

// testKeys are the keys a case may have, for the unknown-key error.
var testKeys = []string{"name", "policy", "method", "host", "path", "claims", "token", "token_file", "at", "expect", "reason", "rule"}

// testReasons are the reasons a 401 or a deny may be expected with: the
// decision's Reason, or for a refused token its claims.Reason (Detail).
var (
	unauthenticatedReasons = []string{
		string(authz.ReasonMissingToken), string(authz.ReasonInvalidRequest), string(authz.ReasonInvalidToken), string(authz.ReasonAudience),
		string(claims.ReasonTooLarge), string(claims.ReasonMalformed), string(claims.ReasonAlgorithm), string(claims.ReasonMissingKID),
		string(claims.ReasonUnknownKey), string(claims.ReasonSignature), string(claims.ReasonIssuer), string(claims.ReasonAudience),
		string(claims.ReasonExpired), string(claims.ReasonNotYetValid), string(claims.ReasonIssuedInFuture), string(claims.ReasonMissingClaim),
		string(claims.ReasonNotIDToken), string(claims.ReasonLifetime),
	}
	denyReasons = []string{
		string(authz.ReasonNoRuleMatched), string(authz.ReasonNoPolicy), string(authz.ReasonUnknownPolicy), string(authz.ReasonInvalidPath),
	}
)

// policyTest runs the cases of the test files against a configuration.
func policyTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("test", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), testUsage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "configuration file (required)")
	jwksFile := fs.String("jwks-file", "", "read the signing keys of every configured issuer from this JWKS file (for tokens)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		return cli.Usage("test: --config is required")
	}
	files := fs.Args()
	if len(files) == 0 {
		return cli.Usage("test: name at least one test file")
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return cli.Exit(2, fmt.Errorf("%s is invalid:\n%w", *configPath, err))
	}
	engine := cfg.Engine()
	var cases []*testCase
	var errs []error
	for _, f := range files {
		cs, err := readTestFile(f, engine)
		if err != nil {
			errs = append(errs, err)
		}
		cases = append(cases, cs...)
	}
	if len(errs) > 0 {
		return cli.Exit(2, errors.Join(errs...))
	}
	failed := 0
	for _, tc := range cases {
		x, err := decideCase(ctx, cfg, engine, tc, *jwksFile)
		if err != nil {
			return cli.Exit(2, fmt.Errorf("%s:%d: %s: %w", tc.file, tc.line, tc.Name, err))
		}
		if msg := tc.verdict(&x.Decision); msg != "" {
			failed++
			fmt.Fprintf(stdout, "FAIL %s (%s:%d): %s\n", tc.Name, tc.file, tc.line, msg)
			for _, l := range strings.Split(strings.TrimSuffix(x.String(), "\n"), "\n") {
				fmt.Fprintln(stdout, "    "+l)
			}
			continue
		}
		fmt.Fprintf(stdout, "ok   %s\n", tc.Name)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", len(cases)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("test: %d of %d cases failed", failed, len(cases))
	}
	return nil
}

// decideCase decides one case as the service would, and traces it as
// explain does: bare claims go to the engine, a token through the
// Authorizer with a verifier built from the configuration.
func decideCase(ctx context.Context, cfg *config.Config, engine *authz.Engine, tc *testCase, jwksFile string) (authz.Explanation, error) {
	req := authz.Request{Policy: tc.Policy, Method: tc.Method, Host: tc.Host, Path: tc.Path, Headers: map[string]string{}}
	if req.Path == "" {
		req.Path = "/"
	}
	if tc.c != nil {
		return engine.Explain(authz.Input{Request: req, Claims: tc.c}), nil
	}
	raw := tc.Token
	if tc.TokenFile != "" {
		data, err := fileread.Limited(tc.TokenFile, 64<<10)
		if err != nil {
			return authz.Explanation{}, fmt.Errorf("token_file: %w", err)
		}
		raw = strings.TrimSpace(string(data))
	}
	var vr verification
	if raw != "" {
		var err error
		if vr, err = verifyForExplain(ctx, cfg, raw, &explainOptions{at: tc.at, jwksFile: jwksFile}); err != nil {
			return authz.Explanation{}, err
		}
		req.Headers[engine.TokenHeader()] = tokenHeaderValue(engine.TokenHeader(), raw)
	}
	x := engine.Explain(authz.Input{Request: req, Claims: vr.claims})
	x.Decision = authz.NewAuthorizer(vr, engine).Authorize(ctx, req)
	return x, nil
}

// verdict returns why decision d fails the case, or "".
func (tc *testCase) verdict(d *authz.Decision) string {
	got := d.Outcome.String()
	if d.Reason != "" {
		got += " (" + string(d.Reason)
		if d.Detail != "" {
			got += ": " + d.Detail
		}
		got += ")"
	}
	var want authz.Outcome
	switch tc.Expect {
	case "allow":
		want = authz.Allow
	case "deny", "403":
		want = authz.Deny
	case "401":
		want = authz.Unauthenticated
	}
	switch {
	case d.Outcome != want:
		return "want " + tc.Expect + ", got " + got
	case tc.Reason != "" && string(d.Reason) != tc.Reason && d.Detail != tc.Reason:
		return "want " + tc.Expect + " (" + tc.Reason + "), got " + got
	case tc.Rule != nil && d.Rule != *tc.Rule:
		if d.Rule < 0 {
			return "want allow[" + strconv.Itoa(*tc.Rule) + "] to decide, got " + got + " without a rule"
		}
		return "want allow[" + strconv.Itoa(*tc.Rule) + "] to decide, got allow[" + strconv.Itoa(d.Rule) + "]"
	}
	return ""
}

// readTestFile reads and checks one test file: a YAML list of cases. Each
// problem names the file and line.
func readTestFile(path string, engine *authz.Engine) ([]*testCase, error) {
	data, err := fileread.Limited(path, 4<<20)
	if err != nil {
		return nil, cli.Exit(2, err)
	}
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: no test cases", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.SequenceNode {
		return nil, fail(root.Line, "a test file is one list of cases (- name: ..., claims: ..., expect: ...)")
	}
	if len(root.Content) == 0 {
		return nil, fail(root.Line, "no test cases")
	}
	var cases []*testCase
	var errs []error
	for i, n := range root.Content {
		tc, err := readCase(n, i, engine)
		if err != nil {
			for _, e := range errs2(err) {
				errs = append(errs, fmt.Errorf("%s:%w", path, e))
			}
			continue
		}
		tc.file = path
		cases = append(cases, tc)
	}
	return cases, errors.Join(errs...)
}

// errs2 flattens an errors.Join.
func errs2(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// caseError is a problem with case n, placed at line ("12: case ...").
func caseError(line int, tc *testCase, format string, args ...any) error {
	name := ""
	if tc != nil && tc.Name != "" {
		name = " " + strconv.Quote(tc.Name)
	}
	return fmt.Errorf("%d: case%s: %s", line, name, fmt.Sprintf(format, args...))
}

// readCase decodes and checks case number i of a test file.
func readCase(n *yaml.Node, i int, engine *authz.Engine) (*testCase, error) {
	if n.Kind != yaml.MappingNode {
		return nil, caseError(n.Line, nil, "a case is a mapping (name:, claims:, expect:, ...)")
	}
	var errs []error
	line := map[string]int{}
	for j := 0; j+1 < len(n.Content); j += 2 {
		k := n.Content[j]
		if !slices.Contains(testKeys, k.Value) {
			errs = append(errs, caseError(k.Line, nil, "unknown key %q (want one of %s)", k.Value, strings.Join(testKeys, ", ")))
		}
		line[k.Value] = k.Line
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	tc := &testCase{line: n.Line}
	if err := n.Decode(tc); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%d: case: %s", n.Line, strings.Join(te.Errors, "; "))
		}
		return nil, caseError(n.Line, nil, "%v", err)
	}
	if tc.Name == "" {
		tc.Name = "case " + strconv.Itoa(i+1)
	}
	at := func(key string) int {
		if l, ok := line[key]; ok {
			return l
		}
		return n.Line
	}
	bad := func(key, format string, args ...any) {
		errs = append(errs, caseError(at(key), tc, format, args...))
	}

	// The request target.
	if tc.Policy == "" && tc.Method == "" && tc.Host == "" && tc.Path == "" {
		bad("name", "no request target: give policy (as the Envoy route names it), or method, host and path")
	}
	if tc.Policy != "" {
		if _, ok := engine.Rules(tc.Policy); !ok && tc.Expect != "deny" && tc.Expect != "403" {
			bad("policy", "policy %q is not configured (known: %s)", tc.Policy, strings.Join(engine.Policies(), ", "))
		}
	}

	// The token.
	sources := 0
	for _, set := range []bool{tc.Claims != nil, tc.Token != "", tc.TokenFile != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources > 1:
		bad("claims", "give one of claims, token and token_file")
	case tc.Claims != nil:
		c, err := caseClaims(tc.Claims)
		if err != nil {
			bad("claims", "%v", err)
		}
		tc.c = c
		if tc.At != "" {
			bad("at", "at is the time a token is verified at; bare claims are not verified")
		}
	}
	if tc.At != "" && tc.Claims == nil {
		t, err := time.Parse(time.RFC3339, tc.At)
		if err != nil {
			bad("at", "at %q: want an RFC 3339 time such as 2025-01-29T01:50:23Z", tc.At)
		}
		tc.at = t
	}

	// The expectation.
	switch tc.Expect {
	case "allow":
		if tc.Reason != "" {
			bad("reason", "an allow has no reason: a reason goes with deny or 401")
		}
	case "deny", "403":
		if tc.Reason != "" && !slices.Contains(denyReasons, tc.Reason) {
			bad("reason", "a deny's reason is one of %s, not %q", strings.Join(denyReasons, ", "), tc.Reason)
		}
	case "401":
		switch {
		case tc.Reason == "":
			bad("expect", "a 401 needs its reason (one of %s)", strings.Join(unauthenticatedReasons, ", "))
		case !slices.Contains(unauthenticatedReasons, tc.Reason):
			bad("reason", "a 401's reason is one of %s, not %q", strings.Join(unauthenticatedReasons, ", "), tc.Reason)
		case tc.c != nil && tc.Reason != string(authz.ReasonAudience) && tc.Reason != string(claims.ReasonAudience):
			bad("reason", "bare claims are not verified: the only 401 they can get is audience")
		case sources == 0 && tc.Reason != string(authz.ReasonMissingToken):
			bad("reason", "a case without a token can only get a 401 missing_token")
		}
	case "":
		bad("name", "no expect: want allow, deny or 401")
	default:
		bad("expect", "expect %q: want allow, deny (or 403) or 401", tc.Expect)
	}
	if tc.Rule != nil {
		n, named := engine.Rules(tc.Policy)
		switch {
		case tc.Expect != "allow":
			bad("rule", "only an allow is decided by a rule")
		case *tc.Rule < 0:
			bad("rule", "rule is the index of an allow rule, from 0")
		case named && *tc.Rule >= n:
			bad("rule", "policy %q has %d allow rules: allow[%d] does not exist", tc.Policy, n, *tc.Rule)
		}
	}
	if tc.Expect == "allow" && sources == 0 {
		bad("expect", "a request without a token is never allowed: give claims, token or token_file")
	}
	return tc, errors.Join(errs...)
}

// caseClaims turns the claims of a case into verified-looking Claims, the
// way a token's JSON becomes them: claims GitHub documents must be strings,
// and other claims (repo_property_*, new ones) keep their JSON type.
func caseClaims(m map[string]any) (*claims.Claims, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	c := new(claims.Claims)
	if err := json.Unmarshal(data, c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("claim %q must be a %s (GitHub sends every claim as a string; quote it), not a %s", te.Field, te.Type, te.Value)
		}
		return nil, err
	}
	return c, nil
}
