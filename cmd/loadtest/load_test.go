package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/internal/cli"
)

// loadTarget is a development issuer and an actions-authz Check server
// with the configuration of "make run", both on loopback. The server
// observes nothing: the load generator is under test, not the product path.
func loadTarget(t *testing.T) (grpcAddr, mintURL string) {
	t.Helper()
	var handler atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	iss, err := devissuer.New(devissuer.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h := iss.Handler()
	handler.Store(&h)

	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "dev", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(strings.ReplaceAll(string(raw), "http://127.0.0.1:9002", srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := claims.NewVerifier(claims.Config{Issuers: cfg.Issuers, Audiences: cfg.AllAudiences()})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	authv3.RegisterAuthorizationServer(gs, envoy.NewServer(envoy.Options{
		Authorizer: authz.NewAuthorizer(v, cfg.Engine()),
	}))
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String(), srv.URL + "/token"
}

var (
	totalRe     = regexp.MustCompile(`(?m)^(\d+) Checks in \S+: (\d+) Checks/s$`)
	latencyRe   = regexp.MustCompile(`(?m)^latency: p50 (\d+)us  p90 (\d+)us  p99 (\d+)us  max (\d+)us$`)
	decisionsRe = regexp.MustCompile(`(?m)^decisions: allow (\d+)  deny (\d+)  unauthenticated (\d+)  unavailable (\d+)  other (\d+)  errors (\d+)$`)
)

func TestLoadtest(t *testing.T) {
	addr, mintURL := loadTarget(t)
	saved := filepath.Join(t.TempDir(), "tokens")
	tests := []struct {
		name     string
		args     []string
		want     string // the decision every Check must get: allow, deny or unauthenticated
		wantCode int    // exit code when the command fails; 0 when it succeeds
	}{
		{"allowed", []string{"--tokens", "5"}, "allow", 0},
		{"allowed, responses decoded in full", []string{"--tokens", "2", "--decode-full"}, "allow", 0},
		{"distinct runs, with server stats", []string{"--tokens", "3", "--distinct-runs", "--warmup", "50ms", "--pid", strconv.Itoa(os.Getpid())}, "allow", 0},
		{"unknown policy", []string{"--tokens", "2", "--policy", "nosuch"}, "deny", 0},
		{"unknown policy, decoded in full", []string{"--tokens", "2", "--policy", "nosuch", "--decode-full"}, "deny", 0},
		{"owner no rule allows", []string{"--tokens", "2", "--mint-url", mintURL + "?repository_owner_id=999"}, "deny", 0},
		{"audience not accepted", []string{"--tokens", "2", "--mint-url", mintURL + "?aud=https://example.com"}, "unauthenticated", 0},
		{"tokens saved", []string{"--tokens", "3", "--tokens-file", saved}, "allow", 0},
		{"tokens read back, not minted", []string{"--tokens", "3", "--tokens-file", saved, "--mint-url", "http://127.0.0.1:1/token"}, "allow", 0},
		{"no tokens", []string{"--tokens", "0"}, "", 2},
		{"bad duration", []string{"--duration", "0s"}, "", 2},
		{"unknown flag", []string{"--nosuch"}, "", 2},
		{"unexpected argument", []string{"extra"}, "", 2},
		{"issuer not running", []string{"--mint-url", "http://127.0.0.1:1/token"}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--addr", addr, "--mint-url", mintURL,
				"--concurrency", "4", "--duration", "300ms"}, tt.args...)
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), args, &stdout, &stderr)
			out := stdout.String()
			if tt.wantCode != 0 {
				if err == nil || cli.ExitCode(err) != tt.wantCode {
					t.Fatalf("err %v (exit %d), want exit %d\n%s", err, cli.ExitCode(err), tt.wantCode, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadtest: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
			}
			total := totalRe.FindStringSubmatch(out)
			lat := latencyRe.FindStringSubmatch(out)
			dec := decisionsRe.FindStringSubmatch(out)
			if total == nil || lat == nil || dec == nil {
				t.Fatalf("output lacks the totals, latencies or decisions:\n%s", out)
			}
			n := atoi(t, total[1])
			if n == 0 || atoi(t, total[2]) == 0 {
				t.Fatalf("no Check answered:\n%s", out)
			}
			counts := map[string]int{"allow": atoi(t, dec[1]), "deny": atoi(t, dec[2]), "unauthenticated": atoi(t, dec[3]),
				"unavailable": atoi(t, dec[4]), "other": atoi(t, dec[5]), "errors": atoi(t, dec[6])}
			if counts[tt.want] != n {
				t.Errorf("decisions %v: want all %d to be %s\n%s", counts, n, tt.want, out)
			}
			p50, p90, p99, pmax := atoi(t, lat[1]), atoi(t, lat[2]), atoi(t, lat[3]), atoi(t, lat[4])
			if p50 > p90 || p90 > p99 || p99 > pmax || pmax == 0 {
				t.Errorf("latencies not ordered: p50 %d p90 %d p99 %d max %d", p50, p90, p99, pmax)
			}
			wantServer := slices.Contains(tt.args, "--pid")
			if got := strings.Contains(out, "peak RSS"); got != wantServer {
				t.Errorf("server line present = %v, want %v:\n%s", got, wantServer, out)
			}
			if m := regexp.MustCompile(`: ([0-9.]+) us CPU per Check, peak RSS ([0-9.]+) MiB`).FindStringSubmatch(out); wantServer &&
				(m == nil || m[1] == "0.0" || m[2] == "0.0") {
				t.Errorf("server line without CPU time or peak RSS (read from /proc):\n%s", out)
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
