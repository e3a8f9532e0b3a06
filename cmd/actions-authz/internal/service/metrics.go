package service

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/metrics"
)

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

// verifierConfig returns what turns a configuration into the verifier's:
// its issuers (plus the development issuer at devURL, if any), with the
// logger, the clock (nil: time.Now) and the key fetch and cache metrics m.
func verifierConfig(devURL string, logger *slog.Logger, now func() time.Time, m *metrics.Metrics) func(*config.Config) claims.Config {
	return func(cfg *config.Config) claims.Config {
		issuers := cfg.Issuers
		if devURL != "" {
			issuers = withIssuer(issuers, devURL)
		}
		vc := cfg.VerifierConfig()
		vc.Issuers = issuers
		vc.Logger, vc.Now = logger, now
		vc.OnFetch, vc.OnCache = m.OnFetch, m.CacheLookup
		return vc
	}
}
