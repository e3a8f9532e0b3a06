package localstack_test

// Envoy's own check, envoy --mode validate, of every Envoy configuration in
// the repository outside examples/ (examples/envoy_test.go validates those):
// each is built as Envoy 1.40 would build it (typed configs, clusters,
// listeners, TLS contexts, references between them) without serving. This
// is in addition to the go-control-plane checks of envoy/config_test.go and
// envoy/readme_test.go, which know our rules; this one knows Envoy's.
//
// Validate mode neither binds the listeners nor resolves the STRICT_DNS
// host names (actions-authz, private-service), so the files are validated
// with their addresses as shipped.

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// Every Envoy configuration outside examples/ has a case here; those under
// it have theirs in examples/envoy_test.go.
func TestEnvoyValidatesShippedConfigs(t *testing.T) {
	t.Parallel()
	localstack.ValidateConfigs(t, root, func(f string) bool { return !strings.HasPrefix(f, "examples/") }, []localstack.ConfigCase{
		{
			Name:  "envoy.yaml",
			Files: []string{"envoy/envoy.yaml"},
			Bootstrap: func(t *testing.T, _ string) string {
				return filepath.Join(root, "envoy/envoy.yaml")
			},
		},
		{
			Name:      "README snippets",
			Files:     []string{"README.md"},
			Bootstrap: readmeBootstrap,
		},
	})
}

// The validation catches what Envoy refuses: copies of envoy/envoy.yaml
// broken one way each fail, and the error carries Envoy's own words. One
// mistake Envoy 1.40 accepts is kept here on purpose: an ext_authz filter
// whose envoy_grpc cluster_name names no cluster validates, and a running
// Envoy starts with it and answers every request 503 (UAEX). Only the
// cross-check of envoy/config_test.go ("ext_authz names a missing cluster")
// refuses it; this case says so, and tells us if a later Envoy starts to.
func TestEnvoyValidateRefusesBrokenConfigs(t *testing.T) {
	t.Parallel()
	bin := requireEnvoy(t)
	for _, c := range []struct {
		name   string
		mutate func(t *testing.T, doc map[string]any)
		// wantErr is in Envoy's output; "" when Envoy accepts the copy.
		wantErr string
	}{
		{
			name: "unknown field in the ext_authz filter",
			mutate: func(t *testing.T, doc map[string]any) {
				httpFilterConfig(t, doc, "envoy.filters.http.ext_authz")["failure_mode_alow"] = false
			},
			wantErr: `failure_mode_alow`,
		},
		{
			name: "route to a missing cluster",
			mutate: func(t *testing.T, doc map[string]any) {
				for _, r := range routes(t, doc) {
					r.(map[string]any)["route"].(map[string]any)["cluster"] = "private_servic"
				}
			},
			wantErr: `route: unknown cluster 'private_servic'`,
		},
		{
			name: "ext_authz names a missing cluster (Envoy accepts it)",
			mutate: func(t *testing.T, doc map[string]any) {
				filter := httpFilterConfig(t, doc, "envoy.filters.http.ext_authz")
				filter["grpc_service"].(map[string]any)["envoy_grpc"] = map[string]any{"cluster_name": "no_such_cluster"}
			},
			wantErr: "",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			doc := localstack.LoadYAML(t, root, "envoy/envoy.yaml")
			c.mutate(t, doc)
			err := localstack.Validate(context.Background(), bin, localstack.WriteYAML(t, t.TempDir(), "broken.yaml", doc))
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("Envoy now refuses the copy: update this case and the comment above\n%v", err)
			case c.wantErr == "":
			case err == nil:
				t.Fatal("Envoy validated the broken copy")
			case !strings.Contains(err.Error(), c.wantErr):
				t.Errorf("the error does not carry Envoy's %q:\n%v", c.wantErr, err)
			}
		})
	}
}

// Snippet types the README marks with <!-- envoy: TYPE -->.
const (
	readmeFilter  = "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter"
	readmeCluster = "envoy.config.cluster.v3.Cluster"
	readmeRoute   = "envoy.config.route.v3.Route"
	readmeReplies = "envoy.extensions.filters.network.http_connection_manager.v3.LocalReplyConfig"
)

