package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/actions-authz/actions-authz/internal/cli"
	"github.com/actions-authz/actions-authz/internal/fileread"
)

// healthcheck probes a running actions-authz and exits 0 when it is ready,
// 1 when it is not. Container images without a shell or curl (distroless,
// scratch) use it as their healthcheck:
//
//	actions-authz healthcheck --addr 127.0.0.1:9001        # GET /readyz
//	actions-authz healthcheck --grpc-addr 127.0.0.1:9000   # grpc.health.v1 Check
//
// With server.tls, the gRPC probe speaks TLS: --tls-ca names the CA that
// signed the server's certificate, and with client_ca_file (mTLS)
// --tls-cert and --tls-key give the probe a client certificate.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("healthcheck", stderr)
	addr := fs.String("addr", "", "HTTP address of the service (server.http_addr): GET /readyz must answer 200")
	grpcAddr := fs.String("grpc-addr", "", "gRPC address of the service (server.grpc_addr): the grpc.health.v1 status must be SERVING")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	var tf tlsFlags
	fs.StringVar(&tf.ca, "tls-ca", "", "with --grpc-addr: speak TLS, trusting the CA certificates in this PEM file")
	fs.StringVar(&tf.cert, "tls-cert", "", "with --tls-ca: client certificate (PEM) for a server that requires one")
	fs.StringVar(&tf.key, "tls-key", "", "with --tls-cert: its private key (PEM)")
	fs.StringVar(&tf.serverName, "tls-server-name", "", "with --tls-ca: the name the server's certificate must hold (default: the host of --grpc-addr)")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	creds, err := tf.credentials(*grpcAddr)
	if err != nil {
		return err
	}
	if (*addr == "") == (*grpcAddr == "") {
		return cli.Usage("healthcheck: give exactly one of --addr and --grpc-addr")
	}
	if *timeout <= 0 {
		return cli.Usage("healthcheck: --timeout must be positive, got %s", *timeout)
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
	if err := grpcServing(ctx, *grpcAddr, creds); err != nil {
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
		return cli.Usage("healthcheck: --addr %q: %v", addr, err)
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

// maxCAFileBytes bounds the read of --tls-ca, as serve bounds its TLS files.
const maxCAFileBytes = 1 << 20

// tlsFlags are the healthcheck's TLS settings for the gRPC probe.
type tlsFlags struct{ ca, cert, key, serverName string }

// credentials returns the transport credentials the flags describe: plain
// text without --tls-ca, TLS with it.
func (f tlsFlags) credentials(grpcAddr string) (credentials.TransportCredentials, error) {
	if f.ca == "" {
		if f.cert != "" || f.key != "" || f.serverName != "" {
			return nil, cli.Usage("healthcheck: --tls-cert, --tls-key and --tls-server-name need --tls-ca")
		}
		return insecure.NewCredentials(), nil
	}
	if grpcAddr == "" {
		return nil, cli.Usage("healthcheck: the --tls-* flags go with --grpc-addr")
	}
	if (f.cert == "") != (f.key == "") {
		return nil, cli.Usage("healthcheck: give both --tls-cert and --tls-key, or neither")
	}
	roots, err := fileread.CertPool(f.ca, maxCAFileBytes)
	if err != nil {
		return nil, cli.Usage("healthcheck: --tls-ca: %v", err)
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: f.serverName, MinVersion: tls.VersionTLS12}
	if f.cert != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, cli.Usage("healthcheck: --tls-cert/--tls-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg), nil
}

// grpcServing asks the gRPC health service at addr for the overall status.
func grpcServing(ctx context.Context, addr string, creds credentials.TransportCredentials) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return cli.Usage("healthcheck: --grpc-addr %q: %v", addr, err)
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
