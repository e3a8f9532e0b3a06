package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
)

// extra sets the claims without a field of c from JSON text by name.
func extra(t testing.TB, kv map[string]string) func(*claims.Claims) {
	t.Helper()
	raw := make(map[string]json.RawMessage, len(kv))
	for k, v := range kv {
		raw[k] = json.RawMessage(v)
	}
	x, err := claims.NewExtra(raw)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *claims.Claims) { c.Extra = x }
}

// engineFor compiles a configuration with one policy "p" whose only rule
// pins the owner and adds the condition cond (YAML: `claim: value`).
func engineFor(t testing.TB, cond string, upstream ...string) *authz.Engine {
	t.Helper()
	return configFor(t, cond, upstream...).Engine()
}

// configFor is engineFor's configuration, for the tests that look at its
// compiled policy.
func configFor(t testing.TB, cond string, upstream ...string) *Config {
	t.Helper()
	src := "issuers: [{url: https://token.actions.githubusercontent.com}]\naudiences: [https://github.com/my-org, other]\n"
	if len(upstream) > 0 {
		src += "upstream: {claims: [" + strings.Join(upstream, ", ") + "]}\n"
	}
	src += "policies:\n  - name: p\n    allow:\n      - repository_owner_id: \"1234567\"\n        " + cond + "\n"
	cfg, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestConditionValues: how a condition compares claims of every shape:
// repository custom properties of each type GitHub documents, several
// audiences, JSON booleans, numbers and arrays in claims GitHub has not
// documented yet, and negations over several values.
func TestConditionValues(t *testing.T) {
	regions := `"us-east-1,eu-west-1"`
	tests := []struct {
		name   string
		cond   string
		claims map[string]string // extra claims, as JSON
		aud    []string
		want   bool
	}{
		// String and single-select properties: a plain string.
		{"string exact", `repo_property_team: platform`, map[string]string{"repo_property_team": `"platform"`}, nil, true},
		{"string exact, other value", `repo_property_team: platform`, map[string]string{"repo_property_team": `"web"`}, nil, false},
		{"string is case-sensitive", `repo_property_team: platform`, map[string]string{"repo_property_team": `"Platform"`}, nil, false},
		{"property absent", `repo_property_team: platform`, nil, nil, false},
		{"absent never matches, not even under not", `repo_property_team: {not: platform}`, nil, nil, false},
		{"glob", `repo_property_team: "plat*"`, map[string]string{"repo_property_team": `"platform"`}, nil, true},
		{"list", `repo_property_team: [web, platform]`, map[string]string{"repo_property_team": `"platform"`}, nil, true},
		{"regex", `repo_property_team: {regex: "plat(form|eng)"}`, map[string]string{"repo_property_team": `"platform"`}, nil, true},
		{"not", `repo_property_team: {not: web}`, map[string]string{"repo_property_team": `"platform"`}, nil, true},
		// Multi-select: one comma-joined string; any option matches.
		{"multi-select, one option", `repo_property_regions: eu-west-1`, map[string]string{"repo_property_regions": regions}, nil, true},
		{"multi-select, the whole string", `repo_property_regions: "us-east-1,eu-west-1"`, map[string]string{"repo_property_regions": regions}, nil, true},
		{"multi-select, no option", `repo_property_regions: ap-south-1`, map[string]string{"repo_property_regions": regions}, nil, false},
		{"multi-select, glob", `repo_property_regions: "eu-*"`, map[string]string{"repo_property_regions": regions}, nil, true},
		{"multi-select, list", `repo_property_regions: [ap-south-1, us-east-1]`, map[string]string{"repo_property_regions": regions}, nil, true},
		{"multi-select, regex", `repo_property_regions: {regex: "eu-.*-1"}`, map[string]string{"repo_property_regions": regions}, nil, true},
		{"multi-select, not: no option is it", `repo_property_regions: {not: ap-south-1}`, map[string]string{"repo_property_regions": regions}, nil, true},
		{"multi-select, not: one option is it", `repo_property_regions: {not: eu-west-1}`, map[string]string{"repo_property_regions": regions}, nil, false},
		{"multi-select, not glob", `repo_property_regions: {not: "us-*"}`, map[string]string{"repo_property_regions": regions}, nil, false},
		{"multi-select, not list", `repo_property_regions: {not: [ap-south-1, sa-east-1]}`, map[string]string{"repo_property_regions": regions}, nil, true},
		{"multi-select, list with a not", `repo_property_regions: [{not: eu-west-1}, ap-south-1]`, map[string]string{"repo_property_regions": regions}, nil, false},
		{"multi-select, not not", `repo_property_regions: {not: {not: eu-west-1}}`, map[string]string{"repo_property_regions": regions}, nil, true},
		// True/false properties are the strings "true" and "false".
		{"true/false property", `repo_property_pci: "true"`, map[string]string{"repo_property_pci": `"true"`}, nil, true},
		// Claims GitHub has not documented, of every JSON type.
		{"unknown string", `new_claim: x`, map[string]string{"new_claim": `"x"`}, nil, true},
		{"JSON true matches \"true\"", `new_flag: "true"`, map[string]string{"new_flag": `true`}, nil, true},
		{"JSON false does not match \"true\"", `new_flag: "true"`, map[string]string{"new_flag": `false`}, nil, false},
		{"number by its text", `new_number: "42"`, map[string]string{"new_number": `42`}, nil, true},
		{"number text is not normalised", `new_number: "42"`, map[string]string{"new_number": `42.0`}, nil, false},
		{"array: any item", `new_list: b`, map[string]string{"new_list": `["a", "b"]`}, nil, true},
		{"array: not means no item", `new_list: {not: b}`, map[string]string{"new_list": `["a", "b"]`}, nil, false},
		{"array of numbers and booleans", `new_list: ["7", "true"]`, map[string]string{"new_list": `[7, false]`}, nil, true},
		{"array items are not split on commas", `repo_property_x: a`, map[string]string{"repo_property_x": `["a,b"]`}, nil, false},
		{"empty array is absent", `new_list: {not: b}`, map[string]string{"new_list": `[]`}, nil, false},
		{"object never matches", `new_obj: "*"`, map[string]string{"new_obj": `{"a":"b"}`}, nil, false},
		{"null never matches", `new_obj: {not: x}`, map[string]string{"new_obj": `null`}, nil, false},
		// aud: any audience of the token.
		{"aud, first", `aud: https://github.com/my-org`, nil, []string{"https://github.com/my-org", "other"}, true},
		{"aud, second", `aud: other`, nil, []string{"https://github.com/my-org", "other"}, true},
		{"aud, none", `aud: third`, nil, []string{"https://github.com/my-org", "other"}, false},
		{"aud, not: one is it", `aud: {not: other}`, nil, []string{"https://github.com/my-org", "other"}, false},
		{"aud, not: none is it", `aud: {not: third}`, nil, []string{"https://github.com/my-org", "other"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := engineFor(t, tt.cond)
			mods := []func(*claims.Claims){extra(t, tt.claims)}
			if tt.aud != nil {
				mods = append(mods, aud(tt.aud...))
			}
			d := e.Decide(authz.Input{Request: authz.Request{Policy: "p"}, Claims: tok(mods...)})
			if got := d.Outcome == authz.Allow; got != tt.want {
				t.Errorf("allowed = %v, want %v (%s: %s)", got, tt.want, d.Reason, d.Description)
			}
			// explain agrees with Decide, and names the claim that failed.
			x := e.Explain(authz.Input{Request: authz.Request{Policy: "p"}, Claims: tok(mods...)})
			if x.Decision.Outcome != d.Outcome {
				t.Errorf("Explain decided %s, Decide %s", x.Decision.Outcome, d.Outcome)
			}
			if !tt.want && len(x.Rules) == 1 && x.Rules[0].Claim != strings.SplitN(tt.cond, ":", 2)[0] {
				t.Errorf("trace names claim %q", x.Rules[0].Claim)
			}
		})
	}
}

func TestPropertyTrace(t *testing.T) {
	e := engineFor(t, `repo_property_regions: {not: "us-*"}`)
	c := tok(extra(t, map[string]string{"repo_property_regions": `"us-east-1,eu-west-1"`}))
	x := e.Explain(authz.Input{Request: authz.Request{Policy: "p"}, Claims: c})
	want := []authz.RuleTrace{{Index: 0, Claim: "repo_property_regions", Condition: `{not: "us-*"}`,
		Actual: `"us-east-1,eu-west-1"`, ActualJSON: true, Values: []string{"us-east-1,eu-west-1", "us-east-1", "eu-west-1"}}}
	if diff := cmp.Diff(want, x.Rules); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if got, line := x.String(), `allow[0]: no: repo_property_regions is "us-east-1,eu-west-1", values "us-east-1,eu-west-1", "us-east-1", "eu-west-1": none matches (want {not: "us-*"})`; !strings.Contains(got, line) {
		t.Errorf("explain:\n%s\nwant the line\n%s", got, line)
	}
	x = e.Explain(authz.Input{Request: authz.Request{Policy: "p"}, Claims: tok()})
	if got := x.String(); !strings.Contains(got, "allow[0]: no: repo_property_regions is absent") {
		t.Errorf("explain:\n%s\nwant the property reported absent", got)
	}
}

// TestPropertyHeaders: upstream.claims forwards a property as the token
// holds it, multi-select options comma-joined as GitHub joins them.
func TestPropertyHeaders(t *testing.T) {
	e := engineFor(t, `repo_property_team: platform`, "repository_id", "repo_property_team", "repo_property_regions", "repo_property_Cost_Center", "repo_property_list")
	c := tok(extra(t, map[string]string{
		"repo_property_team":        `"platform"`,
		"repo_property_regions":     `"us-east-1,eu-west-1"`,
		"repo_property_Cost_Center": `"café"`,
		"repo_property_list":        `["a", true, 3]`,
	}))
	d := e.Decide(authz.Input{Request: authz.Request{Policy: "p", Headers: map[string]string{"x-github-repo-property-team": "spoofed"}}, Claims: c})
	want := []authz.Header{
		{Name: "x-github-repository-id", Value: "42"},
		{Name: "x-github-repo-property-team", Value: "platform"},
		{Name: "x-github-repo-property-regions", Value: "us-east-1,eu-west-1"},
		{Name: "x-github-repo-property-cost-center", Value: "caf%C3%A9"},
		{Name: "x-github-repo-property-list", Value: "a,true,3"},
	}
	if diff := cmp.Diff(want, d.Set); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	// A repository without the property gets an empty header: set, so a
	// client's copy never reaches the upstream.
	d = e.Decide(authz.Input{Request: authz.Request{Policy: "p"}, Claims: tok(extra(t, map[string]string{"repo_property_team": `"platform"`}))})
	if d.Set[2].Value != "" {
		t.Errorf("absent property header = %q", d.Set[2].Value)
	}
}

func TestPropertyConditionDoesNotAllocate(t *testing.T) {
	cfg := configFor(t, `repo_property_regions: {not: "ap-*"}`)
	c := tok(extra(t, map[string]string{"repo_property_regions": `"us-east-1,eu-west-1"`}))
	p := cfg.compiled.ByName["p"]
	if n := testing.AllocsPerRun(100, func() { policy.FirstMatch(p.Rules, c) }); n != 0 {
		t.Errorf("a property condition allocates %v times", n)
	}
}

// TestCachedTokenProperty: a token whose repository custom properties a
// condition compares is decided the same when the verifier answers from its
// cache as when it verified the token in full.
func TestCachedTokenProperty(t *testing.T) {
	iss, err := devissuer.New(devissuer.Options{URL: "http://127.0.0.1:1", Audience: "other"})
	if err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := claims.NewVerifier(claims.Config{
		Issuers:   []claims.IssuerConfig{{URL: iss.URL(), JWKSFile: jwks}},
		Audiences: []string{"other"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(t.Context(), iss.URL()); err != nil {
		t.Fatal(err)
	}
	e := engineFor(t, `repo_property_regions: {not: "ap-*"}`, "repo_property_regions")
	for _, tc := range []struct {
		regions any
		want    authz.Outcome
	}{
		{[]string{"us-east-1", "eu-west-1"}, authz.Allow},
		{[]string{"us-east-1", "ap-south-1"}, authz.Deny},
	} {
		raw, err := iss.Mint(map[string]any{"repository_owner_id": "1234567", "repo_property_regions": tc.regions})
		if err != nil {
			t.Fatal(err)
		}
		for i, wantHits := range []uint64{0, 1} {
			before := v.CacheStats().Hits
			c, err := v.Verify(t.Context(), raw)
			if err != nil {
				t.Fatal(err)
			}
			if hits := v.CacheStats().Hits - before; hits != wantHits {
				t.Fatalf("Verify %d: %d cache hits, want %d", i, hits, wantHits)
			}
			d := e.Decide(authz.Input{Request: authz.Request{Policy: "p"}, Claims: c})
			if d.Outcome != tc.want {
				t.Errorf("regions %v, Verify %d: %s, want %s", tc.regions, i, d.Outcome, tc.want)
			}
			if d.Outcome == authz.Allow && d.Set[len(d.Set)-1].Value != "us-east-1,eu-west-1" {
				t.Errorf("Verify %d: header %+v", i, d.Set[len(d.Set)-1])
			}
		}
	}
}
