package localstack_test

import (
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/envoy/localstack"
	"github.com/actions-authz/actions-authz/tracing"
	"github.com/actions-authz/actions-authz/tracing/tracingtest"
)

// TestTraceThroughEnvoy: with Envoy's OpenTelemetry tracer and
// actions-authz's telemetry pointed at one OTLP receiver, one request makes
// one trace: Envoy's request span, its ext_authz call's span, and under that
// actions-authz's Check span with its verification and evaluation.
func TestTraceThroughEnvoy(t *testing.T) {
	t.Parallel()
	recv, err := tracingtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Stop()
	o := stackOptions(t)
	envoyConfig, authzConfig, err := localstack.RenderCompose(root, o.Addrs)
	if err != nil {
		t.Fatal(err)
	}
	o.EnvoyConfig = withTracing(t, envoyConfig, recv.Addr())
	o.AuthzConfig = append(authzConfig, []byte("\ntelemetry:\n  otlp_endpoint: "+recv.Addr()+"\n  insecure: true\n")...)
	s := startStack(t, o)

	token, _ := mint(t, s.Addrs.Dev, nil)
	if r := send(t, "GET", "http://"+s.Addrs.Listener+"/hello", token, nil); r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	// Envoy flushes its spans every 5 seconds (or 5 spans); actions-authz
	// on stop.
	s.ActionsAuthz.Stop(5 * time.Second)
	var check tracingtest.Span
	spans, ok := recv.Wait(20*time.Second, func(spans []tracingtest.Span) bool {
		check = tracingtest.Span{}
		for _, sp := range spans {
			if sp.Service == "actions-authz" && sp.Kind == tracepb.Span_SPAN_KIND_SERVER {
				check = sp
			}
		}
		if check.SpanID == "" {
			return false
		}
		for _, sp := range spans {
			if sp.Service == "envoy" && sp.SpanID == check.ParentID {
				return true
			}
		}
		return false
	})
	for _, sp := range spans {
		t.Logf("%-14s %-50s trace %s span %s parent %-16s %v", sp.Service, sp.Name, sp.TraceID, sp.SpanID, sp.ParentID, sp.Attributes)
	}
	if !ok {
		t.Fatal("no actions-authz Check span whose parent is an Envoy span")
	}
	names := map[string]tracingtest.Span{}
	inTrace := map[string]bool{}
	for _, sp := range spans {
		if sp.TraceID == check.TraceID {
			names[sp.Service+": "+sp.Name] = sp
			inTrace[sp.Service] = true
		}
	}
	if !inTrace["envoy"] || !inTrace["actions-authz"] {
		t.Errorf("services in the trace: %v", inTrace)
	}
	for _, name := range []string{tracing.SpanVerify, tracing.SpanEvaluate} {
		if sp, ok := names["actions-authz: "+name]; !ok || sp.ParentID != check.SpanID {
			t.Errorf("span %q: %+v, want the child of the Check span %s", name, sp, check.SpanID)
		}
	}
	if a := check.Attributes; a["actions_authz.decision"] != "allow" || a["actions_authz.policy"] != "default" {
		t.Errorf("Check span attributes %v", a)
	}
}

// withTracing adds Envoy's OpenTelemetry tracer to the listener's HTTP
// connection manager, every request sampled, sending to an OTLP/gRPC
// receiver at addr through a cluster of its own.
func withTracing(t *testing.T, config []byte, addr string) []byte {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(config, &doc); err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	portNum, _ := strconv.Atoi(port)
	httpConnectionManager(t, doc)["tracing"] = map[string]any{
		"random_sampling": map[string]any{"value": 100},
		"provider": map[string]any{
			"name": "envoy.tracers.opentelemetry",
			"typed_config": map[string]any{
				"@type":        "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
				"service_name": "envoy",
				"grpc_service": map[string]any{
					"envoy_grpc": map[string]any{"cluster_name": "otlp"},
					"timeout":    "1s",
				},
			},
		},
	}
	sr := doc["static_resources"].(map[string]any)
	sr["clusters"] = append(sr["clusters"].([]any), map[string]any{
		"name":            "otlp",
		"type":            "STATIC",
		"connect_timeout": "1s",
		"typed_extension_protocol_options": map[string]any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": map[string]any{
				"@type":                "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
				"explicit_http_config": map[string]any{"http2_protocol_options": map[string]any{}},
			},
		},
		"load_assignment": map[string]any{
			"cluster_name": "otlp",
			"endpoints": []any{map[string]any{"lb_endpoints": []any{
				map[string]any{"endpoint": map[string]any{"address": socketAddress(host, portNum)}},
			}}},
		},
	})
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
