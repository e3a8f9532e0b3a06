package service

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestReadyzPublishesGRPCHealth: once /readyz has answered, the gRPC health
// service (Envoy's health check) says the same, without waiting for the
// readiness ticker.
func TestReadyzPublishesGRPCHealth(t *testing.T) {
	var ready atomic.Bool
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	r := &readiness{ready: ready.Load, health: hs, logger: slog.New(slog.DiscardHandler)}
	h := opsHandler(r.notReady, http.NotFoundHandler())
	for _, tc := range []struct {
		ready  bool
		status int
		grpc   healthpb.HealthCheckResponse_ServingStatus
	}{
		{true, http.StatusOK, healthpb.HealthCheckResponse_SERVING},
		{false, http.StatusServiceUnavailable, healthpb.HealthCheckResponse_NOT_SERVING},
		{true, http.StatusOK, healthpb.HealthCheckResponse_SERVING},
	} {
		ready.Store(tc.ready)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != tc.status {
			t.Fatalf("ready %v: /readyz %d, want %d", tc.ready, rec.Code, tc.status)
		}
		for _, service := range []string{"", authv3.Authorization_ServiceDesc.ServiceName} {
			resp, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetStatus() != tc.grpc {
				t.Errorf("ready %v, after /readyz answered %d: gRPC health of %q is %v, want %v",
					tc.ready, rec.Code, service, resp.GetStatus(), tc.grpc)
			}
		}
	}
}
