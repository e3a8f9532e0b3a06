// Package devissuertest serves a development issuer (package devissuer) on
// loopback for a test, in the manner of net/http/httptest: its discovery
// document and key set at a URL of its own, a switch that takes it down,
// and a count of the key set's fetches.
package devissuertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/actions-authz/actions-authz/claims/devissuer"
)

// Server is a development issuer served until the test ends.
type Server struct {
	*devissuer.Issuer
	// Down, while set, answers every request with 502: the issuer's keys
	// cannot be fetched.
	Down atomic.Bool
	// JWKSCalls counts the requests for the key set.
	JWKSCalls atomic.Int64
}

// Start serves an issuer made with opts, whose URL is the server's; it is
// closed when the test ends.
func Start(t testing.TB, opts devissuer.Options) *Server {
	t.Helper()
	s := &Server{}
	srv := httptest.NewUnstartedServer(nil)
	opts.URL = "http://" + srv.Listener.Addr().String()
	var err error
	if s.Issuer, err = devissuer.New(opts); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	h := s.Handler()
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/jwks") {
			s.JWKSCalls.Add(1)
		}
		if s.Down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// MustMint returns a token with claims over the issuer's defaults, failing
// the test if it cannot be minted.
func (s *Server) MustMint(t testing.TB, claims map[string]any) string {
	t.Helper()
	tok, err := s.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
