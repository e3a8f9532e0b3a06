package envoy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	accesslogstreamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = ".."

// shippedEnvoyYAML is the configuration users copy and compose runs.
const shippedEnvoyYAML = "envoy/envoy.yaml"

// envoyConfigFiles returns every Envoy bootstrap file in the repository: the
// YAML files whose top level has static_resources. testdata is left out.
func envoyConfigFiles(t *testing.T) []string {
	t.Helper()
	files, err := localstack.YAMLFiles(repoRoot, func(data []byte) bool {
		var top map[string]any
		if yaml.Unmarshal(data, &top) != nil {
			return false // not a mapping: not an Envoy bootstrap
		}
		_, ok := top["static_resources"]
		return ok
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestEveryEnvoyConfigIsValid(t *testing.T) {
	files := envoyConfigFiles(t)
	if !slices.Contains(files, shippedEnvoyYAML) {
		t.Fatalf("found Envoy configurations %q; %s is missing", files, shippedEnvoyYAML)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if _, err := validateEnvoyConfig(readRepoFile(t, f)); err != nil {
				t.Errorf("%s:\n%v", f, err)
			}
		})
	}
}

// The validation must catch what Envoy would refuse (or silently get
// wrong), in copies of the shipped file broken one way each.
func TestEnvoyConfigValidationCatchesBrokenFiles(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(t *testing.T, doc map[string]any)
		wantErr string
	}{
		{
			name: "empty ext_authz cluster_name",
			mutate: func(t *testing.T, doc map[string]any) {
				dig(t, httpFilter(t, doc, "envoy.filters.http.ext_authz"), "grpc_service", "envoy_grpc").(map[string]any)["cluster_name"] = ""
			},
			wantErr: "ClusterName: value length must be at least 1",
		},
		{
			name: "status_on_error 999",
			mutate: func(t *testing.T, doc map[string]any) {
				httpFilter(t, doc, "envoy.filters.http.ext_authz")["status_on_error"] = map[string]any{"code": 999}
			},
			wantErr: "HttpStatus.Code: value must be one of the defined enum values",
		},
		{
			name: "unknown field in a typed_config",
			mutate: func(t *testing.T, doc map[string]any) {
				httpFilter(t, doc, "envoy.filters.http.ext_authz")["failure_mode_alow"] = false
			},
			wantErr: `unknown field "failure_mode_alow"`,
		},
		{
			name: "unknown field at the top",
			mutate: func(t *testing.T, doc map[string]any) {
				doc["static_resource"] = map[string]any{}
			},
			wantErr: `unknown field "static_resource"`,
		},
		{
			name: "route to a missing cluster",
			mutate: func(t *testing.T, doc map[string]any) {
				route(t, doc, "/deploy/")["route"].(map[string]any)["cluster"] = "private_servic"
			},
			wantErr: `route.cluster "private_servic" names no cluster`,
		},
		{
			name: "ext_authz cluster without HTTP/2",
			mutate: func(t *testing.T, doc map[string]any) {
				delete(cluster(t, doc, "actions_authz"), "typed_extension_protocol_options")
			},
			wantErr: `cluster "actions_authz" carries gRPC and must speak HTTP/2`,
		},
		{
			name: "ext_authz names a missing cluster",
			mutate: func(t *testing.T, doc map[string]any) {
				dig(t, httpFilter(t, doc, "envoy.filters.http.ext_authz"), "grpc_service", "envoy_grpc").(map[string]any)["cluster_name"] = "authz"
			},
			wantErr: `grpc_service.envoy_grpc.cluster_name "authz" names no cluster`,
		},
		{
			name: "router not last",
			mutate: func(t *testing.T, doc map[string]any) {
				filters := dig(t, hcm(t, doc), "http_filters").([]any)
				slices.Reverse(filters)
			},
			wantErr: "the router is a terminal filter and must be the last http filter",
		},
		{
			name: "router with an empty typed_config",
			mutate: func(t *testing.T, doc map[string]any) {
				filters := dig(t, hcm(t, doc), "http_filters").([]any)
				filters[len(filters)-1].(map[string]any)["typed_config"] = map[string]any{}
			},
			wantErr: "invalid empty type URL",
		},
		{
			name: "misspelt type URL",
			mutate: func(t *testing.T, doc map[string]any) {
				filters := dig(t, hcm(t, doc), "http_filters").([]any)
				filters[len(filters)-1].(map[string]any)["typed_config"] = map[string]any{
					"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Routr",
				}
			},
			wantErr: "envoy.extensions.filters.http.router.v3.Routr",
		},
		{
			name: "empty stat_prefix inside the HCM Any",
			mutate: func(t *testing.T, doc map[string]any) {
				hcm(t, doc)["stat_prefix"] = ""
			},
			wantErr: "StatPrefix: value length must be at least 1",
		},
		{
			name: "per-route config for a filter that is not there",
			mutate: func(t *testing.T, doc map[string]any) {
				pf := route(t, doc, "/deploy/")["typed_per_filter_config"].(map[string]any)
				pf["envoy.filters.http.extauthz"] = pf["envoy.filters.http.ext_authz"]
				delete(pf, "envoy.filters.http.ext_authz")
			},
			wantErr: "typed_per_filter_config[envoy.filters.http.extauthz] names no http filter",
		},
		{
			name: "port out of range",
			mutate: func(t *testing.T, doc map[string]any) {
				dig(t, doc, "static_resources", "listeners", 0, "address", "socket_address").(map[string]any)["port_value"] = 70000
			},
			wantErr: "PortValue: value must be less than or equal to 65535",
		},
		{
			name: "duplicate cluster",
			mutate: func(t *testing.T, doc map[string]any) {
				sr := doc["static_resources"].(map[string]any)
				cs := sr["clusters"].([]any)
				sr["clusters"] = append(cs, cs[0])
			},
			wantErr: "duplicate cluster name",
		},
	}
	shipped := readRepoFile(t, shippedEnvoyYAML)
	if _, err := validateEnvoyConfig(shipped); err != nil {
		t.Fatalf("the shipped file must be valid to start from: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			if err := yaml.Unmarshal(shipped, &doc); err != nil {
				t.Fatal(err)
			}
			tc.mutate(t, doc)
			broken, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			_, err = validateEnvoyConfig(broken)
			if err == nil {
				t.Fatalf("a copy with %s passed validation", tc.name)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error does not mention %q:\n%v", tc.wantErr, err)
			}
		})
	}
}

