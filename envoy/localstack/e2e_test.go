package localstack_test

// The end-to-end suite: real Envoy 1.40 with envoy/envoy.yaml, actions-authz
// serve --dev with examples/compose/config.yaml and the private service, on
// 127.0.0.1, rewritten for loopback by localstack.ComposeAddrs. Every case
// asserts what the client and the upstream actually saw.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// documented is an answer that the local stack's walkthrough
// (docs/local-stack.md) shows; the test checks it still shows it.
type documented struct {
	status          int
	wwwAuthenticate string // "" when the answer has none
	body            string
}

func TestComposeStack(t *testing.T) {
	t.Parallel()
	o := stackOptions(t)
	s := startStack(t, o)
	base := "http://" + s.Addrs.Listener
	dev := s.Addrs.Dev

	cfg, err := config.Load(filepath.Join(root, "examples/compose/config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	token, tokenClaims := mint(t, dev, nil)
	prod, _ := mint(t, dev, map[string]any{"environment": "production"})
	stranger, _ := mint(t, dev, map[string]any{"repository": "evil-org/octo-repo", "repository_owner_id": "999"})
	now := time.Now().Unix()
	expired, _ := mint(t, dev, map[string]any{"iat": now - 3600, "nbf": now - 3600, "exp": now - 3000})
	otherAudience, _ := mint(t, dev, map[string]any{"aud": "https://somebody-else.example"})

	t.Run("allowed", func(t *testing.T) { checkAllowed(t, base, token, tokenClaims, cfg) })

	for _, c := range []struct {
		name, method, path, token string
		want                      documented
	}{
		{"no token", "GET", "/hello", "", documented{401, `Bearer realm="actions-authz"`,
			`{"error":"invalid_request","error_description":"a bearer token is required","policy":"default"}`}},
		{"expired", "GET", "/hello", expired, documented{401, `Bearer realm="actions-authz", error="invalid_token", error_description="token has expired"`,
			`{"error":"invalid_token","error_description":"token has expired","policy":"default"}`}},
		{"wrong audience", "GET", "/hello", otherAudience, documented{401, `Bearer realm="actions-authz", error="invalid_token", error_description="token audience is not accepted"`,
			`{"error":"invalid_token","error_description":"token audience is not accepted","policy":"default"}`}},
		{"another owner", "GET", "/hello", stranger, documented{403, "",
			`{"error":"access_denied","error_description":"policy \"default\": no rule matched","policy":"default"}`}},
		{"deploy without its environment", "POST", "/deploy/app", token, documented{403, "",
			`{"error":"access_denied","error_description":"policy \"deploy\": no rule matched","policy":"deploy"}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkRefused(t, s, c.method, base+c.path, c.token, c.want)
			docsShow(t, c.want)
		})
	}

	t.Run("deploy route with its environment", func(t *testing.T) {
		r := send(t, "POST", base+"/deploy/app", prod, nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200: %s", r.status, r.body)
		}
		if got := decodeEcho(t, r).Identity["x-github-environment"]; got != "production" {
			t.Errorf("x-github-environment %q, want production", got)
		}
	})

	t.Run("healthz is not checked", func(t *testing.T) {
		before := decisions(t, s.Addrs.HTTP)
		r := send(t, "GET", base+"/healthz", "", nil)
		if r.status != http.StatusOK || r.body != "ok\n" {
			t.Errorf("GET /healthz without a token: %d %q, want 200 from the private service", r.status, r.body)
		}
		if after := decisions(t, s.Addrs.HTTP); after != before {
			t.Errorf("actions-authz decided /healthz: decisions %v, then %v", before, after)
		}
		// The count does move for a checked route.
		send(t, "GET", base+"/hello", "", nil)
		if after := decisions(t, s.Addrs.HTTP); after != before+1 {
			t.Errorf("decisions %v after one checked request, want %v", after, before+1)
		}
	})

	t.Run("access log", func(t *testing.T) {
		send(t, "GET", base+"/access-log/allowed", token, nil)
		send(t, "GET", base+"/access-log/denied", stranger, nil)
		for path, want := range map[string]map[string]string{
			"/access-log/allowed": {"status": "200", "authz_decision": "allow", "authz_reason": "allowed",
				"authz_policy": "default", "repository": "octo-org/octo-repo", "upstream": "private_service"},
			"/access-log/denied": {"status": "403", "authz_decision": "deny", "authz_reason": "no_rule_matched",
				"authz_policy": "default", "repository": "evil-org/octo-repo"},
		} {
			eventually(t, 10*time.Second, "access log line for "+path, func() error {
				line, ok := accessLogLine(s.Envoy.Output(), path)
				if !ok {
					return fmt.Errorf("no JSON line with path %s in Envoy's output", path)
				}
				for k, v := range want {
					if got := fmt.Sprint(line[k]); got != v {
						return fmt.Errorf("%s: %s is %q, want %q (line %v)", path, k, got, v, line)
					}
				}
				return nil
			})
		}
		if strings.Contains(s.Envoy.Output(), token) || strings.Contains(s.ActionsAuthz.Output(), token) {
			t.Error("the token appears in Envoy's or actions-authz's output")
		}
	})

	// Last: it stops actions-authz.
	t.Run("outage", func(t *testing.T) {
		s.ActionsAuthz.Stop(10 * time.Second)
		before := upstreamRequests(t, s)
		r := send(t, "GET", base+"/hello", token, nil)
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("with actions-authz stopped: status %d, want 503 (status_on_error)", r.status)
		}
		if after := upstreamRequests(t, s); after != before {
			t.Errorf("with actions-authz stopped the request reached the private service (failure_mode_allow must be false)")
		}
	})
}

// upstreamRequests is Envoy's count of requests sent to the private
// service.
func upstreamRequests(t *testing.T, s *localstack.Stack) int64 {
	t.Helper()
	n, err := s.Envoy.Counter("cluster.private_service.upstream_rq_total")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// docsShow fails the test unless the local stack's walkthrough,
// docs/local-stack.md, shows the answer: its WWW-Authenticate value and its
// body, verbatim.
func docsShow(t *testing.T, d documented) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(root, "docs/local-stack.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{d.wwwAuthenticate, d.body} {
		if s != "" && !strings.Contains(string(doc), s) {
			t.Errorf("docs/local-stack.md does not show %s", s)
		}
	}
}

// accessLogLine finds Envoy's JSON access-log line for path.
func accessLogLine(output, path string) (map[string]any, bool) {
	for _, line := range strings.Split(output, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["path"] == path {
			return m, true
		}
	}
	return nil, false
}
