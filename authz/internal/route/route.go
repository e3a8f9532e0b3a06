// Package route is the compiled match section of a policy: the hosts, path
// prefixes and methods a request must have for the policy to be selected,
// each attribute matching any of its list. It parses and checks the hosts
// and path prefixes a file lists, matches requests, and tells whether one
// route takes every request that another one does.
//
// Paths are compared in the normal form of package urlpath, computed at
// most once per request and only when a path prefix must be compared.
package route

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/actions-authz/actions-authz/authz/internal/urlpath"
)

// Route is a compiled match section. An empty list matches any value.
type Route struct {
	Hosts   []Host
	Paths   []string // each in urlpath's normal form
	Methods []string // upper-case
}

// Host is one match.hosts entry.
type Host struct {
	host     string // lower-case; for a wildcard, the suffix with its dot: ".example.com"
	port     string // "" matches any port, and no port
	wildcard bool
}

func (h *Host) matches(host, port string) bool {
	if h.port != "" && port != h.port {
		return false
	}
	if h.wildcard {
		return len(host) > len(h.host) && strings.EqualFold(host[len(host)-len(h.host):], h.host)
	}
	return strings.EqualFold(host, h.host)
}

// ParseHost parses a match.hosts entry: "example.com", "example.com:8443",
// "*.example.com", "[::1]:9000".
func ParseHost(s string) (Host, error) {
	if s == "" || strings.ContainsAny(s, "/ @") {
		return Host{}, errors.New("invalid host " + strconv.Quote(s) + ": want a host name, optionally with :port, not a URL")
	}
	host, port := SplitHostPort(strings.ToLower(s))
	if port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return Host{}, errors.New("invalid port in host " + strconv.Quote(s))
		}
	}
	hp := Host{host: host, port: port}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		hp.host, hp.wildcard = "."+rest, true
	}
	if hp.host == "" || hp.host == "." || strings.Contains(hp.host, "*") {
		return Host{}, errors.New("invalid host " + strconv.Quote(s) + `: a wildcard is only allowed as a leading "*." ("*.example.com")`)
	}
	return hp, nil
}

// CheckPathPrefix returns what is wrong with a match.path_prefixes entry,
// or nil. Request paths are compared in normal form, so a prefix in
// another form would never match, or match what it does not say.
func CheckPathPrefix(p string) error {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#") {
		return errors.New("invalid path prefix " + strconv.Quote(p) + ": want a path starting with / and without query")
	}
	switch norm, err := urlpath.Normalize(p); {
	case err != nil:
		return errors.New("invalid path prefix " + strconv.Quote(p) + ": " + strings.TrimPrefix(err.Error(), "the request path ") +
			", which requests are refused for")
	case norm != p:
		return errors.New("path prefix " + strconv.Quote(p) + " is not in normal form: request paths are compared as " +
			strconv.Quote(norm) + ", write that")
	}
	return nil
}

// Matches reports whether every attribute the route lists matches a
// request with the given method, Host or :authority value and path. The
// path is compared last, in its normal form, and only when the method and
// host match; a path with no normal form matches nothing and its error is
// returned, so that the request is refused rather than passed on to the
// next policy.
func (rt *Route) Matches(method, hostPort string, path *Path) (bool, error) {
	if len(rt.Methods) > 0 && !slices.ContainsFunc(rt.Methods, func(m string) bool { return strings.EqualFold(m, method) }) {
		return false, nil
	}
	if len(rt.Hosts) > 0 {
		host, port := SplitHostPort(hostPort)
		if !slices.ContainsFunc(rt.Hosts, func(h Host) bool { return h.matches(host, port) }) {
			return false, nil
		}
	}
	if len(rt.Paths) > 0 {
		norm, err := path.normal()
		if err != nil {
			return false, err
		}
		if !slices.ContainsFunc(rt.Paths, func(p string) bool { return strings.HasPrefix(norm, p) }) {
			return false, nil
		}
	}
	return true, nil
}

// Path is the request path of one request, normalised at most once, by
// the first route that must compare a path prefix with it.
type Path struct {
	raw  string
	done bool
	norm string
	err  error
}

// NewPath returns the Path of a request target as the client sent it.
func NewPath(raw string) Path { return Path{raw: raw} }

// normal returns the normal form of the request path (urlpath.Normalize),
// or why it has none.
func (t *Path) normal() (string, error) {
	if !t.done {
		t.norm, t.err = urlpath.Normalize(t.raw)
		t.done = true
	}
	return t.norm, t.err
}

// SplitHostPort splits a Host or :authority value ("example.com:8443",
// "[::1]:9000", "example.com.") into host and port without allocating. A
// trailing dot on the host is dropped.
func SplitHostPort(hp string) (host, port string) {
	host = hp
	if strings.HasPrefix(hp, "[") {
		if end := strings.IndexByte(hp, ']'); end > 0 {
			host = hp[1:end]
			if rest := hp[end+1:]; strings.HasPrefix(rest, ":") {
				port = rest[1:]
			}
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 && strings.IndexByte(hp, ':') == i {
		host, port = hp[:i], hp[i+1:]
	}
	return strings.TrimSuffix(host, "."), port
}

// Covers reports whether rt matches every request that o matches.
func (rt *Route) Covers(o *Route) bool {
	if !rt.CoversMethods(o) || !rt.CoversHosts(o) {
		return false
	}
	// A "/" prefix takes every path in normal form: no restriction.
	if len(rt.Paths) > 0 && !slices.Contains(rt.Paths, "/") {
		if len(o.Paths) == 0 {
			return false
		}
		for _, op := range o.Paths {
			if !slices.ContainsFunc(rt.Paths, func(p string) bool { return strings.HasPrefix(op, p) }) {
				return false
			}
		}
	}
	return true
}

// CoversMethods reports whether rt takes every method that o takes.
func (rt *Route) CoversMethods(o *Route) bool {
	return coversAll(rt.Methods, o.Methods, func(m, om string) bool { return m == om })
}

// CoversHosts reports whether every host pattern of o is covered by one of
// rt's.
func (rt *Route) CoversHosts(o *Route) bool {
	return coversAll(rt.Hosts, o.Hosts, func(h, oh Host) bool { return h.covers(oh) })
}

// coversAll reports whether list, one attribute of a route, takes every
// value that other, the same attribute of another route, takes: an empty
// list takes any value, and is taken only by an empty list.
func coversAll[T any](list, other []T, covers func(l, o T) bool) bool {
	if len(list) == 0 {
		return true
	}
	if len(other) == 0 {
		return false
	}
	for _, o := range other {
		if !slices.ContainsFunc(list, func(l T) bool { return covers(l, o) }) {
			return false
		}
	}
	return true
}

// covers reports whether h matches every host and port that o matches.
func (h *Host) covers(o Host) bool {
	if h.port != "" && h.port != o.port {
		return false
	}
	if !h.wildcard {
		return !o.wildcard && h.host == o.host
	}
	// ".example.com" covers "a.example.com" and ".a.example.com", and itself.
	return o.host == h.host && o.wildcard || len(o.host) > len(h.host) && strings.HasSuffix(o.host, h.host)
}
