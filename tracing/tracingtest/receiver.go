// Package tracingtest is an OTLP trace receiver for tests: a gRPC server on
// 127.0.0.1 that keeps the spans exported to it, from actions-authz and
// from Envoy's OpenTelemetry tracer alike.
package tracingtest

import (
	"context"
	"encoding/hex"
	"net"
	"strconv"
	"sync"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// Span is a received span, with its IDs in hex as traceparent writes them.
type Span struct {
	Service    string // the service.name of its resource
	Name       string
	Kind       tracepb.Span_SpanKind
	TraceID    string
	SpanID     string
	ParentID   string // "" for a root span
	Attributes map[string]string
	Status     tracepb.Status_StatusCode
}

// Receiver is a running OTLP/gRPC trace receiver.
type Receiver struct {
	collectorpb.UnimplementedTraceServiceServer
	lis net.Listener
	srv *grpc.Server

	mu      sync.Mutex
	spans   []Span
	changed chan struct{} // closed and replaced whenever spans arrive
}

// Start starts a Receiver on 127.0.0.1. Stop it with Stop.
func Start() (*Receiver, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{lis: lis, srv: grpc.NewServer(), changed: make(chan struct{})}
	collectorpb.RegisterTraceServiceServer(r.srv, r)
	go r.srv.Serve(lis)
	return r, nil
}

// Addr is the receiver's host:port.
func (r *Receiver) Addr() string { return r.lis.Addr().String() }

// Stop stops the receiver.
func (r *Receiver) Stop() { r.srv.Stop() }

// Export keeps the spans of req. It is the OTLP TraceService's method.
func (r *Receiver) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		service := attributes(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, Span{
					Service:    service,
					Name:       s.GetName(),
					Kind:       s.GetKind(),
					TraceID:    hex.EncodeToString(s.GetTraceId()),
					SpanID:     hex.EncodeToString(s.GetSpanId()),
					ParentID:   hex.EncodeToString(s.GetParentSpanId()),
					Attributes: attributes(s.GetAttributes()),
					Status:     s.GetStatus().GetCode(),
				})
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

// Spans returns the spans received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Wait waits, at most for within, until done holds for the spans received
// so far, and returns them and whether it held.
func (r *Receiver) Wait(within time.Duration, done func([]Span) bool) ([]Span, bool) {
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	for {
		r.mu.Lock()
		spans, changed := append([]Span(nil), r.spans...), r.changed
		r.mu.Unlock()
		if done(spans) {
			return spans, true
		}
		select {
		case <-changed:
		case <-timeout.C:
			return spans, false
		}
	}
}

// attributes flattens OTLP attributes to strings, as %v would print them.
func attributes(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = x.StringValue
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = strconv.FormatBool(x.BoolValue)
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = strconv.FormatInt(x.IntValue, 10)
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}
