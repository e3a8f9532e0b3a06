package examples_test

// End-to-end tests of examples/forward-auth through real proxies: nginx and
// Caddy from the distribution's packages run nginx.conf and Caddyfile,
// rendered with free loopback ports, in front of the forward-auth server
// (forwardauthtest.Stack over the examples' config.yaml) and an upstream that
// echoes what it received. Traefik and Envoy's http_service, which have no
// package, are played by Go proxies that follow their documented behaviour
// over the same example files (simulated_test.go).
//
// A test that needs nginx or Caddy skips when the binary is missing, and
// fails instead when CI=true (.ci/run installs both).

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/envoy/localstack"
	"github.com/actions-authz/actions-authz/forwardauth/forwardauthtest"
)

// echoed is what the upstream received, as it answers it.
type echoed struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
}

// upstream is the sample private service: it answers every request with what
// it received, and counts them.
type upstream struct {
	addr string
	hits atomic.Int64
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = lis.Addr().String()
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    64 << 10,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.hits.Add(1)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(echoed{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header})
		}),
	}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return u
}

// freeAddr returns a loopback address nothing listens on, for a proxy's
// configuration.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := localstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// render copies the example file name into dir with each old string
// replaced, and fails if one of them is not in the file: the test must run
// what users copy.
func render(t *testing.T, name, dir string, replace ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(exampleDir, name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(text, replace[i]) {
			t.Fatalf("%s does not contain %q", name, replace[i])
		}
		text = strings.ReplaceAll(text, replace[i], replace[i+1])
	}
	out := filepath.Join(dir, name)
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// findProxy returns the path of a proxy binary, or skips the test when it
// is missing (fails on CI, where .ci/run installs it).
func findProxy(t *testing.T, name, pkg string, extra ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range extra {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found in PATH or %v; install it (apt-get install %s) to run this end-to-end test", name, extra, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: .ci/run should have installed it)")
	}
	t.Skip(msg)
	return ""
}

