package forwardauth_test

// The request path is untrusted. One table of tricky paths goes through
// every front door (gRPC, forward-auth, Envoy http_service mode) and through
// real nginx and Caddy (TestNginx, TestCaddy), with the policy of the
// forward-auth examples: "deploy" takes everything under /deploy/ and
// refuses the token used here, "default" takes the rest and allows it. A
// path that reaches /deploy/ in any reading must never be allowed.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
)

// trickyPath is one request path and which policy must decide it, with
// what reason.
type trickyPath struct {
	name   string
	method string // POST when empty
	path   string
	policy string       // the deciding policy, "" for none
	reason authz.Reason // with the token of trickyPaths' caller
	// forwardReason, when set, is the reason in forward-auth mode (and
	// through the proxies), whose protocol refuses a URI that is not a path
	// before any policy is looked at.
	forwardReason authz.Reason
	// own is the status a proxy ("nginx", "caddy") answers itself, without
	// asking actions-authz or reaching the upstream; absent when it asks.
	own map[string]int
	// direct: only the gRPC and forward-auth doors can carry this path
	// (no request line holds it).
	direct bool
}

// trickyPaths is the table. The token is one that "default" allows and
// "deploy" refuses.
var trickyPaths = []trickyPath{
	{name: "plain", path: "/deploy/x", policy: "deploy", reason: authz.ReasonNoRuleMatched},
	{name: "double slash", path: "//deploy/x", policy: "deploy", reason: authz.ReasonNoRuleMatched},
	{name: "slashes inside", path: "/deploy//x", policy: "deploy", reason: authz.ReasonNoRuleMatched},
	{name: "dot-dot into the prefix", path: "/x/../deploy/x", policy: "deploy", reason: authz.ReasonNoRuleMatched},
	{name: "dot segment", path: "/./deploy/x", policy: "deploy", reason: authz.ReasonNoRuleMatched},
	{name: "dot-dot above the root", path: "/../deploy/x", policy: "deploy", reason: authz.ReasonNoRuleMatched, own: nginxRefuses},
	{name: "dot-dot out of the prefix", path: "/deploy/../x", policy: "default", reason: authz.ReasonAllowed},
	{name: "encoded unreserved", path: "/%64eploy/x", policy: "deploy", reason: authz.ReasonNoRuleMatched},
	{name: "encoded dot-dot", path: "/x/%2e%2e/deploy/x", reason: authz.ReasonInvalidPath},
	{name: "encoded dot-dot, upper case", path: "/x/%2E%2E/deploy/x", reason: authz.ReasonInvalidPath},
	{name: "half-encoded dot-dot", path: "/x/.%2e/deploy/x", reason: authz.ReasonInvalidPath},
	{name: "encoded dot-dot out of the prefix", path: "/deploy/%2e%2e/x", reason: authz.ReasonInvalidPath},
	{name: "encoded slash", path: "/x%2F..%2Fdeploy/x", reason: authz.ReasonInvalidPath},
	{name: "encoded slash in a segment", path: "/deploy%2fx", reason: authz.ReasonInvalidPath},
	{name: "backslashes", path: `/x\..\deploy\x`, reason: authz.ReasonInvalidPath},
	{name: "encoded backslashes", path: "/x%5C..%5Cdeploy/x", reason: authz.ReasonInvalidPath},
	{name: "parameter", path: "/deploy;x/y", reason: authz.ReasonInvalidPath},
	{name: "parameter on the last segment", path: "/deploy/x;jsessionid=1", reason: authz.ReasonInvalidPath},
	{name: "parameter on a dot-dot", path: "/x/..;/deploy/x", reason: authz.ReasonInvalidPath},
	{name: "dot-dot after an empty segment", path: "/a//../deploy/x", reason: authz.ReasonInvalidPath},
	{name: "encoded NUL", path: "/deploy%00x", reason: authz.ReasonInvalidPath, own: nginxRefuses},
	{name: "upper case is another path", path: "/DEPLOY/x", policy: "default", reason: authz.ReasonAllowed},
	{name: "prefix in the query only", path: "/hello?next=/deploy/x", policy: "default", reason: authz.ReasonAllowed},
	{name: "tricks in the query are ignored", path: "/hello?x=/../deploy/%2F;a", policy: "default", reason: authz.ReasonAllowed},
	{name: "fragment", path: "/hello#/../deploy/x", policy: "default", reason: authz.ReasonAllowed, direct: true},
	{name: "asterisk", method: "OPTIONS", path: "*", reason: authz.ReasonInvalidPath, forwardReason: authz.ReasonInvalidRequest,
		own: map[string]int{"nginx": 400, "caddy": 200}}, // Caddy's Go server answers OPTIONS * itself,
	{name: "empty", path: "", reason: authz.ReasonInvalidPath, forwardReason: authz.ReasonInvalidRequest, direct: true},
}

// nginxRefuses: nginx answers 400 itself.
var nginxRefuses = map[string]int{"nginx": 400}

