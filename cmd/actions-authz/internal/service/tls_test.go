package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
	"github.com/actions-authz/actions-authz/internal/testpki"
)

// refuseAll is a verifier that refuses every token: enough for the server
// to answer every Check with a 401.
type refuseAll struct{}

func (refuseAll) Verify(context.Context, string) (*claims.Claims, error) {
	return nil, errors.New("refused")
}

// tlsFiles writes the server's certificate, key and client CA under dir and
// bumps their modification times, as a rotation would.
type tlsFiles struct {
	dir   string
	files config.TLSConfig
	gen   int
}

func newTLSFiles(t *testing.T, mtls bool) *tlsFiles {
	dir := t.TempDir()
	f := &tlsFiles{dir: dir, files: config.TLSConfig{
		CertFile: filepath.Join(dir, "tls.crt"),
		KeyFile:  filepath.Join(dir, "tls.key"),
	}}
	if mtls {
		f.files.ClientCAFile = filepath.Join(dir, "client-ca.crt")
	}
	return f
}

func (f *tlsFiles) write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f.gen++
	mod := time.Now().Add(time.Duration(f.gen) * time.Minute)
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func (f *tlsFiles) writeServer(t *testing.T, l testpki.Leaf) {
	f.write(t, f.files.CertFile, l.CertPEM)
	f.write(t, f.files.KeyFile, l.KeyPEM)
}

