package forwardauth_test

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
	"github.com/actions-authz/actions-authz/forwardauth/forwardauthtest"
)

// answer is a front door's answer reduced to what the client and the
// upstream see, so that the three front doors can be compared.
type answer struct {
	status     int
	set        map[string]string // identity headers with a value, on allow
	cleared    []string          // headers stripped from the upstream request, sorted (gRPC and Envoy HTTP mode)
	empty      []string          // identity headers sent empty, sorted (forward-auth mode)
	challenge  string
	retryAfter string
	body       []byte
}

// original is the request being authorized, as each front door receives it.
type original struct {
	policy string // named by the route; Envoy HTTP mode cannot
	method string
	host   string
	path   string
	header http.Header
}

func TestSameDecisionFromEveryFrontDoor(t *testing.T) {
	s := forwardauthtest.NewStack(t, "testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	base := s.Serve(t)
	grpcClient := envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{Authorizer: s.Authorizer}))

	good := s.Mint(t, nil)
	deploy := s.Mint(t, deployClaims)
	foreign := s.Mint(t, map[string]any{"repository_owner_id": "999", "repository_id": "999"})
	expired := s.Mint(t, map[string]any{"iat": time.Now().Add(-time.Hour)})
	otherAudience := s.Mint(t, map[string]any{"aud": "https://github.com/someone-else"})
	down := s.MintDown(t)
	const host = "private.example.test"

	tests := []struct {
		name   string
		req    original
		status int
	}{
		{"allowed", original{method: "GET", host: host, path: "/hello?x=1", header: forwardauthtest.Bearer(good)}, 200},
		{"allowed, with spoofed identity headers", original{method: "GET", host: host, path: "/hello",
			header: forwardauthtest.With(forwardauthtest.Bearer(good), "X-Github-Repository", "octo-org/infra", "X-Github-Environment", "production", "X-Github-Extra", "x")}, 200},
		{"allowed by the deploy policy", original{method: "POST", host: host, path: "/deploy/x", header: forwardauthtest.Bearer(deploy)}, 200},
		{"denied by the deploy policy", original{method: "POST", host: host, path: "/deploy/x", header: forwardauthtest.Bearer(good)}, 403},
		{"denied by the policy for the host", original{method: "GET", host: "admin.example.test:8443", path: "/", header: forwardauthtest.Bearer(good)}, 403},
		{"foreign repository", original{method: "GET", host: host, path: "/hello", header: forwardauthtest.Bearer(foreign)}, 403},
		{"named policy", original{policy: "deploy", method: "GET", host: host, path: "/hello", header: forwardauthtest.Bearer(good)}, 403},
		{"named policy allows", original{policy: "deploy", method: "GET", host: host, path: "/hello", header: forwardauthtest.Bearer(deploy)}, 200},
		{"unknown policy name", original{policy: "nope", method: "GET", host: host, path: "/hello", header: forwardauthtest.Bearer(good)}, 403},
		{"no token", original{method: "GET", host: host, path: "/hello"}, 401},
		{"not a bearer token", original{method: "GET", host: host, path: "/hello", header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}}, 401},
		{"two tokens", original{method: "GET", host: host, path: "/hello", header: forwardauthtest.With(forwardauthtest.Bearer(good), "Authorization", "Bearer "+good)}, 401},
		{"expired token", original{method: "GET", host: host, path: "/hello", header: forwardauthtest.Bearer(expired)}, 401},
		{"another audience", original{method: "GET", host: host, path: "/hello", header: forwardauthtest.Bearer(otherAudience)}, 401},
		{"issuer keys unavailable", original{method: "GET", host: host, path: "/hello", header: forwardauthtest.Bearer(down)}, 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			viaGRPC := checkGRPC(t, grpcClient, tc.req)
			if viaGRPC.status != tc.status {
				t.Fatalf("gRPC: status %d, want %d", viaGRPC.status, tc.status)
			}
			viaForward := checkForwardAuth(t, base, tc.req)
			compare(t, "forward-auth", viaGRPC, viaForward)
			if viaForward.status == 200 {
				// Every configured identity header is present; the empty ones
				// are those the gRPC answer removes.
				if n := len(viaForward.set) + len(viaForward.empty); n != len(config.DefaultUpstreamClaims) {
					t.Errorf("forward-auth: %d identity headers, want all %d", n, len(config.DefaultUpstreamClaims))
				}
				for _, name := range viaForward.empty {
					if !slices.Contains(viaGRPC.cleared, name) {
						t.Errorf("forward-auth sends %s empty; gRPC neither removes it nor leaves it alone", name)
					}
				}
			}
			if tc.req.policy != "" {
				return // Envoy http_service cannot name a policy
			}
			viaEnvoyHTTP := checkEnvoyHTTP(t, base, tc.req)
			compare(t, "Envoy HTTP mode", viaGRPC, viaEnvoyHTTP)
			if !slices.Equal(viaGRPC.cleared, viaEnvoyHTTP.cleared) {
				t.Errorf("Envoy HTTP mode removes %q, gRPC %q", viaEnvoyHTTP.cleared, viaGRPC.cleared)
			}
		})
	}
}

