// Package forwardauth is the HTTP front door: the same decision as the Envoy
// gRPC server, answered over plain HTTP for proxies that call an
// authorization service that way. One Handler serves two modes on one
// listener:
//
//   - Envoy http_service mode, under EnvoyPrefix: Envoy's ext_authz filter
//     sends the original method, and the prefix followed by the original path
//     and query. Allow is exactly 200 with the identity headers to copy
//     upstream (allowed_upstream_headers) and x-envoy-auth-headers-to-remove;
//     a refusal is relayed to the client as it is: status, WWW-Authenticate or
//     Retry-After, and a JSON body.
//   - Forward-auth mode, at VerifyPath (nginx auth_request, Caddy
//     forward_auth, Traefik forwardAuth): the proxy describes the original
//     request in X-Forwarded-Method, X-Forwarded-Uri and X-Forwarded-Host, or
//     X-Original-Method, X-Original-URI and X-Original-Host; when both names
//     of a pair are sent they must agree, and each may be sent once. A
//     request without the method or the URI is refused with 403, and one
//     without a host matches no policy that lists hosts. Allow is 200 with
//     every configured identity header, an absent claim as an empty header;
//     a refusal is 401 with WWW-Authenticate, 403, or 503 with Retry-After,
//     and nothing else, because nginx turns any other status into a 500
//     (but for the 431 below, which nginx's own header limits, far lower,
//     keep from happening).
//
// In both modes, a request with more headers than the gRPC door reads
// (authz.HeadersFit) is refused with 431 and a JSON body, as it is there,
// before its headers are read into an authz.Request.
//
// The policy is chosen as on the gRPC path: by its match section, or by name
// in forward-auth mode with VerifyPath + "/" + name, a path that only the
// proxy's configuration can set. Envoy http_service mode selects by match
// only.
//
// The forwarded headers are believed as the proxy sends them, so the listener
// must be reachable only by the proxy: bind it to loopback or an internal
// network. They are never read on the gRPC path.
package forwardauth

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/tracing"
)

// The paths the Handler answers; anything else is 404.
const (
	// EnvoyPrefix is the path_prefix to give Envoy's http_service: a request
	// to EnvoyPrefix + "/deploy/x?y" authorizes "/deploy/x?y", whatever its
	// method.
	EnvoyPrefix = "/envoy"
	// VerifyPath is the forward-auth endpoint. VerifyPath + "/" + name
	// selects the policy called name, as Envoy's context_extensions do; a
	// name no policy has is denied.
	VerifyPath = "/auth/verify"
)

// MaxHeaderBytes bounds the request headers the server returned by NewServer
// reads, request line included; net/http answers a plain 431 beyond it. It
// leaves room above authz.MaxHeaderBytes, which counts names and values
// only, so that the Handler refuses a request over the bounds itself, with
// the JSON body and the metric of the gRPC door.
const MaxHeaderBytes = authz.MaxHeaderBytes + 32<<10

// Forward-auth request headers that describe the original request. Each
// value comes from the first name, or else the second; when both are sent
// they must agree.
var (
	methodHeaders = [2]string{"X-Forwarded-Method", "X-Original-Method"}
	uriHeaders    = [2]string{"X-Forwarded-Uri", "X-Original-Uri"}
	hostHeaders   = [2]string{"X-Forwarded-Host", "X-Original-Host"}
)

// headersToRemove is the response header Envoy's http_service reads on an
// allow: a comma-separated list of request headers to strip before the
// request goes upstream.
const headersToRemove = "X-Envoy-Auth-Headers-To-Remove"

var retryAfter = strconv.Itoa(authz.RetryAfterSeconds)

// Options configures a Handler.
type Options struct {
	// Authorizer decides every request. Required.
	Authorizer *authz.Authorizer
	// Observe, if set, sees every decision, as on the gRPC path.
	Observe authz.ObserveFunc
	// Logger, if set, receives the HTTP server's own errors (NewServer).
	Logger *slog.Logger
	// Timeout bounds each decision, in particular its wait for a key
	// refresh on an unknown kid. Zero means DefaultTimeout.
	Timeout time.Duration
	// TracerProvider, if set, receives a server span for every decision,
	// the child of the traceparent the request carries (see package
	// tracing), as on the gRPC path. Nil means no tracing, at no cost.
	TracerProvider trace.TracerProvider
}

