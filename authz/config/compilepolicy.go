package config

import (
	"strconv"
	"strings"

	"github.com/actions-authz/actions-authz/authz/internal/httpsyntax"
	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/authz/internal/route"
	"github.com/actions-authz/actions-authz/authz/internal/yamlshape"
	"github.com/actions-authz/actions-authz/claims"
	"go.yaml.in/yaml/v3"
)

func (c *compiler) policies(e *policy.Compiled, cfg *Config, n *yaml.Node) {
	if len(cfg.Policies) == 0 {
		if !c.complete(c.root) {
			return
		}
		c.fail(yamlshape.Line(n, 0), "policies", "no policies: every request would be denied")
		return
	}
	e.ByName = make(map[string]*policy.Policy, len(cfg.Policies))
	for i := range cfg.Policies {
		pc := &cfg.Policies[i]
		pn := yamlshape.Item(n, i)
		place := policyPlace(i, pc.Name)
		p := c.policy(i, pc, pn, place, cfg.Audiences)
		e.Policies = append(e.Policies, p)
		if pc.Name == "" {
			continue
		}
		if first, dup := e.ByName[pc.Name]; dup {
			c.fail(yamlshape.Line(yamlshape.Child(pn, "name"), yamlshape.Line(pn, 0)), place+": name",
				"duplicate policy name "+strconv.Quote(pc.Name)+" (also policies"+yamlshape.Index(first.Index)+")")
			continue
		}
		e.ByName[pc.Name] = p
		if p.Match != nil {
			e.Routed = append(e.Routed, p)
		}
	}
	c.fallThrough(e.Routed, n)
}

func (c *compiler) policy(i int, pc *PolicyConfig, n *yaml.Node, place string, global []string) *policy.Policy {
	line := yamlshape.Line(n, 0)
	p := &policy.Policy{
		Index:     i,
		Name:      pc.Name,
		Audiences: global,
		NoRule:    "policy " + strconv.Quote(pc.Name) + ": no rule matched",
		DryRunMsg: "policy " + strconv.Quote(pc.Name) + ": no rule matched (allowed: dry_run)",
	}
	if pc.Name == "" && c.complete(n) {
		c.fail(line, place+": name", "empty policy name: every policy needs one")
	}
	if pc.Match != nil {
		p.Match = c.route(pc.Match, yamlshape.Child(n, "match"), place+": match")
	}
	if pc.Audiences != nil {
		c.audiences(pc.Audiences, yamlshape.Child(n, "audiences"), place+": audiences")
		if len(pc.Audiences) > 0 {
			p.Audiences = pc.Audiences
		}
	}
	switch pc.Mode {
	case "":
	case "dry_run":
		p.DryRun = true
		c.warn(yamlshape.Line(yamlshape.Child(n, "mode"), line), place+": mode", "dry_run: requests that no rule allows are allowed anyway, and only logged")
	default:
		c.fail(yamlshape.Line(yamlshape.Child(n, "mode"), line), place+": mode", "invalid mode "+strconv.Quote(pc.Mode)+`: want dry_run, or no mode to enforce`)
	}
	if pc.AllowAnyRepository {
		c.warn(yamlshape.Line(yamlshape.Child(n, "allow_any_repository"), line), place,
			"allow_any_repository: true: its rules need not pin the repository owner, so a workflow in any repository on GitHub may be allowed")
	}
	allow := yamlshape.Child(n, "allow")
	if len(pc.Allow) == 0 && c.complete(n) {
		c.fail(yamlshape.Line(allow, line), place+": allow", "empty allow: the policy would deny every request")
	}
	for j := range pc.Allow {
		rn := yamlshape.Item(allow, j)
		if c.patched[rn] {
			p.Rules = append(p.Rules, policy.Rule{})
			continue
		}
		p.Rules = append(p.Rules, c.rule(&pc.Allow[j], yamlshape.Line(rn, line), yamlshape.At(place, "allow"+yamlshape.Index(j)), pc.AllowAnyRepository))
	}
	// Shadow rules are compiled and checked exactly as allow rules: a team
	// trying a stricter list must write a list it could enforce.
	shadow := yamlshape.Child(n, "shadow")
	if pc.Shadow != nil && len(pc.Shadow) == 0 {
		c.fail(yamlshape.Line(shadow, line), place+": shadow", "empty shadow: remove the key, or list the rules to evaluate beside allow")
	}
	for j := range pc.Shadow {
		p.Shadow = append(p.Shadow, c.rule(&pc.Shadow[j], yamlshape.Line(yamlshape.Item(shadow, j), line), yamlshape.At(place, "shadow"+yamlshape.Index(j)), pc.AllowAnyRepository))
	}
	return p
}

