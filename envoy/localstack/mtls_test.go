package localstack_test

// mTLS between real Envoy and actions-authz: envoy/envoy.yaml with its
// actions_authz cluster replaced by examples/envoy-mtls.yaml, and
// examples/compose/config.yaml with server.tls, over certificates generated
// here.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/actions-authz/actions-authz/envoy/envoytest"
	"github.com/actions-authz/actions-authz/envoy/localstack"
	"github.com/actions-authz/actions-authz/internal/testpki"
)

// serverName is the name in actions-authz's certificate that
// examples/envoy-mtls.yaml sends as SNI and checks in the SAN.
const serverName = "actions-authz.internal"

func TestMTLS(t *testing.T) {
	t.Parallel()
	o := stackOptions(t)
	dir := t.TempDir()

	serverCA, envoyCA, otherCA := testpki.NewCA(t, "actions-authz CA"), testpki.NewCA(t, "Envoy CA"), testpki.NewCA(t, "another CA")
	put := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	serverCert := serverCA.Issue(t, serverName, x509.ExtKeyUsageServerAuth)
	envoyCert := envoyCA.Issue(t, "envoy", x509.ExtKeyUsageClientAuth)
	strangerCert := otherCA.Issue(t, "envoy", x509.ExtKeyUsageClientAuth)

	// Envoy: the files examples/envoy-mtls.yaml names under /etc/envoy/tls,
	// and its address, in one table.
	mtlsTable := map[string]string{
		serverName + ":9000":                  o.Addrs.GRPC,
		"/etc/envoy/tls/envoy.crt":            put("envoy.crt", envoyCert.CertPEM),
		"/etc/envoy/tls/envoy.key":            put("envoy.key", envoyCert.KeyPEM),
		"/etc/envoy/tls/actions-authz-ca.crt": put("actions-authz-ca.crt", serverCA.PEM),
	}
	raw, err := os.ReadFile(filepath.Join(root, "examples/envoy-mtls.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := localstack.Rewrite(raw, mtlsTable)
	if err != nil {
		t.Fatal(err)
	}
	envoyConfig, authzConfig, err := localstack.RenderCompose(root, o.Addrs)
	if err != nil {
		t.Fatal(err)
	}
	o.EnvoyConfig = replaceCluster(t, envoyConfig, cluster)
	// actions-authz: the compose configuration plus server.tls.
	o.AuthzConfig = withServerTLS(t, authzConfig, map[string]string{
		"cert_file":      put("tls.crt", serverCert.CertPEM),
		"key_file":       put("tls.key", serverCert.KeyPEM),
		"client_ca_file": put("envoy-ca.crt", envoyCA.PEM),
	})

	// StartStack waits until Envoy's gRPC health check, over mTLS, finds
	// actions-authz healthy.
	s := startStack(t, o)
	base := "http://" + s.Addrs.Listener

	t.Run("health check over mTLS", func(t *testing.T) {
		hosts, err := s.Envoy.HostHealth("actions_authz")
		if err != nil {
			t.Fatal(err)
		}
		if got := hosts[s.Addrs.GRPC]; got != "healthy" {
			t.Errorf("actions_authz host %s: health flags %q, want healthy (all hosts: %v)", s.Addrs.GRPC, got, hosts)
		}
		n, err := s.Envoy.Counter("cluster.actions_authz.ssl.handshake")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Error("cluster.actions_authz.ssl.handshake is 0: Envoy did not speak TLS to actions-authz")
		}
	})

	token, tokenClaims := mint(t, s.Addrs.Dev, nil)
	stranger, _ := mint(t, s.Addrs.Dev, map[string]any{"repository": "evil-org/octo-repo", "repository_owner_id": "999"})
	t.Run("decisions through Envoy", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			token  string
			status int
		}{
			{"allowed", token, http.StatusOK},
			{"another owner", stranger, http.StatusForbidden},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := upstreamRequests(t, s)
				r := send(t, "GET", base+"/hello", c.token, nil)
				if r.status != c.status {
					t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
				}
				after := upstreamRequests(t, s)
				if c.status != http.StatusOK {
					if after != before {
						t.Errorf("a denied request reached the private service")
					}
					return
				}
				e := decodeEcho(t, r)
				if got, want := e.Identity["x-github-repository"], tokenClaims["repository"]; got != want {
					t.Errorf("x-github-repository at the upstream %q, want %q (identity %v)", got, want, e.Identity)
				}
				if e.Authorization != "absent" {
					t.Errorf("Authorization reached the upstream: %q", e.Authorization)
				}
			})
		}
	})

	// Straight to actions-authz's gRPC port, around Envoy. The first case
	// shows that the others fail for their certificate and nothing else.
	client := func(certs ...testpki.Leaf) *tls.Config {
		cfg := &tls.Config{RootCAs: testpki.Pool(serverCA.PEM), ServerName: serverName}
		for _, c := range certs {
			pair, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = append(cfg.Certificates, pair)
		}
		return cfg
	}
	for _, c := range []struct {
		name   string
		client *tls.Config // nil: plain text
		ok     bool
	}{
		{"direct: Envoy's certificate", client(envoyCert), true},
		{"direct: plain text", nil, false},
		{"direct: certificate from another CA", client(strangerCert), false},
		{"direct: no client certificate", client(), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := check(t, s.Addrs.GRPC, c.client)
			switch {
			case c.ok && err != nil:
				t.Fatalf("Check: %v, want an answer", err)
			case c.ok && resp.GetStatus().GetCode() != int32(codes.Unauthenticated):
				t.Fatalf("Check without a token answered %v, want UNAUTHENTICATED", resp.GetStatus())
			case !c.ok && err == nil:
				t.Fatalf("Check answered %v, want the connection refused", resp.GetStatus())
			case !c.ok && status.Code(err) != codes.Unavailable:
				t.Fatalf("Check: %v, want Unavailable (no connection)", err)
			}
		})
	}
}

