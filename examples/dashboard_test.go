package examples_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/envoy/localstack"
	"github.com/actions-authz/actions-authz/metrics"
)

// metricName finds the metric names in a PromQL expression: ours, and the
// Go and process collectors' the binary registers too.
var metricName = regexp.MustCompile(`\b(?:actions_authz|process|go)_[a-z0-9_]+\b`)

// TestDashboardQueriesExist: every metric the Grafana dashboard queries is
// one the binary exports, and the dashboard covers decisions, latency, key
// age and reloads.
func TestDashboardQueriesExist(t *testing.T) {
	data, err := os.ReadFile("grafana/actions-authz.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}

	// What the running binary serves at /metrics (the Go runtime's and the
	// process's collectors among them), and the actions-authz metrics with
	// a series in every family: a labelled family has none until its first
	// observation, which a binary without traffic has not made.
	exported := servedMetrics(t)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.Options{Ready: func() bool { return true }, Version: "test",
		DroppedLogLines: func() uint64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	m.SetIssuers([]string{"https://issuer.example"})
	m.OnFetch("https://issuer.example", 1, nil)
	m.OnFetch("https://issuer.example", 1, errors.New("down"))
	m.ConfigLoaded("0123456789abcdef")
	m.Reloaded(nil)
	m.CacheLookup(true)
	for _, d := range []authz.Decision{
		{Outcome: authz.Deny, Reason: authz.ReasonNoRuleMatched, Policy: "p", Rule: -1, Shadow: authz.ShadowAllow},
		{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Detail: "expired", Policy: "p", Rule: -1},
	} {
		m.Observe(context.Background(), &authz.Request{}, &d, time.Millisecond)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		exported[mf.GetName()] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[mf.GetName()+s] = true
			}
		}
	}

	queried := make(map[string]bool)
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type == "row" {
				var nested []panel
				for _, raw := range p.Panels {
					var n panel
					if err := json.Unmarshal(raw, &n); err != nil {
						t.Fatal(err)
					}
					nested = append(nested, n)
				}
				walk(nested)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				names := metricName.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q: query %q names no metric", p.Title, tg.Expr)
				}
				for _, n := range names {
					queried[n] = true
					if !exported[n] {
						t.Errorf("panel %q queries %s, which the service does not export", p.Title, n)
					}
				}
			}
		}
	}
	walk(dash.Panels)
	for _, must := range []string{
		"actions_authz_decisions_total", "actions_authz_check_duration_seconds_bucket",
		"actions_authz_jwks_key_age_seconds", "actions_authz_config_reloads_total",
	} {
		if !queried[must] {
			t.Errorf("the dashboard does not show %s", must)
		}
	}
}

// servedMetrics runs actions-authz serve and returns the names of the
// metric families its /metrics serves (with _bucket, _sum and _count for a
// histogram), before any request. Its issuer serves no keys: the metrics
// endpoint answers all the same.
func servedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	bin := requireBinary(t)
	noKeys := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(noKeys.Close)
	config := filepath.Join(t.TempDir(), "config.yaml")
	yaml := fmt.Sprintf(`{issuers: [{url: %q}], audiences: [aud], policies: [{name: p, allow: [{repository_owner_id: "1"}]}]}`, noKeys.URL)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var addrs [2]string
	for i := range addrs {
		a, err := localstack.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a
	}
	p, err := localstack.StartServe("actions-authz", bin, config, addrs[0], addrs[1], time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var body string
	if err := p.WaitHTTP(ctx, "http://"+addrs[1]+"/metrics", http.StatusOK, func(b string) bool { body = b; return true }); err != nil {
		t.Fatal(err)
	}
	served := make(map[string]bool)
	for _, line := range strings.Split(body, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		served[f[2]] = true
		if f[3] == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				served[f[2]+s] = true
			}
		}
	}
	if len(served) == 0 {
		t.Fatalf("no metric families in /metrics:\n%s", body)
	}
	return served
}