// rule compiles one allow or shadow rule and checks that it pins the owner.
func (c *compiler) rule(rc *RuleConfig, line int, place string, anyRepository bool) policy.Rule {
	if len(rc.Conditions) == 0 {
		c.fail(line, place, "empty rule: list at least one claim condition")
		return policy.Rule{}
	}
	var r policy.Rule
	pinned, pinnedByID, broken := false, false, false
	properties := false // a condition names a claim without a field: a repo_property_* one, or unknown
	var unknown []string
	for _, cc := range rc.Conditions {
		cline := cc.Line
		if cline == 0 {
			cline = line
		}
		f, ok := claims.LookupField(cc.Claim)
		if !ok {
			if msg := c.otherClaim(cc.Claim); msg != "" {
				c.fail(cline, yamlshape.At(place, cc.Claim), msg)
				broken = true
				continue
			}
			if !strings.HasPrefix(cc.Claim, claims.PropertyPrefix) {
				unknown = append(unknown, strconv.Quote(cc.Claim))
				c.warn(cline, yamlshape.At(place, cc.Claim), "unknown claim "+strconv.Quote(cc.Claim)+
					": not one GitHub documents, so a misspelt name makes a rule that never matches (known: "+
					strings.Join(claims.Names(), ", ")+", repo_property_<name>)")
			}
			properties = true
		}
		m, pins, err := compileValue(cc.Value, rulesOf(f))
		if err != nil {
			for _, p := range yamlshape.Problems(yamlshape.At(place, cc.Claim), err) {
				p.Line = cline
				c.problems = append(c.problems, p)
			}
			broken = true
			continue
		}
		r.Conds = append(r.Conds, policy.Condition{Field: f, Name: cc.Claim, M: m, Text: cc.Value.String()})
		if pins {
			pinned = true
			pinnedByID = pinnedByID || f != claims.FieldRepository && f != claims.FieldRepositoryOwner
		}
	}
	switch {
	case anyRepository, broken: // a broken condition may be the one that pins
	case !pinned:
		why := ""
		if properties {
			why = "; repo_property_* and other claims do not pin it, since whoever owns a repository sets its " +
				"custom properties and any organisation can give its own repositories the same values"
		}
		if len(unknown) > 0 {
			why += "; is the unknown claim " + strings.Join(unknown, ", ") + " misspelt?"
		}
		c.fail(line, place, "does not pin the repository owner: constrain repository_owner_id, repository_id, "+
			"repository_owner, repository or enterprise_id with a value that cannot match every owner "+
			"(GitHub signs tokens for every repository with the same keys), or set allow_any_repository: true on the policy"+why)
	case !pinnedByID:
		c.warn(line, place, "pins the owner by name only; names can be deleted and re-registered, prefer repository_owner_id or repository_id")
	}
	return r
}

// route compiles a match section.
func (c *compiler) route(m *MatchConfig, n *yaml.Node, place string) *route.Route {
	line := yamlshape.Line(n, 0)
	if len(m.Hosts) == 0 && len(m.PathPrefixes) == 0 && len(m.Methods) == 0 {
		if !c.complete(n) {
			return nil
		}
		c.fail(line, place, "empty match: list hosts, path_prefixes or methods, or remove match to select the policy only by name")
		return nil
	}
	rt := &route.Route{}
	hosts := yamlshape.Child(n, "hosts")
	for i, h := range m.Hosts {
		hp, err := route.ParseHost(h)
		if err != nil {
			c.fail(yamlshape.Line(yamlshape.Item(hosts, i), line), place+": hosts"+yamlshape.Index(i), err.Error())
			continue
		}
		rt.Hosts = append(rt.Hosts, hp)
	}
	paths := yamlshape.Child(n, "path_prefixes")
	for i, p := range m.PathPrefixes {
		if err := route.CheckPathPrefix(p); err != nil {
			c.fail(yamlshape.Line(yamlshape.Item(paths, i), line), place+": path_prefixes"+yamlshape.Index(i), err.Error())
			continue
		}
		rt.Paths = append(rt.Paths, p)
	}
	methods := yamlshape.Child(n, "methods")
	for i, meth := range m.Methods {
		if !httpsyntax.IsToken(meth) {
			c.fail(yamlshape.Line(yamlshape.Item(methods, i), line), place+": methods"+yamlshape.Index(i), "invalid method "+strconv.Quote(meth))
			continue
		}
		rt.Methods = append(rt.Methods, strings.ToUpper(meth))
	}
	return rt
}
