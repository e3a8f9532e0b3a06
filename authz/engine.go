package authz

import (
	"slices"
	"strings"

	"github.com/actions-authz/actions-authz/authz/internal/httpsyntax"
	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/authz/internal/route"
	"github.com/actions-authz/actions-authz/authz/internal/urlpath"
	"github.com/actions-authz/actions-authz/claims"
)

// Engine is a compiled configuration: every pattern compiled, every claim
// name resolved and every header name computed once, by config.Parse. It is
// immutable and safe for concurrent use; a reload builds a new one.
type Engine struct {
	c policy.Compiled
}

// NewEngine returns the Engine of a compiled configuration. Engines come
// from config.Parse and config.Load (see config.Config.Engine), which
// compile the file into c; c must not change afterwards.
func NewEngine(c *policy.Compiled) *Engine { return &Engine{c: *c} }

// Request is what a front door knows about the HTTP request being
// authorized.
type Request struct {
	// Policy is the name the route asks for (Envoy context_extensions
	// "policy"), or "" to select the policy by match.
	Policy string
	Method string
	Host   string // the Host or :authority value, port included if sent
	// Path is the request target as the client sent it, query string
	// included. It is untrusted: policies' path prefixes are compared with
	// its normal form (dot segments removed, slashes merged, unreserved
	// characters decoded), and a path with no safe normal form is refused
	// (ReasonInvalidPath) when a path prefix must be compared with it.
	Path string
	// Headers are the request headers with lower-case names; repeated
	// headers joined with "," as Envoy sends them.
	Headers map[string]string
}

// Input is what Decide evaluates: the request and the verified token claims.
type Input struct {
	Request
	Claims *claims.Claims
}

// Description of a deny when no policy applies: safe for the client.
const noPolicyDescription = "no policy for this route"

// Decide selects the policy for the request, checks the token's audience
// against it and evaluates its rules. It is pure: no I/O, nothing compiled,
// nothing allocated on a deny beyond the result.
//
// A route naming a policy that does not exist is denied (ReasonUnknownPolicy),
// never allowed; a request no policy matches is denied (ReasonNoPolicy), and
// so is one whose path must be compared with a policy's path prefixes but has
// no safe normal form (ReasonInvalidPath: an encoded slash, a ";" parameter,
// an encoded dot segment, and so on; see package urlpath). A token whose
// audience the policy does not accept is Unauthenticated (ReasonAudience).
// Otherwise the first rule whose conditions all hold allows; when none does,
// the request is denied (ReasonNoRuleMatched) unless the policy is in dry_run
// mode, which allows it with ReasonDryRun. A policy with shadow rules has
// them evaluated too, and their verdict recorded in Decision.Shadow; they
// never change the outcome.
func (e *Engine) Decide(in Input) Decision {
	p, reason, err := e.route(&in.Request)
	if p == nil {
		return e.noPolicy(reason, in.Policy, err)
	}
	return e.decide(p, in.Claims, in.Headers)
}

// route returns the policy for r, or nil and the reason there is none, with
// the path's error for ReasonInvalidPath. A policy named by the route is
// taken whatever the path: the proxy has routed the request already.
func (e *Engine) route(r *Request) (*policy.Policy, Reason, error) {
	if r.Policy != "" {
		if p, ok := e.c.ByName[r.Policy]; ok {
			return p, "", nil
		}
		return nil, ReasonUnknownPolicy, nil
	}
	path := route.NewPath(r.Path)
	for _, p := range e.c.Routed {
		ok, err := p.Match.Matches(r.Method, r.Host, &path)
		if err != nil {
			return nil, ReasonInvalidPath, err
		}
		if ok {
			return p, "", nil
		}
	}
	return nil, ReasonNoPolicy, nil
}

// noPolicy is the deny when route finds no policy; err is the path's error
// for ReasonInvalidPath.
func (e *Engine) noPolicy(reason Reason, name string, err error) Decision {
	d := Decision{Outcome: Deny, Reason: reason, Description: noPolicyDescription, Rule: -1}
	switch reason {
	case ReasonUnknownPolicy:
		d.Detail = name
	case ReasonInvalidPath:
		d.Description = err.Error() // a fixed phrase: nothing allocated
		if pe, ok := err.(*urlpath.Error); ok {
			d.Detail = pe.Code
		}
	}
	return d
}

