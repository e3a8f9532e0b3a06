package envoy_test

import (
	"context"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/tracing"
)

// staticVerifier accepts the token "good.token.sig" with fixed claims.
type staticVerifier struct{}

func (staticVerifier) Verify(_ context.Context, raw string) (*claims.Claims, error) {
	if raw != "good.token.sig" {
		return nil, &claims.Error{Reason: claims.ReasonSignature}
	}
	c := &claims.Claims{RepositoryOwnerID: "1342004"}
	c.Audience = []string{"https://github.com/octo-org"}
	return c, nil
}

// TestCheckTraceParent: a Check's server span continues the trace context
// of the call's gRPC metadata (where Envoy's tracer puts it), else that of
// the request's headers, plain or raw.
func TestCheckTraceParent(t *testing.T) {
	const (
		fromMetadata = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		fromHeaders  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	)
	cfg, err := config.Parse([]byte(`
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: [https://github.com/octo-org]
policies:
  - name: deploy
    allow:
      - repository_owner_id: "1342004"
`))
	if err != nil {
		t.Fatal(err)
	}
	plain := func(traceparent string) *authv3.CheckRequest {
		h := map[string]string{"authorization": "Bearer good.token.sig", ":path": "/x", ":method": "GET", ":authority": "h"}
		if traceparent != "" {
			h["traceparent"] = traceparent
		}
		return checkRequestWith(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/x", Headers: h})
	}
	raw := checkRequestWith(&authv3.AttributeContext_HttpRequest{Method: "GET", Host: "h", Path: "/x",
		HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: "authorization", RawValue: []byte("Bearer good.token.sig")},
			{Key: "TraceParent", RawValue: []byte(fromHeaders)},
		}}})
	tooLarge := plain(fromHeaders)
	for i := range authz.MaxHeaders + 1 {
		tooLarge.Attributes.Request.Http.Headers[strings.Repeat("x", i+1)] = "y"
	}
	tests := []struct {
		name     string
		metadata string
		req      *authv3.CheckRequest
		parent   string // traceparent of the expected parent
		decision string
	}{
		{"metadata first", fromMetadata, plain(fromHeaders), fromMetadata, "allow"},
		{"metadata only", fromMetadata, plain(""), fromMetadata, "allow"},
		{"headers", "", plain(fromHeaders), fromHeaders, "allow"},
		{"raw headers", "", raw, fromHeaders, "allow"},
		{"headers too large", "", tooLarge, fromHeaders, "too_large"},
		{"none: a new trace", "", plain(""), "", "allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr := tracetest.NewSpanRecorder()
			srv := envoy.NewServer(envoy.Options{
				Authorizer:     authz.NewAuthorizer(staticVerifier{}, cfg.Engine()),
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)),
			})
			ctx := context.Background()
			if tt.metadata != "" {
				ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("traceparent", tt.metadata))
			}
			if _, err := srv.Check(ctx, tt.req); err != nil {
				t.Fatal(err)
			}
			var server sdktrace.ReadOnlySpan
			for _, s := range sr.Ended() {
				if s.SpanKind() == trace.SpanKindServer {
					server = s
				}
			}
			if server == nil {
				t.Fatalf("no server span among %d", len(sr.Ended()))
			}
			if server.Name() != "envoy.service.auth.v3.Authorization/Check" {
				t.Errorf("server span %q", server.Name())
			}
			p := server.Parent()
			got := ""
			if p.IsValid() {
				got = "00-" + p.TraceID().String() + "-" + p.SpanID().String() + "-" + p.TraceFlags().String()
			}
			if got != tt.parent {
				t.Errorf("parent %q, want %q", got, tt.parent)
			}
			attrs := map[string]string{}
			for _, kv := range server.Attributes() {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			if attrs[string(tracing.KeyDecision)] != tt.decision || attrs["rpc.system"] != "grpc" {
				t.Errorf("attributes %v, want decision %s", attrs, tt.decision)
			}
		})
	}
}

func checkRequestWith(h *authv3.AttributeContext_HttpRequest) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request:           &authv3.AttributeContext_Request{Http: h},
		ContextExtensions: map[string]string{envoy.PolicyKey: "deploy"},
	}}
}
