package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/decisionlog"
	"github.com/actions-authz/actions-authz/metrics"
)

// opsOptions are hooks for tests; the zero value is what the binary uses.
type opsOptions struct {
	now      func() time.Time // the clock of key staleness and metrics; nil: time.Now
	debounce time.Duration    // quiet time before a changed file is read; 0: defaultDebounce
	warmup   time.Duration    // bound on a new verifier getting keys; 0: defaultWarmup
	// hup, when set, stands for SIGHUP: a value sent on it reloads as the
	// signal does, and the process's SIGHUP is not caught.
	hup chan os.Signal
	// skipDrain stops without server.drain_delay: the in-process tests
	// stop many services (the binary's tests cover the drain).
	skipDrain bool
}

// operations is what the service runs beside its servers: the metrics registry,
// the reloader that owns keys and policy, and the SIGHUP channel.
type operations struct {
	registry       *prometheus.Registry
	metrics        *metrics.Metrics
	metricsHandler http.Handler
	reloader       *reloader
	observe        authz.ObserveFunc // metrics and decision log, for every front door
	hup            chan os.Signal
}

// newRegistry returns the registry of the process: the actions-authz
// metrics plus the Go runtime's and the process's.
func newRegistry(opts metrics.Options) (*prometheus.Registry, *metrics.Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, err
	}
	m, err := metrics.New(reg, opts)
	if err != nil {
		return nil, nil, err
	}
	return reg, m, nil
}

// startOps builds the metrics, starts the key fetchers for s.cfg (plus the
// development issuer at devURL, if any) and prepares reloads. The key
// fetchers run until ctx is done; SIGHUP is caught until stopSignals.
func (s *service) startOps(ctx context.Context, devURL string) (*operations, error) {
	o := &operations{}
	r := &reloader{
		path:     s.opts.configPath,
		opts:     s.opts,
		logger:   s.logger,
		level:    s.level,
		debounce: s.opts.ops.debounce,
		warmup:   s.opts.ops.warmup,
	}
	if r.level == nil {
		r.level = new(slog.LevelVar)
		r.level.Set(parseLevel(s.cfg.Log.Level))
	}
	if r.debounce <= 0 {
		r.debounce = defaultDebounce
	}
	if r.warmup <= 0 {
		r.warmup = defaultWarmup
	}
	mopts := metrics.Options{Now: s.opts.ops.now, Ready: func() bool { return r.ready() }, Version: buildVersion()}
	if s.logOut != nil {
		mopts.DroppedLogLines = s.logOut.Dropped
	}
	var err error
	if o.registry, o.metrics, err = newRegistry(mopts); err != nil {
		return nil, err
	}
	o.metricsHandler = promhttp.HandlerFor(o.registry, promhttp.HandlerOpts{})
	r.metrics = o.metrics
	var logOutput io.Writer = os.Stderr
	if s.logOut != nil {
		logOutput = s.logOut
	}
	r.decisions = decisionlog.New(s.logger, logOutput, s.cfg.Log.Decisions)
	r.decisions.TraceIDs = s.traced
	r.keysConfig = func(cfg *authz.Config) claims.Config {
		issuers := cfg.Issuers
		if devURL != "" {
			issuers = withIssuer(issuers, devURL)
		}
		vc := cfg.VerifierConfig()
		vc.Issuers = issuers
		vc.Logger, vc.Now = s.logger, s.opts.ops.now
		vc.OnFetch, vc.OnCache = o.metrics.OnFetch, o.metrics.CacheLookup
		return vc
	}
	if err := r.start(ctx, s.cfg); err != nil {
		return nil, err
	}
	o.reloader = r
	o.observe = observeAll(o.metrics.Observe, r.decisions.Observe)
	if o.hup = s.opts.ops.hup; o.hup == nil {
		o.hup = make(chan os.Signal, 1)
		signal.Notify(o.hup, syscall.SIGHUP)
	}
	return o, nil
}

// stopSignals stops catching SIGHUP.
func (o *operations) stopSignals() { signal.Stop(o.hup) }
