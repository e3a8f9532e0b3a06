package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/gctune"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// buildBinary compiles the command once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "actions-authz-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "actions-authz")
	out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is the binary running with a config file on free loopback ports.
type process struct {
	cmd      *exec.Cmd
	grpcAddr string
	httpAddr string
	exited   chan error
	logs     *servicetest.SyncBuffer
}

func startBinary(t *testing.T, config string) *process {
	t.Helper()
	return startBinaryEnv(t, config)
}

// startBinaryEnv is startBinary with env added to the environment, which
// otherwise is the test's without its GC settings.
func startBinaryEnv(t *testing.T, config string, env ...string) *process {
	t.Helper()
	return startBinaryWith(t, config, nil, env...)
}

// startBinaryWith is startBinaryEnv with serve's flags args added.
func startBinaryWith(t *testing.T, config string, args []string, env ...string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--config", path, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1), logs: &servicetest.SyncBuffer{}}
	addrs := make(chan [2]string, 1)
	go func() {
		servicetest.FollowLog(stderr, p.logs, addrs)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
	})
	select {
	case a := <-addrs:
		p.grpcAddr, p.httpAddr = a[0], a[1]
	case err := <-p.exited:
		t.Fatalf("binary exited early: %v\n%s", err, p.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("binary did not start serving\n%s", p.logs.String())
	}
	return p
}

// waitLog reports whether the binary's log holds s, waiting up to ten
// seconds for it: the log is written by its own goroutine, and copied
// into p.logs by another.
func (p *process) waitLog(s string) bool {
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.logs.String(), s); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

func (p *process) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + p.httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 15s\n%s", p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBinaryServesChecksAndDrainsOnSIGTERM(t *testing.T) {
	// The issuer's JWKS endpoint can be made slow, to hold a Check in flight
	// (an unknown kid waits on a key refresh) while SIGTERM arrives.
	var slow atomic.Bool
	inJWKS := make(chan struct{}, 1)
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/jwks") && slow.Load() {
			select {
			case inJWKS <- struct{}{}:
			default:
			}
			time.Sleep(1500 * time.Millisecond)
		}
		iss.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	var err error
	iss, err = devissuer.New(devissuer.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}

	p := startBinary(t, fmt.Sprintf(`
server:
  shutdown_grace: 10s
  drain_delay: 0s   # TestBinaryDrainsBeforeStopping has the drain
issuers:
  - url: %s
    refresh_min_interval: 1ms
`+servicetest.OwnerPolicy, srv.URL))
	p.waitReady(t)

	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	check := func(tok string) (*authv3.CheckResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Host: "svc", Path: "/x",
				Headers: map[string]string{"authorization": "Bearer " + tok, ":path": "/x"},
			}},
		}})
	}

	// gRPC health follows readiness (polled every 250ms by the service).
	for deadline := time.Now().Add(5 * time.Second); ; {
		health, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err == nil && health.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grpc health = %v, %v; want SERVING", health.GetStatus(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	tok, _ := iss.Mint(nil)
	resp, err := check(tok)
	if err != nil || codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		t.Fatalf("Check = %v, %v; want OK\n%s", resp, err, p.logs.String())
	}
	if !p.waitLog(`"msg":"decision"`) {
		t.Fatalf("no decision log line:\n%s", p.logs.String())
	}
	if strings.Contains(p.logs.String(), tok) {
		t.Fatal("the token appears in the log")
	}

	// In flight: an unknown kid makes the Check wait on a (slow) refresh.
	slow.Store(true)
	unknown, _ := iss.MintWith(map[string]any{"kid": "rotated-in-later"}, nil)
	type result struct {
		resp *authv3.CheckResponse
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		r, err := check(unknown)
		inflight <- result{r, err}
	}()
	select {
	case <-inJWKS:
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight Check never reached the JWKS server")
	}
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-inflight
	if r.err != nil {
		t.Fatalf("in-flight Check failed across SIGTERM: %v", r.err)
	}
	if got := r.resp.GetDeniedResponse().GetStatus().GetCode(); got != 401 {
		t.Errorf("in-flight Check: HTTP %d, want 401 (unknown key)", got)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit: %v, want status 0\n%s", err, p.logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not exit within the shutdown grace")
	}
	if elapsed := time.Since(sent); elapsed > 10*time.Second {
		t.Errorf("shutdown took %v", elapsed)
	}
}

func TestBinaryNotReadyWithoutKeys(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer down.Close()
	p := startBinary(t, servicetest.OwnerConfig(down.URL))
	time.Sleep(300 * time.Millisecond)
	resp, err := http.Get("http://" + p.httpAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d without keys, want 503", resp.StatusCode)
	}
	resp, err = http.Get("http://" + p.httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz = %d, want 200", resp.StatusCode)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.exited; err != nil {
		t.Errorf("exit: %v", err)
	}
}

// TestBinaryTunesGC: serve keeps the collector from running on a tiny heap
// (GOGC off under a memory limit of gctune.Floor) unless the environment
// sets GOGC or GOMEMLIMIT, or --gc-tuning=false, as the Go runtime's own
// metrics show.
func TestBinaryTunesGC(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	defer down.Close()
	config := servicetest.OwnerConfig(down.URL)
	const off, noLimit = "1.8446744073709552e+19", "9.223372036854776e+18" // -1 and MaxInt64, as Prometheus prints them
	const tuned, untuned = `"msg":"garbage collection sized for a small heap`, `"msg":"garbage collection as the environment sets it"`
	for _, tc := range []struct {
		args, env   []string
		gogc, limit string
		log         string
	}{
		{nil, nil, off, strconv.Itoa(gctune.Floor), tuned},
		{nil, []string{"GOGC=150"}, "150", noLimit, untuned},
		{nil, []string{"GOMEMLIMIT=64MiB"}, "100", strconv.Itoa(64 << 20), untuned},
		{[]string{"--gc-tuning=false"}, nil, "100", noLimit, untuned},
	} {
		t.Run(strings.Join(append(append([]string{"env"}, tc.env...), tc.args...), " "), func(t *testing.T) {
			p := startBinaryWith(t, config, tc.args, tc.env...)
			resp, err := http.Get("http://" + p.httpAddr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := map[string]string{}
			for _, line := range strings.Split(string(body), "\n") {
				if k, v, ok := strings.Cut(line, " "); ok && (k == "go_gc_gogc_percent" || k == "go_gc_gomemlimit_bytes") {
					got[k] = v
				}
			}
			limit, _ := strconv.ParseFloat(got["go_gc_gomemlimit_bytes"], 64)
			wantLimit, _ := strconv.ParseFloat(tc.limit, 64)
			if got["go_gc_gogc_percent"] != tc.gogc || limit != wantLimit {
				t.Errorf("GOGC %s, memory limit %s; want %s and %s", got["go_gc_gogc_percent"], got["go_gc_gomemlimit_bytes"], tc.gogc, tc.limit)
			}
			if !strings.Contains(p.logs.String(), tc.log) {
				t.Errorf("no %s in the log:\n%s", tc.log, p.logs.String())
			}
			p.cmd.Process.Signal(syscall.SIGTERM)
			if err := <-p.exited; err != nil {
				t.Errorf("exit: %v", err)
			}
		})
	}
}
