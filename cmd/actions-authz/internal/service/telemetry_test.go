package service

import (
	"context"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/claims/devissuer/devissuertest"
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
	is := devissuertest.Start(t, devissuer.Options{})
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
	is := devissuertest.Start(t, devissuer.Options{})
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
