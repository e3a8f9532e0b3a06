package authz

import (
	"slices"
	"strings"

	"github.com/actions-authz/actions-authz/authz/internal/httpsyntax"
	"github.com/actions-authz/actions-authz/authz/internal/match"
	"github.com/actions-authz/actions-authz/authz/internal/route"
	"github.com/actions-authz/actions-authz/authz/internal/urlpath"
	"github.com/actions-authz/actions-authz/claims"
)

// Engine is a compiled configuration: every pattern compiled, every claim
// name resolved and every header name computed once, by ParseConfig. It is
// immutable and safe for concurrent use; a reload builds a new one.
type Engine struct {
	tokenHeader string
	removeToken bool
	prefix      string           // upstream.header_prefix, lower-case
	upstream    []upstreamHeader // in configured order
	setNames    map[string]struct{}
	policies    []*policy // in file order
	byName      map[string]*policy
	routed      []*policy // the policies with a match, in file order
}

// upstreamHeader is one identity header: <prefix><claim with _ as ->.
type upstreamHeader struct {
	name  string
	field claims.Field // FieldInvalid for a repo_property_* claim, named by claim
	claim string
}

type policy struct {
	index     int
	name      string
	match     *route.Route // nil: selected only by name
	audiences []string
	dryRun    bool
	rules     []rule
	shadow    []rule // evaluated beside rules, never enforced
	noRule    string // Description of a deny
	dryRunMsg string // Description of a would-be deny allowed by dry_run
}

type rule struct {
	conds []condition
}

type condition struct {
	field claims.Field // FieldInvalid for a claim Claims has no field for
	name  string       // the claim name, as written
	m     match.Matcher
	text  string // the value as written, for explain
}

// maxValues bounds the values of one claim that a condition compares
// without allocating; a claim with more is compared all the same.
const maxValues = 16

// holds reports whether the condition holds for c. An absent claim never
// matches, whatever the value (a negation included). A claim with several
// values (the audiences of aud, a repo_property_* multi-select, an array)
// matches when any of its values does, and a negation holds when none does
// (see match.Set).
func (k *condition) holds(c *claims.Claims) bool {
	switch k.field {
	case claims.FieldInvalid:
		var buf [maxValues]string
		vs := c.Extra.Values(k.name, buf[:0])
		return len(vs) > 0 && match.Set(k.m, vs)
	case claims.FieldAudience:
		return len(c.Audience) > 0 && match.Set(k.m, c.Audience)
	}
	v := c.Value(k.field)
	return v != "" && k.m.Match(v)
}

// failing returns the index of the first condition of r that does not hold
// for c, or -1 when they all hold.
func (r *rule) failing(c *claims.Claims) int {
	for i := range r.conds {
		if !r.conds[i].holds(c) {
			return i
		}
	}
	return -1
}

// firstMatch returns the index of the first of rules whose conditions all
// hold, or -1.
func firstMatch(rules []rule, c *claims.Claims) int {
	for i := range rules {
		if rules[i].failing(c) < 0 {
			return i
		}
	}
	return -1
}

// acceptsAudience reports whether the token's aud holds one of the policy's
// audiences.
func (p *policy) acceptsAudience(aud []string) bool {
	for _, a := range aud {
		if slices.Contains(p.audiences, a) {
			return true
		}
	}
	return false
}

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
func (e *Engine) route(r *Request) (*policy, Reason, error) {
	if r.Policy != "" {
		if p, ok := e.byName[r.Policy]; ok {
			return p, "", nil
		}
		return nil, ReasonUnknownPolicy, nil
	}
	path := route.NewPath(r.Path)
	for _, p := range e.routed {
		ok, err := p.match.Matches(r.Method, r.Host, &path)
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
func (e *Engine) decide(p *policy, c *claims.Claims, headers map[string]string) Decision {
	d := Decision{Policy: p.name, Rule: -1, DryRun: p.dryRun, Claims: c}
	if c == nil {
		d.Outcome, d.Reason, d.Description = Unauthenticated, ReasonInvalidToken, "no verified token"
		return d
	}
	if !p.acceptsAudience(c.Audience) {
		d.Outcome, d.Reason, d.Detail = Unauthenticated, ReasonAudience, string(claims.ReasonAudience)
		d.Description = "the token's audience is not accepted for this route"
		return d
	}
	d.Rule = firstMatch(p.rules, c)
	if p.shadow != nil {
		d.Shadow, d.ShadowRule = ShadowDeny, firstMatch(p.shadow, c)
		if d.ShadowRule >= 0 {
			d.Shadow = ShadowAllow
		}
	}
	switch {
	case d.Rule >= 0:
		d.Outcome, d.Reason = Allow, ReasonAllowed
	case p.dryRun:
		d.Outcome, d.Reason, d.Description = Allow, ReasonDryRun, p.dryRunMsg
	default:
		d.Outcome, d.Reason, d.Description = Deny, ReasonNoRuleMatched, p.noRule
		return d
	}
	d.Set, d.Remove = e.headers(c, headers)
	return d
}

// headers returns the identity headers to set, their values as
// httpsyntax.HeaderValue writes them, and the request headers to remove on
// an allowed request.
func (e *Engine) headers(c *claims.Claims, in map[string]string) ([]Header, []string) {
	set := make([]Header, len(e.upstream))
	for i, u := range e.upstream {
		set[i] = Header{Name: u.name, Value: httpsyntax.HeaderValue(u.value(c))}
	}
	// Counted first, so that remove is allocated once at its size.
	n := 0
	if e.removeToken {
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
	if e.removeToken {
		remove = append(remove, e.tokenHeader)
	}
	for name := range in {
		if !e.hasPrefix(name) {
			continue
		}
		// ToLower allocates only for a name that is not lower-case already.
		name = strings.ToLower(name)
		if _, ok := e.setNames[name]; !ok {
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

// value returns the claim an identity header carries. A claim without a
// field of its own (repo_property_*) goes as the token has it when it is a
// string, GitHub's comma-joined multi-select included; an array goes as its
// values joined with ",", a boolean or number as its JSON text, anything
// else as "".
func (u *upstreamHeader) value(c *claims.Claims) string {
	if u.field != claims.FieldInvalid {
		return c.Value(u.field)
	}
	var buf [maxValues]string
	vs := c.Extra.Values(u.claim, buf[:0])
	if len(vs) == 0 {
		return ""
	}
	if raw, _ := c.Extra.JSON(u.claim); raw[0] == '[' {
		return strings.Join(vs, ",")
	}
	return vs[0] // a string's first value is the whole string
}

// hasPrefix reports whether the header name starts with the identity
// header prefix, in any case.
func (e *Engine) hasPrefix(name string) bool {
	return len(name) >= len(e.prefix) && strings.EqualFold(name[:len(e.prefix)], e.prefix)
}

// TokenHeader returns the lower-case name of the header that carries the
// token ("authorization" by default).
func (e *Engine) TokenHeader() string { return e.tokenHeader }

// Policies returns the policy names in file order.
func (e *Engine) Policies() []string {
	out := make([]string, len(e.policies))
	for i, p := range e.policies {
		out[i] = p.name
	}
	return out
}

// Rules returns the number of allow rules of the named policy, and false
// when no policy has that name.
func (e *Engine) Rules(policy string) (int, bool) {
	p, ok := e.byName[policy]
	if !ok {
		return 0, false
	}
	return len(p.rules), true
}
