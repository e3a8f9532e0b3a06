package service

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/actions-authz/actions-authz/envoy"
)

// TestGRPCMaxRecvMsgSize: a CheckRequest over the limit is refused before it
// is decoded; one under it is answered.
func TestGRPCMaxRecvMsgSize(t *testing.T) {
	addr := serveGRPCOn(t, newGRPCServer(nil, envoy.DecoderOptions{}))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	for _, tc := range []struct {
		name  string
		bytes int
		want  codes.Code
	}{
		{"under the limit", grpcMaxRecvBytes - 4096, codes.OK},
		{"over the limit", grpcMaxRecvBytes + 1, codes.ResourceExhausted},
		{"far over the limit", 4 << 20, codes.ResourceExhausted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
				Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
					Method: "GET", Path: "/x", Headers: map[string]string{"x-big": strings.Repeat("b", tc.bytes)},
				}},
			}}, grpc.MaxCallSendMsgSize(8<<20))
			if got := status.Code(err); got != tc.want {
				t.Fatalf("Check with a %d-byte header: %v, want %v", tc.bytes, err, tc.want)
			}
		})
	}
}

// h2conn is a raw HTTP/2 client connection to the gRPC server, for what a
// gRPC client will not do on purpose.
func h2conn(t *testing.T) (*http2.Framer, net.Conn) {
	t.Helper()
	addr := serveGRPCOn(t, newGRPCServer(nil, envoy.DecoderOptions{}))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second)) // a safety net, not an assertion
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return fr, conn
}

// TestGRPCSettings: the server announces its stream and header limits in
// its HTTP/2 SETTINGS, which is how a client (Envoy) learns them.
func TestGRPCSettings(t *testing.T) {
	fr, _ := h2conn(t)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no SETTINGS from the server: %v", err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			continue
		}
		for id, want := range map[http2.SettingID]uint32{
			http2.SettingMaxConcurrentStreams: grpcMaxConcurrentStreams,
			http2.SettingMaxHeaderListSize:    grpcMaxHeaderListBytes,
		} {
			if got, ok := sf.Value(id); !ok || got != want {
				t.Errorf("SETTINGS %v = %d (sent %v), want %d", id, got, ok, want)
			}
		}
		return
	}
}

// TestGRPCKeepaliveEnforcement: a client that pings more often than
// grpcKeepaliveMinTime is sent GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
// and disconnected. The pings here are sent back to back.
func TestGRPCKeepaliveEnforcement(t *testing.T) {
	fr, _ := h2conn(t)
	for i := range 5 {
		if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended without GOAWAY: %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || string(ga.DebugData()) != "too_many_pings" {
				t.Fatalf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", ga.ErrCode, ga.DebugData())
			}
			return
		}
	}
}

// serveHTTP runs newHTTPServer on 127.0.0.1 and returns its address.
func serveHTTP(t *testing.T) string {
	t.Helper()
	srv := newHTTPServer(opsHandler(func() string { return "" }, http.NotFoundHandler()))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return lis.Addr().String()
}

// TestHTTPHeaderLimit: request headers over MaxHeaderBytes get 431.
func TestHTTPHeaderLimit(t *testing.T) {
	addr := serveHTTP(t)
	for _, tc := range []struct {
		name  string
		bytes int
		want  int
	}{
		{"small headers", 1024, http.StatusOK},
		{"headers over the limit", 4 * httpMaxHeaderBytes, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Big", strings.Repeat("b", tc.bytes))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestHTTPReadHeaderTimeout: a client that never finishes its request
// headers (slowloris) is disconnected instead of holding the connection.
// It waits for httpReadHeaderTimeout; the test asserts the disconnection,
// not its timing.
func TestHTTPReadHeaderTimeout(t *testing.T) {
	conn, err := net.Dial("tcp", serveHTTP(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(4 * httpReadHeaderTimeout)) // a safety net
	_, err = bufio.NewReader(conn).ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open")
	}
	if err == nil {
		t.Fatal("the server answered unfinished headers")
	}
}
