package envoy

import (
	"context"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	grpcmd "google.golang.org/grpc/metadata"
)

// checkSpanAttrs are the server span's RPC attributes.
var checkSpanAttrs = []attribute.KeyValue{
	attribute.String("rpc.system", "grpc"),
	attribute.String("rpc.service", "envoy.service.auth.v3.Authorization"),
	attribute.String("rpc.method", "Check"),
}

// checkSpanName is the server span's name, as OpenTelemetry names gRPC
// server spans: package.Service/Method.
const checkSpanName = "envoy.service.auth.v3.Authorization/Check"

// startSpan starts the server span of one Check, from start, as the child
// of the trace context the call carries: first the gRPC metadata of the
// call, where Envoy's tracer puts the context of its ext_authz span; else
// the headers of the request being authorized, where a client or a proxy in
// front of Envoy put theirs.
func (s *Server) startSpan(ctx context.Context, h *authv3.AttributeContext_HttpRequest, start time.Time) (context.Context, trace.Span) {
	carriers := []propagation.TextMapCarrier{metadataCarrier{ctx}, headersCarrier{h}}
	return s.tracer.Start(ctx, checkSpanName, carriers, trace.WithTimestamp(start), trace.WithAttributes(checkSpanAttrs...))
}

// metadataCarrier reads the incoming gRPC metadata of a call. It only
// reads: Set does nothing.
type metadataCarrier struct{ ctx context.Context }

func (c metadataCarrier) Get(key string) string {
	if v := grpcmd.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (metadataCarrier) Set(string, string) {}

func (c metadataCarrier) Keys() []string {
	md, _ := grpcmd.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}

// headersCarrier reads the headers of the request being authorized: from
// header_map when Envoy sends raw headers, else from the plain map, whose
// keys Envoy sends lower-case. It only reads: Set does nothing.
type headersCarrier struct {
	h *authv3.AttributeContext_HttpRequest
}

func (c headersCarrier) Get(key string) string {
	if raw := c.h.GetHeaderMap().GetHeaders(); len(raw) > 0 {
		for _, hv := range raw {
			if strings.EqualFold(hv.GetKey(), key) {
				if rv := hv.GetRawValue(); len(rv) > 0 {
					return string(rv)
				}
				return hv.GetValue()
			}
		}
		return ""
	}
	return c.h.GetHeaders()[key]
}

func (headersCarrier) Set(string, string) {}

func (c headersCarrier) Keys() []string {
	if raw := c.h.GetHeaderMap().GetHeaders(); len(raw) > 0 {
		keys := make([]string, 0, len(raw))
		for _, hv := range raw {
			keys = append(keys, strings.ToLower(hv.GetKey()))
		}
		return keys
	}
	keys := make([]string, 0, len(c.h.GetHeaders()))
	for k := range c.h.GetHeaders() {
		keys = append(keys, k)
	}
	return keys
}