// DefaultTimeout bounds a decision when Options.Timeout is zero, as the gRPC
// front door does.
const DefaultTimeout = time.Second

// Handler answers authorization requests over HTTP in both modes. It is safe
// for concurrent use.
type Handler struct {
	authorizer *authz.Authorizer
	observe    authz.ObserveFunc
	timeout    time.Duration
	tracer     *tracing.Tracer // nil: no tracing
}

// New returns a Handler over opts.Authorizer.
func New(opts Options) *Handler {
	h := &Handler{authorizer: opts.Authorizer, observe: opts.Observe, timeout: opts.Timeout,
		tracer: tracing.New(opts.TracerProvider)}
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	return h
}

// NewServer returns an http.Server for a Handler over opts, with read, write
// and idle timeouts and MaxHeaderBytes. The caller runs it with Serve on its
// listener and stops it with Shutdown.
func NewServer(opts Options) *http.Server {
	srv := &http.Server{
		Handler:           New(opts),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if opts.Logger != nil {
		srv.ErrorLog = slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn)
	}
	return srv
}

// ServeHTTP dispatches on the path: Envoy http_service mode under
// EnvoyPrefix, forward-auth mode at VerifyPath, 404 elsewhere. The request
// body is never read.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now() // the decision's duration counts the reading of the request, as on gRPC
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case strings.HasPrefix(r.RequestURI, EnvoyPrefix+"/"):
		req := authz.Request{
			Method: r.Method,
			Host:   r.Host,
			Path:   r.RequestURI[len(EnvoyPrefix):],
		}
		bad := tooLarge(r.Header)
		if bad == nil {
			req.Headers = headerMap(r.Header)
		}
		d := h.decide(r, EnvoyPrefix, start, &req, bad)
		if d.Outcome == authz.Allow {
			writeEnvoyAllow(w, &d)
			return
		}
		writeRefusal(w, &d)
	case r.URL.Path == VerifyPath || strings.HasPrefix(r.URL.Path, VerifyPath+"/"):
		req, bad := forwardedRequest(r)
		d := h.decide(r, VerifyPath, start, &req, bad)
		if d.Outcome == authz.Allow {
			writeForwardAllow(w, &d)
			return
		}
		writeRefusal(w, &d)
	default:
		http.NotFound(w, r)
	}
}

// decide asks the Authorizer about req, the original request that r
// describes, unless bad already refuses it, and reports the decision to
// Observe with its duration since start. With a tracer, the decision is a
// server span named after r's method and route.
func (h *Handler) decide(r *http.Request, route string, start time.Time, req *authz.Request, bad *authz.Decision) (d authz.Decision) {
	ctx := r.Context()
	if h.tracer != nil {
		var span trace.Span
		ctx, span = h.tracer.Start(ctx, r.Method+" "+route, []propagation.TextMapCarrier{propagation.HeaderCarrier(r.Header)},
			trace.WithTimestamp(start), trace.WithAttributes(
				attribute.String("http.request.method", r.Method), attribute.String("http.route", route)))
		defer func() {
			span.SetAttributes(attribute.Int("http.response.status_code", d.Outcome.HTTPStatus()))
			tracing.End(span, &d)
		}()
	}
	if bad != nil {
		d = *bad
	} else {
		ctx, cancel := context.WithTimeout(ctx, h.timeout)
		d = h.authorizer.Authorize(ctx, *req)
		cancel()
	}
	if h.observe != nil {
		h.observe(ctx, req, &d, time.Since(start))
	}
	return d
}

// forwardedRequest reads the original request a forward-auth proxy
// describes. The policy name is the path below VerifyPath, if any. When the
// headers do not fit authz's bounds, it returns a 431 decision as well. When
// the original method or URI is missing, repeated, or given differently
// under the two header names, it returns a 403 decision: the proxy is
// misconfigured, or a client is trying to pass its own description through.
// A missing host is left empty, so that no host match can hold.
func forwardedRequest(r *http.Request) (authz.Request, *authz.Decision) {
	var req authz.Request
	if bad := tooLarge(r.Header); bad != nil {
		// For the log line only.
		req.Method, _ = forwarded(r.Header, methodHeaders)
		req.Path, _ = forwarded(r.Header, uriHeaders)
		req.Host, _ = forwarded(r.Header, hostHeaders)
		return req, bad
	}
	req.Headers = headerMap(r.Header)
	if name, ok := strings.CutPrefix(r.URL.Path, VerifyPath+"/"); ok {
		req.Policy = name
		if name == "" {
			return req, invalid("the authorization URL names an empty policy")
		}
	}
	method, okMethod := forwarded(r.Header, methodHeaders)
	uri, okURI := forwarded(r.Header, uriHeaders)
	host, okHost := forwarded(r.Header, hostHeaders)
	req.Method, req.Path, req.Host = method, uri, host
	switch {
	case !okMethod || !okURI || !okHost:
		return req, invalid("the proxy sent conflicting descriptions of the original request")
	case method == "" || uri == "":
		return req, invalid("the proxy did not send the original method and URI (X-Forwarded-Method, X-Forwarded-Uri)")
	case uri[0] != '/':
		return req, invalid("the original URI must be a path")
	}
	return req, nil
}

