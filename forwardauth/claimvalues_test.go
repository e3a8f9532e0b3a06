package forwardauth_test

import (
	"testing"

	"github.com/actions-authz/actions-authz/authz/authztest"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
	"github.com/actions-authz/actions-authz/forwardauth/forwardauthtest"
)

// TestIdentityHeaderValues is the table of what reaches an upstream header
// through both modes of the HTTP door, for claims that may hold more than
// printable ASCII: refs and environment names. The values are those of the
// gRPC door: printable ASCII without '%' as it is, anything else
// percent-encoded byte by byte of its UTF-8, '%' included; a control
// character other than tab refuses the token.
func TestIdentityHeaderValues(t *testing.T) {
	s := forwardauthtest.NewStack(t, "testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	base := s.Serve(t)
	grpcClient := envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{Authorizer: s.Authorizer}))
	for _, tc := range authztest.HeaderValues {
		t.Run(tc.Name, func(t *testing.T) {
			tok := s.Mint(t, map[string]any{"ref": tc.Claim, "environment": tc.Claim})
			o := original{method: "GET", host: "private.example.test", path: "/hello", header: forwardauthtest.Bearer(tok)}
			viaGRPC := checkGRPC(t, grpcClient, o)
			for door, a := range map[string]answer{"forward-auth": checkForwardAuth(t, base, o), "Envoy HTTP mode": checkEnvoyHTTP(t, base, o)} {
				if a.status != tc.Status {
					t.Fatalf("%s: status %d, want %d (body %s)", door, a.status, tc.Status, a.body)
				}
				if tc.Status != 200 {
					continue
				}
				for _, name := range []string{"x-github-ref", "x-github-environment"} {
					if a.set[name] != tc.Header {
						t.Errorf("%s: %s = %q, want %q", door, name, a.set[name], tc.Header)
					}
				}
				compare(t, door, viaGRPC, a)
			}
		})
	}
}
