package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/decisionlog"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/forwardauth"
)

type serveOptions struct {
	configPath string
	grpcAddr   string
	httpAddr   string
	dev        bool
	devAddr    string
	gcTuning   bool
	ops        opsOptions // test hooks for reload, keys and metrics
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o serveOptions
	fs := newFlagSet("serve", stderr)
	fs.StringVar(&o.configPath, "config", "", "configuration file (required)")
	fs.StringVar(&o.grpcAddr, "grpc-addr", "", "ext_authz gRPC listen address (overrides server.grpc_addr)")
	fs.StringVar(&o.httpAddr, "http-addr", "", "health and metrics listen address (overrides server.http_addr)")
	fs.BoolVar(&o.dev, "dev", false, "also run and trust an embedded development issuer (never in production)")
	fs.StringVar(&o.devAddr, "dev-addr", "127.0.0.1:9002", "listen address of the development issuer (with --dev)")
	fs.BoolVar(&o.gcTuning, "gc-tuning", true, "size the garbage collector for a small heap, unless GOGC or GOMEMLIMIT is set (false: Go's defaults)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.configPath == "" {
		return usageError("serve: --config is required")
	}
	return serveWith(ctx, o, stderr)
}

// serveWith loads the configuration and runs the service until ctx is done.
func serveWith(ctx context.Context, o serveOptions, stderr io.Writer) error {
	cfg, err := authz.LoadConfig(o.configPath)
	if err != nil {
		return fmt.Errorf("%s is invalid:\n%w", o.configPath, err)
	}
	applyOverrides(cfg, o)
	logOut := decisionlog.NewWriter(stderr, 0)
	defer logOut.Close()
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.Log.Level))
	logger := newLogger(logOut, level)
	for _, w := range cfg.Warnings() {
		logger.Warn("configuration warning", "warning", w)
	}
	defer startGCTuning(o.gcTuning, logger).Stop()
	s := newService(cfg, o, logger)
	s.level, s.logOut = level, logOut
	return s.run(ctx)
}

// service is the running binary: listeners, servers and their wiring.
type service struct {
	cfg    *authz.Config
	opts   serveOptions
	logger *slog.Logger
	level  *slog.LevelVar      // log.level, changed by reloads
	logOut *decisionlog.Writer // the logger's output, for its drop count
	traced bool                // spans are exported: decision lines carry trace_id
}

func newService(cfg *authz.Config, o serveOptions, logger *slog.Logger) *service {
	return &service{cfg: cfg, opts: o, logger: logger}
}

