package localstack_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/envoy/localstack"
)

func TestRewrite(t *testing.T) {
	table := map[string]string{
		"0.0.0.0:8080":       "127.0.0.1:18080",
		"actions-authz:9000": "127.0.0.1:19000",
		"127.0.0.1:9002":     "127.0.0.1:19002",
		":9001":              "127.0.0.1:19001",
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