func (tc trickyPath) verb() string {
	if tc.method == "" {
		return http.MethodPost
	}
	return tc.method
}

// status is the HTTP status of tc's reason.
func (tc trickyPath) status() int {
	if tc.reason == authz.ReasonAllowed {
		return http.StatusOK
	}
	return http.StatusForbidden
}

// forward returns tc as the forward-auth door decides it.
func (tc trickyPath) forward() trickyPath {
	if tc.forwardReason != "" {
		tc.policy, tc.reason = "", tc.forwardReason
	}
	return tc
}

// expectDecision checks the one decision observed for a request against
// tc, and the refusal body: the policy it names and, for a refused path,
// the reason in words. nginx replaces the body with its own error page.
func expectDecision(t *testing.T, door string, obs *observations, tc trickyPath, r response) {
	t.Helper()
	if r.status != tc.status() {
		t.Errorf("%s: status %d, want %d (body %s)", door, r.status, tc.status(), r.body)
	}
	seen := obs.take()
	if len(seen) != 1 {
		t.Fatalf("%s: %d decisions observed, want 1", door, len(seen))
	}
	d := seen[0].dec
	if d.Policy != tc.policy || d.Reason != tc.reason {
		t.Errorf("%s: decided by %q (%s: %s), want %q (%s)", door, d.Policy, d.Reason, d.Description, tc.policy, tc.reason)
	}
	if r.status == http.StatusOK || door == "nginx" {
		return
	}
	var body refusal
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("%s: refusal body %q: %v", door, r.body, err)
	}
	if body.Policy != tc.policy || body.Error != "access_denied" {
		t.Errorf("%s: body %s, want access_denied naming policy %q", door, r.body, tc.policy)
	}
	if tc.reason == authz.ReasonInvalidPath && !strings.HasPrefix(body.Description, "the request ") {
		t.Errorf("%s: description %q does not say what is wrong with the path", door, body.Description)
	}
}

func TestTrickyPathsEveryDoor(t *testing.T) {
	s := newStack(t, filepath.Join(exampleDir, "config.yaml"), exampleIssuer, "")
	base := s.serve(t)
	addr := strings.TrimPrefix(base, "http://")
	grpcClient := envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{Authorizer: s.authorizer, Observe: s.observed.observe}))
	good := s.mint(t, nil)
	const host = "private.example.test"

	for _, tc := range trickyPaths {
		t.Run(tc.name, func(t *testing.T) {
			s.observed.take()
			o := original{method: tc.verb(), host: host, path: tc.path, header: bearer(good)}
			expectDecision(t, "gRPC", s.observed, tc, fromAnswer(checkGRPC(t, grpcClient, o)))

			r := do(t, http.MethodGet, base+"/auth/verify", fwd(bearer(good), tc.verb(), tc.path, host))
			expectDecision(t, "forward-auth", s.observed, tc.forward(), r)

			if tc.direct || !strings.HasPrefix(tc.path, "/") {
				return // Envoy sends path_prefix + path: it has no "*" and no empty path
			}
			r = rawDo(t, addr, tc.verb(), "/envoy"+tc.path, with(bearer(good), "Host", host))
			expectDecision(t, "Envoy HTTP mode", s.observed, tc, r)
		})
	}
}

// runTrickyPaths sends the table through the proxy at proxyAddr (nginx or
// Caddy running the example configuration), as raw request lines. An allowed
// request must reach the upstream with the very target actions-authz
// judged; a refused one must not reach it.
func runTrickyPaths(t *testing.T, e *e2e, proxyAddr, proxy string) {
	good := e.mint(t, nil)
	for _, tc := range trickyPaths {
		if tc.direct {
			continue
		}
		t.Run("path "+tc.name, func(t *testing.T) {
			e.observed.take()
			before := e.upstream.hits.Load()
			r := rawDo(t, proxyAddr, tc.verb(), tc.path, with(bearer(good), "Host", "private.example.test"))
			hits := e.upstream.hits.Load() - before
			if own, ok := tc.own[proxy]; ok {
				if n := len(e.observed.take()); r.status != own || hits != 0 || n != 0 {
					t.Errorf("status %d, %d upstream hits, %d decisions; want %s's own %d", r.status, hits, n, proxy, own)
				}
				return
			}
			expectDecision(t, proxy, e.observed, tc.forward(), r)
			if r.status != http.StatusOK {
				if hits != 0 {
					t.Errorf("a refused request reached the upstream")
				}
				return
			}
			var got echoed
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("upstream answer %q: %v", r.body, err)
			}
			if hits != 1 || got.URI != tc.path {
				t.Errorf("upstream reached %d times with %q, want once with %q", hits, got.URI, tc.path)
			}
		})
	}
}

// fromAnswer turns a gRPC answer into the response an HTTP door would give.
func fromAnswer(a answer) response {
	return response{status: a.status, body: a.body}
}

// rawDo sends one request with target written as it is on the request line,
// which Go's client would clean or escape, and reads the response.
func rawDo(t *testing.T, addr, method, target string, h http.Header) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n", method, target)
	for name, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}
