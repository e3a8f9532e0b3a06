package service

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/internal/fileread"
)

// maxTLSFileBytes bounds each certificate, key or CA file read.
const maxTLSFileBytes = 1 << 20

// newServerTLS returns the TLS configuration of the gRPC listener from
// server.tls: the server certificate and key and, with client_ca_file,
// mutual TLS that requires a client certificate signed by one of those CAs
// (Envoy's). The files are read now, and again on a new connection when any
// of them changed (modification time or size), so that rotated certificates
// (cert-manager, a Kubernetes secret) take effect without a restart. A
// rotation that leaves the files unusable, for example a certificate written
// before its key, is logged and the previous files keep serving until the
// next change.
func newServerTLS(files *config.TLSConfig, logger *slog.Logger) (*tls.Config, error) {
	r := &certReloader{files: *files, logger: logger}
	r.stamp = r.stamps()
	cfg, err := r.load()
	if err != nil {
		return nil, fmt.Errorf("server.tls: %w", err)
	}
	r.current = cfg
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"h2"},
		GetConfigForClient: r.configForClient,
	}, nil
}

// tlsMode names the gRPC listener's transport security for the log.
func tlsMode(files *config.TLSConfig) string {
	switch {
	case files == nil:
		return "off"
	case files.ClientCAFile == "":
		return "tls"
	}
	return "mtls"
}

// certReloader holds the TLS configuration built from the files last read.
type certReloader struct {
	files  config.TLSConfig
	logger *slog.Logger

	mu      sync.Mutex
	stamp   [3]fileStamp // of the cert, key and client CA files when last read
	current *tls.Config
}

// fileStamp identifies a version of a file; the zero value stands for a file
// that is not configured or cannot be read.
type fileStamp struct {
	mod  time.Time
	size int64
}

// stamps returns the current stamps of the configured files. Stat follows
// symbolic links, so a Kubernetes secret volume's atomic swap shows.
func (r *certReloader) stamps() [3]fileStamp {
	var out [3]fileStamp
	for i, path := range []string{r.files.CertFile, r.files.KeyFile, r.files.ClientCAFile} {
		if path == "" {
			continue
		}
		if fi, err := os.Stat(path); err == nil {
			out[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
		}
	}
	return out
}

// configForClient is tls.Config.GetConfigForClient: it re-reads the files if
// they changed since the last read, and returns the current configuration.
// The cost per handshake is three stat calls.
func (r *certReloader) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stamps()
	if st == r.stamp {
		return r.current, nil
	}
	r.stamp = st // a broken version is reported once, not on every handshake
	cfg, err := r.load()
	if err != nil {
		r.logger.Warn("TLS files changed but cannot be used; keeping the previous ones", "error", err)
		return r.current, nil
	}
	r.current = cfg
	r.logger.Info("TLS files reloaded", "cert_file", r.files.CertFile, "client_ca_file", r.files.ClientCAFile)
	return r.current, nil
}

// load reads the files into a server configuration.
func (r *certReloader) load() (*tls.Config, error) {
	certPEM, err := fileread.Limited(r.files.CertFile, maxTLSFileBytes)
	if err != nil {
		return nil, fmt.Errorf("cert_file: %w", err)
	}
	keyPEM, err := fileread.Limited(r.files.KeyFile, maxTLSFileBytes)
	if err != nil {
		return nil, fmt.Errorf("key_file: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cert_file and key_file: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"},
		Certificates: []tls.Certificate{pair},
	}
	if r.files.ClientCAFile != "" {
		pool, err := fileread.CertPool(r.files.ClientCAFile, maxTLSFileBytes)
		if err != nil {
			return nil, fmt.Errorf("client_ca_file: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
