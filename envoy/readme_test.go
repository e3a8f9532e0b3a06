package envoy_test

import (
	"path/filepath"
	"regexp"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/actions-authz/actions-authz/envoy/envoytest"
)

// The README's "Attach to your Envoy" snippets are Envoy configuration too:
// each follows a marker <!-- envoy: TYPE --> naming its proto type, and must
// parse and validate as that type. A marked snippet in docs/ is held to the
// same; the cluster, filter and route checked together below are the
// README's.
func TestReadmeEnvoySnippets(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		files = append(files, "docs/"+filepath.Base(d))
	}
	re := regexp.MustCompile("(?s)<!-- envoy: ([A-Za-z0-9_.]+) -->\\s*```yaml\n(.*?)```")
	found := map[string]proto.Message{}
	for _, file := range files {
		for _, m := range re.FindAllSubmatch(readRepoFile(t, file), -1) {
			name, body := string(m[1]), m[2]
			mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
			if err != nil {
				t.Errorf("%s: snippet type %s: %v", file, name, err)
				continue
			}
			msg := mt.New().Interface()
			if err := envoytest.UnmarshalYAML(body, msg); err != nil {
				t.Errorf("%s: snippet %s: %v", file, name, err)
				continue
			}
			for _, err := range envoytest.Validate(msg, name) {
				t.Errorf("%s: snippet: %v", file, err)
			}
			if file == "README.md" {
				found[name] = msg
			}
		}
	}
	cl, _ := found["envoy.config.cluster.v3.Cluster"].(*clusterv3.Cluster)
	filter, _ := found["envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter"].(*hcmv3.HttpFilter)
	rt, _ := found["envoy.config.route.v3.Route"].(*routev3.Route)
	if cl == nil || filter == nil || rt == nil {
		t.Fatalf("README must have a cluster, an http filter and a route snippet; found %d snippets", len(found))
	}
	if !speaksHTTP2(cl) {
		t.Errorf("README cluster %q does not speak HTTP/2", cl.GetName())
	}
	ea := new(extauthzv3.ExtAuthz)
	unpack(t, filter.GetTypedConfig(), ea)
	if got := ea.GetGrpcService().GetEnvoyGrpc().GetClusterName(); got != cl.GetName() {
		t.Errorf("README filter sends to cluster %q, the cluster snippet is %q", got, cl.GetName())
	}
	if _, ok := rt.GetTypedPerFilterConfig()[filter.GetName()]; !ok {
		t.Errorf("README route has no typed_per_filter_config for %q", filter.GetName())
	}
}
