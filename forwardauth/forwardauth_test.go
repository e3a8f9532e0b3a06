package forwardauth_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/forwardauth"
	"github.com/actions-authz/actions-authz/forwardauth/forwardauthtest"
)

// checkRefusal checks the parts of a refusal every mode shares.
func checkRefusal(t *testing.T, r forwardauthtest.Response, status int, code, policy, challenge string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d (body %s)", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var b forwardauthtest.Refusal
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.Body, err)
	}
	if b.Error != code || b.Policy != policy {
		t.Errorf("body error %q policy %q, want %q and %q (%s)", b.Error, b.Policy, code, policy, r.Body)
	}
	if got := r.Header.Get("WWW-Authenticate"); challenge == "" && got != "" || !strings.HasPrefix(got, challenge) {
		t.Errorf("WWW-Authenticate %q, want it to start with %q", got, challenge)
	}
	if got, want := r.Header.Get("Retry-After"), map[bool]string{true: strconv.Itoa(authz.RetryAfterSeconds)}[status == 503]; got != want {
		t.Errorf("Retry-After %q, want %q", got, want)
	}
	for name := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-github-") {
			t.Errorf("refusal carries identity header %s", name)
		}
	}
}

// noToken fails if any of the tokens appears in the response.
func noToken(t *testing.T, r forwardauthtest.Response, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(string(r.Body), sig) {
			t.Errorf("the token is in the body")
		}
		for name, vs := range r.Header {
			if strings.Contains(strings.Join(vs, ","), sig) {
				t.Errorf("the token is in response header %s", name)
			}
		}
	}
}

// fwd describes the original request as Caddy and Traefik do.
func fwd(h http.Header, method, uri, host string) http.Header {
	return forwardauthtest.With(h, "X-Forwarded-Method", method, "X-Forwarded-Uri", uri, "X-Forwarded-Host", host)
}

