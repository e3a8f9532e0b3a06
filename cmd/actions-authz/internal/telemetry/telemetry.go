// Package telemetry builds the TracerProvider of actions-authz serve from
// the configuration's telemetry section and the OTEL_* environment
// variables, and ends it.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/actions-authz/actions-authz/authz/config"
)

// defaultServiceName is the service.name of the spans when neither
// telemetry.service_name nor OTEL_SERVICE_NAME sets one.
const defaultServiceName = "actions-authz"

// tracingShutdownTimeout bounds the flush of the spans still buffered when
// the service stops.
const tracingShutdownTimeout = 5 * time.Second

// NewTracerProvider returns the TracerProvider that exports spans as
// telemetry and the OTEL_* environment variables (read with getenv) ask,
// or nil when spans are not to be exported: then the front doors do no
// tracing work at all. version is the spans' service.version.
//
// Spans are exported when telemetry.otlp_endpoint is set, or else when the
// environment names an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER=otlp; never
// when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Unlike the
// OpenTelemetry SDKs' default, nothing is sent to localhost unasked.
func NewTracerProvider(ctx context.Context, t config.TelemetryConfig, getenv func(string) string, version string) (*sdktrace.TracerProvider, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	exp, err := newExporter(ctx, t, getenv)
	if exp == nil || err != nil {
		return nil, err
	}
	res, err := newResource(ctx, t.ServiceName, version)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if r := t.SampleRatio; r != nil {
		// Otherwise OTEL_TRACES_SAMPLER, or the SDK's parent-based
		// always-on.
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*r))))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// newExporter returns the OTLP exporter that t, or else the environment,
// asks for, or nil for none. The exporters read the other OTEL_EXPORTER_OTLP_*
// variables themselves (headers, certificates, timeout, compression);
// telemetry's settings win over them.
func newExporter(ctx context.Context, t config.TelemetryConfig, getenv func(string) string) (sdktrace.SpanExporter, error) {
	if t.OTLPEndpoint != "" {
		if t.Protocol == "http" {
			opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(t.OTLPEndpoint)}
			if t.Insecure {
				opts = append(opts, otlptracehttp.WithInsecure())
			}
			return otlptracehttp.New(ctx, opts...)
		}
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(t.OTLPEndpoint)}
		if t.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	exporter := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") + getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	switch {
	case exporter == "none", exporter == "" && endpoint == "":
		return nil, nil
	case exporter != "" && exporter != "otlp":
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: actions-authz exports traces only with otlp (or none)", exporter)
	}
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch protocol {
	case "grpc":
		return otlptracegrpc.New(ctx)
	case "", "http/protobuf": // the specification's default
		return otlptracehttp.New(ctx)
	}
	return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: want grpc or http/protobuf", protocol)
}

// newResource describes the process: service.name (telemetry.service_name,
// else OTEL_SERVICE_NAME, else actions-authz), service.version, the SDK,
// and OTEL_RESOURCE_ATTRIBUTES.
func newResource(ctx context.Context, serviceName, version string) (*resource.Resource, error) {
	opts := []resource.Option{
		resource.WithAttributes(
			attribute.String("service.name", defaultServiceName),
			attribute.String("service.version", version),
		),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // later options win
	}
	if serviceName != "" {
		opts = append(opts, resource.WithAttributes(attribute.String("service.name", serviceName)))
	}
	return resource.New(ctx, opts...)
}

// Shutdown flushes the spans still buffered, within
// tracingShutdownTimeout, and stops the exporter.
func Shutdown(tp *sdktrace.TracerProvider, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		logger.Warn("trace export: shutdown", "error", err)
	}
}

// LogErrors sends the errors of the OpenTelemetry SDK (a failed
// export) to logger rather than to the standard library's log package, whose
// plain lines would break the JSON log. It sets a global of the otel package:
// the SDK reports export errors nowhere else.
func LogErrors(logger *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("trace export", "error", err)
	}))
}

// Provider returns tp as the front doors' Options take it: a nil
// *TracerProvider must become a nil interface, which means no tracing.
func Provider(tp *sdktrace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return nil
	}
	return tp
}
