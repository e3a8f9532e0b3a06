package forwardauth_test

import (
	"testing"

	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
)

// TestIdentityHeaderValues is the table of what reaches an upstream header
// through both modes of the HTTP door, for claims that may hold more than
// printable ASCII: refs and environment names. The values are those of the
// gRPC door: printable ASCII without '%' as it is, anything else
// percent-encoded byte by byte of its UTF-8, '%' included; a control
// character other than tab refuses the token.
func TestIdentityHeaderValues(t *testing.T) {
	s := newStack(t, "testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	base := s.serve(t)
	grpcClient := envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{Authorizer: s.authorizer}))
	tests := []struct {
		name   string
		claim  string // the ref and the environment
		header string // X-Github-Ref and X-Github-Environment, on a 200
		status int
	}{
		{"ASCII", "refs/heads/main", "refs/heads/main", 200},
		{"a space", "production east", "production east", 200},
		{"UTF-8", "refs/heads/café", "refs/heads/caf%C3%A9", 200},
		{"U+0085", "refs/heads/a\u0085b", "refs/heads/a%C2%85b", 200},
		{"U+2028", "refs/heads/a\u2028b", "refs/heads/a%E2%80%A8b", 200},
		{"U+2029", "refs/heads/a\u2029b", "refs/heads/a%E2%80%A9b", 200},
		{"tab", "prod\teu", "prod%09eu", 200},
		{"a percent sign", "refs/heads/100%", "refs/heads/100%25", 200},
		{"an encoding, written out", "refs/heads/caf%C3%A9", "refs/heads/caf%25C3%25A9", 200},
		{"CR LF", "refs/heads/a\r\nX-Github-Repository: evil", "", 401},
		{"NUL", "refs/heads/a\x00b", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.mint(t, map[string]any{"ref": tc.claim, "environment": tc.claim})
			o := original{method: "GET", host: "private.example.test", path: "/hello", header: bearer(tok)}
			viaGRPC := checkGRPC(t, grpcClient, o)
			for door, a := range map[string]answer{"forward-auth": checkForwardAuth(t, base, o), "Envoy HTTP mode": checkEnvoyHTTP(t, base, o)} {
				if a.status != tc.status {
					t.Fatalf("%s: status %d, want %d (body %s)", door, a.status, tc.status, a.body)
				}
				if tc.status != 200 {
					continue
				}
				for _, name := range []string{"x-github-ref", "x-github-environment"} {
					if a.set[name] != tc.header {
						t.Errorf("%s: %s = %q, want %q", door, name, a.set[name], tc.header)
					}
				}
				compare(t, door, viaGRPC, a)
			}
		})
	}
}
