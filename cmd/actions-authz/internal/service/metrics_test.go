package service

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/claims/devissuer/devissuertest"
)

const metricsConfig = `
issuers:
  - url: %s
audiences: ["https://github.com/octo-org"]
policies:
  - name: default
    allow:
      - repository_owner_id: "123456"
  # Trying a stricter list without enforcing anything yet.
  - name: trial
    mode: dry_run
    allow:
      - repository_id: "1"
    shadow:
      - repository_owner_id: "123456"
        ref: refs/heads/main
`

// TestMetricsEndToEnd drives traffic through the gRPC server, scrapes
// /metrics and finds every metric of issue 4 with the expected counts.
func TestMetricsEndToEnd(t *testing.T) {
	is := devissuertest.Start(t, devissuer.Options{})
	config := fmt.Sprintf(metricsConfig, is.URL())
	s := startService(t, config, TestHooks{Debounce: 20 * time.Millisecond})
	s.waitReady()

	good := is.MustMint(t, nil)
	other := is.MustMint(t, map[string]any{"repository_owner_id": "999"})
	feature := is.MustMint(t, map[string]any{"ref": "refs/heads/feature"})
	now := time.Now()
	expired := is.MustMint(t, map[string]any{"iat": now.Add(-30 * time.Minute).Unix(), "exp": now.Add(-20 * time.Minute).Unix()})

	traffic := []struct {
		token, policy string
		n, status     int
	}{
		{good, "default", 3, 200},
		{other, "default", 2, 403},
		{"", "default", 1, 401},
		{expired, "default", 1, 401},
		{good, "trial", 2, 200},    // no rule allows, dry_run does; the shadow rules allow: disagreement
		{feature, "trial", 1, 200}, // no rule allows, dry_run does; the shadow rules deny too
		{good, "no-such-policy", 1, 403},
	}
	total := 0
	for _, tr := range traffic {
		for range tr.n {
			if got, _ := s.check(tr.token, tr.policy); got != tr.status {
				t.Fatalf("Check(policy %q) = %d, want %d", tr.policy, got, tr.status)
			}
			total++
		}
	}

	data, err := os.ReadFile(s.configPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])[:12]
	iss := fmt.Sprintf("issuer=%q", is.URL())

	got, text := s.scrape()
	want := map[string]float64{
		`actions_authz_decisions_total{policy="default",reason="allowed",result="allow"}`:                 3,
		`actions_authz_decisions_total{policy="default",reason="no_rule_matched",result="deny"}`:          2,
		`actions_authz_decisions_total{policy="default",reason="missing_token",result="unauthenticated"}`: 1,
		`actions_authz_decisions_total{policy="default",reason="invalid_token",result="unauthenticated"}`: 1,
		`actions_authz_decisions_total{policy="trial",reason="dry_run",result="allow"}`:                   3,
		`actions_authz_decisions_total{policy="",reason="unknown_policy",result="deny"}`:                  1,
		`actions_authz_token_failures_total{reason="expired"}`:                                            1,
		`actions_authz_shadow_evaluations_total{policy="trial"}`:                                          3,
		`actions_authz_shadow_disagreements_total{enforced="deny",policy="trial",shadow="allow"}`:         2,
		`actions_authz_check_duration_seconds{result="allow"}_count`:                                      6,
		`actions_authz_check_duration_seconds{result="deny"}_count`:                                       3,
		`actions_authz_check_duration_seconds{result="unauthenticated"}_count`:                            2,
		`actions_authz_jwks_keys{` + iss + `}`:                                                            1,
		// 9 Checks reach the verifier (not the missing token, not the
		// unknown policy): the first sight of good, other, feature and
		// the expired token (never cached) miss; the 5 repeats hit.
		`actions_authz_token_cache_requests_total{result="hit"}`:  5,
		`actions_authz_token_cache_requests_total{result="miss"}`: 4,
		`actions_authz_config_reloads_total{result="success"}`:    0,
		`actions_authz_config_reloads_total{result="failure"}`:    0,
		`actions_authz_config_info{hash="` + hash + `"}`:          1,
		`actions_authz_config_last_reload_successful`:             1,
		`actions_authz_ready`:                                     1,
		`actions_authz_log_lines_dropped_total`:                   0,
	}
	for k, w := range want {
		if v, ok := got[k]; !ok || v != w {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, w)
		}
	}
	var checks float64
	for k, v := range got {
		if strings.HasPrefix(k, "actions_authz_check_duration_seconds{") {
			checks += v
		}
	}
	if checks != float64(total) {
		t.Errorf("Check durations count %v Checks, want %d", checks, total)
	}
	if v := got[`actions_authz_jwks_fetches_total{`+iss+`,result="success"}`]; v < 1 {
		t.Errorf("jwks_fetches_total{success} = %v, want at least 1", v)
	}
	age, ok := got[`actions_authz_jwks_key_age_seconds{`+iss+`}`]
	if !ok || age < 0 || age > time.Since(now).Seconds()+60 {
		t.Errorf("jwks_key_age_seconds = %v (present %v)", age, ok)
	}
	if _, ok := got[`actions_authz_jwks_last_success_timestamp_seconds{`+iss+`}`]; !ok {
		t.Error("no jwks_last_success_timestamp_seconds")
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	// Bounded labels: nothing from the tokens or requests.
	for _, never := range []string{good, "octo-org/octo-repo", "refs/heads", "no-such-policy", "/x"} {
		if strings.Contains(text, never) {
			t.Errorf("/metrics holds %q", never)
		}
	}

	// A reload: counted, and the info metric names the new file.
	s.writeConfig(config + "\n# reloaded\n")
	s.waitFor("a successful reload", func() bool {
		m, _ := s.scrape()
		return m[`actions_authz_config_reloads_total{result="success"}`] == 1
	})
	data, _ = os.ReadFile(s.configPath)
	sum = sha256.Sum256(data)
	got, _ = s.scrape()
	if v := got[`actions_authz_config_info{hash="`+hex.EncodeToString(sum[:])[:12]+`"}`]; v != 1 {
		t.Errorf("config_info does not name the reloaded file: %v", got)
	}
	if _, ok := got[`actions_authz_config_info{hash="`+hash+`"}`]; ok {
		t.Error("config_info still names the replaced file")
	}
}

