package authz

import (
	"slices"
	"strconv"
	"strings"

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
func (c *compiler) fallThrough(routed []*policy, n *yaml.Node) {
	for i, a := range routed {
		for _, b := range routed[i+1:] {
			if !b.match.covers(a.match) {
				continue
			}
			var what []string
			if len(a.match.methods) > 0 && (len(b.match.methods) == 0 || !isSubset(b.match.methods, a.match.methods)) {
				what = append(what, "another method (not "+strings.Join(a.match.methods, ", ")+")")
			}
			if len(a.match.hosts) > 0 && (len(b.match.hosts) == 0 || !coversAll(a.match.hosts, b.match.hosts)) {
				what = append(what, "another host")
			}
			if what == nil {
				continue
			}
			on := "a request"
			if len(a.match.paths) > 0 {
				on = "a request under " + strings.Join(quoteAll(a.match.paths), ", ")
			}
			pn := yamlshape.Item(n, a.index)
			c.warn(yamlshape.Line(yamlshape.Child(pn, "match"), yamlshape.Line(pn, 0)), policyPlace(a.index, a.name)+": match",
				on+" with "+strings.Join(what, " or ")+" falls through to "+policyPlace(b.index, b.name)+
					", whose match is broader (the first policy that matches decides); if "+strconv.Quote(b.name)+
					" must not decide those, add a policy for the same paths after "+strconv.Quote(a.name)+
					", or name the policies on the routes")
			break
		}
	}
}

// covers reports whether rt matches every request that o matches.
func (rt *route) covers(o *route) bool {
	if len(rt.methods) > 0 && (len(o.methods) == 0 || !isSubset(o.methods, rt.methods)) {
		return false
	}
	if len(rt.hosts) > 0 && (len(o.hosts) == 0 || !coversAll(rt.hosts, o.hosts)) {
		return false
	}
	// A "/" prefix takes every path in normal form: no restriction.
	if len(rt.paths) > 0 && !slices.Contains(rt.paths, "/") {
		if len(o.paths) == 0 {
			return false
		}
		for _, op := range o.paths {
			if !slices.ContainsFunc(rt.paths, func(p string) bool { return strings.HasPrefix(op, p) }) {
				return false
			}
		}
	}
	return true
}

// isSubset reports whether every item of a is in b.
func isSubset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// coversAll reports whether every host pattern of o is covered by one of
// list.
func coversAll(list, o []hostPattern) bool {
	for _, h := range o {
		if !slices.ContainsFunc(list, func(l hostPattern) bool { return l.covers(h) }) {
			return false
		}
	}
	return true
}

// covers reports whether h matches every host and port that o matches.
func (h *hostPattern) covers(o hostPattern) bool {
	if h.port != "" && h.port != o.port {
		return false
	}
	if !h.wildcard {
		return !o.wildcard && h.host == o.host
	}
	// ".example.com" covers "a.example.com" and ".a.example.com", and itself.
	return o.host == h.host && o.wildcard || len(o.host) > len(h.host) && strings.HasSuffix(o.host, h.host)
}