// check sends one Check without a token straight to addr, over TLS with
// clientTLS or in plain text when it is nil.
func check(t *testing.T, addr string, clientTLS *tls.Config) (*authv3.CheckResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return envoytest.Dial(t, addr, clientTLS).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		ContextExtensions: map[string]string{"policy": "default"},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "private.example.test", Path: "/hello", Scheme: "http",
			Headers: map[string]string{":method": "GET", ":path": "/hello", ":authority": "private.example.test"},
		}},
	}})
}

// replaceCluster returns the Envoy bootstrap with the cluster of the same
// name as cluster (a YAML Cluster) replaced by it.
func replaceCluster(t *testing.T, bootstrap, cluster []byte) []byte {
	t.Helper()
	var boot struct {
		Rest            map[string]any `yaml:",inline"`
		StaticResources struct {
			Rest     map[string]any   `yaml:",inline"`
			Clusters []map[string]any `yaml:"clusters"`
		} `yaml:"static_resources"`
	}
	var cl map[string]any
	if err := yaml.Unmarshal(bootstrap, &boot); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(cluster, &cl); err != nil {
		t.Fatal(err)
	}
	replaced := 0
	for i, c := range boot.StaticResources.Clusters {
		if c["name"] == cl["name"] {
			boot.StaticResources.Clusters[i] = cl
			replaced++
		}
	}
	if replaced != 1 {
		t.Fatalf("the bootstrap has %d clusters named %v, want 1", replaced, cl["name"])
	}
	out, err := yaml.Marshal(&boot)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withServerTLS returns an actions-authz configuration with server.tls set.
func withServerTLS(t *testing.T, config []byte, tlsFiles map[string]string) []byte {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal(config, &cfg); err != nil {
		t.Fatal(err)
	}
	server, ok := cfg["server"].(map[string]any)
	if !ok {
		t.Fatalf("the configuration has no server section: %s", config)
	}
	server["tls"] = tlsFiles
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
