package envoy

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/envoy/internal/checkreq"
)

// TestCodec marshals responses with the server codec and reads them back
// with the standard protobuf decoder: with -tags vtprotobuf this checks the
// generated encoder, without it the fallback. Envoy must read exactly what
// Response built.
func TestCodec(t *testing.T) {
	c := &claims.Claims{Repository: "octo-org/octo-repo", Ref: "refs/heads/main", SHA: "abc", RunID: "42"}
	big := make([]authz.Header, 200) // above gRPC's pooling threshold
	for i := range big {
		big[i] = authz.Header{Name: "x-github-h", Value: "a value long enough to make the response large"}
	}
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{"allow", Response(&authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "p", Rule: 1, Claims: c,
			Set: []authz.Header{{Name: "x-github-repository", Value: c.Repository}, {Name: "x-github-environment"}}, Remove: []string{"authorization"}})},
		{"allow, large", Response(&authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "p", Claims: c, Set: big})},
		{"unauthenticated", Response(&authz.Decision{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Policy: "p", Rule: -1, Description: "token has expired"})},
		{"unavailable", Response(&authz.Decision{Outcome: authz.Unavailable, Reason: authz.ReasonKeysUnavailable, Rule: -1})},
		{"another message", &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := checkreq.Codec{}.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			got := tt.msg.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(data.Materialize(), got); err != nil {
				t.Fatal(err)
			}
			data.Free()
			if diff := cmp.Diff(tt.msg, got, protocmp.Transform()); diff != "" {
				t.Errorf("read back differs (-sent +read):\n%s", diff)
			}
		})
	}
	var in authv3.CheckRequest
	if err := (checkreq.Codec{}).Unmarshal(nil, &in); err != nil {
		t.Errorf("Unmarshal of an empty request: %v", err)
	}
}
