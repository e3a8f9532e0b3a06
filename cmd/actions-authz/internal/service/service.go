// Package service is the running actions-authz service: from a loaded
// configuration, New builds the token verifier, the Authorizer, the metrics,
// the log and decision log, the tracer provider, the TLS configuration and
// the gRPC, HTTP and forward-auth servers; Run listens, serves, reloads,
// drains and stops. The serve command of cmd/actions-authz wires it.
package service

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/decisionlog"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/telemetry"
	"github.com/actions-authz/actions-authz/metrics"
)

// Options are what the command line adds to the configuration file.
type Options struct {
	// ConfigPath is the file the configuration was loaded from; reloads
	// read it again.
	ConfigPath string
	// GRPCAddr and HTTPAddr, when set, override server.grpc_addr and
	// server.http_addr, at start and on every reload.
	GRPCAddr string
	HTTPAddr string
	// Dev also runs, and trusts, an embedded development issuer on DevAddr.
	Dev     bool
	DevAddr string
	// Version is the build's version, for the serving log line, the build
	// information metric and the spans' service.version.
	Version string
	// LogOutput receives the JSON log and the decision log (the process's
	// standard error).
	LogOutput io.Writer
	// OnLogger, when set, is called with the service's logger as soon as
	// New has built it and logged the configuration's warnings, before
	// anything else is built: serve decides the garbage collector's tuning
	// there, so that its log line comes before any error of New.
	OnLogger func(*slog.Logger)
	// TestHooks are for tests; the binary leaves them zero.
	TestHooks TestHooks
}

// TestHooks let tests drive the service; the zero value is what the binary
// uses.
type TestHooks struct {
	// Now is the clock of key staleness and metrics; nil: time.Now.
	Now func() time.Time
	// Debounce is the quiet time before a changed file is read; 0:
	// defaultDebounce.
	Debounce time.Duration
	// Warmup bounds a new verifier getting keys; 0: defaultWarmup.
	Warmup time.Duration
	// HUP, when set, stands for SIGHUP: a value sent on it reloads as the
	// signal does, and the process's SIGHUP is not caught.
	HUP chan os.Signal
	// SkipDrain stops without server.drain_delay: the in-process tests
	// stop many services (the binary's tests cover the drain).
	SkipDrain bool
}

// Service is the service built from one configuration, ready to Run.
type Service struct {
	cfg    *config.Config
	opts   Options
	logger *slog.Logger
	logOut *decisionlog.Writer // the logger's output, for its drop count; Run closes it

	dev        *devIssuer               // nil without Options.Dev
	tracer     *sdktrace.TracerProvider // nil when spans are not exported
	keys       *keys                    // the verifier in force; readiness follows it
	authorizer *authz.Authorizer
	reloader   *reloader

	grpcSrv     *grpc.Server
	health      *health.Server
	ready       *readiness
	httpSrv     *http.Server
	forwardAuth *http.Server // nil when server.forward_auth_addr is not set
}

// New builds the service for cfg, after applying the address overrides of
// opts to it. It starts nothing but the development issuer's listener (its
// address is one of the trusted issuers); Run starts the rest, and must be
// called to release what New built.
func New(cfg *config.Config, opts Options) (*Service, error) {
	applyOverrides(cfg, opts)
	s := &Service{cfg: cfg, opts: opts, logOut: decisionlog.NewWriter(opts.LogOutput, 0)}
	level := new(slog.LevelVar)
	level.Set(ParseLevel(cfg.Log.Level))
	s.logger = NewLogger(s.logOut, level)
	for _, w := range cfg.Warnings() {
		s.logger.Warn("configuration warning", "warning", w)
	}
	if opts.OnLogger != nil {
		opts.OnLogger(s.logger)
	}
	if err := s.build(level); err != nil {
		s.closeBuilt()
		return nil, err
	}
	return s, nil
}

// build builds everything but the logger, in the order Run used to start
// them: development issuer, tracing, keys and reloads, TLS, servers.
func (s *Service) build(level *slog.LevelVar) error {
	cfg, logger := s.cfg, s.logger
	devURL := ""
	if s.opts.Dev {
		dev, err := newDevIssuer(s.opts.DevAddr, cfg)
		if err != nil {
			return err
		}
		s.dev, devURL = dev, dev.issuer.URL()
	}
	tp, err := telemetry.NewTracerProvider(context.Background(), cfg.Telemetry, os.Getenv, s.opts.Version)
	if err != nil {
		return err
	}
	if tp != nil {
		telemetry.LogErrors(logger)
		s.tracer = tp
	}
	s.keys = &keys{}
	registry, m, err := newRegistry(metrics.Options{Now: s.opts.TestHooks.Now, Ready: s.keys.Ready,
		Version: s.opts.Version, DroppedLogLines: s.logOut.Dropped})
	if err != nil {
		return fmt.Errorf("metrics registry: %w", err)
	}
	decisions := decisionlog.New(logger, s.logOut, cfg.Log.Decisions)
	decisions.TraceIDs = tp != nil
	keysConfig := verifierConfig(devURL, logger, s.opts.TestHooks.Now, m)
	rv, err := newRunningVerifier(keysConfig(cfg))
	if err != nil {
		return err
	}
	s.keys.set(rv)
	s.authorizer = authz.NewAuthorizer(rv.v, cfg.Engine())
	s.reloader = newReloader(cfg, s.opts, reloadDeps{
		authorizer: s.authorizer, keys: s.keys, keysConfig: keysConfig,
		level: level, decisions: decisions, metrics: m, logger: logger,
	})
	var tlsCfg *tls.Config
	if cfg.Server.TLS != nil {
		if tlsCfg, err = newServerTLS(cfg.Server.TLS, logger); err != nil {
			return err
		}
	}
	s.buildServers(tlsCfg, registry, m, ObserveAll(m.Observe, decisions.Observe))
	return nil
}

// closeBuilt closes what New built that outlives the servers: the
// development issuer's listener (Run may return before serving it), the
// tracer provider, whose buffered spans it flushes, and the log writer. A
// New that fails calls it, and Run last of all.
func (s *Service) closeBuilt() {
	if s.dev != nil {
		s.dev.lis.Close()
	}
	if s.tracer != nil {
		telemetry.Shutdown(s.tracer, s.logger)
	}
	s.logOut.Close()
}

// applyOverrides applies the command-line flags that override the file.
func applyOverrides(cfg *config.Config, o Options) {
	if o.GRPCAddr != "" {
		cfg.Server.GRPCAddr = o.GRPCAddr
	}
	if o.HTTPAddr != "" {
		cfg.Server.HTTPAddr = o.HTTPAddr
	}
}
