package config

import (
	"strconv"
	"strings"

	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/authz/internal/yamlshape"
	"go.yaml.in/yaml/v3"
)

// fallThrough warns about each policy with a match that refuses requests on
// its own paths by method or host, when a later policy whose match is
// broader takes them. The first policy whose match matches decides, so with
// deploy matching POST under /deploy/ and a catch-all after it, PUT
// /deploy/x is decided by the catch-all: a rule nobody wrote for it. One
// warning per policy, naming the first such later policy, which is the one
// that decides.
func (c *compiler) fallThrough(routed []*policy.Policy, n *yaml.Node) {
	for i, a := range routed {
		for _, b := range routed[i+1:] {
			if !b.Match.Covers(a.Match) {
				continue
			}
			var what []string
			if !a.Match.CoversMethods(b.Match) {
				what = append(what, "another method (not "+strings.Join(a.Match.Methods, ", ")+")")
			}
			if !a.Match.CoversHosts(b.Match) {
				what = append(what, "another host")
			}
			if what == nil {
				continue
			}
			on := "a request"
			if len(a.Match.Paths) > 0 {
				on = "a request under " + yamlshape.QuoteJoin(a.Match.Paths)
			}
			pn := yamlshape.Item(n, a.Index)
			c.warn(yamlshape.Line(yamlshape.Child(pn, "match"), yamlshape.Line(pn, 0)), policyPlace(a.Index, a.Name)+": match",
				on+" with "+strings.Join(what, " or ")+" falls through to "+policyPlace(b.Index, b.Name)+
					", whose match is broader (the first policy that matches decides); if "+strconv.Quote(b.Name)+
					" must not decide those, add a policy for the same paths after "+strconv.Quote(a.Name)+
					", or name the policies on the routes")
			break
		}
	}
}
