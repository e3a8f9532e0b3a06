package authz

import (
	"strconv"
	"strings"
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
	// claim is absent, which never matches).
	Claim     string
	Condition string
	Actual    string
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
		x.Selection = "policy " + strconv.Quote(p.name) + " named by the route (context_extensions policy)"
	default:
		x.Selection = "policy " + strconv.Quote(p.name) + " (policies" + index(p.index) + ") is the first whose match matches " + describeRequest(&in.Request)
	}
	x.Audiences = p.audiences
	if in.Claims == nil {
		return x
	}
	x.AudienceOK = p.acceptsAudience(in.Claims.Audience)
	if !x.AudienceOK {
		return x
	}
	x.Rules = traceRules(p.rules, in)
	x.Shadow = traceRules(p.shadow, in)
	return x
}

// traceRules traces each rule against the claims of in.
func traceRules(rules []rule, in Input) []RuleTrace {
	var out []RuleTrace
	for i := range rules {
		r := &rules[i]
		t := RuleTrace{Index: i}
		if k := r.failing(in.Claims); k < 0 {
			t.Matched = true
		} else {
			cond := &r.conds[k]
			t.Claim, t.Condition, t.Actual = cond.field.String(), cond.text, in.Claims.Value(cond.field)
		}
		out = append(out, t)
	}
	return out
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
		b.WriteString("audience: " + verdict + " (policy accepts " + strings.Join(quoteAll(x.Audiences), ", ") + ")\n")
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
			b.WriteString("no: " + t.Claim + " is " + strconv.Quote(t.Actual) + " (want " + t.Condition + ")\n")
		}
	}
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strconv.Quote(s)
	}
	return out
}
