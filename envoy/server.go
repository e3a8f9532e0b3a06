// Package envoy is the Envoy adapter: an envoy.service.auth.v3.Authorization
// server that turns a CheckRequest into an authz.Request, asks the Authorizer,
// and turns the Decision into a CheckResponse. It holds no policy logic.
//
// Every path answers with an explicit status: Envoy treats an empty
// CheckResponse as allow, so there is none. A deny is a CheckResponse with a
// denied_response, never a Go error; the handler returns an error only when
// the request itself cannot be read.
package envoy

import (
	"context"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/tracing"
)

// PolicyKey is the context_extensions key that names the policy for a route:
// typed_per_filter_config ... check_settings: {context_extensions: {policy: NAME}}.
const PolicyKey = "policy"

// DefaultTimeout bounds a Check whose caller set no deadline, or a later one.
// Envoy's own ext_authz timeout defaults to 200ms, and Envoy sends it.
const DefaultTimeout = time.Second

// Options configures a Server.
type Options struct {
	// Authorizer decides every request. Required.
	Authorizer *authz.Authorizer
	// Observe, if set, sees every decision.
	Observe authz.ObserveFunc
	// Timeout bounds each Check, in particular its wait for a key refresh
	// when a token names an unknown kid, even when Envoy sent no deadline.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// TracerProvider, if set, receives a server span for every Check, the
	// child of the trace context the call carries (see package tracing),
	// with children for the token's verification and the policy's
	// evaluation. Nil means no tracing, at no cost.
	TracerProvider trace.TracerProvider
}

// Server implements authv3.AuthorizationServer.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	authorizer *authz.Authorizer
	observe    authz.ObserveFunc
	timeout    time.Duration
	tracer     *tracing.Tracer // nil: no tracing
}

// NewServer returns a Check server over opts.Authorizer.
func NewServer(opts Options) *Server {
	s := &Server{authorizer: opts.Authorizer, observe: opts.Observe, timeout: opts.Timeout,
		tracer: tracing.New(opts.TracerProvider)}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	return s
}

// Check answers one ext_authz request, within the caller's deadline or the
// server's Timeout, whichever comes first. A request whose headers do not
// fit authz's bounds (authz.HeadersFit) is refused with 431 before they are
// read into an authz.Request.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	start := time.Now()
	httpReq := req.GetAttributes().GetRequest().GetHttp()
	if httpReq == nil {
		return nil, status.Error(codes.InvalidArgument, "check request has no attributes.request.http")
	}
	// Envoy always sends its deadline; only a missing or longer one costs
	// a timer here.
	if d, ok := ctx.Deadline(); !ok || d.Sub(start) > s.timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, start.Add(s.timeout))
		defer cancel()
	}
	var span trace.Span
	if s.tracer != nil {
		ctx, span = s.startSpan(ctx, httpReq, start)
	}
	var (
		r authz.Request
		d authz.Decision
	)
	if headersFit(httpReq) {
		r = RequestFrom(req)
		d = s.authorizer.Authorize(ctx, r)
	} else {
		r = authz.Request{Method: httpReq.GetMethod(), Host: httpReq.GetHost(), Path: httpReq.GetPath()}
		d = authz.HeadersTooLarge()
	}
	resp := Response(&d)
	if span != nil {
		tracing.End(span, &d)
	}
	if s.observe != nil {
		s.observe(ctx, &r, &d, time.Since(start))
	}
	return resp, nil
}

// headersFit reports whether the headers RequestFrom reads (header_map when
// Envoy sends raw headers, else the map) are within authz.MaxHeaders and
// authz.MaxHeaderBytes, counting each header_map entry and the length of its
// name and value.
func headersFit(h *authv3.AttributeContext_HttpRequest) bool {
	size := 0
	if raw := h.GetHeaderMap().GetHeaders(); len(raw) > 0 {
		if len(raw) > authz.MaxHeaders {
			return false
		}
		for _, hv := range raw {
			v := len(hv.GetRawValue())
			if v == 0 {
				v = len(hv.GetValue())
			}
			size += len(hv.GetKey()) + v
		}
		return authz.HeadersFit(len(raw), size)
	}
	headers := h.GetHeaders()
	if len(headers) > authz.MaxHeaders {
		return false
	}
	for k, v := range headers {
		size += len(k) + len(v)
	}
	return authz.HeadersFit(len(headers), size)
}

