package route

import (
	"strings"
	"testing"
)

func TestSplitHostPort(t *testing.T) {
	tests := []struct{ in, host, port string }{
		{"example.com", "example.com", ""},
		{"example.com:8443", "example.com", "8443"},
		{"example.com.", "example.com", ""},
		{"[::1]:9000", "::1", "9000"},
		{"[::1]", "::1", ""},
		{"::1", "::1", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		host, port := SplitHostPort(tt.in)
		if host != tt.host || port != tt.port {
			t.Errorf("SplitHostPort(%q) = %q, %q; want %q, %q", tt.in, host, port, tt.host, tt.port)
		}
	}
}

// parse returns the route of hosts, path prefixes and methods, each a
// comma-separated list ("" for none).
func parse(t *testing.T, hosts, paths, methods string) *Route {
	t.Helper()
	rt := &Route{}
	for _, h := range split(hosts) {
		hp, err := ParseHost(h)
		if err != nil {
			t.Fatal(err)
		}
		rt.Hosts = append(rt.Hosts, hp)
	}
	for _, p := range split(paths) {
		if err := CheckPathPrefix(p); err != nil {
			t.Fatal(err)
		}
		rt.Paths = append(rt.Paths, p)
	}
	rt.Methods = split(methods)
	return rt
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func TestParseHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.com":        "",
		"*.example.com:8443": "",
		"[::1]:9000":         "",
		"":                   `invalid host "": want a host name`,
		"https://x":          `invalid host "https://x": want a host name`,
		"x:99999":            `invalid port in host "x:99999"`,
		"a.*.com":            `invalid host "a.*.com": a wildcard is only allowed as a leading "*."`,
		"*.":                 `invalid host "*.": a wildcard`,
	} {
		_, err := ParseHost(in)
		if (err == nil) != (want == "") || err != nil && !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseHost(%q): %v, want %q", in, err, want)
		}
	}
}

func TestCheckPathPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"/deploy/":   "",
		"deploy":     `invalid path prefix "deploy": want a path starting with /`,
		"/a?b":       `invalid path prefix "/a?b": want a path starting with /`,
		"/a%2Fb":     `invalid path prefix "/a%2Fb": `,
		"/a//b":      `path prefix "/a//b" is not in normal form: request paths are compared as "/a/b", write that`,
		"/a/%7euser": `path prefix "/a/%7euser" is not in normal form`,
	} {
		err := CheckPathPrefix(in)
		if (err == nil) != (want == "") || err != nil && !strings.HasPrefix(err.Error(), want) {
			t.Errorf("CheckPathPrefix(%q): %v, want %q", in, err, want)
		}
	}
}

func TestMatches(t *testing.T) {
	rt := parse(t, "deploy.internal,*.example.com:8443", "/deploy/", "POST")
	tests := []struct {
		method, host, path string
		want, err          bool
	}{
		{"POST", "deploy.internal", "/deploy/x", true, false},
		{"post", "Deploy.Internal.:9000", "/x/../deploy/x", true, false},
		{"POST", "a.example.com:8443", "/deploy/x", true, false},
		{"POST", "example.com:8443", "/deploy/x", false, false},
		{"POST", "a.example.com", "/deploy/x", false, false},
		{"GET", "deploy.internal", "/deploy/x", false, false},
		{"POST", "deploy.internal", "/other", false, false},
		{"POST", "deploy.internal", "/deploy%2Fx", false, true},
		{"GET", "deploy.internal", "/deploy%2Fx", false, false}, // the path is not looked at
	}
	for _, tt := range tests {
		path := NewPath(tt.path)
		got, err := rt.Matches(tt.method, tt.host, &path)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("%s %s%s: %v, %v; want %v, error %v", tt.method, tt.host, tt.path, got, err, tt.want, tt.err)
		}
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		a, b *Route
		want bool
	}{
		{parse(t, "", "/", ""), parse(t, "x", "/deploy/", "POST"), true},
		{parse(t, "", "/deploy/", ""), parse(t, "", "/deploy/x/", ""), true},
		{parse(t, "", "/deploy/", ""), parse(t, "", "/other/", ""), false},
		{parse(t, "", "/deploy/", ""), parse(t, "x", "", ""), false},
		{parse(t, "", "", "POST,PUT"), parse(t, "", "", "PUT"), true},
		{parse(t, "", "", "POST"), parse(t, "", "", ""), false},
		{parse(t, "*.example.com", "", ""), parse(t, "a.example.com,*.b.example.com", "", ""), true},
		{parse(t, "*.example.com", "", ""), parse(t, "example.com", "", ""), false},
		{parse(t, "x:1", "", ""), parse(t, "x", "", ""), false},
		{parse(t, "x", "", ""), parse(t, "x:1", "", ""), true},
	}
	for i, tt := range tests {
		if got := tt.a.Covers(tt.b); got != tt.want {
			t.Errorf("%d: %+v covers %+v = %v, want %v", i, tt.a, tt.b, got, tt.want)
		}
	}
}
