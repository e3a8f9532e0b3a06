// Package tracing continues, in actions-authz's front doors, the trace of
// the proxy that asks them: it reads the W3C Trace Context (traceparent,
// tracestate) that a request carries, starts a server span for the request
// as its child, and child spans for the two steps of a decision that take
// time, verifying the token and evaluating the policy (through authz.Trace).
// Spans are marked with the decision, its reason and the policy; never with
// the token, nor its hash.
//
// The TracerProvider comes from the caller (the binary builds one from its
// configuration); this package sets no global. A front door without a
// Tracer (New(nil) is nil) does no tracing work at all.
package tracing

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
)

// ScopeName is the instrumentation scope of every span this package starts.
const ScopeName = "github.com/actions-authz/actions-authz"

// The names of the child spans of a request's server span.
const (
	SpanVerify   = "verify token"
	SpanEvaluate = "evaluate policy"
)

// The attributes of the spans. Each is set only when it applies.
const (
	// KeyDecision is the outcome: allow, deny, unauthenticated,
	// unavailable or too_large.
	KeyDecision = attribute.Key("actions_authz.decision")
	// KeyReason is the authz.Reason of the decision.
	KeyReason = attribute.Key("actions_authz.reason")
	// KeyDetail refines the reason: why a token was refused (expired,
	// bad_signature, ...), or the unknown policy a route named.
	KeyDetail = attribute.Key("actions_authz.detail")
	// KeyPolicy is the policy that decided.
	KeyPolicy = attribute.Key("actions_authz.policy")
	// KeyRule is the index of the allowing rule.
	KeyRule = attribute.Key("actions_authz.rule")
	// KeyDryRun is true when the policy is in dry_run mode.
	KeyDryRun = attribute.Key("actions_authz.dry_run")
	// KeyShadow is the verdict of the policy's shadow rules.
	KeyShadow = attribute.Key("actions_authz.shadow")
	// KeyTokenValid, on the verify span, says whether the token passed.
	KeyTokenValid = attribute.Key("actions_authz.token_valid")
)

// Tracer starts the spans of a front door. A nil *Tracer starts none.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TraceContext
	steps  *authz.Trace
}

// New returns a Tracer whose spans go to tp, or nil when tp is nil.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return nil
	}
	t := &Tracer{tracer: tp.Tracer(ScopeName)}
	t.steps = &authz.Trace{
		VerifyStart:   t.startStep(SpanVerify),
		VerifyDone:    verifyDone,
		EvaluateStart: t.startStep(SpanEvaluate),
		EvaluateDone:  evaluateDone,
	}
	return t
}

// Start starts the server span of one request, called name, with attrs. Its
// parent is the trace context of the first of carriers that holds a valid
// traceparent; without one the span starts a trace. The returned context
// carries the span, and the authz.Trace that records the decision's steps
// as its children: pass it to authz.Authorizer.Authorize. End the span with
// End. opts may set the start time (trace.WithTimestamp).
func (t *Tracer) Start(ctx context.Context, name string, carriers []propagation.TextMapCarrier, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	for _, c := range carriers {
		if pctx := t.prop.Extract(ctx, c); trace.SpanContextFromContext(pctx).IsValid() {
			ctx = pctx
			break
		}
	}
	opts = append(opts, trace.WithSpanKind(trace.SpanKindServer))
	ctx, span := t.tracer.Start(ctx, name, opts...)
	if span.IsRecording() {
		ctx = authz.WithTrace(ctx, t.steps)
	}
	return ctx, span
}

// End marks span with the decision d and ends it. An Unavailable decision
// (the signing keys could not be had) is an error; a refusal is not, as an
// HTTP server's 4xx is not.
func End(span trace.Span, d *authz.Decision, opts ...trace.SpanEndOption) {
	if span.IsRecording() {
		span.SetAttributes(decisionAttrs(d)...)
		if d.Outcome == authz.Unavailable {
			span.SetStatus(codes.Error, string(d.Reason))
		}
	}
	span.End(opts...)
}

// decisionAttrs returns the attributes that describe d.
func decisionAttrs(d *authz.Decision) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, KeyDecision.String(d.Outcome.String()), KeyReason.String(string(d.Reason)))
	if d.Detail != "" {
		attrs = append(attrs, KeyDetail.String(d.Detail))
	}
	if d.Policy != "" {
		attrs = append(attrs, KeyPolicy.String(d.Policy))
	}
	if d.Outcome == authz.Allow && d.Rule >= 0 {
		attrs = append(attrs, KeyRule.Int(d.Rule))
	}
	if d.DryRun {
		attrs = append(attrs, KeyDryRun.Bool(true))
	}
	if d.Shadow != authz.ShadowNone {
		attrs = append(attrs, KeyShadow.String(d.Shadow.String()))
	}
	return attrs
}

// startStep returns an authz.Trace start hook that starts the child span
// called name. It starts none under a span that is not recording (a trace
// not sampled), so that the done hooks, which end the span they find, find
// no span of theirs and end nothing.
func (t *Tracer) startStep(name string) func(context.Context) context.Context {
	return func(ctx context.Context) context.Context {
		if !trace.SpanFromContext(ctx).IsRecording() {
			return ctx
		}
		ctx, _ = t.tracer.Start(ctx, name)
		return ctx
	}
}

// verifyDone ends the verify span with the verifier's verdict.
func verifyDone(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(KeyTokenValid.Bool(err == nil))
	if err != nil {
		if r := claims.ReasonOf(err); r != "" {
			span.SetAttributes(KeyDetail.String(string(r)))
		}
		if errors.Is(err, claims.ErrKeysUnavailable) {
			span.SetStatus(codes.Error, string(authz.ReasonKeysUnavailable))
		}
	}
	span.End()
}

// evaluateDone ends the evaluate span with the policy's decision.
func evaluateDone(ctx context.Context, d authz.Decision) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(decisionAttrs(&d)...)
	span.End()
}