// decide evaluates policy p for the verified claims c.
func (e *Engine) decide(p *policy.Policy, c *claims.Claims, headers map[string]string) Decision {
	d := Decision{Policy: p.Name, Rule: -1, DryRun: p.DryRun, Claims: c}
	if c == nil {
		d.Outcome, d.Reason, d.Description = Unauthenticated, ReasonInvalidToken, "no verified token"
		return d
	}
	if !p.AcceptsAudience(c.Audience) {
		d.Outcome, d.Reason, d.Detail = Unauthenticated, ReasonAudience, string(claims.ReasonAudience)
		d.Description = "the token's audience is not accepted for this route"
		return d
	}
	d.Rule = policy.FirstMatch(p.Rules, c)
	if p.Shadow != nil {
		d.Shadow, d.ShadowRule = ShadowDeny, policy.FirstMatch(p.Shadow, c)
		if d.ShadowRule >= 0 {
			d.Shadow = ShadowAllow
		}
	}
	switch {
	case d.Rule >= 0:
		d.Outcome, d.Reason = Allow, ReasonAllowed
	case p.DryRun:
		d.Outcome, d.Reason, d.Description = Allow, ReasonDryRun, p.DryRunMsg
	default:
		d.Outcome, d.Reason, d.Description = Deny, ReasonNoRuleMatched, p.NoRule
		return d
	}
	d.Set, d.Remove = e.headers(c, headers)
	return d
}

// headers returns the identity headers to set, their values as
// httpsyntax.HeaderValue writes them, and the request headers to remove on
// an allowed request.
func (e *Engine) headers(c *claims.Claims, in map[string]string) ([]Header, []string) {
	set := make([]Header, len(e.c.Upstream))
	for i, u := range e.c.Upstream {
		set[i] = Header{Name: u.Name, Value: httpsyntax.HeaderValue(u.Value(c))}
	}
	// Counted first, so that remove is allocated once at its size.
	n := 0
	if e.c.RemoveToken {
		n++
	}
	for name := range in {
		if e.hasPrefix(name) {
			n++
		}
	}
	if n == 0 {
		return set, nil
	}
	remove := make([]string, 0, n)
	if e.c.RemoveToken {
		remove = append(remove, e.c.TokenHeader)
	}
	for name := range in {
		if !e.hasPrefix(name) {
			continue
		}
		// ToLower allocates only for a name that is not lower-case already.
		name = strings.ToLower(name)
		if _, ok := e.c.SetNames[name]; !ok {
			remove = append(remove, name)
		}
	}
	// Sorted, a name listed twice (the token header, when it has the
	// prefix, or one name in two cases) is next to itself: dropping it
	// there keeps the whole in n log n, where looking each name up in the
	// list was quadratic in the number of spoofed headers.
	slices.Sort(remove)
	if remove = slices.Compact(remove); len(remove) == 0 {
		return set, nil
	}
	return set, remove
}

// hasPrefix reports whether the header name starts with the identity
// header prefix, in any case.
func (e *Engine) hasPrefix(name string) bool {
	return len(name) >= len(e.c.Prefix) && strings.EqualFold(name[:len(e.c.Prefix)], e.c.Prefix)
}

// TokenHeader returns the lower-case name of the header that carries the
// token ("authorization" by default).
func (e *Engine) TokenHeader() string { return e.c.TokenHeader }

// Policies returns the policy names in file order.
func (e *Engine) Policies() []string {
	out := make([]string, len(e.c.Policies))
	for i, p := range e.c.Policies {
		out[i] = p.Name
	}
	return out
}

// Rules returns the number of allow rules of the named policy, and false
// when no policy has that name.
func (e *Engine) Rules(name string) (int, bool) {
	p, ok := e.c.ByName[name]
	if !ok {
		return 0, false
	}
	return len(p.Rules), true
}
