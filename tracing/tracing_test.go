package tracing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/tracing"
)

const (
	traceID      = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpanID = "00f067aa0ba902b7"
	sampled      = "00-" + traceID + "-" + parentSpanID + "-01"
	notSampled   = "00-" + traceID + "-" + parentSpanID + "-00"
	goodToken    = "good.token.sig"
)

const policyYAML = `
issuers: [{url: https://token.actions.githubusercontent.com}]
audiences: [https://github.com/octo-org]
policies:
  - name: deploy
    allow:
      - repository_owner_id: "1342004"
`

// verifier accepts goodToken, is out of keys for "outage.token.sig" and
// refuses any other token as expired.
type verifier struct{}

func (verifier) Verify(_ context.Context, raw string) (*claims.Claims, error) {
	switch raw {
	case goodToken:
		c := &claims.Claims{RepositoryOwnerID: "1342004", Repository: "octo-org/app"}
		c.Audience = []string{"https://github.com/octo-org"}
		return c, nil
	case "outage.token.sig":
		return nil, fmt.Errorf("fetching keys: %w", claims.ErrKeysUnavailable)
	}
	return nil, &claims.Error{Reason: claims.ReasonExpired}
}

func newAuthorizer(t *testing.T) *authz.Authorizer {
	t.Helper()
	cfg, err := config.Parse([]byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	return authz.NewAuthorizer(verifier{}, cfg.Engine())
}

// span is the part of a recorded span the tests compare.
type span struct {
	Name     string
	Kind     trace.SpanKind
	Parent   string // the parent span's name, or its ID when it is remote
	Attrs    map[string]string
	Status   codes.Code
	SameTree bool // in the trace of traceID
}

func recorded(sr *tracetest.SpanRecorder) []span {
	ended := sr.Ended()
	names := map[trace.SpanID]string{}
	for _, s := range ended {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	var out []span
	for _, s := range ended {
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		parent := names[s.Parent().SpanID()]
		if parent == "" && s.Parent().IsValid() {
			parent = s.Parent().SpanID().String()
		}
		out = append(out, span{Name: s.Name(), Kind: s.SpanKind(), Parent: parent, Attrs: attrs,
			Status: s.Status().Code, SameTree: s.SpanContext().TraceID().String() == traceID})
	}
	return out
}

func TestSpans(t *testing.T) {
	a := newAuthorizer(t)
	tests := []struct {
		name        string
		traceparent string
		token       string
		want        []span
	}{
		{"allowed, continuing the caller's trace", sampled, goodToken, []span{
			{Name: tracing.SpanVerify, Kind: trace.SpanKindInternal, Parent: "check", SameTree: true,
				Attrs: map[string]string{"actions_authz.token_valid": "true"}},
			{Name: tracing.SpanEvaluate, Kind: trace.SpanKindInternal, Parent: "check", SameTree: true,
				Attrs: map[string]string{"actions_authz.decision": "allow", "actions_authz.reason": "allowed",
					"actions_authz.policy": "deploy", "actions_authz.rule": "0"}},
			{Name: "check", Kind: trace.SpanKindServer, Parent: parentSpanID, SameTree: true,
				Attrs: map[string]string{"actions_authz.decision": "allow", "actions_authz.reason": "allowed",
					"actions_authz.policy": "deploy", "actions_authz.rule": "0"}},
		}},
		{"expired token", sampled, "expired.token.sig", []span{
			{Name: tracing.SpanVerify, Kind: trace.SpanKindInternal, Parent: "check", SameTree: true,
				Attrs: map[string]string{"actions_authz.token_valid": "false", "actions_authz.detail": "expired"}},
			{Name: "check", Kind: trace.SpanKindServer, Parent: parentSpanID, SameTree: true,
				Attrs: map[string]string{"actions_authz.decision": "unauthenticated", "actions_authz.reason": "invalid_token",
					"actions_authz.detail": "expired", "actions_authz.policy": "deploy"}},
		}},
		{"keys unavailable is an error", sampled, "outage.token.sig", []span{
			{Name: tracing.SpanVerify, Kind: trace.SpanKindInternal, Parent: "check", SameTree: true, Status: codes.Error,
				Attrs: map[string]string{"actions_authz.token_valid": "false"}},
			{Name: "check", Kind: trace.SpanKindServer, Parent: parentSpanID, SameTree: true, Status: codes.Error,
				Attrs: map[string]string{"actions_authz.decision": "unavailable", "actions_authz.reason": "keys_unavailable",
					"actions_authz.policy": "deploy"}},
		}},
		{"no token: no verification", sampled, "", []span{
			{Name: "check", Kind: trace.SpanKindServer, Parent: parentSpanID, SameTree: true,
				Attrs: map[string]string{"actions_authz.decision": "unauthenticated", "actions_authz.reason": "missing_token",
					"actions_authz.policy": "deploy"}},
		}},
		{"no traceparent: a new trace", "", goodToken, []span{
			{Name: tracing.SpanVerify, Kind: trace.SpanKindInternal, Parent: "check",
				Attrs: map[string]string{"actions_authz.token_valid": "true"}},
			{Name: tracing.SpanEvaluate, Kind: trace.SpanKindInternal, Parent: "check",
				Attrs: map[string]string{"actions_authz.decision": "allow", "actions_authz.reason": "allowed",
					"actions_authz.policy": "deploy", "actions_authz.rule": "0"}},
			{Name: "check", Kind: trace.SpanKindServer,
				Attrs: map[string]string{"actions_authz.decision": "allow", "actions_authz.reason": "allowed",
					"actions_authz.policy": "deploy", "actions_authz.rule": "0"}},
		}},
		{"a parent not sampled: nothing recorded", notSampled, goodToken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
			tr := tracing.New(tp)
			headers := map[string]string{}
			if tt.traceparent != "" {
				headers["traceparent"] = tt.traceparent
			}
			if tt.token != "" {
				headers["authorization"] = "Bearer " + tt.token
			}
			ctx, sp := tr.Start(context.Background(), "check", []propagation.TextMapCarrier{propagation.MapCarrier(headers)})
			d := a.Authorize(ctx, authz.Request{Policy: "deploy", Method: "GET", Host: "h", Path: "/", Headers: headers})
			tracing.End(sp, &d)
			got := recorded(sr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("spans (-want +got):\n%s", diff)
			}
			for _, s := range sr.Ended() {
				for _, kv := range s.Attributes() {
					if v := kv.Value.String(); tt.token != "" && strings.Contains(v, tt.token) ||
						d.TokenHash.String() != "" && strings.Contains(v, d.TokenHash.String()) {
						t.Errorf("span %s attribute %s holds the token or its hash: %q", s.Name(), kv.Key, v)
					}
				}
			}
		})
	}
}

// TestStartPrefersFirstCarrier: the first carrier with a valid traceparent
// is the parent; an invalid one is skipped.
func TestStartPrefersFirstCarrier(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tr := tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)))
	other := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	carriers := []propagation.TextMapCarrier{
		propagation.MapCarrier{"traceparent": "garbage"},
		propagation.MapCarrier{"traceparent": other},
		propagation.MapCarrier{"traceparent": sampled},
	}
	_, sp := tr.Start(context.Background(), "check", carriers)
	sp.End()
	got := sr.Ended()[0].Parent()
	if got.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || got.SpanID().String() != "b7ad6b7169203331" || !got.IsRemote() {
		t.Errorf("parent %v, want the second carrier's", got)
	}
}

// TestNilProvider: no provider, no Tracer, and Authorize without a Trace.
func TestNilProvider(t *testing.T) {
	if tr := tracing.New(nil); tr != nil {
		t.Fatalf("New(nil) = %v, want nil", tr)
	}
	if authz.ContextTrace(context.Background()) != nil {
		t.Fatal("a Trace in a bare context")
	}
}
