package forwardauth_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
	"github.com/actions-authz/actions-authz/forwardauth/forwardauthtest"
)

// TestHeaderBounds is the regression test for the header bounds of the
// HTTP front door: both of its modes refuse a request over authz.MaxHeaders
// or authz.MaxHeaderBytes with the 431 and the body the gRPC door answers,
// counted as such, whether the fields are distinct or copies of one header;
// a request within the bounds is decided as usual.
func TestHeaderBounds(t *testing.T) {
	s := forwardauthtest.NewStack(t, "testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	base := s.Serve(t)
	grpcClient := envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{Authorizer: s.Authorizer}))
	good := s.Mint(t, nil)
	const host = "private.example.test"

	// distinct returns the token and n headers of distinct names.
	distinct := func(n int) http.Header {
		h := forwardauthtest.Bearer(good)
		for i := range n {
			h["X-Filler-"+strconv.Itoa(i)] = []string{"x"}
		}
		return h
	}
	// repeated returns the token and n copies of one header.
	repeated := func(n int) http.Header {
		h := forwardauthtest.Bearer(good)
		h["X-Dup"] = make([]string, n)
		for i := range n {
			h["X-Dup"][i] = "a"
		}
		return h
	}
	big := func(n int) http.Header {
		return forwardauthtest.With(forwardauthtest.Bearer(good), "X-Big", strings.Repeat("b", n))
	}

	tests := []struct {
		name     string
		header   http.Header
		status   int
		sameGRPC bool // the gRPC door, sent the same headers joined as Envoy joins them, answers alike
	}{
		{"more fields than MaxHeaders", distinct(authz.MaxHeaders), 431, true},
		{"more bytes than MaxHeaderBytes", big(authz.MaxHeaderBytes), 431, true},
		{"more copies of one header than MaxHeaders", repeated(5_000), 431, false},
		{"many fields, within the bounds", distinct(900), 200, true},
		{"many copies of one header, within the bounds", repeated(900), 200, true},
		{"100 KiB of headers", big(100 << 10), 200, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := original{method: "GET", host: host, path: "/hello", header: tc.header}
			viaForward := checkForwardAuth(t, base, o)
			viaEnvoyHTTP := checkEnvoyHTTP(t, base, o)
			if viaForward.status != tc.status {
				t.Fatalf("forward-auth: status %d, want %d (body %s)", viaForward.status, tc.status, viaForward.body)
			}
			compare(t, "Envoy HTTP mode against forward-auth", viaForward, viaEnvoyHTTP)
			if tc.status == 431 {
				checkRefusal(t, forwardauthtest.Do(t, "GET", base+"/auth/verify", fwd(o.header, o.method, o.path, o.host)), 431, "invalid_request", "", "")
				if want := authz.HeadersTooLarge(); string(viaForward.body) != string(want.Body()) {
					t.Errorf("body %s, want %s", viaForward.body, want.Body())
				}
			}
			seen := s.Observed.Take()
			if len(seen) < 2 {
				t.Errorf("Observe called %d times, want once per request to the HTTP door", len(seen))
			}
			for _, o := range seen {
				if tooLarge := o.Decision.Outcome == authz.TooLarge && o.Decision.Reason == authz.ReasonHeadersTooLarge; tooLarge != (tc.status == 431) {
					t.Errorf("observed %v %s for a %d", o.Decision.Outcome, o.Decision.Reason, tc.status)
				}
			}
			if tc.sameGRPC {
				compare(t, "gRPC against forward-auth", viaForward, checkGRPC(t, grpcClient, o))
			}
		})
	}
}
