package envoy_test

import (
	"testing"
)

// TestCheckIdentityHeaderValues is the table of what reaches an upstream
// header through the gRPC door, for claims that may hold more than
// printable ASCII: refs and environment names. A value of printable ASCII
// without '%' is sent as it is; any other is percent-encoded, byte by byte
// of its UTF-8, '%' included; a control character other than tab refuses
// the token.
func TestCheckIdentityHeaderValues(t *testing.T) {
	s := newStack(t)
	tests := []struct {
		name   string
		claim  string // the ref and the environment
		header string // x-github-ref and x-github-environment, on a 200
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
		{"CR LF", "refs/heads/a\r\nx-github-repository: evil", "", 401},
		{"NUL", "refs/heads/a\x00b", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := s.mint(t, map[string]any{"ref": tc.claim, "environment": tc.claim})
			resp := s.check(t, checkRequest("", "/api/x", bearer(tok)))
			if got := httpStatus(resp); got != tc.status {
				t.Fatalf("status %d, want %d (body %s)", got, tc.status, resp.GetDeniedResponse().GetBody())
			}
			if tc.status != 200 {
				return
			}
			set := map[string]string{}
			for _, hv := range resp.GetOkResponse().GetHeaders() {
				set[hv.GetHeader().GetKey()] = hv.GetHeader().GetValue()
			}
			for _, name := range []string{"x-github-ref", "x-github-environment"} {
				if set[name] != tc.header {
					t.Errorf("%s = %q, want %q", name, set[name], tc.header)
				}
			}
			// The claims themselves are unchanged where they are not headers.
			if ref := resp.GetDynamicMetadata().GetFields()["ref"].GetStringValue(); ref != tc.claim {
				t.Errorf("dynamic metadata ref = %q, want the claim %q", ref, tc.claim)
			}
		})
	}
}