// run serves until ctx is done (SIGTERM or SIGINT in the binary), drains
// (see drain), then stops. Everything it starts runs on its own context,
// which ends only after the drain: Checks go on being answered meanwhile.
func (s *service) run(signalled context.Context) error {
	cfg, logger := s.cfg, s.logger
	ctx, cancel := context.WithCancel(context.WithoutCancel(signalled))
	defer cancel()

	// Listen first, so that a busy port fails before anything starts.
	grpcLis, err := net.Listen("tcp", cfg.Server.GRPCAddr)
	if err != nil {
		return fmt.Errorf("grpc listener: %w", err)
	}
	defer grpcLis.Close()
	httpLis, err := net.Listen("tcp", cfg.Server.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	defer httpLis.Close()
	faLis, err := listenForwardAuth(cfg.Server.ForwardAuthAddr)
	if err != nil {
		return err
	}
	if faLis != nil {
		defer faLis.Close()
	}

	// Whatever the way out, the goroutines below end with ctx: cancel it
	// before waiting for them.
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	errc := make(chan error, 4)
	devURL := ""

	if s.opts.dev {
		dev, devSrv, err := startDevIssuer(s.opts.devAddr, cfg, &wg, errc)
		if err != nil {
			return err
		}
		defer devSrv.Close()
		devURL = dev.URL()
		logger.Warn("DEVELOPMENT ISSUER ENABLED: tokens minted by this process are trusted; never use --dev in production",
			"issuer", dev.URL(), "mint", dev.URL()+"/token")
	}

	// Traces (telemetry.go): nil when nothing asks for them.
	tp, err := newTracerProvider(ctx, cfg.Telemetry, os.Getenv)
	if err != nil {
		return err
	}
	if tp != nil {
		logTraceErrors(logger)
		defer shutdownTracing(tp, logger)
		s.traced = true
	}

	// Metrics, keys, policy and reloads (ops.go).
	ops, err := s.startOps(ctx, devURL)
	if err != nil {
		return err
	}
	defer ops.reloader.stop()
	wg.Go(func() { ops.reloader.run(ctx, ops.hup) })
	defer ops.stopSignals()

	authorizer := ops.reloader.authorizer
	var tlsCfg *tls.Config
	if cfg.Server.TLS != nil {
		if tlsCfg, err = newServerTLS(cfg.Server.TLS, logger); err != nil {
			return err
		}
	}
	grpcSrv := newGRPCServer(tlsCfg, envoy.DecoderOptions{Protobuf: cfg.Server.Decoder == "protobuf", OnFallback: ops.metrics.DecoderFallback})
	healthSrv := health.NewServer()
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(grpcSrv, healthSrv)
	authv3.RegisterAuthorizationServer(grpcSrv, envoy.NewServer(envoy.Options{
		Authorizer:     authorizer,
		Observe:        ops.observe,
		TracerProvider: tracerProvider(tp),
	}))

	ready := &readiness{ready: ops.reloader.ready, health: healthSrv, logger: logger}
	httpSrv := newHTTPServer(opsHandler(ready.notReady, ops.metricsHandler))

	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := grpcSrv.Serve(grpcLis); err != nil {
			errc <- fmt.Errorf("grpc server: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := httpSrv.Serve(httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		ready.track(ctx)
	}()
	if faLis != nil {
		serveForwardAuth(ctx, faLis, forwardauth.Options{Authorizer: authorizer, Observe: ops.observe, Logger: logger,
			TracerProvider: tracerProvider(tp)},
			cfg.Server.ShutdownGrace, &wg, errc)
	}
	logger.Info("serving", "grpc_addr", grpcLis.Addr().String(), "http_addr", httpLis.Addr().String(),
		"grpc_tls", tlsMode(cfg.Server.TLS), "policies", len(cfg.Policies), "version", buildVersion())

	var runErr error
	select {
	case <-signalled.Done():
		// Tell Envoy's health checks first, and go on answering until
		// they have taken this replica out.
		wasReady := ready.ready()
		ready.draining.Store(true)
		healthSrv.Shutdown()
		runErr = s.drain(wasReady, errc)
		logger.Info("shutting down", "grace", cfg.Server.ShutdownGrace.String())
	case runErr = <-errc:
		logger.Error("server failed, shutting down", "error", runErr)
		healthSrv.Shutdown()
	}
	cancel()
	// Stop taking Checks, and let in-flight ones finish.
	s.stop(grpcSrv, httpSrv)
	return runErr
}

// drain waits server.drain_delay while the health says NOT_SERVING and
// Checks are still answered, so that Envoy's health checks take this
// replica out before it stops taking Checks; otherwise Envoy would learn it
// from refused connections, and a Check sent at that moment would fail. A
// second SIGTERM or SIGINT (Ctrl-C pressed twice) ends the wait at once, a
// server failing too. A service that was not ready has nothing to drain:
// its health already said NOT_SERVING.
func (s *service) drain(wasReady bool, errc <-chan error) error {
	delay := authz.DefaultDrainDelay
	if d := s.cfg.Server.DrainDelay; d != nil {
		delay = *d
	}
	if s.opts.ops.skipDrain || delay <= 0 || !wasReady {
		return nil
	}
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	s.logger.Info("draining: health is NOT_SERVING and Checks are still answered, so Envoy's health checks take this replica out first; signal again to stop now",
		"drain_delay", delay.String())
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case sig := <-again:
		s.logger.Info("drain cut short", "signal", sig.String())
		return nil
	case err := <-errc:
		s.logger.Error("server failed while draining, shutting down", "error", err)
		return err
	}
}

// stop drains the servers within the shutdown grace, then closes them.
func (s *service) stop(grpcSrv *grpc.Server, httpSrv *http.Server) {
	grace := s.cfg.Server.ShutdownGrace
	done := make(chan struct{})
	go func() {
		grpcSrv.GracefulStop()
		close(done)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.logger.Warn("shutdown grace elapsed, closing remaining connections")
		grpcSrv.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := httpSrv.Shutdown(ctx); err != nil {
		httpSrv.Close()
	}
}

// readiness keeps the gRPC health status (what Envoy's health check reads)
// in step with key readiness. Both /readyz and a ticker go through check, so
// /readyz never answers ready while the gRPC health service still says
// NOT_SERVING: Envoy started once /readyz is ready (docker compose's
// healthcheck, make stack) would otherwise find actions-authz unhealthy at
// its first check, and before any traffic Envoy checks again only after its
// no_traffic_interval.
type readiness struct {
	ready  func() bool
	health *health.Server
	logger *slog.Logger

	draining atomic.Bool // set on SIGTERM: /readyz says so

	mu  sync.Mutex
	was bool // the status last published
}

// notReady says why the service is not ready, for /readyz, or "" when it
// is.
func (r *readiness) notReady() string {
	if r.draining.Load() {
		return "shutting down"
	}
	if !r.check() {
		return "waiting for signing keys"
	}
	return ""
}

// check reads the readiness, publishes it to the gRPC health service if it
// changed, and returns it.
func (r *readiness) check() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	is := r.ready()
	if is != r.was {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if is {
			st = healthpb.HealthCheckResponse_SERVING
		}
		r.health.SetServingStatus("", st)
		r.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, st)
		r.logger.Info("readiness changed", "ready", is)
		r.was = is
	}
	return is
}

