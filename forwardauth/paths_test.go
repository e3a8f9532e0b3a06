package forwardauth_test

// The request path is untrusted. One table of tricky paths,
// forwardauthtest.TrickyPaths, goes through every front door (gRPC,
// forward-auth, Envoy http_service mode) here, and through real nginx and
// Caddy in package examples (examples/proxies_test.go), with the policy of
// the forward-auth examples: "deploy" takes everything under /deploy/ and
// refuses the token used here, "default" takes the rest and allows it. A
// path that reaches /deploy/ in any reading must never be allowed.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
	"github.com/actions-authz/actions-authz/forwardauth/forwardauthtest"
)

// The policy of the forward-auth examples, and the issuer URL it names.
const (
	examplePolicy = "../examples/forward-auth/config.yaml"
	exampleIssuer = "http://127.0.0.1:9002"
)

func TestTrickyPathsEveryDoor(t *testing.T) {
	s := forwardauthtest.NewStack(t, examplePolicy, exampleIssuer, "")
	base := s.Serve(t)
	addr := strings.TrimPrefix(base, "http://")
	grpcClient := envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{Authorizer: s.Authorizer, Observe: s.Observed.Observe}))
	good := s.Mint(t, nil)
	const host = "private.example.test"

	for _, tc := range forwardauthtest.TrickyPaths {
		t.Run(tc.Name, func(t *testing.T) {
			s.Observed.Take()
			o := original{method: tc.Verb(), host: host, path: tc.Path, header: forwardauthtest.Bearer(good)}
			forwardauthtest.ExpectDecision(t, "gRPC", s.Observed, tc, fromAnswer(checkGRPC(t, grpcClient, o)))

			r := forwardauthtest.Do(t, http.MethodGet, base+"/auth/verify", fwd(forwardauthtest.Bearer(good), tc.Verb(), tc.Path, host))
			forwardauthtest.ExpectDecision(t, "forward-auth", s.Observed, tc.Forward(), r)

			if tc.Direct || !strings.HasPrefix(tc.Path, "/") {
				return // Envoy sends path_prefix + path: it has no "*" and no empty path
			}
			r = forwardauthtest.RawDo(t, addr, tc.Verb(), "/envoy"+tc.Path, forwardauthtest.With(forwardauthtest.Bearer(good), "Host", host))
			forwardauthtest.ExpectDecision(t, "Envoy HTTP mode", s.Observed, tc, r)
		})
	}
}

// fromAnswer turns a gRPC answer into the response an HTTP door would give.
func fromAnswer(a answer) forwardauthtest.Response {
	return forwardauthtest.Response{Status: a.status, Body: a.body}
}