// startProxy runs cmd in its own process group until the test ends, and
// waits until addr accepts connections.
func startProxy(t *testing.T, cmd *exec.Cmd, addr string) {
	t.Helper()
	name := filepath.Base(cmd.Path)
	p, err := localstack.Start(name, cmd, 5*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(5 * time.Second) // SIGTERM, then whatever it forked, in its group only
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.WaitListening(ctx, addr); err != nil {
		t.Fatal(err)
	}
}

// e2e is the service side of an end-to-end test: the policy of the examples,
// the forward-auth server, and the upstream.
type e2e struct {
	*forwardauthtest.Stack
	authzAddr string
	upstream  *upstream
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	s := forwardauthtest.NewStack(t, filepath.Join(exampleDir, "config.yaml"), exampleIssuer, "")
	base := s.Serve(t)
	return &e2e{Stack: s, authzAddr: strings.TrimPrefix(base, "http://"), upstream: startUpstream(t)}
}

// proxyCase is one request through a proxy, and what the client and the
// upstream must see.
type proxyCase struct {
	name   string
	method string
	path   string
	header http.Header
	status int
	// On allow: the request the Authorizer must agree on for the identity
	// headers the upstream receives.
	same authz.Request
	// On refusal: the start of the WWW-Authenticate challenge, for a 401.
	challenge string
}

func proxyCases(t *testing.T, e *e2e) (cases []proxyCase, tokens []string) {
	good := e.Mint(t, nil)
	deploy := e.Mint(t, map[string]any{"repository": "octo-org/infra", "repository_id": "777", "ref": "refs/heads/main", "environment": "production"})
	foreign := e.Mint(t, map[string]any{"repository_owner_id": "999", "repository_id": "999"})
	expired := e.Mint(t, map[string]any{"iat": time.Now().Add(-time.Hour)})
	spoofed := forwardauthtest.With(forwardauthtest.Bearer(good),
		"X-Github-Repository", "octo-org/infra", "X-Github-Repository-Id", "777",
		"X-Github-Environment", "production", "X-Github-Extra", "spoofed")
	req := func(method, path, tok string) authz.Request {
		return authz.Request{Method: method, Path: path, Headers: map[string]string{"authorization": "Bearer " + tok}}
	}
	return []proxyCase{
		{name: "allowed", method: "GET", path: "/hello?x=1", header: forwardauthtest.Bearer(good), status: 200, same: req("GET", "/hello?x=1", good)},
		{name: "client identity headers never reach the upstream", method: "GET", path: "/hello", header: spoofed, status: 200, same: req("GET", "/hello", good)},
		{name: "allowed by the deploy policy", method: "POST", path: "/deploy/x", header: forwardauthtest.Bearer(deploy), status: 200, same: req("POST", "/deploy/x", deploy)},
		{name: "the method reaches the policy", method: "POST", path: "/deploy/x", header: forwardauthtest.Bearer(good), status: 403},
		{name: "the path reaches the policy, whatever the method", method: "PUT", path: "/deploy/x", header: forwardauthtest.Bearer(good), status: 403},
		{name: "the path outside the policy", method: "GET", path: "/hello/deploy/x", header: forwardauthtest.Bearer(good), status: 200, same: req("GET", "/hello/deploy/x", good)},
		{name: "a client cannot describe the request itself", method: "POST", path: "/deploy/x", status: 403,
			header: forwardauthtest.With(forwardauthtest.Bearer(good), "X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/hello",
				"X-Original-Method", "GET", "X-Original-URI", "/hello")},
		{name: "no token", method: "GET", path: "/hello", status: 401, challenge: `Bearer realm="actions-authz"`},
		{name: "expired token", method: "GET", path: "/hello", header: forwardauthtest.Bearer(expired), status: 401, challenge: `Bearer realm="actions-authz", error="invalid_token"`},
		{name: "denied repository", method: "GET", path: "/hello", header: forwardauthtest.Bearer(foreign), status: 403},
	}, []string{good, deploy, foreign, expired}
}

// runProxyCases sends every case through the proxy at proxyAddr.
// dropsUnlisted says whether the proxy also strips client x-github-* headers
// that are not configured identity headers (nginx cannot).
func runProxyCases(t *testing.T, e *e2e, proxyAddr string, dropsUnlisted bool) {
	cases, tokens := proxyCases(t, e)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstream.hits.Load()
			r := forwardauthtest.Do(t, tc.method, "http://"+proxyAddr+tc.path, tc.header)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d (body %s)", r.Status, tc.status, r.Body)
			}
			hits := e.upstream.hits.Load() - before
			if tc.status != 200 {
				if hits != 0 {
					t.Errorf("a refused request reached the upstream")
				}
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tc.challenge) || tc.challenge == "" && got != "" {
					t.Errorf("WWW-Authenticate %q, want %q...", got, tc.challenge)
				}
				return
			}
			if hits != 1 {
				t.Fatalf("upstream reached %d times, want once", hits)
			}
			var got echoed
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("upstream answer %q: %v", r.Body, err)
			}
			if got.Method != tc.method || got.URI != tc.path {
				t.Errorf("upstream saw %s %s, want %s %s", got.Method, got.URI, tc.method, tc.path)
			}
			if v := got.Header.Values("Authorization"); len(v) != 0 {
				t.Errorf("the token reached the upstream: Authorization %d values", len(v))
			}
			for name, vs := range got.Header {
				for _, tok := range tokens {
					if strings.Contains(strings.Join(vs, ","), tok[strings.LastIndexByte(tok, '.')+1:]) {
						t.Errorf("the token reached the upstream in %s", name)
					}
				}
			}
			want := forwardauthtest.IdentityHeaders(t, e.Authorizer, tc.same)
			if len(want) != len(config.DefaultUpstreamClaims) {
				t.Fatalf("%d identity headers configured, the examples list %d", len(want), len(config.DefaultUpstreamClaims))
			}
			for name, v := range want {
				// An empty claim arrives as an empty header or none at all.
				if vs := got.Header.Values(name); len(vs) > 1 || strings.Join(vs, "") != v {
					t.Errorf("upstream got %s = %q, want %q", name, vs, v)
				}
			}
			if dropsUnlisted {
				if vs := got.Header.Values("X-Github-Extra"); len(vs) != 0 {
					t.Errorf("upstream got the client's X-Github-Extra %q", vs)
				}
			}
		})
	}
}

