package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
	"github.com/actions-authz/actions-authz/internal/testpki"
)

// TestBinaryMTLS runs the built binary with server.tls and a client CA:
// Envoy's side, with its certificate, gets a Check allowed; without one it
// is refused.
func TestBinaryMTLS(t *testing.T) {
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	defer srv.Close()
	var err error
	if iss, err = devissuer.New(devissuer.Options{URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	serverCA, clientCA := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "envoy CA")
	dir, leaf := t.TempDir(), serverCA.Issue(t, "actions-authz", x509.ExtKeyUsageServerAuth)
	certFile, keyFile := servicetest.WriteFile(t, dir, "tls.crt", string(leaf.CertPEM)), servicetest.WriteFile(t, dir, "tls.key", string(leaf.KeyPEM))
	clientCAFile := servicetest.WriteFile(t, dir, "client-ca.crt", string(clientCA.PEM))

	p := startBinary(t, fmt.Sprintf(`
server:
  tls: {cert_file: %q, key_file: %q, client_ca_file: %q}
issuers:
  - url: %s
`+servicetest.OwnerPolicy, certFile, keyFile, clientCAFile, srv.URL))
	p.waitReady(t)
	if !strings.Contains(p.logs.String(), `"grpc_tls":"mtls"`) {
		t.Errorf("the serving log line does not say mtls:\n%s", p.logs.String())
	}

	tok, err := iss.Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	envoyTLS := &tls.Config{RootCAs: testpki.Pool(serverCA.PEM), ServerName: "localhost",
		Certificates: []tls.Certificate{clientCA.Issue(t, "envoy", x509.ExtKeyUsageClientAuth).Pair(t)}}
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"Envoy's certificate", envoyTLS, true},
		{"no certificate", &tls.Config{RootCAs: testpki.Pool(serverCA.PEM), ServerName: "localhost"}, false},
	} {
		conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(tc.cfg)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Host: "svc", Path: "/x", Headers: map[string]string{"authorization": "Bearer " + tok},
			}},
		}})
		cancel()
		conn.Close()
		switch {
		case tc.ok && (err != nil || codes.Code(resp.GetStatus().GetCode()) != codes.OK):
			t.Errorf("%s: Check = %v, %v; want allowed\n%s", tc.name, resp.GetStatus(), err, p.logs.String())
		case !tc.ok && status.Code(err) != codes.Unavailable:
			t.Errorf("%s: Check = %v, %v; want the connection refused", tc.name, resp.GetStatus(), err)
		}
	}
}

// TestServeTLSFileMissing: a TLS file that cannot be read stops serve with
// an error naming it, after everything it had started has stopped.
func TestServeTLSFileMissing(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	config := fmt.Sprintf(`
server:
  tls: {cert_file: %q, key_file: %q}
`, filepath.Join(dir, "missing.crt"), filepath.Join(dir, "missing.key")) + servicetest.OwnerConfig(srv.URL)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- run(t.Context(), []string{"serve", "--config", path, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, io.Discard, io.Discard)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "missing.crt") {
			t.Fatalf("serve: %v, want an error naming missing.crt", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return")
	}
}