// forwarded returns the value of the first of names that is present, and
// false when either is repeated or both are present with different values.
func forwarded(h http.Header, names [2]string) (string, bool) {
	first, second := h.Values(names[0]), h.Values(names[1])
	if len(first) > 1 || len(second) > 1 {
		return "", false
	}
	switch {
	case len(first) == 1 && len(second) == 1 && first[0] != second[0]:
		return "", false
	case len(first) == 1:
		return first[0], true
	case len(second) == 1:
		return second[0], true
	}
	return "", true
}

// invalid is the 403 for a forward-auth request that does not say what to
// authorize.
func invalid(description string) *authz.Decision {
	return &authz.Decision{Outcome: authz.Deny, Reason: authz.ReasonInvalidRequest, Description: description, Rule: -1}
}

// tooLarge returns the 431 decision when the header fields of h, each value
// of a repeated header counted, do not fit authz's bounds, and nil when they
// do.
func tooLarge(h http.Header) *authz.Decision {
	n, size := 0, 0
	for name, values := range h {
		n += len(values)
		for _, v := range values {
			size += len(name) + len(v)
		}
		if !authz.HeadersFit(n, size) {
			d := authz.HeadersTooLarge()
			return &d
		}
	}
	return nil
}

// headerMap returns h with lower-case names, repeated headers joined with
// "," as Envoy joins them for the gRPC server.
func headerMap(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for name, values := range h {
		m[strings.ToLower(name)] = strings.Join(values, ",")
	}
	return m
}

// writeEnvoyAllow answers an allow to Envoy's http_service: exactly 200, the
// identity headers that have a value, and x-envoy-auth-headers-to-remove with
// the token header, the client's identity headers that are not set and those
// whose claim is absent (Envoy would drop an empty one, letting the client's
// copy through), as the gRPC response removes them.
func writeEnvoyAllow(w http.ResponseWriter, d *authz.Decision) {
	hdr := w.Header()
	remove := d.Remove
	for _, s := range d.Set {
		if s.Value == "" {
			remove = append(remove[:len(remove):len(remove)], s.Name)
			continue
		}
		hdr.Set(s.Name, s.Value)
	}
	if len(remove) > 0 {
		hdr.Set(headersToRemove, strings.Join(remove, ","))
	}
	w.WriteHeader(http.StatusOK)
}

// writeForwardAllow answers an allow to a forward-auth proxy: 200 with every
// identity header, empty when its claim is absent. Leaving one out would let
// some proxies pass the client's own copy, or a placeholder, upstream.
func writeForwardAllow(w http.ResponseWriter, d *authz.Decision) {
	hdr := w.Header()
	for _, s := range d.Set {
		hdr[http.CanonicalHeaderKey(s.Name)] = []string{s.Value}
	}
	w.WriteHeader(http.StatusOK)
}

// writeRefusal answers a refusal in either mode: 401 with WWW-Authenticate,
// 403, or 503 with Retry-After, and the decision's JSON body, which never
// holds the token.
func writeRefusal(w http.ResponseWriter, d *authz.Decision) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	if c := d.WWWAuthenticate(); c != "" {
		hdr.Set("WWW-Authenticate", c)
	}
	if d.Outcome == authz.Unavailable {
		hdr.Set("Retry-After", retryAfter)
	}
	status, body := d.Outcome.HTTPStatus(), d.Body()
	if status == http.StatusOK || body == nil { // an Allow never gets here; fail closed all the same
		status, body = http.StatusForbidden, []byte(`{"error":"access_denied"}`)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
