package service

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

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
