package envoy_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
)

// withHeaderMap moves the request's headers into header_map, as Envoy sends
// them with encode_raw_headers, and appends extra entries after them.
func withHeaderMap(req *authv3.CheckRequest, extra ...*corev3.HeaderValue) *authv3.CheckRequest {
	h := req.Attributes.Request.Http
	hm := &corev3.HeaderMap{}
	for k, v := range h.Headers {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	hm.Headers = append(hm.Headers, extra...)
	h.Headers, h.HeaderMap = nil, hm
	return req
}

// copies returns n header_map entries named name with the value v.
func copies(n int, name, v string) []*corev3.HeaderValue {
	out := make([]*corev3.HeaderValue, n)
	for i := range out {
		out[i] = &corev3.HeaderValue{Key: name, RawValue: []byte(v)}
	}
	return out
}

// recorder is an authz.ObserveFunc that keeps the decisions it sees.
type recorder struct {
	mu   sync.Mutex
	seen []authz.Decision
}

func (r *recorder) observe(_ context.Context, _ *authz.Request, d *authz.Decision, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, *d)
}

func (r *recorder) last() authz.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[len(r.seen)-1]
}

// TestCheckHeaderBounds is the regression test for the header bounds: a
// request with more header fields than authz.MaxHeaders, or more bytes of
// them than authz.MaxHeaderBytes, gets a 431 and a JSON body, counted as
// such, before any of its headers are joined; one within them is decided as
// usual, the 30,000 copies of one header that once took most of a second
// included.
func TestCheckHeaderBounds(t *testing.T) {
	s := newStack(t)
	rec := &recorder{}
	client := envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{Authorizer: s.authorizer, Observe: rec.observe}))
	tok := s.mint(t, nil)
	base := func() *authv3.CheckRequest { return checkRequest("", "/api/x", bearer(tok)) }
	// base has 7 headers; fill makes a map request of n distinct ones.
	fill := func(n int) *authv3.CheckRequest {
		req := base()
		for i := len(req.Attributes.Request.Http.Headers); i < n; i++ {
			req.Attributes.Request.Http.Headers["x-filler-"+strconv.Itoa(i)] = "x"
		}
		return req
	}
	big := func(n int) map[string]string { return map[string]string{"x-big": strings.Repeat("b", n)} }

	tests := []struct {
		name   string
		req    *authv3.CheckRequest
		status int
	}{
		{"header_map, 30,000 copies of a header", withHeaderMap(base(), copies(30_000, "x-dup", "a")...), 431},
		{"header_map, one field too many", withHeaderMap(base(), copies(authz.MaxHeaders-6, "x-dup", "a")...), 431},
		{"header_map, as many fields as allowed", withHeaderMap(base(), copies(authz.MaxHeaders-7, "x-dup", "a")...), 200},
		{"header_map, too many bytes", withHeaderMap(base(), copies(1, "x-big", strings.Repeat("b", authz.MaxHeaderBytes))...), 431},
		{"header_map, 100 KiB of headers", withHeaderMap(base(), copies(1, "x-big", strings.Repeat("b", 100<<10))...), 200},
		{"map, one field too many", fill(authz.MaxHeaders + 1), 431},
		{"map, as many fields as allowed", fill(authz.MaxHeaders), 200},
		{"map, too many bytes", checkRequest("", "/api/x", big(authz.MaxHeaderBytes)), 431},
		{"map, 100 KiB of headers, no token", checkRequest("", "/api/x", big(100<<10)), 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := client.Check(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if err := resp.ValidateAll(); err != nil {
				t.Fatalf("CheckResponse fails Envoy's validation: %v", err)
			}
			if got := httpStatus(resp); got != tc.status {
				t.Fatalf("status %d, want %d (body %s)", got, tc.status, resp.GetDeniedResponse().GetBody())
			}
			d := rec.last()
			if tc.status != 431 {
				if d.Outcome == authz.TooLarge {
					t.Errorf("observed %v, want a decision about the token", d.Outcome)
				}
				return
			}
			if got := codes.Code(resp.GetStatus().GetCode()); got != codes.InvalidArgument {
				t.Errorf("gRPC status %v, want InvalidArgument", got)
			}
			if ct := deniedHeader(resp, "content-type"); ct != "application/json" {
				t.Errorf("content-type %q", ct)
			}
			if wa := deniedHeader(resp, "www-authenticate"); wa != "" {
				t.Errorf("www-authenticate on a 431: %q", wa)
			}
			var body struct{ Error, ErrorDescription string }
			if err := json.Unmarshal([]byte(resp.GetDeniedResponse().GetBody()), &body); err != nil || body.Error != "invalid_request" {
				t.Errorf("body %q: error %q (%v), want invalid_request", resp.GetDeniedResponse().GetBody(), body.Error, err)
			}
			if d.Outcome != authz.TooLarge || d.Reason != authz.ReasonHeadersTooLarge {
				t.Errorf("observed %v %s, want too_large headers_too_large", d.Outcome, d.Reason)
			}
			if md := resp.GetDynamicMetadata().GetFields(); md["reason"].GetStringValue() != string(authz.ReasonHeadersTooLarge) {
				t.Errorf("dynamic metadata %v", md)
			}
		})
	}
}