// readmeBootstrap assembles the README's four snippets into one bootstrap:
// a listener whose HTTP connection manager runs the README's filter then the
// router, with the README's local replies and a route configuration holding
// the README's route; the
// README's cluster; and a STATIC cluster on 127.0.0.1 for each cluster the
// route names (deploy_api), which stands for the user's own service.
func readmeBootstrap(t *testing.T, dir string) string {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	snippets := map[string]map[string]any{}
	re := regexp.MustCompile("(?s)<!-- envoy: ([A-Za-z0-9_.]+) -->\\s*```yaml\n(.*?)```")
	for _, m := range re.FindAllSubmatch(readme, -1) {
		kind := string(m[1])
		if kind != readmeFilter && kind != readmeCluster && kind != readmeRoute && kind != readmeReplies || snippets[kind] != nil {
			t.Fatalf("README.md: a snippet of type %s that the assembled bootstrap has no place for", kind)
		}
		var v map[string]any
		if err := yaml.Unmarshal(m[2], &v); err != nil {
			t.Fatalf("README.md snippet %s: %v", kind, err)
		}
		snippets[kind] = v
	}
	for _, kind := range []string{readmeFilter, readmeCluster, readmeRoute, readmeReplies} {
		if snippets[kind] == nil {
			t.Fatalf("README.md has no <!-- envoy: %s --> snippet", kind)
		}
	}

	route := snippets[readmeRoute]
	upstream, _ := route["route"].(map[string]any)["cluster"].(string)
	if upstream == "" {
		t.Fatal("README.md: the route snippet names no cluster")
	}
	doc := map[string]any{
		"static_resources": map[string]any{
			"listeners": []any{map[string]any{
				"name":    "ingress",
				"address": socketAddress("127.0.0.1", 8080),
				"filter_chains": []any{map[string]any{
					"filters": []any{map[string]any{
						"name": "envoy.filters.network.http_connection_manager",
						"typed_config": map[string]any{
							"@type":              "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
							"stat_prefix":        "ingress",
							"local_reply_config": snippets[readmeReplies],
							"route_config": map[string]any{
								"name": "local",
								"virtual_hosts": []any{map[string]any{
									"name":    "local",
									"domains": []any{"*"},
									"routes":  []any{route},
								}},
							},
							"http_filters": []any{
								snippets[readmeFilter],
								map[string]any{
									"name": "envoy.filters.http.router",
									"typed_config": map[string]any{
										"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
									},
								},
							},
						},
					}},
				}},
			}},
			"clusters": []any{
				snippets[readmeCluster],
				map[string]any{
					"name":            upstream,
					"type":            "STATIC",
					"connect_timeout": "1s",
					"load_assignment": map[string]any{
						"cluster_name": upstream,
						"endpoints": []any{map[string]any{
							"lb_endpoints": []any{map[string]any{
								"endpoint": map[string]any{"address": socketAddress("127.0.0.1", 8081)},
							}},
						}},
					},
				},
			},
		},
	}
	return localstack.WriteYAML(t, dir, "readme.yaml", doc)
}

func socketAddress(host string, port int) map[string]any {
	return map[string]any{"socket_address": map[string]any{"address": host, "port_value": port}}
}

// httpFilterConfig returns the typed_config of the http filter called name
// in the first listener's HTTP connection manager.
func httpFilterConfig(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	for _, f := range httpConnectionManager(t, doc)["http_filters"].([]any) {
		if f := f.(map[string]any); f["name"] == name {
			return f["typed_config"].(map[string]any)
		}
	}
	t.Fatalf("no http filter %s", name)
	return nil
}

// routes returns the routes of the first listener's route configuration.
func routes(t *testing.T, doc map[string]any) []any {
	t.Helper()
	hcm := httpConnectionManager(t, doc)
	vhost := hcm["route_config"].(map[string]any)["virtual_hosts"].([]any)[0].(map[string]any)
	return vhost["routes"].([]any)
}

// httpConnectionManager returns the typed_config of the first listener's
// first network filter.
func httpConnectionManager(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	listener := doc["static_resources"].(map[string]any)["listeners"].([]any)[0].(map[string]any)
	chain := listener["filter_chains"].([]any)[0].(map[string]any)
	return chain["filters"].([]any)[0].(map[string]any)["typed_config"].(map[string]any)
}
