package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
	"github.com/actions-authz/actions-authz/internal/cli"
	"github.com/actions-authz/actions-authz/internal/testpki"
)

// TestHealthcheckMTLS: the gRPC probe reaches a server that requires a
// client certificate when given the CA and a certificate, and fails without
// them, or with a certificate from another CA.
func TestHealthcheckMTLS(t *testing.T) {
	serverCA, clientCA, otherCA := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "envoy CA"), testpki.NewCA(t, "other CA")
	srvTLS := &tls.Config{
		Certificates: []tls.Certificate{serverCA.Issue(t, "actions-authz", x509.ExtKeyUsageServerAuth).Pair(t)},
		ClientCAs:    testpki.Pool(clientCA.PEM),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS)))
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	lis := listen(t)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	addr := lis.Addr().String()

	dir := t.TempDir()
	write := func(name string, data []byte) string { return servicetest.WriteFile(t, dir, name, string(data)) }
	ca := write("server-ca.PEM", serverCA.PEM)
	probe := clientCA.Issue(t, "probe", x509.ExtKeyUsageClientAuth)
	cert, key := write("probe.crt", probe.CertPEM), write("probe.key", probe.KeyPEM)
	stranger := otherCA.Issue(t, "probe", x509.ExtKeyUsageClientAuth)
	sCert, sKey := write("stranger.crt", stranger.CertPEM), write("stranger.key", stranger.KeyPEM)

	tests := []struct {
		name string
		args []string
		code int // -1: ready
	}{
		{"client certificate", []string{"--tls-ca", ca, "--tls-cert", cert, "--tls-key", key}, -1},
		{"named server", []string{"--tls-ca", ca, "--tls-cert", cert, "--tls-key", key, "--tls-server-name", "localhost"}, -1},
		{"no client certificate", []string{"--tls-ca", ca}, 1},
		{"certificate from another CA", []string{"--tls-ca", ca, "--tls-cert", sCert, "--tls-key", sKey}, 1},
		{"plain text", nil, 1},
		{"cert without key", []string{"--tls-ca", ca, "--tls-cert", cert}, 2},
		{"tls flags without --tls-ca", []string{"--tls-cert", cert, "--tls-key", key}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"healthcheck", "--grpc-addr", addr, "--timeout", "5s"}, tc.args...)
			err := run(context.Background(), args, &stdout, &stderr)
			if tc.code == -1 {
				if err != nil {
					t.Fatalf("healthcheck: %v", err)
				}
				return
			}
			if err == nil || cli.ExitCode(err) != tc.code {
				t.Fatalf("healthcheck: %v (exit %d), want exit %d", err, cli.ExitCode(err), tc.code)
			}
		})
	}
}