// track calls check every 250ms until ctx is done.
func (r *readiness) track(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		r.check()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// opsHandler serves /healthz (the process is alive), /readyz (the
// configuration is loaded, every issuer has keys, and the service is not
// shutting down) and /metrics. notReady says why the service is not ready,
// or "" when it is.
func opsHandler(notReady func() string, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := notReady(); why != "" {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}

// startDevIssuer runs the embedded development issuer on addr.
func startDevIssuer(addr string, cfg *authz.Config, wg *sync.WaitGroup, errc chan<- error) (*devissuer.Issuer, *http.Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dev issuer listener: %w", err)
	}
	dev, err := devissuer.New(devissuer.Options{
		URL:      "http://" + loopbackAddr(lis.Addr()),
		Audience: firstOf(cfg.AllAudiences()),
	})
	if err != nil {
		lis.Close()
		return nil, nil, err
	}
	srv := &http.Server{Handler: dev.Handler(), ReadHeaderTimeout: 5 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("dev issuer: %w", err)
		}
	}()
	return dev, srv, nil
}

// loopbackAddr names a listener's address as a client on this host reaches
// it: a wildcard host (a container's 0.0.0.0) becomes 127.0.0.1.
func loopbackAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		_, port, _ := net.SplitHostPort(a.String())
		return net.JoinHostPort("127.0.0.1", port)
	}
	return tcp.String()
}

// withIssuer returns issuers with url added unless it is already configured.
func withIssuer(issuers []claims.IssuerConfig, url string) []claims.IssuerConfig {
	for _, is := range issuers {
		if is.URL == url {
			return issuers
		}
	}
	out := append([]claims.IssuerConfig(nil), issuers...)
	return append(out, claims.IssuerConfig{URL: url})
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
