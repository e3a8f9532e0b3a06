package authz

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/authz/internal/yamlshape"
	"github.com/actions-authz/actions-authz/claims"
)

// Explanation is a decision with its reasons, for the explain command and
// the platform team: unlike a Decision it says which claim failed.
type Explanation struct {
	// Decision is what Decide returns for the same input.
	Decision Decision
	// Selection says how the policy was chosen, or why none was.
	Selection string
	// Audiences are the audiences the selected policy accepts, and
	// AudienceOK whether the token has one of them.
	Audiences  []string
	AudienceOK bool
	// Rules traces every rule of the selected policy, in order; it is empty
	// when no policy was selected or the audience was refused.
	Rules []RuleTrace
	// Shadow traces the policy's shadow rules the same way: evaluated beside
	// Rules, never enforced.
	Shadow []RuleTrace
}

// RuleTrace is the outcome of one rule: matched, or the first condition
// that does not hold.
type RuleTrace struct {
	Index   int
	Matched bool
	// The first failing condition, when not Matched: the claim, the value it
	// must match as written in the file, and the token's value ("" when the
	// claim is absent, which never matches). Actual is the claim's JSON text
	// when ActualJSON is set: for a claim without a field of its own
	// (repo_property_* and unknown claims) and for several audiences.
	Claim      string
	Condition  string
	Actual     string
	ActualJSON bool
	// Values are the values the condition compared when the claim has
	// several (the audiences, the options of a multi-select property, the
	// items of an array): any of them may match, and a negation needs
	// that none does.
	Values []string
}

// Explain decides like Decide and also traces why: how the policy was
// selected, whether the audience is accepted, and for each rule whether it
// matched or which condition failed first. It is meant for diagnosis, not
// the request path.
func (e *Engine) Explain(in Input) Explanation {
	x := Explanation{Decision: e.Decide(in)}
	p, reason, pathErr := e.route(&in.Request)
	switch {
	case p == nil && reason == ReasonUnknownPolicy:
		x.Selection = "the route names policy " + strconv.Quote(in.Policy) + ", which is not configured"
		return x
	case p == nil && reason == ReasonInvalidPath:
		x.Selection = "the path " + strconv.Quote(in.Path) + " must be compared with path_prefixes but cannot be: " + pathErr.Error() +
			" (name the policy on the route to select it whatever the path)"
		return x
	case p == nil:
		x.Selection = "no policy has a match for " + describeRequest(&in.Request) + " (policies without match are selected only by name)"
		return x
	case in.Policy != "":
		x.Selection = "policy " + strconv.Quote(p.Name) + " named by the route (context_extensions policy)"
	default:
		x.Selection = "policy " + strconv.Quote(p.Name) + " (policies" + yamlshape.Index(p.Index) + ") is the first whose match matches " + describeRequest(&in.Request)
	}
	x.Audiences = p.Audiences
	if in.Claims == nil {
		return x
	}
	x.AudienceOK = p.AcceptsAudience(in.Claims.Audience)
	if !x.AudienceOK {
		return x
	}
	x.Rules = traceRules(p.Rules, in)
	x.Shadow = traceRules(p.Shadow, in)
	return x
}

// traceRules traces each rule against the claims of in.
func traceRules(rules []policy.Rule, in Input) []RuleTrace {
	var out []RuleTrace
	for i := range rules {
		r := &rules[i]
		t := RuleTrace{Index: i}
		if k := r.Failing(in.Claims); k < 0 {
			t.Matched = true
		} else {
			cond := &r.Conds[k]
			t.Claim, t.Condition = cond.Name, cond.Text
			t.Actual, t.ActualJSON, t.Values = actual(cond, in.Claims)
		}
		out = append(out, t)
	}
	return out
}

// actual returns the token's value of the claim of cond, for a trace: the
// value, or the JSON text for a claim without a field or several audiences,
// and the values compared when there are several.
func actual(cond *policy.Condition, c *claims.Claims) (string, bool, []string) {
	switch cond.Field {
	case claims.FieldInvalid:
		raw, ok := c.Extra.JSON(cond.Name)
		if !ok {
			return "", false, nil
		}
		vs := c.Extra.Values(cond.Name, nil)
		if len(vs) < 2 {
			vs = nil
		}
		return raw, true, vs
	case claims.FieldAudience:
		if len(c.Audience) > 1 {
			raw, _ := json.Marshal([]string(c.Audience)) // strings: cannot fail
			return string(raw), true, c.Audience
		}
	}
	return c.Value(cond.Field), false, nil
}

func describeRequest(r *Request) string {
	return strings.TrimSpace(r.Method + " " + r.Host + r.Path)
}

// String renders the explanation as lines of text, for a terminal.
func (x *Explanation) String() string {
	var b strings.Builder
	b.WriteString("policy: " + x.Selection + "\n")
	if x.Audiences != nil {
		verdict := "refused"
		if x.AudienceOK {
			verdict = "accepted"
		}
		b.WriteString("audience: " + verdict + " (policy accepts " + yamlshape.QuoteJoin(x.Audiences) + ")\n")
	}
	writeTraces(&b, "allow", x.Rules)
	writeTraces(&b, "shadow", x.Shadow)
	d := &x.Decision
	b.WriteString("decision: " + d.Outcome.String() + " (" + string(d.Reason))
	if d.Detail != "" {
		b.WriteString(": " + d.Detail)
	}
	b.WriteString(")")
	if d.Rule >= 0 {
		b.WriteString(", rule allow[" + strconv.Itoa(d.Rule) + "]")
	}
	if d.Description != "" {
		b.WriteString(": " + d.Description)
	}
	b.WriteString("\n")
	return b.String()
}

// writeTraces writes one line per traced rule, named list[index].
func writeTraces(b *strings.Builder, list string, traces []RuleTrace) {
	for _, t := range traces {
		b.WriteString(list + "[" + strconv.Itoa(t.Index) + "]: ")
		switch {
		case t.Matched:
			b.WriteString("matched\n")
		case t.Actual == "":
			b.WriteString("no: " + t.Claim + " is absent (want " + t.Condition + ")\n")
		default:
			is := strconv.Quote(t.Actual)
			if t.ActualJSON {
				is = t.Actual
			}
			b.WriteString("no: " + t.Claim + " is " + is)
			if len(t.Values) > 1 {
				b.WriteString(", values " + yamlshape.QuoteJoin(t.Values) + ": none matches")
			}
			b.WriteString(" (want " + t.Condition + ")\n")
		}
	}
}