func TestForwardAuthMode(t *testing.T) {
	s := forwardauthtest.NewStack(t, "testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	base := s.Serve(t)
	good := s.Mint(t, nil)
	deploy := s.Mint(t, deployClaims)
	foreign := s.Mint(t, map[string]any{"repository_owner_id": "999", "repository_id": "999"})
	expired := s.Mint(t, map[string]any{"iat": time.Now().Add(-time.Hour)})
	down := s.MintDown(t)
	const host = "private.example.test"

	tests := []struct {
		name   string
		method string // of the auth request itself; default GET
		path   string
		header http.Header
		status int
		// on allow: identity header values to check literally, and the request
		// the Authorizer must agree on for the complete set
		values map[string]string
		same   authz.Request
		// on refusal
		code, policy, challenge string
		// what Observe saw, when set
		seen *authz.Request
	}{
		{
			name: "allow with X-Forwarded-*", path: "/auth/verify",
			header: fwd(forwardauthtest.Bearer(good), "GET", "/hello?x=1", host), status: 200,
			values: map[string]string{"x-github-repository": "octo-org/octo-repo", "x-github-repository-owner-id": "123456", "x-github-environment": ""},
			same:   authz.Request{Method: "GET", Path: "/hello?x=1", Host: host, Headers: map[string]string{"authorization": "Bearer " + good}},
			seen:   &authz.Request{Method: "GET", Path: "/hello?x=1", Host: host},
		},
		{
			name: "allow with X-Original-* as nginx sends them", path: "/auth/verify",
			header: forwardauthtest.With(forwardauthtest.Bearer(good), "X-Original-Method", "GET", "X-Original-URI", "/hello"), status: 200,
			values: map[string]string{"x-github-repository": "octo-org/octo-repo"},
			seen:   &authz.Request{Method: "GET", Path: "/hello"},
		},
		{
			name: "both names agreeing", path: "/auth/verify",
			header: forwardauthtest.With(fwd(forwardauthtest.Bearer(good), "GET", "/hello", host), "X-Original-Method", "GET", "X-Original-URI", "/hello"), status: 200,
			values: map[string]string{"x-github-repository-id": "456789"},
		},
		{
			name: "the auth request's own method does not count", method: "POST", path: "/auth/verify",
			header: fwd(forwardauthtest.Bearer(good), "GET", "/hello", host), status: 200,
			values: map[string]string{"x-github-repository": "octo-org/octo-repo"},
		},
		{
			name: "client identity headers are ignored", path: "/auth/verify",
			header: forwardauthtest.With(fwd(forwardauthtest.Bearer(good), "GET", "/hello", host), "X-Github-Repository", "octo-org/infra", "X-Github-Environment", "production"),
			status: 200, values: map[string]string{"x-github-repository": "octo-org/octo-repo", "x-github-environment": ""},
		},
		{
			name: "the forwarded method selects the policy", path: "/auth/verify",
			header: fwd(forwardauthtest.Bearer(good), "POST", "/deploy/x", host), status: 403, code: "access_denied", policy: "deploy",
			seen: &authz.Request{Method: "POST", Path: "/deploy/x", Host: host},
		},
		{
			name: "deploy allowed", path: "/auth/verify",
			header: fwd(forwardauthtest.Bearer(deploy), "POST", "/deploy/x", host), status: 200,
			values: map[string]string{"x-github-environment": "production", "x-github-repository": "octo-org/infra"},
			same:   authz.Request{Method: "POST", Path: "/deploy/x", Host: host, Headers: map[string]string{"authorization": "Bearer " + deploy}},
		},
		{
			name: "the forwarded host selects the policy", path: "/auth/verify",
			header: fwd(forwardauthtest.Bearer(good), "GET", "/hello", "admin.example.test:8443"), status: 403, code: "access_denied", policy: "admin",
		},
		{
			name: "a named policy wins over match", path: "/auth/verify/deploy",
			header: fwd(forwardauthtest.Bearer(good), "GET", "/hello", host), status: 403, code: "access_denied", policy: "deploy",
			seen: &authz.Request{Policy: "deploy", Method: "GET", Path: "/hello", Host: host},
		},
		{
			name: "a named policy allows", path: "/auth/verify/deploy",
			header: fwd(forwardauthtest.Bearer(deploy), "GET", "/anything", host), status: 200,
			values: map[string]string{"x-github-environment": "production"},
		},
		{
			name: "an unknown policy name is denied", path: "/auth/verify/nope",
			header: fwd(forwardauthtest.Bearer(good), "GET", "/hello", host), status: 403, code: "access_denied",
		},
		{
			name: "an empty policy name is denied", path: "/auth/verify/",
			header: fwd(forwardauthtest.Bearer(good), "GET", "/hello", host), status: 403, code: "access_denied",
		},
		{
			name: "no token", path: "/auth/verify",
			header: fwd(nil, "GET", "/hello", host), status: 401, code: "invalid_request", policy: "default",
			challenge: `Bearer realm="actions-authz"`,
		},
		{
			name: "not a bearer token", path: "/auth/verify",
			header: fwd(http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, "GET", "/hello", host), status: 401,
			code: "invalid_request", policy: "default", challenge: `Bearer realm="actions-authz"`,
		},
		{
			name: "two tokens", path: "/auth/verify",
			header: fwd(forwardauthtest.With(forwardauthtest.Bearer(good), "Authorization", "Bearer "+good), "GET", "/hello", host), status: 401,
			code: "invalid_request", policy: "default", challenge: `Bearer realm="actions-authz", error="invalid_request"`,
		},
		{
			name: "expired token", path: "/auth/verify",
			header: fwd(forwardauthtest.Bearer(expired), "GET", "/hello", host), status: 401,
			code: "invalid_token", policy: "default", challenge: `Bearer realm="actions-authz", error="invalid_token"`,
		},
		{
			name: "foreign repository", path: "/auth/verify",
			header: fwd(forwardauthtest.Bearer(foreign), "GET", "/hello", host), status: 403, code: "access_denied", policy: "default",
		},
		{
			name: "issuer keys unavailable", path: "/auth/verify",
			header: fwd(forwardauthtest.Bearer(down), "GET", "/hello", host), status: 503, code: "temporarily_unavailable", policy: "default",
		},
		{
			name: "no original URI", path: "/auth/verify",
			header: forwardauthtest.With(forwardauthtest.Bearer(good), "X-Forwarded-Method", "GET"), status: 403, code: "access_denied",
		},
		{
			name: "no original method", path: "/auth/verify",
			header: forwardauthtest.With(forwardauthtest.Bearer(good), "X-Forwarded-Uri", "/hello"), status: 403, code: "access_denied",
		},
		{
			name: "the two names disagree", path: "/auth/verify",
			header: forwardauthtest.With(fwd(forwardauthtest.Bearer(good), "GET", "/hello", host), "X-Original-URI", "/deploy/x"), status: 403, code: "access_denied",
		},
		{
			name: "a repeated forwarded header", path: "/auth/verify",
			header: forwardauthtest.With(fwd(forwardauthtest.Bearer(good), "GET", "/hello", host), "X-Forwarded-Uri", "/deploy/x"), status: 403, code: "access_denied",
		},
		{
			name: "an original URI that is not a path", path: "/auth/verify",
			header: fwd(forwardauthtest.Bearer(good), "GET", "http://evil.example/hello", host), status: 403, code: "access_denied",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.Observed.Take()
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			r := forwardauthtest.Do(t, method, base+tc.path, tc.header)
			noToken(t, r, good, deploy, foreign, expired, down)
			if tc.status == 200 {
				if r.Status != 200 {
					t.Fatalf("status %d, want 200 (body %s)", r.Status, r.Body)
				}
				if len(r.Body) != 0 {
					t.Errorf("allow has a body: %q", r.Body)
				}
				for name, want := range tc.values {
					if got := r.Header.Values(name); len(got) != 1 || got[0] != want {
						t.Errorf("%s = %q, want exactly [%q]", name, got, want)
					}
				}
				if tc.same.Method != "" {
					want := forwardauthtest.IdentityHeaders(t, s.Authorizer, tc.same)
					for name, v := range want {
						if got := r.Header.Values(name); len(got) != 1 || got[0] != v {
							t.Errorf("%s = %q, want exactly [%q] as the Authorizer decides", name, got, v)
						}
					}
				}
			} else {
				checkRefusal(t, r, tc.status, tc.code, tc.policy, tc.challenge)
			}
			seen := s.Observed.Take()
			if len(seen) != 1 {
				t.Fatalf("Observe called %d times, want once", len(seen))
			}
			if got := seen[0].Decision.Outcome.HTTPStatus(); got != tc.status {
				t.Errorf("Observe saw a %d decision, the client a %d", got, tc.status)
			}
			if w := tc.seen; w != nil {
				g := seen[0].Request
				if g.Method != w.Method || g.Path != w.Path || g.Host != w.Host || g.Policy != w.Policy {
					t.Errorf("Observe saw %q %q host %q policy %q, want %q %q host %q policy %q",
						g.Method, g.Path, g.Host, g.Policy, w.Method, w.Path, w.Host, w.Policy)
				}
			}
		})
	}
}

