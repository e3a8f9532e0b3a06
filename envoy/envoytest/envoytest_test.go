package envoytest

import (
	"context"
	"errors"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

func TestUnmarshalYAMLRefusesUnknownFields(t *testing.T) {
	var cl clusterv3.Cluster
	if err := UnmarshalYAML([]byte("name: c\nconect_timeout: 1s\n"), &cl); err == nil {
		t.Error("an unknown field was accepted")
	}
	if err := UnmarshalYAML([]byte("name: c\nconnect_timeout: 1s\n"), &cl); err != nil || cl.GetName() != "c" {
		t.Errorf("UnmarshalYAML = %v, name %q", err, cl.GetName())
	}
}

// TestValidateLooksInsideAny: a broken typed_config inside an Any is found,
// which ValidateAll alone does not see.
func TestValidateLooksInsideAny(t *testing.T) {
	var f hcmv3.HttpFilter
	yaml := "name: envoy.filters.http.ext_authz\ntyped_config:\n  \"@type\": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz\n  grpc_service: {}\n"
	if err := UnmarshalYAML([]byte(yaml), &f); err != nil {
		t.Fatal(err)
	}
	if err := f.ValidateAll(); err != nil {
		t.Fatalf("ValidateAll already fails: %v", err)
	}
	err := errors.Join(Validate(&f, "filter")...)
	if err == nil || !strings.Contains(err.Error(), "filter.typed_config<envoy.extensions.filters.http.ext_authz.v3.ExtAuthz>") {
		t.Errorf("Validate = %v, want the typed_config's problem", err)
	}
}

type emptyAnswer struct {
	authv3.UnimplementedAuthorizationServer
}

func (emptyAnswer) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{}, nil
}

func TestServeGRPC(t *testing.T) {
	c := ServeGRPC(t, emptyAnswer{})
	if _, err := c.Check(context.Background(), &authv3.CheckRequest{}); err != nil {
		t.Fatal(err)
	}
}
