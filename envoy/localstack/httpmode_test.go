package localstack_test

// Envoy's HTTP mode through real Envoy: examples/forward-auth/envoy-http.yaml
// (ext_authz with http_service) in front of actions-authz serve --dev with
// examples/forward-auth/config.yaml and the private service, the cases of
// TestComposeStack where the two configurations have corresponding policies.

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// The HTTP-mode example files, relative to the repository root.
const (
	httpModeEnvoyConfig = "examples/forward-auth/envoy-http.yaml"
	httpModeAuthzConfig = "examples/forward-auth/config.yaml"
)

// httpModeAddrs is the loopback table of the HTTP-mode example files: each
// address as they have it and the free address it becomes; forwardAuth is
// actions-authz's forward-auth door (server.forward_auth_addr).
func httpModeAddrs(a localstack.Addrs, forwardAuth string) map[string]string {
	return map[string]string{
		// envoy-http.yaml
		"127.0.0.1:8080": a.Listener,  // the listener
		"127.0.0.1:9100": forwardAuth, // the actions_authz cluster and http_service's server_uri
		"127.0.0.1:8081": a.Upstream,  // the private_service cluster
		// config.yaml
		"127.0.0.1:9000": a.GRPC, // server.grpc_addr
		"127.0.0.1:9001": a.HTTP, // server.http_addr
		"127.0.0.1:9002": a.Dev,  // the development issuer
	}
}

func TestHTTPMode(t *testing.T) {
	t.Parallel()
	o := stackOptions(t)
	forwardAuth, err := localstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	table := httpModeAddrs(o.Addrs, forwardAuth)
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{
		{httpModeEnvoyConfig, &o.EnvoyConfig},
		{httpModeAuthzConfig, &o.AuthzConfig},
	} {
		raw, err := os.ReadFile(filepath.Join(root, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if *f.dst, err = localstack.Rewrite(raw, table); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
	}
	// The actions_authz cluster is the forward-auth door and has no health
	// check: StartStack cannot wait for Envoy to find it healthy, so wait
	// for actions-authz's keys here.
	o.NoWait = true
	s := startStack(t, o)
	wait, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.ActionsAuthz.WaitHTTP(wait, "http://"+s.Addrs.HTTP+"/readyz", http.StatusOK, nil); err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addrs.Listener
	dev := s.Addrs.Dev

	cfg, err := config.Load(filepath.Join(root, httpModeAuthzConfig))
	if err != nil {
		t.Fatal(err)
	}
	token, tokenClaims := mint(t, dev, nil)
	stranger, _ := mint(t, dev, map[string]any{"repository": "evil-org/octo-repo", "repository_owner_id": "999"})
	deployer, _ := mint(t, dev, map[string]any{"repository": "octo-org/infra", "environment": "production"})
	now := time.Now().Unix()
	expired, _ := mint(t, dev, map[string]any{"iat": now - 3600, "nbf": now - 3600, "exp": now - 3000})
	otherAudience, _ := mint(t, dev, map[string]any{"aud": "https://somebody-else.example"})

	t.Run("allowed", func(t *testing.T) { checkAllowed(t, base, token, tokenClaims, cfg) })

	t.Run("deploy route, allowed", func(t *testing.T) {
		r := send(t, "POST", base+"/deploy/app", deployer, nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, want 200: %s", r.status, r.body)
		}
		e := decodeEcho(t, r)
		for k, v := range map[string]string{"x-github-repository": "octo-org/infra", "x-github-environment": "production"} {
			if e.Identity[k] != v {
				t.Errorf("%s %q at the upstream, want %q", k, e.Identity[k], v)
			}
		}
		if e.Method != "POST" || e.Path != "/deploy/app" {
			t.Errorf("upstream saw %s %s, want POST /deploy/app", e.Method, e.Path)
		}
	})

	// The answers of TestComposeStack, but for this configuration's
	// audience in the 401s.
	for _, c := range []struct {
		name, method, path, token string
		want                      documented
	}{
		{"no token", "GET", "/hello", "", documented{401, `Bearer realm="actions-authz"`,
			`{"error":"invalid_request","error_description":"a bearer token is required","policy":"default"}`}},
		{"expired", "GET", "/hello", expired, documented{401, `Bearer realm="actions-authz", error="invalid_token", error_description="token has expired"`,
			`{"error":"invalid_token","error_description":"token has expired","policy":"default"}`}},
		{"wrong audience", "GET", "/hello", otherAudience, documented{401, `Bearer realm="actions-authz", error="invalid_token", error_description="token audience is not accepted"`,
			`{"error":"invalid_token","error_description":"token audience is not accepted","policy":"default"}`}},
		{"another owner", "GET", "/hello", stranger, documented{403, "",
			`{"error":"access_denied","error_description":"policy \"default\": no rule matched","policy":"default"}`}},
		{"deploy from another repository", "POST", "/deploy/app", token, documented{403, "",
			`{"error":"access_denied","error_description":"policy \"deploy\": no rule matched","policy":"deploy"}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkRefused(t, s, c.method, base+c.path, c.token, c.want)
		})
	}

	// Last: it stops actions-authz.
	t.Run("outage", func(t *testing.T) {
		s.ActionsAuthz.Stop(10 * time.Second)
		before := upstreamRequests(t, s)
		r := send(t, "GET", base+"/hello", token, nil)
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("with actions-authz stopped: status %d, want 503 (status_on_error)", r.status)
		}
		if after := upstreamRequests(t, s); after != before {
			t.Errorf("with actions-authz stopped the request reached the private service (failure_mode_allow must be false)")
		}
	})
}
