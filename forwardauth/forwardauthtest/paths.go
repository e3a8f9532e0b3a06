package forwardauthtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/authz"
)

// TrickyPath is one request path and which policy must decide it, with
// what reason, under the policy of the forward-auth examples
// (examples/forward-auth/config.yaml): "deploy" takes everything under
// /deploy/ and refuses the caller's token, "default" takes the rest and
// allows it. A path that reaches /deploy/ in any reading must never be
// allowed.
type TrickyPath struct {
	Name   string
	Method string // POST when empty: see Verb
	Path   string
	Policy string       // the deciding policy, "" for none
	Reason authz.Reason // with the token the caller uses
	// ForwardReason, when set, is the reason in forward-auth mode (and
	// through the proxies), whose protocol refuses a URI that is not a path
	// before any policy is looked at.
	ForwardReason authz.Reason
	// Own is the status a proxy ("nginx", "caddy") answers itself, without
	// asking actions-authz or reaching the upstream; absent when it asks.
	Own map[string]int
	// Direct: only the gRPC and forward-auth doors can carry this path
	// (no request line holds it).
	Direct bool
}

// TrickyPaths is the table every front door (gRPC, forward-auth, Envoy
// http_service mode) and real nginx and Caddy are tested with. The token is
// one that "default" allows and "deploy" refuses.
var TrickyPaths = []TrickyPath{
	{Name: "plain", Path: "/deploy/x", Policy: "deploy", Reason: authz.ReasonNoRuleMatched},
	{Name: "double slash", Path: "//deploy/x", Policy: "deploy", Reason: authz.ReasonNoRuleMatched},
	{Name: "slashes inside", Path: "/deploy//x", Policy: "deploy", Reason: authz.ReasonNoRuleMatched},
	{Name: "dot-dot into the prefix", Path: "/x/../deploy/x", Policy: "deploy", Reason: authz.ReasonNoRuleMatched},
	{Name: "dot segment", Path: "/./deploy/x", Policy: "deploy", Reason: authz.ReasonNoRuleMatched},
	{Name: "dot-dot above the root", Path: "/../deploy/x", Policy: "deploy", Reason: authz.ReasonNoRuleMatched, Own: nginxRefuses},
	{Name: "dot-dot out of the prefix", Path: "/deploy/../x", Policy: "default", Reason: authz.ReasonAllowed},
	{Name: "encoded unreserved", Path: "/%64eploy/x", Policy: "deploy", Reason: authz.ReasonNoRuleMatched},
	{Name: "encoded dot-dot", Path: "/x/%2e%2e/deploy/x", Reason: authz.ReasonInvalidPath},
	{Name: "encoded dot-dot, upper case", Path: "/x/%2E%2E/deploy/x", Reason: authz.ReasonInvalidPath},
	{Name: "half-encoded dot-dot", Path: "/x/.%2e/deploy/x", Reason: authz.ReasonInvalidPath},
	{Name: "encoded dot-dot out of the prefix", Path: "/deploy/%2e%2e/x", Reason: authz.ReasonInvalidPath},
	{Name: "encoded slash", Path: "/x%2F..%2Fdeploy/x", Reason: authz.ReasonInvalidPath},
	{Name: "encoded slash in a segment", Path: "/deploy%2fx", Reason: authz.ReasonInvalidPath},
	{Name: "backslashes", Path: `/x\..\deploy\x`, Reason: authz.ReasonInvalidPath},
	{Name: "encoded backslashes", Path: "/x%5C..%5Cdeploy/x", Reason: authz.ReasonInvalidPath},
	{Name: "parameter", Path: "/deploy;x/y", Reason: authz.ReasonInvalidPath},
	{Name: "parameter on the last segment", Path: "/deploy/x;jsessionid=1", Reason: authz.ReasonInvalidPath},
	{Name: "parameter on a dot-dot", Path: "/x/..;/deploy/x", Reason: authz.ReasonInvalidPath},
	{Name: "dot-dot after an empty segment", Path: "/a//../deploy/x", Reason: authz.ReasonInvalidPath},
	{Name: "encoded NUL", Path: "/deploy%00x", Reason: authz.ReasonInvalidPath, Own: nginxRefuses},
	{Name: "upper case is another path", Path: "/DEPLOY/x", Policy: "default", Reason: authz.ReasonAllowed},
	{Name: "prefix in the query only", Path: "/hello?next=/deploy/x", Policy: "default", Reason: authz.ReasonAllowed},
	{Name: "tricks in the query are ignored", Path: "/hello?x=/../deploy/%2F;a", Policy: "default", Reason: authz.ReasonAllowed},
	{Name: "fragment", Path: "/hello#/../deploy/x", Policy: "default", Reason: authz.ReasonAllowed, Direct: true},
	{Name: "asterisk", Method: "OPTIONS", Path: "*", Reason: authz.ReasonInvalidPath, ForwardReason: authz.ReasonInvalidRequest,
		Own: map[string]int{"nginx": 400, "caddy": 200}}, // Caddy's Go server answers OPTIONS * itself,
	{Name: "empty", Path: "", Reason: authz.ReasonInvalidPath, ForwardReason: authz.ReasonInvalidRequest, Direct: true},
}

// nginxRefuses: nginx answers 400 itself.
var nginxRefuses = map[string]int{"nginx": 400}

// Verb is the request's method.
func (tc TrickyPath) Verb() string {
	if tc.Method == "" {
		return http.MethodPost
	}
	return tc.Method
}

// Status is the HTTP status of tc's Reason.
func (tc TrickyPath) Status() int {
	if tc.Reason == authz.ReasonAllowed {
		return http.StatusOK
	}
	return http.StatusForbidden
}

// Forward returns tc as the forward-auth door decides it.
func (tc TrickyPath) Forward() TrickyPath {
	if tc.ForwardReason != "" {
		tc.Policy, tc.Reason = "", tc.ForwardReason
	}
	return tc
}

// ExpectDecision checks the one decision observed for a request against
// tc, and the refusal body: the policy it names and, for a refused path,
// the reason in words. door names the front door or proxy in messages;
// "nginx" replaces the body with its own error page, so its body is not
// read.
func ExpectDecision(t testing.TB, door string, obs *Observations, tc TrickyPath, r Response) {
	t.Helper()
	if r.Status != tc.Status() {
		t.Errorf("%s: status %d, want %d (body %s)", door, r.Status, tc.Status(), r.Body)
	}
	seen := obs.Take()
	if len(seen) != 1 {
		t.Fatalf("%s: %d decisions observed, want 1", door, len(seen))
	}
	d := seen[0].Decision
	if d.Policy != tc.Policy || d.Reason != tc.Reason {
		t.Errorf("%s: decided by %q (%s: %s), want %q (%s)", door, d.Policy, d.Reason, d.Description, tc.Policy, tc.Reason)
	}
	if r.Status == http.StatusOK || door == "nginx" {
		return
	}
	var body Refusal
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("%s: refusal body %q: %v", door, r.Body, err)
	}
	if body.Policy != tc.Policy || body.Error != "access_denied" {
		t.Errorf("%s: body %s, want access_denied naming policy %q", door, r.Body, tc.Policy)
	}
	if tc.Reason == authz.ReasonInvalidPath && !strings.HasPrefix(body.Description, "the request ") {
		t.Errorf("%s: description %q does not say what is wrong with the path", door, body.Description)
	}
}