// serveTLS runs the binary's gRPC server (its limits and TLS) with an
// Authorization service on 127.0.0.1 and returns its address.
func serveTLS(t *testing.T, files config.TLSConfig, logs *servicetest.SyncBuffer) string {
	t.Helper()
	tlsCfg, err := newServerTLS(&files, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return serveGRPCOn(t, newGRPCServer(tlsCfg, envoy.DecoderOptions{}))
}

func serveGRPCOn(t *testing.T, gs *grpc.Server) string {
	t.Helper()
	cfg, err := config.Parse([]byte(`
issuers: [{url: https://issuer.example}]
audiences: [x]
policies:
  - name: default
    match: {path_prefixes: [/]}
    allow: [{repository_owner_id: "1"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	authv3.RegisterAuthorizationServer(gs, envoy.NewServer(envoy.Options{Authorizer: authz.NewAuthorizer(refuseAll{}, cfg.Engine())}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// checkOver sends one Check to addr, over TLS with clientTLS or in plain
// text when it is nil, and returns the call's error.
func checkOver(t *testing.T, addr string, clientTLS *tls.Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := envoytest.Dial(t, addr, clientTLS).Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "svc", Path: "/x", Headers: map[string]string{"authorization": "Bearer a.b.c"},
		}},
	}})
	if err == nil && resp.GetStatus() == nil {
		t.Fatal("an answer without a status")
	}
	return err
}

// TestMTLS: Envoy's side, presenting a certificate from the configured
// client CA, gets answers; a client without a certificate, with one from
// another CA, with a server-only certificate, or in plain text, is refused.
func TestMTLS(t *testing.T) {
	serverCA, clientCA, otherCA := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "envoy CA"), testpki.NewCA(t, "other CA")
	envoyCert := clientCA.Issue(t, "envoy", x509.ExtKeyUsageClientAuth).Pair(t)
	strangerCert := otherCA.Issue(t, "envoy", x509.ExtKeyUsageClientAuth).Pair(t)
	serverOnlyCert := clientCA.Issue(t, "not-a-client", x509.ExtKeyUsageServerAuth).Pair(t)

	mtls := newTLSFiles(t, true)
	mtls.writeServer(t, serverCA.Issue(t, "actions-authz", x509.ExtKeyUsageServerAuth))
	mtls.write(t, mtls.files.ClientCAFile, clientCA.PEM)
	mtlsAddr := serveTLS(t, mtls.files, &servicetest.SyncBuffer{})

	plain := newTLSFiles(t, false)
	plain.writeServer(t, serverCA.Issue(t, "actions-authz", x509.ExtKeyUsageServerAuth))
	tlsAddr := serveTLS(t, plain.files, &servicetest.SyncBuffer{})

	client := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: testpki.Pool(serverCA.PEM), ServerName: "localhost", Certificates: certs}
	}
	tests := []struct {
		name   string
		addr   string
		client *tls.Config // nil: plain text
		ok     bool
	}{
		{"mTLS: Envoy's certificate", mtlsAddr, client(envoyCert), true},
		{"mTLS: no client certificate", mtlsAddr, client(), false},
		{"mTLS: certificate from another CA", mtlsAddr, client(strangerCert), false},
		{"mTLS: server-only certificate from the client CA", mtlsAddr, client(serverOnlyCert), false},
		{"mTLS: plain text", mtlsAddr, nil, false},
		{"mTLS: client that does not trust the server", mtlsAddr, &tls.Config{RootCAs: testpki.Pool(otherCA.PEM), ServerName: "localhost", Certificates: []tls.Certificate{envoyCert}}, false},
		{"TLS: no client certificate", tlsAddr, client(), true},
		{"TLS: plain text", tlsAddr, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkOver(t, tc.addr, tc.client)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("Check: %v, want an answer", err)
			case !tc.ok && err == nil:
				t.Fatal("Check answered, want the connection refused")
			case !tc.ok && status.Code(err) != codes.Unavailable:
				t.Fatalf("Check: %v, want Unavailable (no connection)", err)
			}
		})
	}
}

// servedSerial makes a new TLS connection to addr and returns the serial
// number of the server certificate it presents.
func servedSerial(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestTLSReload: new connections see rotated server certificates and client
// CAs without a restart; files that cannot be used leave the previous ones
// serving.
func TestTLSReload(t *testing.T) {
	serverCA, clientCA, nextClientCA := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "envoy CA"), testpki.NewCA(t, "next envoy CA")
	envoyCert := clientCA.Issue(t, "envoy", x509.ExtKeyUsageClientAuth).Pair(t)
	nextEnvoyCert := nextClientCA.Issue(t, "envoy", x509.ExtKeyUsageClientAuth).Pair(t)
	client := func(c tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: testpki.Pool(serverCA.PEM), ServerName: "localhost", Certificates: []tls.Certificate{c}}
	}

	f := newTLSFiles(t, true)
	first := serverCA.Issue(t, "actions-authz", x509.ExtKeyUsageServerAuth)
	f.writeServer(t, first)
	f.write(t, f.files.ClientCAFile, clientCA.PEM)
	logs := &servicetest.SyncBuffer{}
	addr := serveTLS(t, f.files, logs)

	if got := servedSerial(t, addr, client(envoyCert)); got != first.Serial.String() {
		t.Fatalf("serves %s, want the first certificate %s", got, first.Serial)
	}

	second := serverCA.Issue(t, "actions-authz", x509.ExtKeyUsageServerAuth)
	f.writeServer(t, second)
	if got := servedSerial(t, addr, client(envoyCert)); got != second.Serial.String() {
		t.Fatalf("after rotation serves %s, want the new certificate %s", got, second.Serial)
	}

	// Half a rotation: a new certificate whose key is not there yet.
	third := serverCA.Issue(t, "actions-authz", x509.ExtKeyUsageServerAuth)
	f.write(t, f.files.CertFile, third.CertPEM)
	if got := servedSerial(t, addr, client(envoyCert)); got != second.Serial.String() {
		t.Fatalf("with a mismatched key serves %s, want the previous certificate %s", got, second.Serial)
	}
	if !strings.Contains(logs.String(), "cannot be used") {
		t.Errorf("the unusable files were not logged:\n%s", logs.String())
	}
	f.write(t, f.files.KeyFile, third.KeyPEM)
	if got := servedSerial(t, addr, client(envoyCert)); got != third.Serial.String() {
		t.Fatalf("once the key arrived serves %s, want %s", got, third.Serial)
	}

	// Rotating Envoy's CA: its new certificate is accepted, the old refused.
	f.write(t, f.files.ClientCAFile, nextClientCA.PEM)
	if err := checkOver(t, addr, client(nextEnvoyCert)); err != nil {
		t.Fatalf("certificate from the new client CA: %v", err)
	}
	if err := checkOver(t, addr, client(envoyCert)); status.Code(err) != codes.Unavailable {
		t.Fatalf("certificate from the replaced client CA: %v, want refused", err)
	}
}

// TestServerTLSConfigErrors: unusable files at start-up are an error that
// names the setting.
func TestServerTLSConfigErrors(t *testing.T) {
	ca := testpki.NewCA(t, "CA")
	a, b := ca.Issue(t, "a", x509.ExtKeyUsageServerAuth), ca.Issue(t, "b", x509.ExtKeyUsageServerAuth)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key, otherKey := write("a.crt", a.CertPEM), write("a.key", a.KeyPEM), write("b.key", b.KeyPEM)
	notPEM, huge := write("not.PEM", []byte("hello")), write("huge.PEM", make([]byte, maxTLSFileBytes+1))
	for _, tc := range []struct {
		name  string
		files config.TLSConfig
		want  string
	}{
		{"missing certificate", config.TLSConfig{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: key}, "cert_file"},
		{"missing key", config.TLSConfig{CertFile: cert, KeyFile: filepath.Join(dir, "nope.key")}, "key_file"},
		{"key of another certificate", config.TLSConfig{CertFile: cert, KeyFile: otherKey}, "cert_file and key_file"},
		{"client CA without a certificate", config.TLSConfig{CertFile: cert, KeyFile: key, ClientCAFile: notPEM}, "client_ca_file"},
		{"client CA too large", config.TLSConfig{CertFile: cert, KeyFile: key, ClientCAFile: huge}, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newServerTLS(&tc.files, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "server.tls") {
				t.Fatalf("newServerTLS = %v, want an error naming server.tls and %s", err, tc.want)
			}
		})
	}
}
