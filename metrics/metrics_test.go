package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/actions-authz/actions-authz/authz"
)

// clock is a settable fake time.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newMetrics(t *testing.T, opts Options) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestObserve(t *testing.T) {
	m, reg := newMetrics(t, Options{})
	decisions := []authz.Decision{
		{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "deploy", Rule: 0},
		{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "deploy", Rule: 1},
		{Outcome: authz.Deny, Reason: authz.ReasonNoRuleMatched, Policy: "deploy", Rule: -1},
		{Outcome: authz.Allow, Reason: authz.ReasonDryRun, Policy: "audit", Rule: -1, DryRun: true},
		{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Detail: "expired", Policy: "deploy", Rule: -1},
		{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Detail: "expired", Policy: "deploy", Rule: -1},
		{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Policy: "deploy", Rule: -1},
		{Outcome: authz.Unavailable, Reason: authz.ReasonKeysUnavailable, Detail: "keys_unavailable", Policy: "deploy", Rule: -1},
		// A route naming a policy that does not exist: the name is in
		// Detail and must never become a label.
		{Outcome: authz.Deny, Reason: authz.ReasonUnknownPolicy, Detail: "made-up-by-a-route", Rule: -1},
		// Headers over the bounds: refused before any policy is selected.
		authz.HeadersTooLarge(),
		// Shadow: agree, then disagree both ways.
		{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "trial", Rule: 0, Shadow: authz.ShadowAllow},
		{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "trial", Rule: 0, Shadow: authz.ShadowDeny},
		{Outcome: authz.Deny, Reason: authz.ReasonNoRuleMatched, Policy: "trial", Rule: -1, Shadow: authz.ShadowAllow, ShadowRule: 1},
	}
	for i := range decisions {
		m.Observe(context.Background(), &authz.Request{Path: "/secret/path"}, &decisions[i], time.Duration(i+1)*100*time.Microsecond)
	}

	counts := []struct {
		c      prometheus.Collector
		labels []string
		want   float64
	}{
		{m.decisions, []string{"deploy", "allow", "allowed"}, 2},
		{m.decisions, []string{"deploy", "deny", "no_rule_matched"}, 1},
		{m.decisions, []string{"audit", "allow", "dry_run"}, 1},
		{m.decisions, []string{"deploy", "unauthenticated", "invalid_token"}, 3},
		{m.decisions, []string{"deploy", "unavailable", "keys_unavailable"}, 1},
		{m.decisions, []string{"", "deny", "unknown_policy"}, 1},
		{m.decisions, []string{"", "too_large", "headers_too_large"}, 1},
		{m.decisions, []string{"trial", "allow", "allowed"}, 2},
		{m.tokenFailure, []string{"expired"}, 2},
		{m.tokenFailure, []string{"unknown"}, 1},
		{m.shadowEval, []string{"trial"}, 3},
		{m.shadowDiff, []string{"trial", "allow", "deny"}, 1},
		{m.shadowDiff, []string{"trial", "deny", "allow"}, 1},
	}
	for _, tc := range counts {
		var got float64
		switch v := tc.c.(type) {
		case *prometheus.CounterVec:
			got = testutil.ToFloat64(v.WithLabelValues(tc.labels...))
		}
		if got != tc.want {
			t.Errorf("%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(m.decisions); n != 9 {
		t.Errorf("%d decision series, want 9", n)
	}

	// The histogram: one observation per decision, split by result.
	out := scrape(t, reg)
	for _, want := range []string{
		`actions_authz_check_duration_seconds_count{result="allow"} 5`,
		`actions_authz_check_duration_seconds_count{result="deny"} 3`,
		`actions_authz_check_duration_seconds_count{result="unauthenticated"} 3`,
		`actions_authz_check_duration_seconds_count{result="unavailable"} 1`,
		`actions_authz_check_duration_seconds_count{result="too_large"} 1`,
		`actions_authz_check_duration_seconds_bucket{result="allow",le="5e-05"} 0`,
		`actions_authz_check_duration_seconds_bucket{result="allow",le="0.0001"} 1`,
		`actions_authz_check_duration_seconds_bucket{result="allow",le="1"} 5`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, never := range []string{"made-up-by-a-route", "/secret/path"} {
		if strings.Contains(out, never) {
			t.Errorf("scrape holds %q, a value that is not bounded", never)
		}
	}
}

func TestKeyMetrics(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m, reg := newMetrics(t, Options{Now: clk.now})
	const a, b, gone = "https://a.example", "https://b.example", "https://gone.example"
	m.SetIssuers([]string{a, b, gone})

	m.OnFetch(a, 2, nil)
	m.OnFetch(b, 1, nil)
	m.OnFetch(gone, 1, nil)
	clk.t = clk.t.Add(90 * time.Second)
	m.OnFetch(a, 2, errors.New("GET: 502"))
	m.OnFetch(a, 2, fmt.Errorf("stopping: %w", context.Canceled)) // not a failure
	m.OnFetch("https://not-configured.example", 5, nil)           // ignored
	m.OnFetch(b, 3, nil)
	clk.t = clk.t.Add(10 * time.Second)

	get := func(name, issuer string) (float64, bool) {
		t.Helper()
		for _, mf := range gather(t, reg) {
			if mf.GetName() != name {
				continue
			}
			for _, mm := range mf.GetMetric() {
				for _, l := range mm.GetLabel() {
					if l.GetName() == "issuer" && l.GetValue() == issuer {
						switch {
						case mm.GetGauge() != nil:
							return mm.GetGauge().GetValue(), true
						case mm.GetCounter() != nil:
							return mm.GetCounter().GetValue(), true
						}
					}
				}
			}
		}
		return 0, false
	}
	tests := []struct {
		metric, issuer string
		want           float64
	}{
		{"actions_authz_jwks_keys", a, 2},
		{"actions_authz_jwks_keys", b, 3},
		{"actions_authz_jwks_key_age_seconds", a, 100}, // its refresh failed: the age grows
		{"actions_authz_jwks_key_age_seconds", b, 10},
		{"actions_authz_jwks_last_success_timestamp_seconds", a, 1_700_000_000},
		{"actions_authz_jwks_last_success_timestamp_seconds", b, 1_700_000_090},
	}
	for _, tc := range tests {
		if got, ok := get(tc.metric, tc.issuer); !ok || got != tc.want {
			t.Errorf("%s{issuer=%q} = %v (present %v), want %v", tc.metric, tc.issuer, got, ok, tc.want)
		}
	}
	if got := testutil.ToFloat64(m.fetches.WithLabelValues(a, "success")); got != 1 {
		t.Errorf("fetches{a,success} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.fetches.WithLabelValues(a, "failure")); got != 1 {
		t.Errorf("fetches{a,failure} = %v, want 1 (a cancelled fetch is not a failure)", got)
	}
	if _, ok := get("actions_authz_jwks_keys", "https://not-configured.example"); ok {
		t.Error("an issuer that is not configured has a series")
	}

	// A reload drops an issuer: its gauges go, and a late fetch of the
	// replaced verifier does not bring them back.
	m.SetIssuers([]string{a, b})
	m.OnFetch(gone, 1, nil)
	for _, name := range []string{"actions_authz_jwks_keys", "actions_authz_jwks_key_age_seconds", "actions_authz_jwks_last_success_timestamp_seconds"} {
		if _, ok := get(name, gone); ok {
			t.Errorf("%s still has issuer %s after it was removed", name, gone)
		}
		if _, ok := get(name, a); !ok {
			t.Errorf("%s lost issuer %s", name, a)
		}
	}
}

func TestConfigMetrics(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m, reg := newMetrics(t, Options{Now: clk.now})
	m.ConfigLoaded("0123456789abcdef0123")
	out := scrape(t, reg)
	for _, want := range []string{
		`actions_authz_config_info{hash="0123456789ab"} 1`,
		`actions_authz_config_reloads_total{result="success"} 0`,
		`actions_authz_config_reloads_total{result="failure"} 0`,
		`actions_authz_config_last_reload_successful 1`,
		`actions_authz_config_last_reload_success_timestamp_seconds 1.7e+09`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, out)
		}
	}

	m.Reloaded(errors.New("line 3: bad"))
	m.Reloaded(errors.New("line 4: bad"))
	if got := testutil.ToFloat64(m.reloadOK); got != 0 {
		t.Errorf("last_reload_successful = %v after a failure, want 0", got)
	}
	clk.t = clk.t.Add(time.Minute)
	m.Reloaded(nil)
	m.ConfigLoaded("fedcba9876543210fedc")
	out = scrape(t, reg)
	for _, want := range []string{
		`actions_authz_config_info{hash="fedcba987654"} 1`,
		`actions_authz_config_reloads_total{result="success"} 1`,
		`actions_authz_config_reloads_total{result="failure"} 2`,
		`actions_authz_config_last_reload_successful 1`,
		`actions_authz_config_last_reload_success_timestamp_seconds 1.70000006e+09`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0123456789ab") {
		t.Error("the replaced configuration's hash is still exported")
	}
}

func TestCacheAndLogMetrics(t *testing.T) {
	ready, dropped := true, uint64(0)
	m, reg := newMetrics(t, Options{Ready: func() bool { return ready }, Version: "v1.2.3",
		DroppedLogLines: func() uint64 { return dropped }})
	out := scrape(t, reg)
	for _, want := range []string{
		// Present at zero before the first lookup, so dashboards and alerts
		// see the series from the start.
		`actions_authz_token_cache_requests_total{result="hit"} 0`,
		`actions_authz_token_cache_requests_total{result="miss"} 0`,
		`actions_authz_ready 1`,
		`actions_authz_build_info{version="v1.2.3"} 1`,
		`actions_authz_log_lines_dropped_total 0`,
		`actions_authz_check_decoder_fallbacks_total 0`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	for _, hit := range []bool{true, true, false, true} {
		m.CacheLookup(hit)
	}
	m.DecoderFallback()
	dropped = 7
	ready = false
	out = scrape(t, reg)
	for _, want := range []string{
		`actions_authz_token_cache_requests_total{result="hit"} 3`,
		`actions_authz_token_cache_requests_total{result="miss"} 1`,
		`actions_authz_ready 0`,
		`actions_authz_log_lines_dropped_total 7`,
		`actions_authz_check_decoder_fallbacks_total 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestNewRefusesASecondRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, Options{}); err == nil {
		t.Error("registering the same metrics twice succeeded")
	}
}

// BenchmarkObserve is the cost metrics add to every Check.
func BenchmarkObserve(b *testing.B) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	d := authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "deploy", Rule: 0}
	r := authz.Request{}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe(context.Background(), &r, &d, 120*time.Microsecond)
		}
	})
}
