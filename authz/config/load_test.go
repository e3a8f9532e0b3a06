package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// TestLoadConfigInvalid checks every load-time rule against its fixture: the
// file is refused and the message names the file, the line, the policy, the
// rule and the field.
func TestLoadConfigInvalid(t *testing.T) {
	unpinned := "does not pin the repository owner"
	tests := []struct {
		file string
		want []string // substrings of the error, in order
	}{
		{"unknown_key.yaml", []string{":8: ", `policy "deploy" (policies[0]): match: unknown key "hostz"`, "known: hosts,"}},
		{"unknown_key_top.yaml", []string{":5: ", `unknown key "upstreams"`}},
		{"empty_allow.yaml", []string{":7: ", `policy "deploy" (policies[0]): allow: empty allow`}},
		{"invalid_regex.yaml", []string{":10: ", `policy "deploy" (policies[0]): allow[1]: ref: invalid regex "(": missing closing )`}},
		{"invalid_glob.yaml", []string{":10: ", `policy "deploy" (policies[0]): allow[1]: ref: invalid glob "refs/tags/v[0-9]*"`}},
		{"duplicate_policy.yaml", []string{":9: ", `policy "deploy" (policies[1]): name: duplicate policy name "deploy" (also policies[0])`}},
		{"empty_policy_name.yaml", []string{":6: ", `policies[0]: name: empty policy name`}},
		{"no_issuers.yaml", []string{`issuers: no issuers`}},
		{"no_audiences.yaml", []string{`audiences: no audiences`}},
		{"issuer_http.yaml", []string{":3: ", `issuers[0]: url: URL "http://token.actions.githubusercontent.com" must use https`}},
		{"jwks_url_http.yaml", []string{":4: ", `issuers[0]: jwks_url: URL "http://127.0.0.1.example.com/jwks" must use https`}},
		{"invalid_mode.yaml", []string{":7: ", `policy "deploy" (policies[0]): mode: invalid mode "audit"`}},
		{"invalid_log_level.yaml", []string{":6: ", `log: level: invalid level "verbose"`}},
		{"invalid_log_decisions.yaml", []string{":6: ", `log: decisions: invalid value "allow"`}},
		{"telemetry_endpoint.yaml", []string{":6: ", `telemetry: otlp_endpoint: invalid address "collector": want host:port`}},
		{"telemetry_protocol.yaml", []string{":7: ", `telemetry: protocol: invalid protocol "udp": want grpc or http`}},
		{"telemetry_sample_ratio.yaml", []string{":6: ", `telemetry: sample_ratio: must be from 0 to 1`}},
		{"telemetry_insecure_alone.yaml", []string{":6: ", `telemetry: insecure: applies only with otlp_endpoint`}},
		{"unknown_upstream_claim.yaml", []string{":6: ", `upstream: claims[1]: unknown claim "repo_name"`}},
		{"invalid_header_prefix.yaml", []string{":6: ", `upstream: header_prefix: invalid header name prefix "x github "`}},
		{"invalid_token_header.yaml", []string{":6: ", `token: header: invalid header name "x-token:"`}},
		{"negative_max_lifetime.yaml", []string{":6: ", `token: max_lifetime: must not be negative`}},
		{"unpinned.yaml", []string{":9: ", `policy "deploy" (policies[0]): allow[1]: ` + unpinned, "allow_any_repository: true"}},
		{"unpinned_glob.yaml", []string{":9: ", `policy "deploy" (policies[0]): allow[1]: ` + unpinned}},
		{"unpinned_id_glob.yaml", []string{":9: ", `policy "deploy" (policies[0]): allow[1]: ` + unpinned}},
		{"unpinned_regex.yaml", []string{":9: ", `policy "deploy" (policies[0]): allow[1]: ` + unpinned}},
		{"unpinned_not.yaml", []string{":9: ", `policy "deploy" (policies[0]): allow[1]: ` + unpinned}},
		{"unpinned_list.yaml", []string{":9: ", `policy "deploy" (policies[0]): allow[1]: ` + unpinned}},
		{"number_value.yaml", []string{":9: ", `policy "deploy" (policies[0]): allow[1]: repository_owner_id: value 1234567 is a number; quote it ("1234567"): GitHub claims are strings`}},
		{"bool_value.yaml", []string{":10: ", `policy "deploy" (policies[0]): allow[1]: ref_protected: value true is a boolean; quote it ("true")`}},
		{"unknown_value_key.yaml", []string{":10: ", `policy "deploy" (policies[0]): allow[1]: ref: unknown key "glob" in a value; want regex or not`}},
		{"unpinned_shadow.yaml", []string{":10: ", `policy "deploy" (policies[0]): shadow[0]: ` + unpinned}},
		{"empty_shadow.yaml", []string{":9: ", `policy "deploy" (policies[0]): shadow: empty shadow`}},
		{"invalid_shadow_regex.yaml", []string{":11: ", `policy "deploy" (policies[0]): shadow[0]: ref: invalid regex "refs/(heads"`}},
		{"property_name_empty.yaml", []string{":9: ", `policy "deploy" (policies[0]): allow[0]: repo_property_: invalid claim name "repo_property_": repo_property_ must be followed by the custom property's name`}},
		{"property_name_invalid.yaml", []string{":9: ", `allow[0]: repo_property_team name: invalid claim name "repo_property_team name": a custom property name holds only letters, digits, _, -, $ and #`}},
		{"property_name_long.yaml", []string{":9: ", `a custom property name has at most 75 characters`}},
		{"property_upstream_name.yaml", []string{":6: ", `upstream: claims[1]: invalid claim name "repo_property_"`}},
		{"unpinned_property.yaml", []string{":9: ", `policy "deploy" (policies[0]): allow[0]: ` + unpinned, "repo_property_* and other claims do not pin it"}},
		{"several_value_keys.yaml", []string{":10: ", `policy "deploy" (policies[0]): allow[1]: ref: a mapping value must have exactly one key`, "(regex, not)"}},
	}
	seen := map[string]bool{"multiple_errors.yaml": true}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "invalid", tt.file)
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", path, cfg)
			}
			msg := err.Error()
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("want exactly one problem, got:\n%s", msg)
			}
			rest := strings.TrimPrefix(msg, path)
			if rest == msg {
				t.Errorf("error %q does not start with the file name", msg)
			}
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error\n\t%s\ndoes not hold (in order)\n\t%s", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
	// Every fixture is in the table.
	files, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("fixture %s is not tested", f)
		}
	}
}