// The shipped file must keep the settings the README and docs/configuration.md
// promise.
func TestShippedEnvoyConfigSettings(t *testing.T) {
	b, err := validateEnvoyConfig(readRepoFile(t, shippedEnvoyYAML))
	if err != nil {
		t.Fatal(err)
	}
	m := new(hcmv3.HttpConnectionManager)
	unpack(t, b.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig(), m)

	var ea *extauthzv3.ExtAuthz
	for _, f := range m.GetHttpFilters() {
		if f.GetName() == "envoy.filters.http.ext_authz" {
			ea = new(extauthzv3.ExtAuthz)
			unpack(t, f.GetTypedConfig(), ea)
		}
	}
	if ea == nil {
		t.Fatal("no envoy.filters.http.ext_authz filter (dynamic metadata and per-route settings use this name)")
	}
	if ea.GetFailureModeAllow() {
		t.Error("failure_mode_allow must be false: an outage must not let requests through")
	}
	if got := ea.GetStatusOnError().GetCode(); got != typev3.StatusCode_ServiceUnavailable {
		t.Errorf("status_on_error = %v, want ServiceUnavailable", got)
	}
	if ea.GetGrpcService().GetEnvoyGrpc() == nil {
		t.Error("ext_authz must use grpc_service.envoy_grpc")
	}
	if d := ea.GetGrpcService().GetTimeout().AsDuration(); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("grpc_service.timeout = %v, want between 250ms and 2s", d)
	}
	if ea.GetTransportApiVersion().String() != "V3" {
		t.Errorf("transport_api_version = %v, want V3", ea.GetTransportApiVersion())
	}

	var authzCluster *clusterv3.Cluster
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == ea.GetGrpcService().GetEnvoyGrpc().GetClusterName() {
			authzCluster = c
		}
	}
	if hc := authzCluster.GetHealthChecks(); len(hc) == 0 || hc[0].GetGrpcHealthCheck() == nil {
		t.Error("the ext_authz cluster must be health-checked with grpc.health.v1")
	}

	// Routes: /healthz with ext_authz off; at least two routes naming a policy.
	var disabled []string
	policies := map[string]string{}
	for _, r := range m.GetRouteConfig().GetVirtualHosts()[0].GetRoutes() {
		a, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
		if !ok {
			t.Errorf("route %v has no ext_authz per-route setting: say which policy decides it, or disable ext_authz explicitly", r.GetMatch())
			continue
		}
		pr := new(extauthzv3.ExtAuthzPerRoute)
		unpack(t, a, pr)
		match := routeMatch(r)
		if pr.GetDisabled() {
			disabled = append(disabled, match)
		} else if name := pr.GetCheckSettings().GetContextExtensions()[envoy.PolicyKey]; name != "" {
			policies[match] = name
		}
	}
	if !slices.Equal(disabled, []string{"path /healthz"}) {
		t.Errorf("routes with ext_authz disabled = %q, want only the exact path /healthz", disabled)
	}
	if len(policies) < 2 {
		t.Errorf("routes naming a policy: %v, want at least two", policies)
	}

	// The access log shows the decision's dynamic metadata.
	var format string
	for _, al := range m.GetAccessLog() {
		sl := new(accesslogstreamv3.StdoutAccessLog)
		unpack(t, al.GetTypedConfig(), sl)
		js, _ := json.Marshal(sl.GetLogFormat().GetJsonFormat().AsMap())
		format += string(js)
	}
	for _, key := range []string{"decision", "reason", "policy", "repository"} {
		if want := "%DYNAMIC_METADATA(envoy.filters.http.ext_authz:" + key + ")%"; !strings.Contains(format, want) {
			t.Errorf("the access log format lacks %s", want)
		}
	}
}

