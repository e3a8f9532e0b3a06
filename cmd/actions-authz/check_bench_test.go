package main

// The Check benchmarks of "make bench": actions-authz with its full product
// path (policy, every configured header, header removal, dynamic metadata,
// decision logs at the default level) against a minimal baseline ext_authz
// server, in the same run.
//
//	BenchmarkCheck/token=uncached|cached/log=...        in-process envoy.Server.Check
//	BenchmarkCheckGRPC/token=.../server=baseline|actions-authz   over gRPC on loopback,
//	    32 concurrent Checks (RunParallel), spread over two connections; actions-authz
//	    with envoy.ServerOptions, as serve runs it
//
// "make bench" feeds the output to benchstat -col /server and -col /token,
// which prints each figure of actions-authz as a ratio to the baseline's,
// and cached as a ratio to uncached.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/decisionlog"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/service"
	"github.com/actions-authz/actions-authz/cmd/internal/loadclient"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/metrics"
)

// benchTokens is the number of distinct tokens the gRPC benchmarks cycle
// through. Minting costs an RSA signature each; the load command measures
// with 10,000 and more.
const benchTokens = 1000

// benchStreams is the number of Checks in flight in the gRPC benchmarks.
const benchStreams = 32

// benchFixture is the issuer, configuration and requests every benchmark
// shares: the configuration of "make run" (examples/dev/config.yaml) with
// the development issuer served on loopback.
type benchFixture struct {
	issuerURL string
	cfg       *config.Config
	reqs      []*authv3.CheckRequest // one per token, Envoy-shaped, routed to policy "default"
}