// compare checks what every front door must agree on: the status, the
// identity headers with a value, and a refusal's headers and body.
func compare(t *testing.T, door string, want, got answer) {
	t.Helper()
	if got.status != want.status {
		t.Fatalf("%s: status %d, gRPC %d", door, got.status, want.status)
	}
	if !maps.Equal(got.set, want.set) {
		t.Errorf("%s: identity headers %v, gRPC %v", door, got.set, want.set)
	}
	if got.challenge != want.challenge || got.retryAfter != want.retryAfter {
		t.Errorf("%s: WWW-Authenticate %q Retry-After %q, gRPC %q %q", door, got.challenge, got.retryAfter, want.challenge, want.retryAfter)
	}
	if !bytes.Equal(got.body, want.body) {
		t.Errorf("%s: body %s, gRPC %s", door, got.body, want.body)
	}
}

// checkGRPC asks the gRPC server, with a CheckRequest shaped as Envoy sends
// it: lower-case names, pseudo-headers, repeated headers joined with ",".
func checkGRPC(t *testing.T, c authv3.AuthorizationClient, o original) answer {
	t.Helper()
	h := map[string]string{":authority": o.host, ":method": o.method, ":path": o.path, ":scheme": "http"}
	for k, vs := range o.header {
		h[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: o.method, Host: o.host, Path: o.path, Scheme: "http", Protocol: "HTTP/1.1", Headers: h,
		}},
	}}
	if o.policy != "" {
		req.Attributes.ContextExtensions = map[string]string{envoy.PolicyKey: o.policy}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{set: map[string]string{}}
	if codes.Code(resp.GetStatus().GetCode()) == codes.OK {
		a.status = 200
		for _, hv := range resp.GetOkResponse().GetHeaders() {
			a.set[hv.GetHeader().GetKey()] = hv.GetHeader().GetValue()
		}
		a.cleared = slices.Sorted(slices.Values(resp.GetOkResponse().GetHeadersToRemove()))
		return a
	}
	denied := resp.GetDeniedResponse()
	a.status = int(denied.GetStatus().GetCode())
	for _, hv := range denied.GetHeaders() {
		switch hv.GetHeader().GetKey() {
		case "www-authenticate":
			a.challenge = hv.GetHeader().GetValue()
		case "retry-after":
			a.retryAfter = hv.GetHeader().GetValue()
		}
	}
	a.body = []byte(denied.GetBody())
	return a
}

// checkForwardAuth asks as Caddy or Traefik would: GET VerifyPath (with the
// policy name below it) describing the original request in X-Forwarded-*.
func checkForwardAuth(t *testing.T, base string, o original) answer {
	t.Helper()
	path := "/auth/verify"
	if o.policy != "" {
		path += "/" + o.policy
	}
	r := forwardauthtest.Do(t, "GET", base+path, fwd(o.header, o.method, o.path, o.host))
	a := fromHTTP(r)
	if a.status == 200 {
		for name, vs := range r.Header {
			if name = strings.ToLower(name); strings.HasPrefix(name, "x-github-") && len(vs) == 1 && vs[0] == "" {
				a.empty = append(a.empty, name)
			}
		}
		slices.Sort(a.empty)
	}
	return a
}

// checkEnvoyHTTP asks as Envoy's http_service does: the original method, the
// prefix and the original path, the original Host.
func checkEnvoyHTTP(t *testing.T, base string, o original) answer {
	t.Helper()
	r := forwardauthtest.Do(t, o.method, base+"/envoy"+o.path, forwardauthtest.With(o.header, "Host", o.host))
	a := fromHTTP(r)
	if a.status == 200 {
		if list := r.Header.Get("X-Envoy-Auth-Headers-To-Remove"); list != "" {
			a.cleared = slices.Sorted(slices.Values(strings.Split(list, ",")))
		}
	}
	return a
}

func fromHTTP(r forwardauthtest.Response) answer {
	a := answer{status: r.Status, set: map[string]string{}}
	if r.Status != 200 {
		a.challenge, a.retryAfter, a.body = r.Header.Get("WWW-Authenticate"), r.Header.Get("Retry-After"), r.Body
		return a
	}
	for name, vs := range r.Header {
		if name = strings.ToLower(name); strings.HasPrefix(name, "x-github-") && len(vs) == 1 && vs[0] != "" {
			a.set[name] = vs[0]
		}
	}
	return a
}
