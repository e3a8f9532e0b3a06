package service

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
)

// devIssuer is the embedded development issuer (serve --dev): its listener
// is open from New, so that its URL is known to the verifier; Run serves it.
type devIssuer struct {
	issuer *devissuer.Issuer
	lis    net.Listener
	srv    *http.Server
}

// newDevIssuer listens on addr and builds the development issuer there,
// minting tokens for the first audience of cfg.
func newDevIssuer(addr string, cfg *config.Config) (*devIssuer, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dev issuer listener: %w", err)
	}
	iss, err := devissuer.New(devissuer.Options{
		URL:      "http://" + loopbackAddr(lis.Addr()),
		Audience: firstOf(cfg.AllAudiences()),
	})
	if err != nil {
		lis.Close()
		return nil, err
	}
	srv := &http.Server{Handler: iss.Handler(), ReadHeaderTimeout: 5 * time.Second}
	return &devIssuer{issuer: iss, lis: lis, srv: srv}, nil
}

// serve runs the development issuer's server in a goroutine of wg; a serve
// failure goes to errc.
func (d *devIssuer) serve(wg *sync.WaitGroup, errc chan<- error) {
	wg.Go(func() {
		if err := d.srv.Serve(d.lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("dev issuer: %w", err)
		}
	})
}

// loopbackAddr names a listener's address as a client on this host reaches
// it: a wildcard host (a container's 0.0.0.0) becomes 127.0.0.1.
func loopbackAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		_, port, _ := net.SplitHostPort(a.String())
		return net.JoinHostPort("127.0.0.1", port)
	}
	return tcp.String()
}

// withIssuer returns issuers with url added unless it is already configured.
func withIssuer(issuers []claims.IssuerConfig, url string) []claims.IssuerConfig {
	for _, is := range issuers {
		if is.URL == url {
			return issuers
		}
	}
	out := append([]claims.IssuerConfig(nil), issuers...)
	return append(out, claims.IssuerConfig{URL: url})
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