var benchSetup = sync.OnceValues(func() (*benchFixture, error) {
	var handler atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	})) // lives as long as the test binary
	iss, err := devissuer.New(devissuer.Options{URL: srv.URL, Lifetime: time.Hour})
	if err != nil {
		return nil, err
	}
	h := iss.Handler()
	handler.Store(&h)

	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "dev", "config.yaml"))
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse([]byte(strings.ReplaceAll(string(raw), "http://127.0.0.1:9002", srv.URL)))
	if err != nil {
		return nil, err
	}
	f := &benchFixture{issuerURL: srv.URL, cfg: cfg, reqs: make([]*authv3.CheckRequest, benchTokens)}
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for w := range errs {
		wg.Go(func() {
			for i := w; i < benchTokens; i += len(errs) {
				tok, err := iss.Mint(nil)
				if err != nil {
					errs[w] = err
					return
				}
				f.reqs[i] = loadclient.EnvoyRequest(tok, "GET", "private.example.test", "/api/status", "", i)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return f, nil
})

func benchFixtureOf(b *testing.B) *benchFixture {
	b.Helper()
	f, err := benchSetup()
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// productServer is actions-authz as serve wires it, with the verified-token
// cache on or off, and decision logs (JSON, default level, every decision)
// written to w.
func productServer(b *testing.B, f *benchFixture, cached bool, w io.Writer) *envoy.Server {
	b.Helper()
	vc := f.cfg.VerifierConfig()
	if !cached {
		vc.CacheMaxEntries = -1
	}
	v, err := claims.NewVerifier(vc)
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Refresh(b.Context(), f.issuerURL); err != nil {
		b.Fatal(err)
	}
	return envoy.NewServer(envoy.Options{
		Authorizer: authz.NewAuthorizer(v, f.cfg.Engine()),
		Observe:    productObserve(b, w, f.cfg),
	})
}

// productObserve is what serve observes every decision with: the metrics,
// and the decision log at the configured level through the same buffered
// writer, to w. Keep it in step with serve's wiring (service.New).
func productObserve(tb testing.TB, w io.Writer, cfg *config.Config) authz.ObserveFunc {
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	out := decisionlog.NewWriter(w, 0)
	tb.Cleanup(func() { out.Close() })
	level := new(slog.LevelVar)
	level.Set(service.ParseLevel(cfg.Log.Level))
	return service.ObserveAll(m.Observe, decisionlog.New(service.NewLogger(out, level), out, cfg.Log.Decisions).Observe)
}

// BenchmarkCheck is one Check in process, with the full product path: the
// same token every time, answered from the cache or verified in full; the
// decision log goes to io.Discard or, to show what the write costs, to a
// file.
func BenchmarkCheck(b *testing.B) {
	f := benchFixtureOf(b)
	for _, bc := range []struct {
		token string
		log   string
	}{
		{"uncached", "discard"},
		{"cached", "discard"},
		{"cached", "file"},
	} {
		b.Run(fmt.Sprintf("token=%s/log=%s", bc.token, bc.log), func(b *testing.B) {
			var w io.Writer = io.Discard
			if bc.log == "file" {
				file, err := os.Create(filepath.Join(b.TempDir(), "decisions.log"))
				if err != nil {
					b.Fatal(err)
				}
				defer file.Close()
				w = file
			}
			srv := productServer(b, f, bc.token == "cached", w)
			req := f.reqs[0]
			ctx := context.Background()
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				resp, err := srv.Check(ctx, req)
				if err != nil || resp.GetStatus().GetCode() != int32(codes.OK) {
					b.Fatalf("Check: %v, status %v", err, resp.GetStatus())
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkCheckGRPC is Checks over gRPC on loopback, 32 in flight, cycling
// through benchTokens distinct tokens, for actions-authz (full product
// path, decision logs to io.Discard) and for the minimal baseline, with and
// without their caches. The client runs in the same process, so ns/op,
// cpu-ns/op and allocs/op count both ends of the call, and checks/s is the
// throughput. Like the load command, the client reads only the status of
// each response: decoding the dozen headers and the metadata actions-authz
// answers with would cost the client about 10us a Check more than the
// baseline's two headers, CPU a load generator would take from the server.
func BenchmarkCheckGRPC(b *testing.B) {
	f := benchFixtureOf(b)
	for _, token := range []string{"uncached", "cached"} {
		for _, server := range []string{"baseline", "actions-authz"} {
			b.Run(fmt.Sprintf("token=%s/server=%s", token, server), func(b *testing.B) {
				if server == "baseline" {
					benchGRPC(b, newBaseline(b, f.issuerURL, f.cfg.AllAudiences()[0], token == "cached"), f.reqs)
				} else {
					benchGRPC(b, productServer(b, f, token == "cached", io.Discard), f.reqs, envoy.ServerOptions(envoy.DecoderOptions{})...)
				}
			})
		}
	}
}

// benchGRPC serves srv on loopback with opts and sends it Checks from
// benchStreams goroutines over two connections.
func benchGRPC(b *testing.B, srv authv3.AuthorizationServer, reqs []*authv3.CheckRequest, opts ...grpc.ServerOption) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer(opts...)
	authv3.RegisterAuthorizationServer(gs, srv)
	go gs.Serve(lis)
	b.Cleanup(gs.Stop)
	clients := make([]loadclient.Func, 2)
	for i := range clients {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		clients[i] = loadclient.StatusOnly(conn)
	}
	ctx := context.Background()
	// One pass over the tokens: connections up, caches warm.
	for i, req := range reqs {
		if _, err := clients[i%2](ctx, req); err != nil {
			b.Fatal(err)
		}
	}

	var next, conn atomic.Uint64
	b.SetParallelism((benchStreams + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	cpu := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		client := clients[conn.Add(1)%2]
		for pb.Next() {
			code, err := client(ctx, reqs[next.Add(1)%uint64(len(reqs))])
			if err != nil || code != codes.OK {
				b.Errorf("Check: %v, status %v", err, code)
				return
			}
		}
	})
	b.StopTimer()
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}

// processCPU returns the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start as "cpu-ns/op":
// on a machine shared with other work, wall-clock ns/op and checks/s move
// with the neighbours' load, while the CPU a Check costs this process
// stays put. cores ÷ cpu-ns/op is the throughput on dedicated cores.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

// baseline is the minimal ext_authz server the issue measures against:
// keyfunc and jwt/v5 verify the token (RS256, issuer, audience, expiry), the
// owner is checked, and an allowed request gets two headers. Nothing else:
// no policy file, no header removal, no metadata, no logs. With cache, a
// verified token is kept by its SHA-256 until it expires, without bound.
type baseline struct {
	authv3.UnimplementedAuthorizationServer
	kf     keyfunc.Keyfunc
	parser *jwt.Parser
	owner  string
	cache  *sync.Map // cacheKey -> baselineEntry; nil without cache
}

type baselineClaims struct {
	jwt.RegisteredClaims
	Repository        string `json:"repository"`
	RepositoryOwnerID string `json:"repository_owner_id"`
}

type baselineEntry struct {
	claims *baselineClaims
	exp    time.Time
}

// newBaseline starts a baseline for tokens of issuer with audience; its key
// set refresh stops with the benchmark.
func newBaseline(b testing.TB, issuer, audience string, cache bool) *baseline {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	s, err := startBaseline(ctx, issuer, audience, cache)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func startBaseline(ctx context.Context, issuer, audience string, cache bool) (*baseline, error) {
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{issuer + "/.well-known/jwks"})
	if err != nil {
		return nil, err
	}
	s := &baseline{
		kf: kf,
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(issuer),
			jwt.WithAudience(audience), jwt.WithExpirationRequired()),
		owner: "123456",
	}
	if cache {
		s.cache = new(sync.Map)
	}
	return s, nil
}

// Check implements authv3.AuthorizationServer.
func (s *baseline) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	raw, ok := strings.CutPrefix(req.GetAttributes().GetRequest().GetHttp().GetHeaders()["authorization"], "Bearer ")
	if !ok {
		return baselineDeny(codes.Unauthenticated, typev3.StatusCode_Unauthorized), nil
	}
	var c *baselineClaims
	var key [32]byte
	if s.cache != nil {
		key = sha256.Sum256([]byte(raw))
		if e, ok := s.cache.Load(key); ok && time.Now().Before(e.(baselineEntry).exp) {
			c = e.(baselineEntry).claims
		}
	}
	if c == nil {
		c = new(baselineClaims)
		if _, err := s.parser.ParseWithClaims(raw, c, s.kf.Keyfunc); err != nil {
			return baselineDeny(codes.Unauthenticated, typev3.StatusCode_Unauthorized), nil
		}
		if s.cache != nil {
			s.cache.Store(key, baselineEntry{claims: c, exp: c.ExpiresAt.Time})
		}
	}
	if c.RepositoryOwnerID != s.owner {
		return baselineDeny(codes.PermissionDenied, typev3.StatusCode_Forbidden), nil
	}
	header := func(k, v string) *corev3.HeaderValueOption {
		return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{
				header("x-github-repository", c.Repository),
				header("x-github-repository-owner-id", c.RepositoryOwnerID),
			},
		}},
	}, nil
}

func baselineDeny(code codes.Code, http typev3.StatusCode) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: http},
		}},
	}
}

