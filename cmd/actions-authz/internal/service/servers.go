package service

import (
	"crypto/tls"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/telemetry"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/forwardauth"
	"github.com/actions-authz/actions-authz/metrics"
)

// buildServers builds the ext_authz gRPC server with its health service
// (NOT_SERVING until the keys are ready), the HTTP server of health,
// readiness and metrics, and the forward-auth server when
// server.forward_auth_addr is set. observe sees every decision of both
// front doors.
func (s *Service) buildServers(tlsCfg *tls.Config, registry *prometheus.Registry, m *metrics.Metrics, observe authz.ObserveFunc) {
	cfg := s.cfg
	s.grpcSrv = newGRPCServer(tlsCfg, envoy.DecoderOptions{Protobuf: cfg.Server.Decoder == "protobuf", OnFallback: m.DecoderFallback})
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.grpcSrv, s.health)
	authv3.RegisterAuthorizationServer(s.grpcSrv, envoy.NewServer(envoy.Options{
		Authorizer:     s.authorizer,
		Observe:        observe,
		TracerProvider: telemetry.Provider(s.tracer),
	}))
	s.ready = &readiness{ready: s.keys.Ready, health: s.health, logger: s.logger}
	s.httpSrv = newHTTPServer(opsHandler(s.ready.notReady, promhttp.HandlerFor(registry, promhttp.HandlerOpts{})))
	if cfg.Server.ForwardAuthAddr != "" {
		s.forwardAuth = forwardauth.NewServer(forwardauth.Options{Authorizer: s.authorizer, Observe: observe, Logger: s.logger,
			TracerProvider: telemetry.Provider(s.tracer)})
	}
}
