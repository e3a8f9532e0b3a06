package main

import (
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/actions-authz/actions-authz/envoy/envoytest"
)

// TestEnvoyMTLSExample checks examples/envoy-mtls.yaml against Envoy's API
// and against this server: it is a valid Cluster, it speaks HTTP/2 with
// ALPN h2, presents a client certificate, verifies the server's, and pings
// no more often than the server tolerates.
func TestEnvoyMTLSExample(t *testing.T) {
	var cl clusterv3.Cluster
	envoytest.LoadFile(t, "../../examples/envoy-mtls.yaml", &cl)

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
	h2 := opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions()
	if h2 == nil {
		t.Fatal("the cluster does not speak HTTP/2")
	}
	if ka := h2.GetConnectionKeepalive(); ka != nil && ka.GetInterval().AsDuration() < grpcKeepaliveMinTime {
		t.Errorf("keepalive interval %v is below the server's minimum %v: Envoy would get too_many_pings",
			ka.GetInterval().AsDuration(), grpcKeepaliveMinTime)
	}
}
