package telemetry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz/config"
)

// TestTracerProviderFromEnvironment: spans are exported when the
// configuration or the OTEL_* variables ask, and not otherwise.
func TestTracerProviderFromEnvironment(t *testing.T) {
	configured := config.TelemetryConfig{OTLPEndpoint: "127.0.0.1:4317", Insecure: true}
	overHTTP := config.TelemetryConfig{OTLPEndpoint: "127.0.0.1:4318", Protocol: "http", Insecure: true}
	tests := []struct {
		name    string
		cfg     config.TelemetryConfig
		env     map[string]string
		want    bool
		wantErr string
	}{
		{"nothing asks", config.TelemetryConfig{}, nil, false, ""},
		{"configured", configured, nil, true, ""},
		{"configured, over http", overHTTP, nil, true, ""},
		{"configured, SDK disabled", configured, map[string]string{"OTEL_SDK_DISABLED": "true"}, false, ""},
		{"endpoint variable", config.TelemetryConfig{}, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, ""},
		{"traces endpoint variable, grpc", config.TelemetryConfig{}, map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true, ""},
		{"exporter otlp", config.TelemetryConfig{}, map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"exporter none", config.TelemetryConfig{}, map[string]string{
			"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false, ""},
		{"exporter zipkin", config.TelemetryConfig{}, map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "OTEL_TRACES_EXPORTER=zipkin"},
		{"protocol json", config.TelemetryConfig{}, map[string]string{
			"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, false, "OTEL_EXPORTER_OTLP_PROTOCOL=http/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := NewTracerProvider(context.Background(), tt.cfg, func(k string) string { return tt.env[k] }, "dev")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tp != nil; got != tt.want {
				t.Fatalf("exporting %v, want %v", got, tt.want)
			}
			if tp != nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				tp.Shutdown(ctx)
			}
		})
	}
}
