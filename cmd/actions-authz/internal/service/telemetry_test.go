package service

import (
	"context"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
	"github.com/actions-authz/actions-authz/tracing"
	"github.com/actions-authz/actions-authz/tracing/tracingtest"
)

// TestTracesToOTLPReceiver: with telemetry.otlp_endpoint, a Check that
// carries a traceparent produces a server span, its child in that trace,
// with children for the token's verification and the policy's evaluation,
// all exported to the receiver; and the decision line carries the trace_id.
func TestTracesToOTLPReceiver(t *testing.T) {
	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
	)
	recv, err := tracingtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Stop()
	is := servicetest.NewIssuer(t)
	s := startService(t, servicetest.OwnerConfig(is.URL())+`
telemetry:
  otlp_endpoint: `+recv.Addr()+`
  insecure: true
  service_name: authz-under-test
`, TestHooks{})
	s.waitReady()
	token := is.MustMint(t, nil)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "svc", Path: "/x", Headers: map[string]string{
				"authorization": "Bearer " + token,
				"traceparent":   "00-" + traceID + "-" + parentID + "-01",
			},
		}},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := s.client.Check(ctx, req)
	if err != nil || resp.GetStatus().GetCode() != 0 {
		t.Fatalf("Check: %v, %v", err, resp.GetStatus())
	}
	if err := s.stop(); err != nil { // flushes the spans
		t.Fatal(err)
	}
	spans, ok := recv.Wait(10*time.Second, func(spans []tracingtest.Span) bool { return len(spans) >= 3 })
	if !ok {
		t.Fatalf("spans received: %+v", spans)
	}
	byName := map[string]tracingtest.Span{}
	for _, sp := range spans {
		byName[sp.Name] = sp
		if sp.TraceID != traceID {
			t.Errorf("span %s in trace %s, want %s", sp.Name, sp.TraceID, traceID)
		}
		if sp.Service != "authz-under-test" {
			t.Errorf("span %s of service %q", sp.Name, sp.Service)
		}
		for k, v := range sp.Attributes {
			if strings.Contains(v, token) {
				t.Errorf("span %s attribute %s holds the token", sp.Name, k)
			}
		}
	}
	server := byName["envoy.service.auth.v3.Authorization/Check"]
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER || server.ParentID != parentID {
		t.Errorf("server span %+v, want kind server, parent %s", server, parentID)
	}
	if a := server.Attributes; a["actions_authz.decision"] != "allow" || a["actions_authz.reason"] != "allowed" || a["actions_authz.policy"] != "default" {
		t.Errorf("server span attributes %v", a)
	}
	for _, name := range []string{tracing.SpanVerify, tracing.SpanEvaluate} {
		if sp, ok := byName[name]; !ok || sp.ParentID != server.SpanID {
			t.Errorf("span %q: %+v, want the child of %s", name, sp, server.SpanID)
		}
	}
	lines := s.logLines("decision")
	if len(lines) != 1 || lines[0]["trace_id"] != traceID {
		t.Errorf("decision lines %v, want one with trace_id %s", lines, traceID)
	}
}

// TestNoTracingNoTraceID: without telemetry, a traceparent changes
// nothing: the decision line has no trace_id.
func TestNoTracingNoTraceID(t *testing.T) {
	is := servicetest.NewIssuer(t)
	s := startService(t, servicetest.OwnerConfig(is.URL()), TestHooks{})
	s.waitReady()
	if status, _ := s.check(is.MustMint(t, nil), ""); status != 200 {
		t.Fatalf("status %d", status)
	}
	s.stop()
	for _, line := range s.logLines("decision") {
		if _, ok := line["trace_id"]; ok {
			t.Errorf("decision line with trace_id: %v", line)
		}
	}
}

// TestTracerProviderFromEnvironment: spans are exported when the
// configuration or the OTEL_* variables ask, and not otherwise.
func TestTracerProviderFromEnvironment(t *testing.T) {
	configured := authz.TelemetryConfig{OTLPEndpoint: "127.0.0.1:4317", Insecure: true}
	overHTTP := authz.TelemetryConfig{OTLPEndpoint: "127.0.0.1:4318", Protocol: "http", Insecure: true}
	tests := []struct {
		name    string
		cfg     authz.TelemetryConfig
		env     map[string]string
		want    bool
		wantErr string
	}{
		{"nothing asks", authz.TelemetryConfig{}, nil, false, ""},
		{"configured", configured, nil, true, ""},
		{"configured, over http", overHTTP, nil, true, ""},
		{"configured, SDK disabled", configured, map[string]string{"OTEL_SDK_DISABLED": "true"}, false, ""},
		{"endpoint variable", authz.TelemetryConfig{}, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, ""},
		{"traces endpoint variable, grpc", authz.TelemetryConfig{}, map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true, ""},
		{"exporter otlp", authz.TelemetryConfig{}, map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"exporter none", authz.TelemetryConfig{}, map[string]string{
			"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false, ""},
		{"exporter zipkin", authz.TelemetryConfig{}, map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "OTEL_TRACES_EXPORTER=zipkin"},
		{"protocol json", authz.TelemetryConfig{}, map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, false, "OTEL_EXPORTER_OTLP_PROTOCOL=http/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := newTracerProvider(context.Background(), tt.cfg, func(k string) string { return tt.env[k] }, "dev")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tp != nil; got != tt.want {
				t.Fatalf("exporting %v, want %v", got, tt.want)
			}
			if tp != nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				tp.Shutdown(ctx)
			}
		})
	}
}
