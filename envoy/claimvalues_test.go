package envoy_test

import (
	"testing"

	"github.com/actions-authz/actions-authz/authz/authztest"
)

// TestCheckIdentityHeaderValues is the table of what reaches an upstream
// header through the gRPC door, for claims that may hold more than
// printable ASCII: refs and environment names. A value of printable ASCII
// without '%' is sent as it is; any other is percent-encoded, byte by byte
// of its UTF-8, '%' included; a control character other than tab refuses
// the token.
func TestCheckIdentityHeaderValues(t *testing.T) {
	s := newStack(t)
	for _, tc := range authztest.HeaderValues {
		t.Run(tc.Name, func(t *testing.T) {
			tok := s.mint(t, map[string]any{"ref": tc.Claim, "environment": tc.Claim})
			resp := s.check(t, checkRequest("", "/api/x", bearer(tok)))
			if got := httpStatus(resp); got != tc.Status {
				t.Fatalf("status %d, want %d (body %s)", got, tc.Status, resp.GetDeniedResponse().GetBody())
			}
			if tc.Status != 200 {
				return
			}
			set := map[string]string{}
			for _, hv := range resp.GetOkResponse().GetHeaders() {
				set[hv.GetHeader().GetKey()] = hv.GetHeader().GetValue()
			}
			for _, name := range []string{"x-github-ref", "x-github-environment"} {
				if set[name] != tc.Header {
					t.Errorf("%s = %q, want %q", name, set[name], tc.Header)
				}
			}
			// The claims themselves are unchanged where they are not headers.
			if ref := resp.GetDynamicMetadata().GetFields()["ref"].GetStringValue(); ref != tc.Claim {
				t.Errorf("dynamic metadata ref = %q, want the claim %q", ref, tc.Claim)
			}
		})
	}
}
