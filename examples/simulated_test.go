package examples_test

// Traefik and Envoy have no Debian package, so they are played here by Go
// proxies that read the example configuration files and behave as those
// proxies are documented to (Traefik v2 pkg/middlewares/auth/forward.go,
// Envoy ext_authz_http_impl.cc; see reference/envoy-ext-authz.md §8.2). The
// same cases as for nginx and Caddy then run through them.

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/envoy/envoytest"
	"github.com/actions-authz/actions-authz/forwardauth"
	"github.com/actions-authz/actions-authz/forwardauth/forwardauthtest"
)

// serveProxy runs h on addr (a free loopback port when "") until the test
// ends, and returns the address.
func serveProxy(t *testing.T, addr string, h http.Handler) string {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 64 << 10}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return lis.Addr().String()
}

// reverseProxy forwards to target keeping the client's Host, as Traefik
// (passHostHeader) and Envoy do.
func reverseProxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}
}

// simClient calls the authorization service for the simulated proxies.
var simClient = &http.Client{Timeout: 5 * time.Second}

// relay writes a refusal from the authorization service to the client.
func relay(w http.ResponseWriter, resp *http.Response, body []byte) {
	for name, vs := range resp.Header {
		w.Header()[name] = vs
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

// traefikDynamic is the part of Traefik's dynamic configuration the example
// uses. Decoding is strict, so a misspelt key in the example fails the test.
type traefikDynamic struct {
	HTTP struct {
		Routers map[string]struct {
			EntryPoints []string `yaml:"entryPoints"`
			Rule        string   `yaml:"rule"`
			Middlewares []string `yaml:"middlewares"`
			Service     string   `yaml:"service"`
		} `yaml:"routers"`
		Middlewares map[string]struct {
			ForwardAuth *struct {
				Address                  string   `yaml:"address"`
				TrustForwardHeader       bool     `yaml:"trustForwardHeader"`
				AuthRequestHeaders       []string `yaml:"authRequestHeaders"`
				AuthResponseHeaders      []string `yaml:"authResponseHeaders"`
				AuthResponseHeadersRegex string   `yaml:"authResponseHeadersRegex"`
			} `yaml:"forwardAuth"`
			Headers *struct {
				CustomRequestHeaders map[string]string `yaml:"customRequestHeaders"`
			} `yaml:"headers"`
		} `yaml:"middlewares"`
		Services map[string]struct {
			LoadBalancer struct {
				Servers []struct {
					URL string `yaml:"url"`
				} `yaml:"servers"`
			} `yaml:"loadBalancer"`
		} `yaml:"services"`
	} `yaml:"http"`
}

// traefikProxy plays Traefik's single router of the example: its middlewares
// in order, then its service.
func traefikProxy(t *testing.T, file string) http.Handler {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cfg traefikDynamic
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("traefik.yaml: %v", err)
	}
	if len(cfg.HTTP.Routers) != 1 {
		t.Fatalf("traefik.yaml: %d routers, want 1", len(cfg.HTTP.Routers))
	}
	var steps []func(w http.ResponseWriter, r *http.Request) bool // false: answered
	var service *url.URL
	for _, router := range cfg.HTTP.Routers {
		if router.Rule != "PathPrefix(`/`)" {
			t.Fatalf("traefik.yaml: rule %q, the simulation knows PathPrefix(`/`) only", router.Rule)
		}
		for _, name := range router.Middlewares {
			m, ok := cfg.HTTP.Middlewares[name]
			switch {
			case !ok:
				t.Fatalf("traefik.yaml: router uses undefined middleware %q", name)
			case m.ForwardAuth != nil:
				steps = append(steps, traefikForwardAuth(t, m.ForwardAuth.Address, m.ForwardAuth.TrustForwardHeader,
					m.ForwardAuth.AuthRequestHeaders, m.ForwardAuth.AuthResponseHeaders, m.ForwardAuth.AuthResponseHeadersRegex))
			case m.Headers != nil:
				custom := m.Headers.CustomRequestHeaders
				steps = append(steps, func(_ http.ResponseWriter, r *http.Request) bool {
					for name, v := range custom {
						if v == "" {
							r.Header.Del(name)
						} else {
							r.Header.Set(name, v)
						}
					}
					return true
				})
			default:
				t.Fatalf("traefik.yaml: middleware %q of a kind the simulation does not know", name)
			}
		}
		svc, ok := cfg.HTTP.Services[router.Service]
		if !ok || len(svc.LoadBalancer.Servers) != 1 {
			t.Fatalf("traefik.yaml: service %q undefined or without exactly one server", router.Service)
		}
		if service, err = url.Parse(svc.LoadBalancer.Servers[0].URL); err != nil {
			t.Fatal(err)
		}
	}
	proxy := reverseProxy(service)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, step := range steps {
			if !step(w, r) {
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})
}

// traefikForwardAuth is Traefik's forwardAuth middleware.
func traefikForwardAuth(t *testing.T, address string, trust bool, requestHeaders, responseHeaders []string, responseRegex string) func(http.ResponseWriter, *http.Request) bool {
	t.Helper()
	var re *regexp.Regexp
	if responseRegex != "" {
		re = regexp.MustCompile(responseRegex)
	}
	return func(w http.ResponseWriter, r *http.Request) bool {
		auth, err := http.NewRequest(http.MethodGet, address, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return false
		}
		// All the client's headers, or only authRequestHeaders when listed.
		for name, vs := range r.Header {
			if len(requestHeaders) == 0 || containsFold(requestHeaders, name) {
				auth.Header[name] = vs
			}
		}
		set := func(name, v string) {
			if !trust || auth.Header.Get(name) == "" {
				auth.Header.Set(name, v)
			}
		}
		set("X-Forwarded-Method", r.Method)
		set("X-Forwarded-Proto", "http")
		set("X-Forwarded-Host", r.Host)
		set("X-Forwarded-Uri", r.URL.RequestURI())
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		set("X-Forwarded-For", host)
		resp, err := simClient.Do(auth)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			relay(w, resp, body)
			return false
		}
		for _, name := range responseHeaders {
			name = http.CanonicalHeaderKey(name)
			r.Header.Del(name)
			if vs := resp.Header[name]; len(vs) > 0 {
				r.Header[name] = append([]string(nil), vs...)
			}
		}
		if re != nil {
			for name := range r.Header {
				if re.MatchString(name) {
					r.Header.Del(name)
				}
			}
			for name, vs := range resp.Header {
				if re.MatchString(name) {
					r.Header[name] = append([]string(nil), vs...)
				}
			}
		}
		return true
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func TestTraefikSimulated(t *testing.T) {
	e := newE2E(t)
	dir := t.TempDir()
	file := render(t, "traefik.yaml", dir, exampleAuthzAddr, e.authzAddr, exampleUpstreamAddr, e.upstream.addr)
	addr := serveProxy(t, "", traefikProxy(t, file))
	runProxyCases(t, e, addr, true)
}

// envoyHTTP is what the simulation takes from envoy-http.yaml.
type envoyHTTP struct {
	listen        string
	authz         string // the ext_authz cluster's endpoint
	upstream      string // the route's cluster's endpoint
	pathPrefix    string
	allowed       []*matcherv3.StringMatcher // authorization_request.allowed_headers
	upstreamAllow []*matcherv3.StringMatcher // authorization_response.allowed_upstream_headers
	statusOnError int
}

// loadEnvoyHTTP reads the bootstrap file as Envoy would: protojson into the
// v3 Bootstrap (unknown fields and types are errors), Envoy's own validation
// rules on it and on the typed configs inside Anys, which are not descended
// into by the generated validation.
func loadEnvoyHTTP(t *testing.T, file string) envoyHTTP {
	t.Helper()
	var bs bootstrapv3.Bootstrap
	envoytest.LoadFile(t, file, &bs)
	var out envoyHTTP
	listeners := bs.GetStaticResources().GetListeners()
	if len(listeners) != 1 || len(listeners[0].GetFilterChains()) != 1 || len(listeners[0].GetFilterChains()[0].GetFilters()) != 1 {
		t.Fatal("envoy-http.yaml: want one listener with one filter chain of one filter")
	}
	sa := listeners[0].GetAddress().GetSocketAddress()
	out.listen = net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
	var hcm hcmv3.HttpConnectionManager
	if err := listeners[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	if err := hcm.ValidateAll(); err != nil {
		t.Fatalf("envoy-http.yaml: http_connection_manager: %v", err)
	}
	var ext *extauthzv3.ExtAuthz
	for _, f := range hcm.GetHttpFilters() {
		if f.GetName() == "envoy.filters.http.ext_authz" {
			ext = &extauthzv3.ExtAuthz{}
			if err := f.GetTypedConfig().UnmarshalTo(ext); err != nil {
				t.Fatal(err)
			}
		}
	}
	if ext == nil {
		t.Fatal("envoy-http.yaml: no ext_authz filter")
	}
	if err := ext.ValidateAll(); err != nil {
		t.Fatalf("envoy-http.yaml: ext_authz: %v", err)
	}
	hs := ext.GetHttpService()
	if hs == nil || ext.GetFailureModeAllow() {
		t.Fatal("envoy-http.yaml: ext_authz must use http_service and fail closed")
	}
	endpoint := func(name string) string {
		for _, c := range bs.GetStaticResources().GetClusters() {
			if c.GetName() == name && c.GetType() == clusterv3.Cluster_STATIC {
				a := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
				return net.JoinHostPort(a.GetAddress(), strconv.Itoa(int(a.GetPortValue())))
			}
		}
		t.Fatalf("envoy-http.yaml: no static cluster %q", name)
		return ""
	}
	out.authz = endpoint(hs.GetServerUri().GetCluster())
	if u, err := url.Parse(hs.GetServerUri().GetUri()); err != nil || u.Host != out.authz {
		t.Errorf("envoy-http.yaml: server_uri %q does not name the cluster's endpoint %s", hs.GetServerUri().GetUri(), out.authz)
	}
	routes := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()
	out.upstream = endpoint(routes[0].GetRoute().GetCluster())
	out.pathPrefix = hs.GetPathPrefix()
	out.allowed = ext.GetAllowedHeaders().GetPatterns()
	out.upstreamAllow = hs.GetAuthorizationResponse().GetAllowedUpstreamHeaders().GetPatterns()
	out.statusOnError = int(ext.GetStatusOnError().GetCode())
	if out.statusOnError == 0 {
		out.statusOnError = http.StatusForbidden
	}
	return out
}

// matchAny reports whether a header name matches one of Envoy's string
// matchers.
func matchAny(t *testing.T, ms []*matcherv3.StringMatcher, name string) bool {
	for _, m := range ms {
		n, exact, prefix, suffix, contains := name, m.GetExact(), m.GetPrefix(), m.GetSuffix(), m.GetContains()
		if m.GetIgnoreCase() {
			n, exact, prefix, suffix, contains = strings.ToLower(n), strings.ToLower(exact), strings.ToLower(prefix), strings.ToLower(suffix), strings.ToLower(contains)
		}
		switch m.GetMatchPattern().(type) {
		case *matcherv3.StringMatcher_Exact:
			if n == exact {
				return true
			}
		case *matcherv3.StringMatcher_Prefix:
			if strings.HasPrefix(n, prefix) {
				return true
			}
		case *matcherv3.StringMatcher_Suffix:
			if strings.HasSuffix(n, suffix) {
				return true
			}
		case *matcherv3.StringMatcher_Contains:
			if strings.Contains(n, contains) {
				return true
			}
		default:
			t.Errorf("string matcher %v: the simulation knows exact, prefix, suffix and contains", m)
		}
	}
	return false
}

// envoyProxy plays Envoy's ext_authz http_service: the original method, the
// path prefix and original path, Host and Authorization plus allowed_headers
// to the service; exactly 200 allows, copying allowed_upstream_headers over
// the request's and removing x-envoy-auth-headers-to-remove; a 5xx is
// status_on_error; anything else is relayed to the client.
func envoyProxy(t *testing.T, cfg envoyHTTP) http.Handler {
	proxy := reverseProxy(&url.URL{Scheme: "http", Host: cfg.upstream})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, err := http.NewRequest(r.Method, "http://"+cfg.authz+cfg.pathPrefix+r.URL.RequestURI(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		auth.Host = r.Host
		for name, vs := range r.Header {
			if strings.EqualFold(name, "Authorization") || matchAny(t, cfg.allowed, name) {
				auth.Header[name] = vs
			}
		}
		resp, err := simClient.Do(auth)
		if err != nil {
			w.WriteHeader(cfg.statusOnError)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 500:
			w.WriteHeader(cfg.statusOnError)
			return
		case resp.StatusCode != http.StatusOK:
			relay(w, resp, body)
			return
		}
		for name, vs := range resp.Header {
			if matchAny(t, cfg.upstreamAllow, name) {
				r.Header[name] = vs
			}
		}
		if list := resp.Header.Get("X-Envoy-Auth-Headers-To-Remove"); list != "" {
			for _, name := range strings.Split(list, ",") {
				r.Header.Del(strings.TrimSpace(name))
			}
		}
		proxy.ServeHTTP(w, r)
	})
}

func TestEnvoyHTTPServiceSimulated(t *testing.T) {
	e := newE2E(t)
	dir := t.TempDir()
	_, authzPort, _ := net.SplitHostPort(e.authzAddr)
	_, upstreamPort, _ := net.SplitHostPort(e.upstream.addr)
	_, proxyPort, _ := net.SplitHostPort(freeAddr(t))
	file := render(t, "envoy-http.yaml", dir,
		exampleAuthzAddr, e.authzAddr,
		"port_value: 9100", "port_value: "+authzPort,
		"port_value: 8081", "port_value: "+upstreamPort,
		"port_value: 8080", "port_value: "+proxyPort)
	cfg := loadEnvoyHTTP(t, file)
	if cfg.pathPrefix != forwardauth.EnvoyPrefix {
		t.Fatalf("path_prefix %q, want %q", cfg.pathPrefix, forwardauth.EnvoyPrefix)
	}
	for _, name := range []string{"x-github-repository", "x-github-run-attempt"} {
		if !matchAny(t, cfg.upstreamAllow, name) {
			t.Errorf("allowed_upstream_headers does not let %s through", name)
		}
	}
	if cfg.authz != e.authzAddr || cfg.upstream != e.upstream.addr {
		t.Fatalf("rendered clusters %s and %s, want %s and %s", cfg.authz, cfg.upstream, e.authzAddr, e.upstream.addr)
	}
	addr := serveProxy(t, cfg.listen, envoyProxy(t, cfg))
	runProxyCases(t, e, addr, true)

	// A 503 from actions-authz becomes status_on_error.
	r := forwardauthtest.Do(t, "GET", "http://"+addr+"/hello", forwardauthtest.Bearer(e.MintDown(t)))
	if r.Status != cfg.statusOnError || cfg.statusOnError != http.StatusServiceUnavailable {
		t.Errorf("keys unavailable: %d, want status_on_error %d (503 in the example)", r.Status, cfg.statusOnError)
	}
}
