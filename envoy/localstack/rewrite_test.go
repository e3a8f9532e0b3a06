package localstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/envoy/localstack"
)

func TestRewrite(t *testing.T) {
	table := map[string]string{
		"0.0.0.0:8080":         "127.0.0.1:18080",
		"actions-authz:9000":   "127.0.0.1:19000",
		"127.0.0.1:9002":       "127.0.0.1:19002",
		":9001":                "127.0.0.1:19001",
		"/etc/envoy/tls/a.crt": "/tmp/t/a.crt",
	}
	for _, c := range []struct {
		name, in string
		want     map[string]any // path (dot-separated) -> value
		err      string
	}{
		{
			name: "socket addresses",
			in: `# a comment
listener: {address: {socket_address: {address: 0.0.0.0, port_value: 8080}}}
cluster:
  endpoint: {address: {socket_address: {address: actions-authz, port_value: 9000}}}
`,
			want: map[string]any{
				"listener.address.socket_address.address":            "127.0.0.1",
				"listener.address.socket_address.port_value":         18080,
				"cluster.endpoint.address.socket_address.address":    "127.0.0.1",
				"cluster.endpoint.address.socket_address.port_value": 19000,
			},
		},
		{
			name: "URLs and host:port strings",
			in: `issuers: [{url: "http://127.0.0.1:9002"}, {url: "https://token.actions.githubusercontent.com"}]
server: {http_addr: ":9001", other: ":9999"}
uri: http://127.0.0.1:9002/path?q=1
`,
			want: map[string]any{
				"issuers.0.url":    "http://127.0.0.1:19002",
				"issuers.1.url":    "https://token.actions.githubusercontent.com",
				"server.http_addr": "127.0.0.1:19001",
				"server.other":     ":9999",
				"uri":              "http://127.0.0.1:19002/path?q=1",
			},
		},
		{
			name: "file paths",
			in:   "certificate_chain: {filename: /etc/envoy/tls/a.crt}\nprivate_key: {filename: /etc/envoy/tls/a.key}\n",
			want: map[string]any{
				"certificate_chain.filename": "/tmp/t/a.crt",
				"private_key.filename":       "/etc/envoy/tls/a.key",
			},
		},
		{
			name: "an address the table does not name",
			in:   "a:\n  b: {socket_address: {address: elsewhere, port_value: 80}}\n",
			err:  "line 2: socket_address elsewhere:80 has no loopback address",
		},
		{
			name: "not YAML",
			in:   "a: [",
			err:  "yaml",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := localstack.Rewrite([]byte(c.in), table)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := yaml.Unmarshal(out, &doc); err != nil {
				t.Fatalf("output is not YAML: %v\n%s", err, out)
			}
			for path, want := range c.want {
				if got := lookup(doc, path); got != want {
					t.Errorf("%s = %#v, want %#v\n%s", path, got, want, out)
				}
			}
			if strings.HasPrefix(c.in, "#") && !strings.Contains(string(out), "# a comment") {
				t.Errorf("comment lost:\n%s", out)
			}
		})
	}
}

// Every address in the compose files is in ComposeAddrs, and none is left.
func TestRenderCompose(t *testing.T) {
	a, err := localstack.FreeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	envoyConfig, authzConfig, err := localstack.RenderCompose(root, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		doc  []byte
		want []string
	}{
		{"envoy.yaml", envoyConfig, []string{a.Listener, a.Admin, a.GRPC, a.Upstream}},
		{"config.yaml", authzConfig, []string{a.GRPC, a.HTTP, "http://" + a.Dev}},
	} {
		// The values, without the comments (which may name the old ones).
		var v any
		if err := yaml.Unmarshal(c.doc, &v); err != nil {
			t.Fatal(err)
		}
		values, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		text := string(values)
		for _, old := range []string{"0.0.0.0", "actions-authz:", "private-service", ":9000\"", "127.0.0.1:9002"} {
			if strings.Contains(text, old) {
				t.Errorf("%s still has %q:\n%s", c.name, old, text)
			}
		}
		for _, w := range c.want {
			host, port, _ := strings.Cut(strings.TrimPrefix(w, "http://"), ":")
			socket := fmt.Sprintf(`{"address":%q,"port_value":%s}`, host, port)
			if !strings.Contains(text, `"`+w+`"`) && !strings.Contains(text, socket) {
				t.Errorf("%s does not have %s:\n%s", c.name, w, text)
			}
		}
	}
}

func lookup(doc any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch d := doc.(type) {
		case map[string]any:
			doc = d[k]
		case []any:
			i := int(k[0] - '0')
			if i >= len(d) {
				return nil
			}
			doc = d[i]
		default:
			return nil
		}
	}
	return doc
}

// A stack never starts on an address that something already listens on: a
// leftover process there would answer in its place.
func TestStartStackRefusesTakenAddress(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	a, err := localstack.FreeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	a.HTTP = lis.Addr().String()
	_, err = localstack.StartStack(context.Background(), localstack.Options{Root: root, Addrs: a, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), a.HTTP+" is taken") {
		t.Fatalf("StartStack with %s taken: %v, want an error naming it", a.HTTP, err)
	}
}

// SetEndpoints gives the rendered envoy/envoy.yaml's actions_authz cluster
// several replicas, and touches nothing else.
func TestSetEndpoints(t *testing.T) {
	a, err := localstack.FreeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	envoyConfig, _, err := localstack.RenderCompose(root, a)
	if err != nil {
		t.Fatal(err)
	}
	replicas := []string{"127.0.0.1:19000", "127.0.0.1:19010"}
	out, err := localstack.SetEndpoints(envoyConfig, "actions_authz", replicas)
	if err != nil {
		t.Fatal(err)
	}
	var before, after map[string]any
	if err := yaml.Unmarshal(envoyConfig, &before); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(out, &after); err != nil {
		t.Fatal(err)
	}
	for i, r := range replicas {
		host, port, _ := net.SplitHostPort(r)
		prefix := fmt.Sprintf("static_resources.clusters.0.load_assignment.endpoints.0.lb_endpoints.%d.endpoint.address.socket_address.", i)
		if got := lookup(after, prefix+"address"); got != host {
			t.Errorf("endpoint %d address %v, want %s", i, got, host)
		}
		if got := fmt.Sprint(lookup(after, prefix+"port_value")); got != port {
			t.Errorf("endpoint %d port %v, want %s", i, got, port)
		}
	}
	// The rest is as it was: the health checks, the other cluster.
	for _, path := range []string{"static_resources.clusters.0.health_checks", "static_resources.clusters.1", "static_resources.listeners"} {
		b, _ := json.Marshal(lookup(before, path))
		a, _ := json.Marshal(lookup(after, path))
		if string(a) != string(b) || string(a) == "null" {
			t.Errorf("%s changed:\n%s\n%s", path, b, a)
		}
	}
	for _, c := range []struct {
		name, cluster string
		addrs         []string
		err           string
	}{
		{"no such cluster", "nope", replicas, "no cluster named nope"},
		{"no endpoints", "actions_authz", nil, "no endpoints"},
		{"not host:port", "actions_authz", []string{"replica"}, `endpoint "replica"`},
	} {
		if _, err := localstack.SetEndpoints(envoyConfig, c.cluster, c.addrs); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
		}
	}
}
