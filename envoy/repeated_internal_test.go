package envoy

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
)

// refuseAll is a verifier that refuses every token.
type refuseAll struct{}

func (refuseAll) Verify(context.Context, string) (*claims.Claims, error) {
	return nil, errors.New("refused")
}

// BenchmarkCheckRepeatedHeaders reads a CheckRequest whose header_map holds
// 3,000 and 30,000 copies of one header as the gRPC server does, with its
// codec, and answers it: the whole cost of such a request in the server
// (30,000 copies took 0.7 s before the header bounds), now a linear read and
// a 431 ("make bench" prints the ratio).
func BenchmarkCheckRepeatedHeaders(b *testing.B) {
	raw, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := authz.ParseConfig([]byte(strings.ReplaceAll(string(raw), "ISSUER_URL", "https://issuer.example.test")))
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(Options{Authorizer: authz.NewAuthorizer(refuseAll{}, cfg.Engine())})
	for _, n := range []int{3_000, 30_000} {
		hm := &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: ":method", RawValue: []byte("GET")}, {Key: ":path", RawValue: []byte("/api/x")},
			{Key: ":authority", RawValue: []byte("private.example.test")},
		}}
		for range n {
			hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: "x-dup", RawValue: []byte("a")})
		}
		wire, err := proto.Marshal(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{HeaderMap: hm}},
		}})
		if err != nil {
			b.Fatal(err)
		}
		data := mem.BufferSlice{mem.SliceBuffer(wire)}
		b.Run("copies="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var req authv3.CheckRequest
				if err := (codec{}).Unmarshal(data, &req); err != nil {
					b.Fatal(err)
				}
				resp, err := srv.Check(context.Background(), &req)
				if err != nil || resp.GetDeniedResponse().GetStatus().GetCode() != http.StatusRequestHeaderFieldsTooLarge {
					b.Fatalf("Check = %v, %v; want a 431", resp, err)
				}
			}
		})
	}
}
