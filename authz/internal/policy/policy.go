// Package policy is the compiled policy model: what package config builds
// from a configuration file and what authz.Engine evaluates. Every pattern
// is compiled, every claim name resolved and every header name computed
// once, when the file is loaded; nothing here changes afterwards.
package policy

import (
	"slices"
	"strings"

	"github.com/actions-authz/actions-authz/authz/internal/match"
	"github.com/actions-authz/actions-authz/authz/internal/route"
	"github.com/actions-authz/actions-authz/claims"
)

// Compiled is a whole compiled configuration, as an Engine holds it.
type Compiled struct {
	TokenHeader string
	RemoveToken bool
	Prefix      string           // upstream.header_prefix, lower-case
	Upstream    []UpstreamHeader // in configured order
	SetNames    map[string]struct{}
	Policies    []*Policy // in file order
	ByName      map[string]*Policy
	Routed      []*Policy // the policies with a match, in file order
}

// UpstreamHeader is one identity header: <prefix><claim with _ as ->.
type UpstreamHeader struct {
	Name  string
	Field claims.Field // FieldInvalid for a repo_property_* claim, named by Claim
	Claim string
}

// Policy is one compiled policy.
type Policy struct {
	Index     int
	Name      string
	Match     *route.Route // nil: selected only by name
	Audiences []string
	DryRun    bool
	Rules     []Rule
	Shadow    []Rule // evaluated beside Rules, never enforced
	NoRule    string // Description of a deny
	DryRunMsg string // Description of a would-be deny allowed by dry_run
}

// Rule is one allow or shadow rule: all of its conditions must hold.
type Rule struct {
	Conds []Condition
}

// Condition is one claim condition of a rule.
type Condition struct {
	Field claims.Field // FieldInvalid for a claim Claims has no field for
	Name  string       // the claim name, as written
	M     match.Matcher
	Text  string // the value as written, for explain
}

// MaxValues bounds the values of one claim that a condition compares
// without allocating; a claim with more is compared all the same.
const MaxValues = 16

// Holds reports whether the condition holds for c. An absent claim never
// matches, whatever the value (a negation included). A claim with several
// values (the audiences of aud, a repo_property_* multi-select, an array)
// matches when any of its values does, and a negation holds when none does
// (see match.Set).
func (k *Condition) Holds(c *claims.Claims) bool {
	switch k.Field {
	case claims.FieldInvalid:
		var buf [MaxValues]string
		vs := c.Extra.Values(k.Name, buf[:0])
		return len(vs) > 0 && match.Set(k.M, vs)
	case claims.FieldAudience:
		return len(c.Audience) > 0 && match.Set(k.M, c.Audience)
	}
	v := c.Value(k.Field)
	return v != "" && k.M.Match(v)
}

// Failing returns the index of the first condition of r that does not hold
// for c, or -1 when they all hold.
func (r *Rule) Failing(c *claims.Claims) int {
	for i := range r.Conds {
		if !r.Conds[i].Holds(c) {
			return i
		}
	}
	return -1
}

// FirstMatch returns the index of the first of rules whose conditions all
// hold, or -1.
func FirstMatch(rules []Rule, c *claims.Claims) int {
	for i := range rules {
		if rules[i].Failing(c) < 0 {
			return i
		}
	}
	return -1
}

// AcceptsAudience reports whether the token's aud holds one of the policy's
// audiences.
func (p *Policy) AcceptsAudience(aud []string) bool {
	for _, a := range aud {
		if slices.Contains(p.Audiences, a) {
			return true
		}
	}
	return false
}

// Value returns the claim an identity header carries. A claim without a
// field of its own (repo_property_*) goes as the token has it when it is a
// string, GitHub's comma-joined multi-select included; an array goes as its
// values joined with ",", a boolean or number as its JSON text, anything
// else as "".
func (u *UpstreamHeader) Value(c *claims.Claims) string {
	if u.Field != claims.FieldInvalid {
		return c.Value(u.Field)
	}
	var buf [MaxValues]string
	vs := c.Extra.Values(u.Claim, buf[:0])
	if len(vs) == 0 {
		return ""
	}
	if raw, _ := c.Extra.JSON(u.Claim); raw[0] == '[' {
		return strings.Join(vs, ",")
	}
	return vs[0] // a string's first value is the whole string
}