// mapHint is the most headers RequestFrom sizes its map for up front: more
// than a real request has (a dozen to a few dozen).
const mapHint = 64

// RequestFrom translates an Envoy CheckRequest into an authz.Request: the
// method, host and path of the original request, its headers with lower-case
// names (from header_map when Envoy sends raw headers, duplicates joined with
// a comma as Envoy does in the plain map), and the policy named by the route's
// context_extensions.
func RequestFrom(req *authv3.CheckRequest) authz.Request {
	attrs := req.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	headers := h.GetHeaders()
	if raw := h.GetHeaderMap().GetHeaders(); len(raw) > 0 {
		// Raw values become strings in one allocation, each a slice of it.
		n := 0
		for _, hv := range raw {
			n += len(hv.GetRawValue())
		}
		var b strings.Builder
		b.Grow(n)
		for _, hv := range raw {
			b.Write(hv.GetRawValue())
		}
		values := b.String()
		// Sized for a real request's headers, not for len(raw): copies of
		// one header would make a large map of a few names.
		headers = make(map[string]string, min(len(raw), mapHint))
		var rep repeats
		for _, hv := range raw {
			k := strings.ToLower(hv.GetKey())
			v := hv.GetValue()
			if rv := hv.GetRawValue(); len(rv) > 0 {
				v, values = values[:len(rv)], values[len(rv):]
			}
			if prev, ok := headers[k]; ok {
				rep.add(k, prev, v, len(raw))
				continue
			}
			headers[k] = v
		}
		rep.join(headers)
	}
	r := authz.Request{
		Policy:  attrs.GetContextExtensions()[PolicyKey],
		Method:  h.GetMethod(),
		Host:    h.GetHost(),
		Path:    h.GetPath(),
		Headers: headers,
	}
	if r.Method == "" {
		r.Method = headers[":method"]
	}
	if r.Host == "" {
		r.Host = headers[":authority"]
	}
	if r.Path == "" {
		r.Path = headers[":path"]
	}
	return r
}

// repeats gathers the values of the headers sent more than once, so that
// each one's values are joined once, at the end, into a string of its exact
// size. Joining them as they come (prev + "," + v) copies the earlier values
// again for every copy: time and memory quadratic in the number of copies,
// a third of a second and a gigabyte for the 30,000 copies of one header
// that a 256 KiB CheckRequest can hold.
type repeats struct {
	lists map[string]valueList // by header name
	vals  []repeated           // every value of a repeated header
}

// valueList is the values of one repeated header, in order: a chain through
// repeats.vals from first to last, and the length of their join.
type valueList struct{ first, last, size int }

// repeated is one value of a repeated header and the index of the next
// value of the same header in repeats.vals, or -1.
type repeated struct {
	value string
	next  int
}

// add records v, a further value of the header name whose values so far are
// prev (its first value, or the ones add saw already); n is the number of
// headers of the request, which bounds the number of values to keep.
func (r *repeats) add(name, prev, v string, n int) {
	if r.lists == nil {
		r.lists = make(map[string]valueList)
		r.vals = make([]repeated, 0, n)
	}
	l, ok := r.lists[name]
	if !ok {
		r.vals = append(r.vals, repeated{value: prev, next: -1})
		l = valueList{first: len(r.vals) - 1, last: len(r.vals) - 1, size: len(prev)}
	}
	r.vals = append(r.vals, repeated{value: v, next: -1})
	r.vals[l.last].next = len(r.vals) - 1
	l.last = len(r.vals) - 1
	l.size += 1 + len(v)
	r.lists[name] = l
}

// join sets each repeated header in headers to its values joined with ",",
// as Envoy joins them in the plain map.
func (r *repeats) join(headers map[string]string) {
	for name, l := range r.lists {
		var b strings.Builder
		b.Grow(l.size)
		for i := l.first; i >= 0; i = r.vals[i].next {
			if i != l.first {
				b.WriteByte(',')
			}
			b.WriteString(r.vals[i].value)
		}
		headers[name] = b.String()
	}
}