func TestEnvoyMode(t *testing.T) {
	s := forwardauthtest.NewStack(t, "testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	base := s.Serve(t)
	good := s.Mint(t, nil)
	deploy := s.Mint(t, deployClaims)
	down := s.MintDown(t)
	const host = "private.example.test"
	hosted := func(h http.Header, host string) http.Header { return forwardauthtest.With(h, "Host", host) }

	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		status int
		values map[string]string // identity headers set, on allow
		remove []string          // x-envoy-auth-headers-to-remove, on allow, in any order
		code   string
		policy string
		seen   *authz.Request
	}{
		{
			name: "allow strips the token, spoofed and empty identity headers", method: "GET", path: "/envoy/hello?x=1",
			header: forwardauthtest.With(hosted(forwardauthtest.Bearer(good), host), "X-Github-Repository", "octo-org/infra", "X-Github-Extra", "spoof"), status: 200,
			values: map[string]string{"x-github-repository": "octo-org/octo-repo", "x-github-repository-id": "456789"},
			remove: []string{"authorization", "x-github-environment", "x-github-extra"},
			seen:   &authz.Request{Method: "GET", Path: "/hello?x=1", Host: host},
		},
		{
			name: "a claim that is present is set, not removed", method: "POST", path: "/envoy/deploy/x",
			header: hosted(forwardauthtest.Bearer(deploy), host), status: 200,
			values: map[string]string{"x-github-environment": "production", "x-github-repository": "octo-org/infra"},
			remove: []string{"authorization"},
		},
		{name: "PUT", method: "PUT", path: "/envoy/hello", header: hosted(forwardauthtest.Bearer(good), host), status: 200, remove: []string{"authorization", "x-github-environment"}},
		{name: "DELETE", method: "DELETE", path: "/envoy/hello", header: hosted(forwardauthtest.Bearer(good), host), status: 200, remove: []string{"authorization", "x-github-environment"}},
		{name: "PATCH", method: "PATCH", path: "/envoy/hello", header: hosted(forwardauthtest.Bearer(good), host), status: 200, remove: []string{"authorization", "x-github-environment"}},
		{
			name: "the method selects the policy", method: "POST", path: "/envoy/deploy/x",
			header: hosted(forwardauthtest.Bearer(good), host), status: 403, code: "access_denied", policy: "deploy",
		},
		{
			name: "the host selects the policy", method: "GET", path: "/envoy/hello",
			header: hosted(forwardauthtest.Bearer(good), "admin.example.test"), status: 403, code: "access_denied", policy: "admin",
		},
		{
			name: "forwarded headers are not read in Envoy mode", method: "GET", path: "/envoy/hello",
			header: fwd(hosted(forwardauthtest.Bearer(good), host), "POST", "/deploy/x", "admin.example.test"), status: 200,
			remove: []string{"authorization", "x-github-environment"},
			seen:   &authz.Request{Method: "GET", Path: "/hello", Host: host},
		},
		{name: "no token", method: "GET", path: "/envoy/hello", header: hosted(nil, host), status: 401, code: "invalid_request", policy: "default"},
		{name: "keys unavailable", method: "GET", path: "/envoy/hello", header: hosted(forwardauthtest.Bearer(down), host), status: 503, code: "temporarily_unavailable", policy: "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.Observed.Take()
			r := forwardauthtest.Do(t, tc.method, base+tc.path, tc.header)
			noToken(t, r, good, deploy, down)
			if tc.status != 200 {
				challenge := map[bool]string{true: `Bearer realm="actions-authz"`}[tc.status == 401]
				checkRefusal(t, r, tc.status, tc.code, tc.policy, challenge)
			} else {
				if r.Status != 200 {
					t.Fatalf("status %d, want exactly 200 (body %s)", r.Status, r.Body)
				}
				for name, want := range tc.values {
					if got := r.Header.Values(name); len(got) != 1 || got[0] != want {
						t.Errorf("%s = %q, want exactly [%q]", name, got, want)
					}
				}
				for name, vs := range r.Header {
					if strings.HasPrefix(strings.ToLower(name), "x-github-") && (len(vs) != 1 || vs[0] == "") {
						t.Errorf("identity header %s = %q: Envoy mode sends only non-empty ones", name, vs)
					}
				}
				got := strings.Split(r.Header.Get("X-Envoy-Auth-Headers-To-Remove"), ",")
				slices.Sort(got)
				want := slices.Sorted(slices.Values(tc.remove))
				if !slices.Equal(got, want) {
					t.Errorf("x-envoy-auth-headers-to-remove = %q, want %q", got, want)
				}
				for _, name := range got {
					if r.Header.Get(name) != "" {
						t.Errorf("%s is both set and removed", name)
					}
				}
			}
			seen := s.Observed.Take()
			if len(seen) != 1 {
				t.Fatalf("Observe called %d times, want once", len(seen))
			}
			if w := tc.seen; w != nil {
				g := seen[0].Request
				if g.Method != w.Method || g.Path != w.Path || g.Host != w.Host || g.Policy != w.Policy {
					t.Errorf("Observe saw %q %q host %q policy %q, want %q %q host %q policy %q",
						g.Method, g.Path, g.Host, g.Policy, w.Method, w.Path, w.Host, w.Policy)
				}
			}
		})
	}
}

