package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/internal/cli"
)

// listen returns a listener on a free loopback port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

func TestHealthcheck(t *testing.T) {
	// A /readyz that answers as serve's does, ready or not (the service
	// package tests serve's; TestBinaryHealthcheck runs the two together).
	var ready atomic.Bool
	httpLis := listen(t)
	httpSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || !ready.Load() {
			http.Error(w, "not ready: waiting for signing keys", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})}
	go httpSrv.Serve(httpLis)
	defer httpSrv.Close()

	// A gRPC health service, serving or not.
	grpcLis := listen(t)
	grpcSrv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, hs)
	go grpcSrv.Serve(grpcLis)
	defer grpcSrv.Stop()

	// An address where nothing listens.
	closed := listen(t)
	closedAddr := closed.Addr().String()
	closed.Close()

	httpAddr, grpcAddr := httpLis.Addr().String(), grpcLis.Addr().String()
	tests := []struct {
		name    string
		setup   func()
		args    []string
		code    int // -1: success
		message string
	}{
		{name: "ready", setup: func() { ready.Store(true) }, args: []string{"--addr", httpAddr}, code: -1},
		{name: "not ready", setup: func() { ready.Store(false) }, args: []string{"--addr", httpAddr}, code: 1, message: "HTTP 503"},
		{name: "nothing listening", args: []string{"--addr", closedAddr}, code: 1, message: "connect"},
		{name: "grpc serving", setup: func() { hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING) }, args: []string{"--grpc-addr", grpcAddr}, code: -1},
		{name: "grpc not serving", setup: func() { hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING) }, args: []string{"--grpc-addr", grpcAddr}, code: 1, message: "NOT_SERVING"},
		{name: "grpc nothing listening", args: []string{"--grpc-addr", closedAddr, "--timeout", "500ms"}, code: 1},
		{name: "no address", args: nil, code: 2, message: "exactly one"},
		{name: "both addresses", args: []string{"--addr", httpAddr, "--grpc-addr", grpcAddr}, code: 2, message: "exactly one"},
		{name: "bad timeout", args: []string{"--addr", httpAddr, "--timeout", "0s"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"healthcheck"}, tc.args...), &stdout, &stderr)
			if tc.code == -1 {
				if err != nil {
					t.Fatalf("healthcheck: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("healthcheck succeeded, want exit %d", tc.code)
			}
			if got := cli.ExitCode(err); got != tc.code {
				t.Errorf("exit %d, want %d (%v)", got, tc.code, err)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not mention %q", err, tc.message)
			}
		})
	}
}

// The compose healthcheck runs the built binary against the running
// service: unhealthy while the service has no keys, healthy once it has.
func TestBinaryHealthcheck(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	iss, err := devissuer.New(devissuer.Options{URL: "https://token.actions.githubusercontent.com"})
	if err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(t.TempDir(), "jwks.json") // not there yet
	p := startBinary(t, fmt.Sprintf(`
issuers:
  - url: https://token.actions.githubusercontent.com
    jwks_file: %s
audiences: ["https://github.com/octo-org"]
policies:
  - name: default
    allow:
      - repository_owner_id: "123456"
`, jwks))
	probe := func(flag, addr string) (int, string) {
		out, err := exec.Command(bin, "healthcheck", flag, addr).CombinedOutput()
		return exitStatus(err), string(out)
	}
	for _, c := range [][2]string{{"--addr", p.httpAddr}, {"--grpc-addr", p.grpcAddr}} {
		if code, out := probe(c[0], c[1]); code != 1 {
			t.Errorf("healthcheck %s of a service without keys: exit %d, want 1\n%s", c[0], code, out)
		}
	}

	// The key set appears; the service retries and becomes ready.
	if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"--addr", p.httpAddr}, {"--grpc-addr", p.grpcAddr}} {
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, out := probe(c[0], c[1])
			if code == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("healthcheck %s: exit %d 20s after the keys appeared\n%s\n%s", c[0], code, out, p.logs.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