// TestMain runs the tests, or, when ACTIONS_AUTHZ_BASELINE_ADDR is set,
// serves the baseline there until interrupted, so that the load command can
// measure it beside actions-authz (see "make load"):
//
//	ACTIONS_AUTHZ_BASELINE_ADDR=127.0.0.1:9100 \
//	ACTIONS_AUTHZ_BASELINE_ISSUER=http://127.0.0.1:9002 \
//	ACTIONS_AUTHZ_BASELINE_CACHE=1 ./actions-authz.test
func TestMain(m *testing.M) {
	addr := os.Getenv("ACTIONS_AUTHZ_BASELINE_ADDR")
	if addr == "" {
		os.Exit(m.Run())
	}
	if err := serveBaseline(addr, os.Getenv("ACTIONS_AUTHZ_BASELINE_ISSUER"),
		os.Getenv("ACTIONS_AUTHZ_BASELINE_AUDIENCE"), os.Getenv("ACTIONS_AUTHZ_BASELINE_CACHE") == "1"); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func serveBaseline(addr, issuer, audience string, cache bool) error {
	if audience == "" {
		audience = "https://github.com/octo-org"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := startBaseline(ctx, issuer, audience, cache)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	gs := grpc.NewServer()
	authv3.RegisterAuthorizationServer(gs, s)
	go func() { <-ctx.Done(); gs.Stop() }()
	slog.Info("baseline serving", "addr", lis.Addr().String(), "pid", os.Getpid(), "cache", cache)
	return gs.Serve(lis)
}