// TestDecisionLogLines: one JSON line per decision with the fields of
// DESIGN.md, the token's hash and never the token; log.decisions: deny keeps
// refusals, dry_run allows and shadow disagreements only.
func TestDecisionLogLines(t *testing.T) {
	is := devissuertest.Start(t, devissuer.Options{})
	config := fmt.Sprintf(metricsConfig, is.URL())
	tests := []struct {
		name      string
		decisions string
		want      []string // decision/reason of each line, in order
	}{
		{"all", "all", []string{"allow/allowed", "deny/no_rule_matched", "allow/dry_run", "allow/dry_run"}},
		{"deny", "deny", []string{"deny/no_rule_matched", "allow/dry_run", "allow/dry_run"}},
		{"none", "none", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startService(t, config+"log: {decisions: "+tt.decisions+"}\n", TestHooks{})
			s.waitReady()
			good := is.MustMint(t, nil)
			other := is.MustMint(t, map[string]any{"repository_owner_id": "999"})
			feature := is.MustMint(t, map[string]any{"ref": "refs/heads/feature"})
			s.check(good, "default")
			s.check(other, "default")
			s.check(good, "trial")    // a would-be deny that the shadow rules allow: a disagreement
			s.check(feature, "trial") // a would-be deny that the shadow rules deny too
			s.stop()                  // flushes the log

			lines := s.logLines("decision")
			var got []string
			for _, l := range lines {
				got = append(got, fmt.Sprint(l["decision"], "/", l["reason"]))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("decision lines %v, want %v", got, tt.want)
			}
			for _, tok := range []string{good, other, feature} {
				if strings.Contains(s.logs.String(), tok) {
					t.Fatal("a token appears in the log")
				}
			}
			if tt.decisions != "all" {
				return
			}
			hash := func(tok string) string {
				sum := sha256.Sum256([]byte(tok))
				return hex.EncodeToString(sum[:])[:12]
			}
			first := lines[0]
			for _, field := range []string{"time", "level", "decision", "reason", "policy", "rule", "repository", "ref", "sha",
				"run_id", "jti", "token_sha256", "request_id", "method", "host", "path", "latency_us"} {
				if _, ok := first[field]; !ok {
					t.Errorf("decision line lacks %q: %v", field, first)
				}
			}
			if first["token_sha256"] != hash(good) || first["request_id"] != "req-1" || first["repository"] != "octo-org/octo-repo" {
				t.Errorf("allow line = %v", first)
			}
			if lines[1]["token_sha256"] != hash(other) {
				t.Errorf("deny line token_sha256 = %v, want %s", lines[1]["token_sha256"], hash(other))
			}
			if l := lines[2]; l["dry_run"] != true || l["shadow"] != "allow" || l["shadow_disagrees"] != true {
				t.Errorf("dry_run line = %v", l)
			}
			if l := lines[3]; l["shadow"] != "deny" || l["shadow_disagrees"] != nil {
				t.Errorf("dry_run line with an agreeing shadow = %v", l)
			}
		})
	}
}
