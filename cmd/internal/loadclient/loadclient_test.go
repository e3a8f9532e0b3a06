package loadclient

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/envoy"
)

// TestStatusCodec checks that reading only the status of a response gives
// the code a full decode gives.
func TestStatusCodec(t *testing.T) {
	tests := []struct {
		name string
		resp *authv3.CheckResponse
	}{
		{"allow", envoy.Response(&authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "p",
			Set: []authz.Header{{Name: "x-github-repository", Value: "octo-org/octo-repo"}}, Remove: []string{"authorization"}})},
		{"deny", envoy.Response(&authz.Decision{Outcome: authz.Deny, Reason: authz.ReasonNoRuleMatched, Policy: "p", Rule: -1, Description: "no rule"})},
		{"unauthenticated", envoy.Response(&authz.Decision{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Rule: -1})},
		{"unavailable", envoy.Response(&authz.Decision{Outcome: authz.Unavailable, Reason: authz.ReasonKeysUnavailable, Rule: -1})},
		{"status with a message only", &authv3.CheckResponse{Status: &rpcstatus.Status{Message: "x"}}},
		{"no status", &authv3.CheckResponse{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := proto.Marshal(tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			var got checkStatus
			if err := (statusCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, &got); err != nil {
				t.Fatal(err)
			}
			if want := tt.resp.GetStatus().GetCode(); int32(got) != want {
				t.Errorf("status %d, want %d", got, want)
			}
		})
	}
	var st checkStatus
	if err := (statusCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x05, 0x08})}, &st); err == nil {
		t.Error("a truncated response decoded without error")
	}
}
