package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// healthcheck probes a running actions-authz and exits 0 when it is ready,
// 1 when it is not. Container images without a shell or curl (distroless,
// scratch) use it as their healthcheck:
//
//	actions-authz healthcheck --addr 127.0.0.1:9001        # GET /readyz
//	actions-authz healthcheck --grpc-addr 127.0.0.1:9000   # grpc.health.v1 Check
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", stderr)
	addr := fs.String("addr", "", "HTTP address of the service (server.http_addr): GET /readyz must answer 200")
	grpcAddr := fs.String("grpc-addr", "", "gRPC address of the service (server.grpc_addr): the grpc.health.v1 status must be SERVING")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*addr == "") == (*grpcAddr == "") {
		return usageError("healthcheck: give exactly one of --addr and --grpc-addr")
	}
	if *timeout <= 0 {
		return usageError("healthcheck: --timeout must be positive, got %s", *timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *addr != "" {
		if err := readyzOK(ctx, *addr); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "ready")
		return nil
	}
	if err := grpcServing(ctx, *grpcAddr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "serving")
	return nil
}

// readyzOK asks the HTTP ops listener at addr whether the service is ready.
func readyzOK(ctx context.Context, addr string) error {
	url := "http://" + addr + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usageError("healthcheck: --addr %q: %v", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// grpcServing asks the gRPC health service at addr for the overall status.
func grpcServing(ctx context.Context, addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return usageError("healthcheck: --grpc-addr %q: %v", addr, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", addr, err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("healthcheck: %s: %s", addr, s)
	}
	return nil
}
