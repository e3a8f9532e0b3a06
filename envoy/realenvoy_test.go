package envoy

// What the real Envoy sends: envoy/envoy.yaml, rewritten for loopback as
// the local stack does, in front of a Check server that keeps every request
// as it came off the wire. The hand decoder must read each one in full (no
// fallback to protobuf) and agree with protobuf's decoder.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/actions-authz/actions-authz/envoy/internal/checkreq"
	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// wireCodec keeps a copy of every CheckRequest it decodes.
type wireCodec struct {
	mu   sync.Mutex
	seen [][]byte
}

func (*wireCodec) Name() string { return "proto" }

func (c *wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := proto.Marshal(v.(proto.Message))
	return mem.BufferSlice{mem.SliceBuffer(b)}, err
}

func (c *wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	raw := data.Materialize()
	if _, ok := v.(*authv3.CheckRequest); ok {
		c.mu.Lock()
		c.seen = append(c.seen, raw)
		c.mu.Unlock()
	}
	return proto.Unmarshal(raw, v.(proto.Message))
}

func (c *wireCodec) requests() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.seen...)
}

// allowAll answers every Check with OK.
type allowAll struct {
	authv3.UnimplementedAuthorizationServer
}

func (allowAll) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{Status: &status.Status{}}, nil
}

func TestRealEnvoyRequests(t *testing.T) {
	bin := localstack.Require(t, "..")
	addrs, err := localstack.FreeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	codec := &wireCodec{}
	serve := func(addr string, start func(net.Listener)) {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start(lis)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(codec))
	authv3.RegisterAuthorizationServer(srv, allowAll{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	serve(addrs.GRPC, func(lis net.Listener) { go srv.Serve(lis) })
	t.Cleanup(srv.Stop)
	upstream := &http.Server{ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 1 << 20,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}
	serve(addrs.Upstream, func(lis net.Listener) { go upstream.Serve(lis) })
	t.Cleanup(func() { upstream.Close() })

	config, _, err := localstack.RenderCompose("..", addrs)
	if err != nil {
		t.Fatal(err)
	}
	e, err := localstack.StartEnvoy(context.Background(), localstack.EnvoyOptions{
		Bin: bin, Config: config, Admin: addrs.Admin, Dir: t.TempDir(), Lifetime: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("envoy, the end of its output:\n%s", e.Tail(30))
		}
	})
	if err := e.WaitHealthy(context.Background(), "actions_authz", addrs.GRPC); err != nil {
		t.Fatal(err)
	}

	// Envoy's caps on a request's headers (HttpConnectionManager defaults,
	// which envoy.yaml keeps): 100 headers, 60 KiB.
	many := func(n int) http.Header {
		h := http.Header{}
		for i := range n {
			h.Set(fmt.Sprintf("X-Many-%03d", i), "v")
		}
		return h
	}
	for _, c := range []struct {
		name   string
		header http.Header
		status int                                     // what the client gets
		check  func(t *testing.T, h map[string]string) // the Check's headers, as RequestFrom reads them
	}{
		{
			name:   "duplicates kept apart, joined by RequestFrom",
			header: http.Header{"X-Dup": {"a", "b"}, "x-dup": {"c"}, "Authorization": {"Bearer x.y.z"}},
			status: http.StatusOK,
			check: func(t *testing.T, h map[string]string) {
				if got := h["x-dup"]; got != "a,b,c" {
					t.Errorf("x-dup = %q, want a,b,c", got)
				}
				if got := h["authorization"]; got != "Bearer x.y.z" {
					t.Errorf("authorization = %q", got)
				}
			},
		},
		{
			name:   "bytes that are not UTF-8",
			header: http.Header{"X-Latin1": {"caf\xe9"}},
			status: http.StatusOK,
			check: func(t *testing.T, h map[string]string) {
				if got := h["x-latin1"]; got != "caf\xe9" {
					t.Errorf("x-latin1 = %q, want the bytes as sent", got)
				}
			},
		},
		{
			name:   "90 headers",
			header: many(90),
			status: http.StatusOK,
			check: func(t *testing.T, h map[string]string) {
				if got := h["x-many-089"]; got != "v" {
					t.Errorf("x-many-089 = %q, want v (of %d headers)", got, len(h))
				}
			},
		},
		{
			name:   "a 50 KiB header",
			header: http.Header{"X-Large": {strings.Repeat("a", 50<<10)}},
			status: http.StatusOK,
			check: func(t *testing.T, h map[string]string) {
				if got := len(h["x-large"]); got != 50<<10 {
					t.Errorf("x-large has %d bytes, want %d", got, 50<<10)
				}
			},
		},
		// Over Envoy's caps, Envoy answers itself: no Check is sent.
		{name: "101 headers", header: many(101), status: http.StatusRequestHeaderFieldsTooLarge},
		{name: "a 61 KiB header", header: http.Header{"X-Large": {strings.Repeat("a", 61<<10)}}, status: http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(codec.requests())
			req, err := http.NewRequest("GET", "http://"+addrs.Listener+"/raw", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range c.header {
				req.Header[k] = vs
			}
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			seen := codec.requests()[before:]
			if c.check == nil {
				if len(seen) != 0 {
					t.Fatalf("Envoy sent %d Checks for a request over its caps", len(seen))
				}
				return
			}
			if len(seen) != 1 {
				t.Fatalf("Envoy sent %d Checks, want 1", len(seen))
			}
			var hand, pb authv3.CheckRequest
			if !checkreq.Read(string(seen[0]), &hand) {
				t.Fatal("the hand decoder handed the request back to protobuf")
			}
			if err := proto.Unmarshal(seen[0], &pb); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&hand, &pb) {
				t.Fatal("the hand decoder and protobuf disagree")
			}
			http := pb.GetAttributes().GetRequest().GetHttp()
			if len(http.GetHeaders()) != 0 || len(http.GetHeaderMap().GetHeaders()) == 0 {
				t.Fatalf("want header_map only (encode_raw_headers): %d headers, %d in header_map",
					len(http.GetHeaders()), len(http.GetHeaderMap().GetHeaders()))
			}
			c.check(t, RequestFrom(&hand).Headers)
		})
	}
}
