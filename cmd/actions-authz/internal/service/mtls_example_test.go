package service

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/actions-authz/actions-authz/envoy/envoytest"
)

// TestEnvoyMTLSExampleKeepalive: the HTTP/2 keepalive of
// examples/envoy-mtls.yaml pings no more often than this server tolerates.
// It stays beside grpcKeepaliveMinTime, which no other package sees; the
// rest of the example's checks are in examples/envoy_test.go.
func TestEnvoyMTLSExampleKeepalive(t *testing.T) {
	var cl clusterv3.Cluster
	envoytest.LoadFile(t, "../../../../examples/envoy-mtls.yaml", &cl)
	var opts httpv3.HttpProtocolOptions
	if err := cl.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&opts); err != nil {
		t.Fatal(err)
	}
	if ka := opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions().GetConnectionKeepalive(); ka != nil && ka.GetInterval().AsDuration() < grpcKeepaliveMinTime {
		t.Errorf("keepalive interval %v is below the server's minimum %v: Envoy would get too_many_pings",
			ka.GetInterval().AsDuration(), grpcKeepaliveMinTime)
	}
}