func TestOtherPathsAreNotFound(t *testing.T) {
	s := forwardauthtest.NewStack(t, "testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	base := s.Serve(t)
	good := s.Mint(t, nil)
	for _, path := range []string{"/", "/envoy", "/envoyx/hello", "/auth", "/auth/verifyx", "/hello"} {
		t.Run(path, func(t *testing.T) {
			s.Observed.Take()
			r := forwardauthtest.Do(t, "GET", base+path, fwd(forwardauthtest.Bearer(good), "GET", "/hello", "private.example.test"))
			if r.Status != http.StatusNotFound {
				t.Errorf("status %d, want 404", r.Status)
			}
			if n := len(s.Observed.Take()); n != 0 {
				t.Errorf("Observe called %d times for a path that is not a front door", n)
			}
		})
	}
}

func TestServerLimits(t *testing.T) {
	srv := forwardauth.NewServer(forwardauth.Options{})
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("server without timeouts: %+v", srv)
	}
	s := forwardauthtest.NewStack(t, "testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	base := s.Serve(t)
	big := strings.Repeat("a", forwardauth.MaxHeaderBytes+8<<10) // net/http allows a little slack
	r := forwardauthtest.Do(t, "GET", base+"/auth/verify", http.Header{"X-Big": {big}})
	if r.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d for %d bytes of headers, want 431", r.Status, len(big))
	}
	// A token as large as token.max_bytes, with a proxy's usual headers, fits.
	r = forwardauthtest.Do(t, "GET", base+"/auth/verify", fwd(forwardauthtest.Bearer(strings.Repeat("a", 8192)), "GET", "/hello", "h"))
	if r.Status != http.StatusUnauthorized {
		t.Errorf("status %d for a large token, want 401", r.Status)
	}
}