func routeMatch(r *routev3.Route) string {
	switch m := r.GetMatch(); {
	case m.GetPath() != "":
		return "path " + m.GetPath()
	case m.GetPrefix() != "":
		return "prefix " + m.GetPrefix()
	}
	return r.GetMatch().String()
}

func unpack(t *testing.T, a interface {
	UnmarshalTo(proto.Message) error
}, m proto.Message) {
	t.Helper()
	if err := a.UnmarshalTo(m); err != nil {
		t.Fatal(err)
	}
}

// dig walks a decoded YAML document by map keys and list indices.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("dig %v: not a mapping at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("dig %v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	if v == nil {
		t.Fatalf("dig %v: nothing there", path)
	}
	return v
}

func hcm(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	return dig(t, doc, "static_resources", "listeners", 0, "filter_chains", 0, "filters", 0, "typed_config").(map[string]any)
}

func httpFilter(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	for _, f := range dig(t, hcm(t, doc), "http_filters").([]any) {
		if f := f.(map[string]any); f["name"] == name {
			return f["typed_config"].(map[string]any)
		}
	}
	t.Fatalf("no http filter %s", name)
	return nil
}

func route(t *testing.T, doc map[string]any, prefix string) map[string]any {
	t.Helper()
	for _, r := range dig(t, hcm(t, doc), "route_config", "virtual_hosts", 0, "routes").([]any) {
		r := r.(map[string]any)
		if m, _ := r["match"].(map[string]any); m["prefix"] == prefix {
			return r
		}
	}
	t.Fatalf("no route with prefix %s", prefix)
	return nil
}

func cluster(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	for _, c := range dig(t, doc, "static_resources", "clusters").([]any) {
		if c := c.(map[string]any); c["name"] == name {
			return c
		}
	}
	t.Fatalf("no cluster %s", name)
	return nil
}

// Every Envoy configuration in the repository normalises the path before
// routing and ext_authz, so that Envoy routes, names the policy, and
// forwards on the path actions-authz is asked about and the upstream gets.
func TestEnvoyConfigsNormalizePaths(t *testing.T) {
	for _, f := range envoyConfigFiles(t) {
		t.Run(f, func(t *testing.T) {
			b, err := validateEnvoyConfig(readRepoFile(t, f))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range b.GetStaticResources().GetListeners() {
				for _, fc := range l.GetFilterChains() {
					for _, nf := range fc.GetFilters() {
						if nf.GetName() != "envoy.filters.network.http_connection_manager" {
							continue
						}
						m := new(hcmv3.HttpConnectionManager)
						unpack(t, nf.GetTypedConfig(), m)
						if !m.GetNormalizePath().GetValue() || !m.GetMergeSlashes() ||
							m.GetPathWithEscapedSlashesAction() != hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT {
							t.Errorf("listener %s: normalize_path %v, merge_slashes %v, path_with_escaped_slashes_action %v; want true, true, UNESCAPE_AND_REDIRECT",
								l.GetName(), m.GetNormalizePath().GetValue(), m.GetMergeSlashes(), m.GetPathWithEscapedSlashesAction())
						}
					}
				}
			}
		})
	}
}
