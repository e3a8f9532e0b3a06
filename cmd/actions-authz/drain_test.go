package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// TestBinaryDrainsBeforeStopping: on SIGTERM (or Ctrl-C) the binary turns
// /readyz and gRPC health to not ready at once, yet keeps answering Checks,
// on the connections it has and on new ones, for server.drain_delay; then
// it stops and exits 0. A second signal ends the delay at once.
func TestBinaryDrainsBeforeStopping(t *testing.T) {
	t.Parallel()
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iss.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close) // after the parallel subtests
	iss, err := devissuer.New(devissuer.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		delay  time.Duration
		signal os.Signal // sent once to start the drain and, when again, once more
		again  bool
	}{
		// The delay runs out: long enough for the checks below, which
		// stop when it is over.
		{"SIGTERM, the delay runs out", 4 * time.Second, syscall.SIGTERM, false},
		// The delay is far longer than the test waits: only the second
		// signal can end it.
		{"SIGTERM twice", 10 * time.Minute, syscall.SIGTERM, true},
		{"Ctrl-C twice", 10 * time.Minute, syscall.SIGINT, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startBinary(t, fmt.Sprintf(`
server:
  drain_delay: %s
  shutdown_grace: 5s
`, tc.delay)+servicetest.OwnerConfig(srv.URL))
			p.waitReady(t)
			conn := dial(t, p.grpcAddr)
			tok, err := iss.Mint(nil)
			if err != nil {
				t.Fatal(err)
			}
			waitHealth(t, conn, healthpb.HealthCheckResponse_SERVING)
			if code, body := readyz(t, p.httpAddr); code != http.StatusOK {
				t.Fatalf("/readyz before SIGTERM: %d %q", code, body)
			}

			sent := time.Now()
			if err := p.cmd.Process.Signal(tc.signal); err != nil {
				t.Fatal(err)
			}
			// At once, not within a probe period: health says go away.
			waitHealth(t, conn, healthpb.HealthCheckResponse_NOT_SERVING)
			if code, body := readyz(t, p.httpAddr); code != http.StatusServiceUnavailable || body != "not ready: shutting down\n" {
				t.Errorf("/readyz while draining: %d %q, want 503 \"not ready: shutting down\"", code, body)
			}
			if code, _ := get(t, "http://"+p.httpAddr+"/healthz"); code != http.StatusOK {
				t.Errorf("/healthz while draining: %d, want 200 (alive)", code)
			}
			// Checks still get real answers, on the connection Envoy had
			// and on a new one.
			for i, c := range []*grpc.ClientConn{conn, dial(t, p.grpcAddr)} {
				resp, err := authv3.NewAuthorizationClient(c).Check(context.Background(), checkRequest(tok))
				if err != nil || codes.Code(resp.GetStatus().GetCode()) != codes.OK {
					t.Errorf("Check %d while draining: %v, %v; want OK", i, resp.GetStatus(), err)
				}
			}
			select {
			case err := <-p.exited:
				t.Fatalf("exited during the drain: %v\n%s", err, p.logs.String())
			default:
			}
			if !p.waitLog(`"msg":"draining`) {
				t.Errorf("no draining log line:\n%s", p.logs.String())
			}

			if tc.again {
				if err := p.cmd.Process.Signal(tc.signal); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-p.exited:
				if err != nil {
					t.Fatalf("exit: %v, want status 0\n%s", err, p.logs.String())
				}
			case <-time.After(min(tc.delay, time.Minute) + 30*time.Second):
				t.Fatalf("still running after the drain\n%s", p.logs.String())
			}
			if !tc.again && time.Since(sent) < tc.delay {
				t.Errorf("exited %v after SIGTERM, before drain_delay %v", time.Since(sent), tc.delay)
			}
			if tc.again && !p.waitLog(`"msg":"drain cut short"`) {
				t.Errorf("no \"drain cut short\" log line:\n%s", p.logs.String())
			}
		})
	}
}

// TestBinaryNoDrainWhenNotReady: a service that never had keys has nothing
// to drain (its health said NOT_SERVING all along): SIGTERM stops it at
// once, whatever drain_delay says.
func TestBinaryNoDrainWhenNotReady(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer down.Close()
	p := startBinary(t, "server: {drain_delay: 10m}\n"+servicetest.OwnerConfig(down.URL))
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("a service that was never ready waited for drain_delay\n%s", p.logs.String())
	}
	if strings.Contains(p.logs.String(), `"msg":"draining`) {
		t.Errorf("drained although never ready:\n%s", p.logs.String())
	}
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitHealth waits, 15s at most, for conn's gRPC health to say want.
func waitHealth(t *testing.T, conn *grpc.ClientConn, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gRPC health %v, %v; want %v", resp.GetStatus(), err, want)
		}
	}
}

func readyz(t *testing.T, httpAddr string) (int, string) {
	t.Helper()
	return get(t, "http://"+httpAddr+"/readyz")
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// checkRequest is a Check for GET /x carrying tok.
func checkRequest(tok string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "svc", Path: "/x",
			Headers: map[string]string{"authorization": "Bearer " + tok, ":path": "/x"},
		}},
	}}
}
