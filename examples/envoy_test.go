package examples_test

// The Envoy configurations under examples/: the mTLS cluster against
// Envoy's API and this server, and every one through Envoy's own check,
// envoy --mode validate, which builds it as Envoy 1.40 would (typed
// configs, clusters, listeners, TLS contexts, references between them)
// without serving. This is in addition to the go-control-plane checks of
// examples/kubernetes/manifests_test.go, which know our rules; this one
// knows Envoy's. envoy/localstack/validate_test.go validates the
// configurations outside examples/.
//
// Validate mode neither binds the listeners nor resolves the STRICT_DNS
// host names (actions-authz, private-service, *.svc.cluster.local), so the
// files are validated with their addresses as shipped. It does read the
// files a configuration names: the mTLS example's certificates are
// generated here.

import (
	"crypto/x509"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/actions-authz/actions-authz/envoy/envoytest"
	"github.com/actions-authz/actions-authz/envoy/localstack"
	"github.com/actions-authz/actions-authz/internal/testpki"
)

// TestEnvoyMTLSExample checks examples/envoy-mtls.yaml against Envoy's API
// and against this server: it is a valid Cluster, it speaks HTTP/2 with
// ALPN h2, presents a client certificate and verifies the server's. That
// its keepalive pings no more often than the server tolerates is checked
// by TestEnvoyMTLSExampleKeepalive in cmd/actions-authz/internal/service, beside the
// server's minimum.
func TestEnvoyMTLSExample(t *testing.T) {
	var cl clusterv3.Cluster
	envoytest.LoadFile(t, "envoy-mtls.yaml", &cl)

	var up tlsv3.UpstreamTlsContext
	if err := cl.GetTransportSocket().GetTypedConfig().UnmarshalTo(&up); err != nil {
		t.Fatalf("transport_socket is not an UpstreamTlsContext: %v", err)
	}
	if err := up.ValidateAll(); err != nil {
		t.Fatalf("UpstreamTlsContext fails Envoy's validation: %v", err)
	}
	ctx := up.GetCommonTlsContext()
	if !slices.Contains(ctx.GetAlpnProtocols(), "h2") {
		t.Error("no ALPN h2: gRPC over TLS needs it")
	}
	if len(ctx.GetTlsCertificates()) == 0 {
		t.Error("no client certificate: the server's client_ca_file requires one")
	}
	if ctx.GetValidationContext().GetTrustedCa() == nil {
		t.Error("the server certificate is not verified")
	}

	var opts httpv3.HttpProtocolOptions
	if err := cl.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&opts); err != nil {
		t.Fatal(err)
	}
	if opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Fatal("the cluster does not speak HTTP/2")
	}
}

// Every Envoy configuration under examples/ has a case here; those outside
// it have theirs in envoy/localstack/validate_test.go.
func TestEnvoyValidatesExampleConfigs(t *testing.T) {
	t.Parallel()
	localstack.ValidateConfigs(t, root, func(f string) bool { return strings.HasPrefix(f, "examples/") }, []localstack.ConfigCase{
		{Name: "mTLS cluster in envoy.yaml", Files: []string{"examples/envoy-mtls.yaml"}, Bootstrap: mtlsBootstrap},
		{
			Name:  "forward-auth envoy-http.yaml",
			Files: []string{"examples/forward-auth/envoy-http.yaml"},
			Bootstrap: func(t *testing.T, _ string) string {
				return "forward-auth/envoy-http.yaml"
			},
		},
		{Name: "kubernetes envoy-configmap.yaml", Files: []string{"examples/kubernetes/envoy-configmap.yaml"}, Bootstrap: kubernetesBootstrap},
	})
}

// mtlsBootstrap is envoy/envoy.yaml with its actions_authz cluster replaced
// by examples/envoy-mtls.yaml, as that file tells users to do. Envoy's
// validation loads the certificate files, which exist only in a deployment
// (/etc/envoy/tls/...): the test generates a throwaway CA and client
// certificate in dir and points the cluster's filenames at them.
func mtlsBootstrap(t *testing.T, dir string) string {
	cluster := localstack.LoadYAML(t, root, "examples/envoy-mtls.yaml")
	tlsFiles := writeTLSFiles(t, dir)
	var rewrite func(v any)
	rewrite = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "filename" {
					local, ok := tlsFiles[path.Base(s)]
					if !ok {
						t.Fatalf("examples/envoy-mtls.yaml names %s; the test generates only %v", s, tlsFiles)
					}
					v[k] = local
					continue
				}
				rewrite(x)
			}
		case []any:
			for _, x := range v {
				rewrite(x)
			}
		}
	}
	rewrite(cluster)

	doc := localstack.LoadYAML(t, root, "envoy/envoy.yaml")
	clusters := doc["static_resources"].(map[string]any)["clusters"].([]any)
	replaced := false
	for i, c := range clusters {
		if c.(map[string]any)["name"] == cluster["name"] {
			clusters[i], replaced = cluster, true
		}
	}
	if !replaced {
		t.Fatalf("envoy/envoy.yaml has no cluster %v for examples/envoy-mtls.yaml to replace", cluster["name"])
	}
	return localstack.WriteYAML(t, dir, "envoy-mtls.yaml", doc)
}

// writeTLSFiles writes the files examples/envoy-mtls.yaml names, by base
// name: a CA (standing for actions-authz's) and Envoy's client certificate
// and key, which it signs.
func writeTLSFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	ca := testpki.NewCA(t, "test CA")
	envoyCert := ca.Issue(t, "envoy", x509.ExtKeyUsageClientAuth)
	files := map[string]string{}
	for name, data := range map[string][]byte{
		"actions-authz-ca.crt": ca.PEM,
		"envoy.crt":            envoyCert.CertPEM,
		"envoy.key":            envoyCert.KeyPEM,
	} {
		files[name] = filepath.Join(dir, name)
		if err := os.WriteFile(files[name], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// kubernetesBootstrap is the envoy.yaml value of the envoy-config ConfigMap.
func kubernetesBootstrap(t *testing.T, dir string) string {
	const file = "examples/kubernetes/envoy-configmap.yaml"
	cm := localstack.LoadYAML(t, root, file)
	data, _ := cm["data"].(map[string]any)
	boot, ok := data["envoy.yaml"].(string)
	if cm["kind"] != "ConfigMap" || !ok {
		t.Fatalf("%s: want a ConfigMap with data envoy.yaml", file)
	}
	config := filepath.Join(dir, "envoy.yaml")
	if err := os.WriteFile(config, []byte(boot), 0o600); err != nil {
		t.Fatal(err)
	}
	return config
}