// TestLoadConfigCollectsAllErrors checks that check can show every problem.
func TestLoadConfigCollectsAllErrors(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "invalid", "multiple_errors.yaml"))
	if err == nil {
		t.Fatal("want an error")
	}
	want := []string{
		`multiple_errors.yaml:5: issuers[0]: url: URL "http://issuer.example.com" must use https`,
		`multiple_errors.yaml:8: log: level: invalid level "loud"`,
		`multiple_errors.yaml:11: policy "deploy" (policies[0]): mode: invalid mode "enforce"`,
		`multiple_errors.yaml:14: policy "deploy" (policies[0]): allow[0]: ref: invalid regex "refs/(heads": missing closing )`,
		`multiple_errors.yaml:15: policy "deploy" (policies[0]): allow[1]: repository_owner_id: value 1234567 is a number`,
		`multiple_errors.yaml:16: policies[1]: unknown key "nam"`,
		`multiple_errors.yaml:18: policies[1]: allow[0]: does not pin the repository owner`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("problem %d = %q, want it to hold %q", i, lines[i], w)
		}
	}
}

// TestParseConfigErrors covers problems that need no fixture of their own.
func TestParseConfigErrors(t *testing.T) {
	const head = "issuers: [{url: https://token.actions.githubusercontent.com}]\naudiences: [svc]\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"empty file", "", "empty configuration"},
		{"not a mapping", "- a\n", "must be a mapping"},
		{"syntax", "issuers: [\n", "yaml:"},
		{"two documents", head + "policies: []\n---\na: b\n", "a second YAML document"},
		{"type", head + "server: {shutdown_grace: soon}\npolicies: [{name: p, allow: [{repository_id: \"1\"}]}]\n", "line 3: cannot unmarshal"},
		{"no policies", head, "policies: no policies"},
		{"repeated key", head + "audiences: [x]\n", `line 3: key "audiences" given twice (first on line 2)`},
		{"repeated claim", head + "policies: [{name: p, allow: [{repository_id: \"1\", repository_id: \"2\"}]}]\n",
			`allow[0]: repository_id: claim appears twice in this rule`},
		{"empty rule", head + "policies: [{name: p, allow: [{}]}]\n", `policy "p" (policies[0]): allow[0]: empty rule`},
		{"null rule", head + "policies: [{name: p, allow: [~]}]\n", `policy "p" (policies[0]): allow[0]: empty rule`},
		{"rule not a mapping", head + "policies: [{name: p, allow: [repository_id]}]\n", `allow[0]: a rule must be a mapping`},
		{"empty string", head + "policies: [{name: p, allow: [{repository_id: \"1\", ref: \"\"}]}]\n", `allow[0]: ref: "" never matches`},
		{"empty list", head + "policies: [{name: p, allow: [{repository_id: \"1\", ref: []}]}]\n", `allow[0]: ref: an empty list never matches`},
		{"missing value", head + "policies: [{name: p, allow: [{repository_id: \"1\", ref: }]}]\n", `allow[0]: ref: missing value`},
		{"number in list", head + "policies: [{name: p, allow: [{repository_id: [\"1\", 2]}]}]\n", `allow[0]: repository_id[1]: value 2 is a number`},
		{"bad regex under not", head + "policies: [{name: p, allow: [{repository_id: \"1\", ref: {not: {regex: \"[\"}}}]}]\n",
			`allow[0]: ref: not: invalid regex "["`},
		{"empty match", head + "policies: [{name: p, match: {}, allow: [{repository_id: \"1\"}]}]\n", `policy "p" (policies[0]): match: empty match`},
		{"bad host", head + "policies: [{name: p, match: {hosts: [\"https://x.example\"]}, allow: [{repository_id: \"1\"}]}]\n", `match: hosts[0]: invalid host`},
		{"inner wildcard host", head + "policies: [{name: p, match: {hosts: [\"a.*.example\"]}, allow: [{repository_id: \"1\"}]}]\n", `match: hosts[0]: invalid host`},
		{"bad path", head + "policies: [{name: p, match: {path_prefixes: [deploy]}, allow: [{repository_id: \"1\"}]}]\n", `match: path_prefixes[0]: invalid path prefix`},
		{"empty audiences override", head + "policies: [{name: p, audiences: [], allow: [{repository_id: \"1\"}]}]\n", `policy "p" (policies[0]): audiences: empty list`},
		{"both jwks", "issuers: [{url: https://a.example, jwks_url: https://a.example/k, jwks_file: k.json}]\naudiences: [svc]\n", "set jwks_url or jwks_file, not both"},
		{"algorithm", "issuers: [{url: https://a.example, algorithms: [HS256]}]\naudiences: [svc]\n", `issuers[0]: algorithms[0]: unsupported algorithm "HS256"`},
		{"duplicate issuer", "issuers: [{url: https://a.example}, {url: https://a.example}]\naudiences: [svc]\n", `issuers[1]: url: issuer "https://a.example" is listed twice`},
		{"token header is an identity header", head + "token: {header: x-github-repository}\npolicies: [{name: p, allow: [{repository_id: \"1\"}]}]\n",
			`token: header: "x-github-repository" is also an upstream identity header`},
		{"duplicate upstream claim", head + "upstream: {claims: [ref, ref]}\npolicies: [{name: p, allow: [{repository_id: \"1\"}]}]\n", `upstream: claims[1]: claim "ref" is listed twice`},
		{"bad address", head + "server: {grpc_addr: \"9000\"}\npolicies: [{name: p, allow: [{repository_id: \"1\"}]}]\n", `server: grpc_addr: invalid address "9000"`},
		{"negative drain delay", head + "server: {drain_delay: -1s}\npolicies: [{name: p, allow: [{repository_id: \"1\"}]}]\n", `line 3: server: drain_delay: must not be negative`},
		{"drain delay not a duration", head + "server: {drain_delay: soon}\npolicies: [{name: p, allow: [{repository_id: \"1\"}]}]\n", "line 3: cannot unmarshal"},
		{"drain misspelt", head + "server: {drain_dealy: 5s}\npolicies: [{name: p, allow: [{repository_id: \"1\"}]}]\n", `server: unknown key "drain_dealy"`},
		{"bad decoder", head + "server: {decoder: gzip}\npolicies: [{name: p, allow: [{repository_id: \"1\"}]}]\n", `server: decoder: invalid decoder "gzip": want fast or protobuf`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error holding %q", cfg, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n\t%s\nwant it to hold\n\t%s", err, tt.want)
			}
		})
	}
}

