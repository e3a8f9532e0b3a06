package authz

import "context"

// Trace holds hooks that Authorize calls around the two steps of a decision
// that take time, verifying the token and evaluating the policy, so that a
// front door can record them (as trace spans) without authz knowing of a
// tracer. It is attached to a context with WithTrace, as net/http/httptrace
// attaches a ClientTrace. Any hook may be nil.
//
// The hooks are called only for a request whose token reaches the step: a
// request no policy covers, or that carries no usable token, has neither.
type Trace struct {
	// VerifyStart is called before the token is verified; the verifier
	// runs with the context it returns.
	VerifyStart func(ctx context.Context) context.Context
	// VerifyDone is called with that context when the verifier returns,
	// with its error: nil when the token is valid.
	VerifyDone func(ctx context.Context, err error)
	// EvaluateStart is called before the policy is evaluated against the
	// verified claims.
	EvaluateStart func(ctx context.Context) context.Context
	// EvaluateDone is called with the context EvaluateStart returned and
	// the decision of the policy. The decision is a copy: a pointer would
	// move every request's Decision to the heap, hooks or none.
	EvaluateDone func(ctx context.Context, d Decision)
}

type traceKey struct{}

// WithTrace returns a copy of ctx whose Authorize calls report to t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// ContextTrace returns the Trace attached to ctx, or nil.
func ContextTrace(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// noTrace stands for the Trace of a context that has none.
var noTrace Trace

// traceStart calls hook, a VerifyStart or EvaluateStart, when it is set, and
// returns the context it returns; without a hook, ctx.
func traceStart(ctx context.Context, hook func(context.Context) context.Context) context.Context {
	if hook == nil {
		return ctx
	}
	return hook(ctx)
}

// traceDone calls hook, a VerifyDone or EvaluateDone, with v when it is set.
func traceDone[T any](ctx context.Context, hook func(context.Context, T), v T) {
	if hook != nil {
		hook(ctx, v)
	}
}