// runTrickyPaths sends forwardauthtest.TrickyPaths through the proxy at
// proxyAddr (nginx or Caddy running the example configuration), as raw
// request lines. An allowed request must reach the upstream with the very
// target actions-authz judged; a refused one must not reach it.
func runTrickyPaths(t *testing.T, e *e2e, proxyAddr, proxy string) {
	good := e.Mint(t, nil)
	for _, tc := range forwardauthtest.TrickyPaths {
		if tc.Direct {
			continue
		}
		t.Run("path "+tc.Name, func(t *testing.T) {
			e.Observed.Take()
			before := e.upstream.hits.Load()
			r := forwardauthtest.RawDo(t, proxyAddr, tc.Verb(), tc.Path, forwardauthtest.With(forwardauthtest.Bearer(good), "Host", "private.example.test"))
			hits := e.upstream.hits.Load() - before
			if own, ok := tc.Own[proxy]; ok {
				if n := len(e.Observed.Take()); r.Status != own || hits != 0 || n != 0 {
					t.Errorf("status %d, %d upstream hits, %d decisions; want %s's own %d", r.Status, hits, n, proxy, own)
				}
				return
			}
			forwardauthtest.ExpectDecision(t, proxy, e.Observed, tc.Forward(), r)
			if r.Status != http.StatusOK {
				if hits != 0 {
					t.Errorf("a refused request reached the upstream")
				}
				return
			}
			var got echoed
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("upstream answer %q: %v", r.Body, err)
			}
			if hits != 1 || got.URI != tc.Path {
				t.Errorf("upstream reached %d times with %q, want once with %q", hits, got.URI, tc.Path)
			}
		})
	}
}

func TestNginx(t *testing.T) {
	bin := findProxy(t, "nginx", "nginx-light", "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
	e := newE2E(t)
	dir := t.TempDir()
	// When the test runs as root, nginx's workers run as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	conf := render(t, "nginx.conf", dir,
		exampleAuthzAddr, e.authzAddr, exampleUpstreamAddr, e.upstream.addr, "127.0.0.1:8080", addr)
	startProxy(t, exec.Command(bin, "-p", dir, "-e", "stderr", "-g", "daemon off;", "-c", conf), addr)
	runProxyCases(t, e, addr, false)
	runTrickyPaths(t, e, addr, "nginx")
}

func TestCaddy(t *testing.T) {
	bin := findProxy(t, "caddy", "caddy", "/usr/bin/caddy", "/usr/local/bin/caddy")
	e := newE2E(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := render(t, "Caddyfile", dir,
		exampleAuthzAddr, e.authzAddr, exampleUpstreamAddr, e.upstream.addr, "http://:8080", "http://:"+port)
	cmd := exec.Command(bin, "run", "--adapter", "caddyfile", "--config", conf)
	// Caddy keeps state under HOME and the XDG directories: keep it here.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	startProxy(t, cmd, addr)
	runProxyCases(t, e, addr, true)
	runTrickyPaths(t, e, addr, "caddy")
}

func TestMissingProxySkipsOffCI(t *testing.T) {
	t.Setenv("CI", "")
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		findProxy(t, "actions-authz-no-such-proxy", "none", filepath.Join(t.TempDir(), "nope"))
	})
	if !skipped {
		t.Error("a missing proxy binary did not skip the test")
	}
}
