package service

import (
	"context"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// TestServerDecoderSetting: server.decoder reaches the gRPC server. A
// CheckRequest with a field the fast decoder does not know (as from a newer
// Envoy) is counted as a fallback to protobuf, and with decoder: protobuf,
// which reads every request with protobuf alone, is not.
func TestServerDecoderSetting(t *testing.T) {
	for _, tc := range []struct {
		decoder   string
		fallbacks float64
	}{{"fast", 1}, {"protobuf", 0}} {
		t.Run(tc.decoder, func(t *testing.T) {
			s := startService(t, "server: {decoder: "+tc.decoder+"}\nissuers: [{url: https://issuer.example}]\n"+servicetest.OwnerPolicy, TestHooks{})
			req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
				Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/x"}},
			}}
			req.Attributes.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 99, protowire.BytesType), "new"))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := s.client.Check(ctx, req); err != nil {
				t.Fatal(err)
			}
			samples, _ := s.scrape()
			if got := samples["actions_authz_check_decoder_fallbacks_total"]; got != tc.fallbacks {
				t.Errorf("actions_authz_check_decoder_fallbacks_total = %v, want %v", got, tc.fallbacks)
			}
		})
	}
}
