package forwardauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/actions-authz/actions-authz/forwardauth"
	"github.com/actions-authz/actions-authz/forwardauth/forwardauthtest"
)

// TestTraceParent: in both modes, the decision is a server span that
// continues the request's traceparent, named after the route.
func TestTraceParent(t *testing.T) {
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	s := forwardauthtest.NewStack(t, "testdata/config.yaml", "GOOD_ISSUER", "DOWN_ISSUER")
	for _, tt := range []struct {
		name, method, target string
		header               http.Header
		span                 string
	}{
		{"forward-auth", "GET", "/auth/verify", http.Header{
			"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/x"}, "X-Forwarded-Host": {"h"}}, "GET /auth/verify"},
		{"envoy http_service", "POST", "/envoy/deploy/x", http.Header{}, "POST /envoy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sr := tracetest.NewSpanRecorder()
			h := forwardauth.New(forwardauth.Options{Authorizer: s.Authorizer,
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))})
			req := httptest.NewRequest(tt.method, tt.target, nil)
			req.Header = tt.header
			req.Header.Set("Traceparent", traceparent)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", w.Code)
			}
			spans := sr.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want the server span alone (no token, no verification)", len(spans))
			}
			sp := spans[0]
			p := sp.Parent()
			if got := "00-" + p.TraceID().String() + "-" + p.SpanID().String() + "-01"; got != traceparent || !p.IsRemote() {
				t.Errorf("parent %s, want %s", got, traceparent)
			}
			attrs := map[string]string{}
			for _, kv := range sp.Attributes() {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			want := map[string]string{"actions_authz.decision": "unauthenticated", "actions_authz.reason": "missing_token",
				"actions_authz.policy": attrs["actions_authz.policy"], "http.request.method": tt.method,
				"http.route": tt.span[len(tt.method)+1:], "http.response.status_code": "401"}
			if sp.Name() != tt.span {
				t.Errorf("span %q, want %q", sp.Name(), tt.span)
			}
			if diff := cmp.Diff(want, attrs); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}
