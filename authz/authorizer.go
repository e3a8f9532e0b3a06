package authz

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/claims"
)

// TokenVerifier turns a raw token into verified claims. A *claims.Verifier
// is one. Its errors are claims.Error values: errors.Is(err,
// claims.ErrKeysUnavailable) means the token could not be checked.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*claims.Claims, error)
}

// Authorizer answers for a front door: it finds the token in the request,
// verifies it and asks the current Engine. It is safe for concurrent use.
// SetEngine swaps the policy atomically on reload, and Replace swaps the
// verifier and the policy together, when a reload changes the issuers or
// audiences.
type Authorizer struct {
	current atomic.Pointer[authorizerState]
	mu      sync.Mutex // serializes writers; readers only load current
}

// authorizerState is what one request uses from start to end: a reload
// replaces it whole, so no request mixes an old verifier and a new policy.
type authorizerState struct {
	verifier TokenVerifier
	summing  SummingVerifier // verifier, when it is one; else nil
	engine   *Engine
}

// SummingVerifier is a TokenVerifier that also returns the SHA-256 of the
// raw token, which it computes itself, whatever the outcome. A
// *claims.Verifier is one: its cache is keyed by that digest, so the
// Authorizer takes the TokenHash from it instead of hashing the token again.
type SummingVerifier interface {
	TokenVerifier
	VerifySum(ctx context.Context, raw string) (*claims.Claims, [32]byte, error)
}

// newState returns the state for v and e.
func newState(v TokenVerifier, e *Engine) *authorizerState {
	st := &authorizerState{verifier: v, engine: e}
	st.summing, _ = v.(SummingVerifier)
	return st
}

// NewAuthorizer returns an Authorizer that verifies tokens with v and
// decides with e.
func NewAuthorizer(v TokenVerifier, e *Engine) *Authorizer {
	a := &Authorizer{}
	a.current.Store(newState(v, e))
	return a
}

// SetEngine replaces the Engine; requests already running finish with the
// old one.
func (a *Authorizer) SetEngine(e *Engine) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.current.Store(newState(a.current.Load().verifier, e))
}

// Replace replaces the verifier and the Engine at once; requests already
// running finish with the old pair, requests starting later use the new one.
func (a *Authorizer) Replace(v TokenVerifier, e *Engine) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.current.Store(newState(v, e))
}

// Engine returns the current Engine.
func (a *Authorizer) Engine() *Engine { return a.current.Load().engine }

// Verifier returns the current verifier.
func (a *Authorizer) Verifier() TokenVerifier { return a.current.Load().verifier }

// Authorize decides one request. The policy is selected first, so that a
// request no policy covers is denied without the cost of verifying its token,
// and every later refusal names the policy. Then the token is taken from the
// engine's token header: missing, or not a Bearer credential, is
// ReasonMissingToken; several credentials or characters a JWT cannot hold is
// ReasonInvalidRequest; both are Unauthenticated. A token that fails
// verification is Unauthenticated with ReasonInvalidToken (Detail holds the
// claims.Reason), and one whose issuer has no usable keys is Unavailable.
// Otherwise the verified claims go to the policy as in Engine.Decide. Every
// decision about a token carries its TokenHash, for logs.
//
// A Trace attached to ctx (WithTrace) is told when verification and the
// policy's evaluation start and end.
//
// Front doors refuse a request whose headers do not fit (HeadersFit) before
// they build r; a Request with more than MaxHeaders header names, however
// it was built, is refused here as well, with HeadersTooLarge.
func (a *Authorizer) Authorize(ctx context.Context, r Request) Decision {
	if len(r.Headers) > MaxHeaders {
		return HeadersTooLarge()
	}
	st := a.current.Load()
	e := st.engine
	p, reason, pathErr := e.route(&r)
	if p == nil {
		return e.noPolicy(reason, r.Policy, pathErr)
	}
	raw, reason, desc := extractToken(e.c.TokenHeader, r.Headers)
	if reason != "" {
		return Decision{Outcome: Unauthenticated, Reason: reason, Description: desc, Policy: p.Name, Rule: -1, DryRun: p.DryRun}
	}
	var (
		c    *claims.Claims
		err  error
		hash TokenHash
	)
	tr := ContextTrace(ctx)
	if tr == nil {
		tr = &noTrace
	}
	vctx := traceStart(ctx, tr.VerifyStart)
	if st.summing != nil {
		var sum [32]byte
		c, sum, err = st.summing.VerifySum(vctx, raw)
		hash = TokenHash(sum[:len(TokenHash{})])
	} else {
		hash = HashToken(raw)
		c, err = st.verifier.Verify(vctx, raw)
	}
	traceDone(vctx, tr.VerifyDone, err)
	if err != nil || c == nil {
		d := verifyFailure(err, p)
		d.TokenHash = hash
		return d
	}
	ectx := traceStart(ctx, tr.EvaluateStart)
	d := e.decide(p, c, r.Headers)
	traceDone(ectx, tr.EvaluateDone, d)
	d.TokenHash = hash
	return d
}

// verifyFailure is the decision for a token the verifier refused.
func verifyFailure(err error, p *policy.Policy) Decision {
	d := Decision{Outcome: Unauthenticated, Reason: ReasonInvalidToken, Policy: p.Name, Rule: -1, DryRun: p.DryRun,
		Detail: string(claims.ReasonOf(err)), Description: "the token is not valid"}
	if errors.Is(err, claims.ErrKeysUnavailable) {
		d.Outcome, d.Reason = Unavailable, ReasonKeysUnavailable
		d.Description = "the signing keys for the token's issuer are unavailable; retry later"
	}
	var ce *claims.Error
	if errors.As(err, &ce) && ce.Description != "" {
		d.Description = ce.Description
	}
	return d
}

// extractToken returns the raw JWT from headers, or the reason and a
// client-safe description of why there is none.
func extractToken(header string, headers map[string]string) (raw string, reason Reason, desc string) {
	v := strings.TrimSpace(headers[header])
	if v == "" {
		return "", ReasonMissingToken, "a bearer token is required"
	}
	if header == "authorization" {
		scheme, rest, _ := strings.Cut(v, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			if strings.Contains(v, ",") {
				return "", ReasonInvalidRequest, "several credentials in the authorization header"
			}
			return "", ReasonMissingToken, "a bearer token is required"
		}
		v = strings.TrimLeft(rest, " ")
	}
	switch {
	case v == "":
		return "", ReasonInvalidRequest, "the bearer token is empty"
	case claims.CompactAlphabet(v):
		return v, "", ""
	case strings.ContainsAny(v, ", \t"):
		return "", ReasonInvalidRequest, "several tokens in the " + header + " header"
	}
	return "", ReasonInvalidRequest, "the token holds characters a JWT cannot have"
}