func TestLoadConfigValid(t *testing.T) {
	for _, f := range []string{"valid.yaml", "pinned.yaml", "allow_any_repository.yaml", "loopback.yaml"} {
		t.Run(f, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", f))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Engine() == nil {
				t.Fatal("Engine() = nil")
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join("testdata", "no-such-file.yaml")); !os.IsNotExist(err) {
		t.Errorf("err = %v, want a not-exist error", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	yes, drain := true, 12*time.Second
	want := Config{
		Server:   ServerConfig{GRPCAddr: ":9000", HTTPAddr: ":9001", ShutdownGrace: 10 * time.Second, DrainDelay: &drain},
		Token:    TokenConfig{Header: "authorization", Leeway: 60 * time.Second, MaxBytes: 8192, MaxLifetime: time.Hour},
		Cache:    CacheConfig{MaxEntries: 100000},
		Log:      LogConfig{Level: "info", Decisions: "all"},
		Upstream: UpstreamConfig{HeaderPrefix: "x-github-", Claims: DefaultUpstreamClaims, RemoveToken: &yes},
	}
	got := Config{Server: cfg.Server, Token: cfg.Token, Cache: cfg.Cache, Log: cfg.Log, Upstream: cfg.Upstream}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Config{})); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if &cfg.Upstream.Claims[0] == &DefaultUpstreamClaims[0] {
		t.Error("upstream.claims shares DefaultUpstreamClaims' array")
	}
}

// TestDrainDelay: server.drain_delay is 12s unless set, and an explicit 0
// turns the drain off rather than meaning the default.
func TestDrainDelay(t *testing.T) {
	const rest = "issuers: [{url: https://token.actions.githubusercontent.com}]\naudiences: [svc]\n" +
		"policies: [{name: p, allow: [{repository_id: \"1\"}]}]\n"
	for _, tt := range []struct {
		name, server string
		want         time.Duration
	}{
		{"absent", "", DefaultDrainDelay},
		{"null", "server: {drain_delay: ~}\n", DefaultDrainDelay},
		{"zero", "server: {drain_delay: 0s}\n", 0},
		{"set", "server: {drain_delay: 25s}\n", 25 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.server + rest))
			if err != nil {
				t.Fatal(err)
			}
			if got := *cfg.Server.DrainDelay; got != tt.want {
				t.Errorf("drain_delay = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExplicitSettings(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "loopback.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Engine()
	if got := e.TokenHeader(); got != "x-github-oidc-token" {
		t.Errorf("TokenHeader() = %q, want it lower-cased", got)
	}
	if cfg.Upstream.HeaderPrefix != "x-gha-" || *cfg.Upstream.RemoveToken {
		t.Errorf("upstream = %+v, want prefix x-gha- and remove_token false", cfg.Upstream)
	}
	var names []string
	for _, u := range cfg.compiled.Upstream {
		names = append(names, u.Name)
	}
	if diff := cmp.Diff([]string{"x-gha-repository", "x-gha-ref"}, names); diff != "" {
		t.Errorf("upstream headers (-want +got):\n%s", diff)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"allow_any_repository.yaml", []string{`line 7: policy "public-cache" (policies[0]): allow_any_repository: true`}},
		{"valid.yaml", []string{`line 32: policy "audit" (policies[2]): mode: dry_run`}},
		{"loopback.yaml", nil},
		{"unknown_claim.yaml", []string{`line 10: policy "deploy" (policies[0]): allow[1]: repo: unknown claim "repo": not one GitHub documents, so a misspelt name makes a rule that never matches`}},
		{"unknown_shadow_claim.yaml", []string{`line 11: policy "deploy" (policies[0]): shadow[0]: branch: unknown claim "branch"`}},
		{"properties.yaml", nil},
	}
	for _, tt := range tests {
		cfg, err := Load(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		got := cfg.Warnings()
		if len(got) != len(tt.want) {
			t.Errorf("%s: Warnings() = %q, want %d", tt.file, got, len(tt.want))
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("%s: warning %q, want it to hold %q", tt.file, got[i], tt.want[i])
			}
		}
	}
	// Pinning by name only is allowed, with a warning; by id is silent.
	cfg, err := Load(filepath.Join("testdata", "pinned.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var byName []string
	for _, w := range cfg.Warnings() {
		if strings.Contains(w, "by name only") {
			byName = append(byName, w[strings.Index(w, "allow["):strings.Index(w, "]:")+1])
		}
	}
	want := []string{"allow[2]", "allow[4]", "allow[5]", "allow[6]", "allow[7]", "allow[10]"}
	if diff := cmp.Diff(want, byName); diff != "" {
		t.Errorf("name-only warnings (-want +got):\n%s", diff)
	}
}

func TestAllAudiences(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"https://github.com/my-org", "artifacts"}, cfg.AllAudiences()); diff != "" {
		t.Errorf("AllAudiences (-want +got):\n%s", diff)
	}
}

// TestRuleYAML checks the rule and value model: key order, lines, every
// value form, and String.
func TestRuleYAML(t *testing.T) {
	src := `
repository_owner_id: "1234567"
ref: [refs/heads/main, "refs/tags/v*"]
environment: {not: {regex: "prod.*"}}
sub: 'repo:my-org/infra:*'
`
	var r RuleConfig
	if err := yaml.Unmarshal([]byte(src), &r); err != nil {
		t.Fatal(err)
	}
	type cond struct {
		Claim, Value string
		Line         int
	}
	var got []cond
	for _, c := range r.Conditions {
		got = append(got, cond{c.Claim, c.Value.String(), c.Line})
	}
	want := []cond{
		{"repository_owner_id", `"1234567"`, 2},
		{"ref", `["refs/heads/main", "refs/tags/v*"]`, 3},
		{"environment", `{not: {regex: "prod.*"}}`, 4},
		{"sub", `"repo:my-org/infra:*"`, 5},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
}

func TestMergeKeys(t *testing.T) {
	src := `
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: [svc]
x-match: &m {hosts: [a.example]}
`
	if _, err := Parse([]byte(src)); err == nil || !strings.Contains(err.Error(), `unknown key "x-match"`) {
		t.Errorf("err = %v, want unknown key x-match", err)
	}
	src = `
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: [svc]
policies:
  - name: a
    match: &m
      hosts: [a.example]
    allow: [{repository_id: "1"}]
  - name: b
    match:
      <<: *m
      pathz: [/b]
    allow: [{repository_id: "1"}]
`
	if _, err := Parse([]byte(src)); err == nil || !strings.Contains(err.Error(), `line 12: policy "b" (policies[1]): match: unknown key "pathz"`) {
		t.Errorf("err = %v, want unknown key pathz in policy b", err)
	}
}

// TestRepairKeepsIndexes: a broken rule is reported and replaced, so the
// rules after it keep their index in later messages.
func TestRepairKeepsIndexes(t *testing.T) {
	src := `
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: [svc]
policies:
  - name: p
    allow:
      - ~
      - [repository_id]
      - ref: main
`
	_, err := Parse([]byte(src))
	want := []string{
		`line 7: policy "p" (policies[0]): allow[0]: empty rule`,
		`line 8: policy "p" (policies[0]): allow[1]: a rule must be a mapping`,
		`line 9: policy "p" (policies[0]): allow[2]: does not pin the repository owner`,
	}
	if err == nil {
		t.Fatal("want an error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d = %q, want it to start with %q", i, lines[i], w)
		}
	}
}

// TestNoFollowOnPinningError: a rule whose owner condition is broken is not
// also reported as unpinned.
func TestNoFollowOnPinningError(t *testing.T) {
	for _, rule := range []string{
		`{repository_owner_id: {regex: "("}}`,
	} {
		src := "issuers: [{url: https://token.actions.githubusercontent.com}]\naudiences: [svc]\npolicies: [{name: p, allow: [" + rule + "]}]\n"
		_, err := Parse([]byte(src))
		if err == nil || strings.Contains(err.Error(), "does not pin") || strings.Count(err.Error(), "\n") != 0 {
			t.Errorf("rule %s: error\n%v\nwant exactly one problem, not about pinning", rule, err)
		}
	}
}

// TestMisspeltPinningClaim: a misspelt owner claim is an unknown claim,
// so the rule does not pin the owner; the error names the claim.
func TestMisspeltPinningClaim(t *testing.T) {
	src := "issuers: [{url: https://token.actions.githubusercontent.com}]\naudiences: [svc]\npolicies: [{name: p, allow: [{repository_owner_idd: \"1\"}]}]\n"
	_, err := Parse([]byte(src))
	if err == nil || !strings.Contains(err.Error(), "does not pin") || !strings.Contains(err.Error(), `unknown claim "repository_owner_idd"`) {
		t.Errorf("error\n%v\nwant one about pinning that names the unknown claim", err)
	}
}

// TestVerifierConfig: the verifier gets every setting of the file that is
// its own.
func TestVerifierConfig(t *testing.T) {
	cfg, err := Parse([]byte(`
issuers: [{url: "https://token.actions.githubusercontent.com"}]
audiences: [a]
token: {leeway: 5s, max_bytes: 4096, max_lifetime: 10m}
cache: {max_entries: 7}
policies:
  - name: p
    audiences: [b]
    match: {path_prefixes: [/]}
    allow: [{repository_owner_id: "1"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	vc := cfg.VerifierConfig()
	if len(vc.Issuers) != 1 || vc.Issuers[0].URL != "https://token.actions.githubusercontent.com" ||
		!slices.Equal(vc.Audiences, []string{"a", "b"}) || vc.Leeway != 5*time.Second || vc.MaxBytes != 4096 ||
		vc.MaxLifetime != 10*time.Minute || vc.CacheMaxEntries != 7 {
		t.Errorf("verifier config %+v", vc)
	}
}
