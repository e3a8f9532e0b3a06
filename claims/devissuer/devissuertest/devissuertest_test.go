package devissuertest

import (
	"net/http"
	"testing"

	"github.com/actions-authz/actions-authz/claims/devissuer"
)

func TestStart(t *testing.T) {
	s := Start(t, devissuer.Options{})
	get := func() int {
		t.Helper()
		resp, err := http.Get(s.URL() + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != http.StatusOK {
		t.Fatalf("discovery: %d, want 200", got)
	}
	s.Down.Store(true)
	if got := get(); got != http.StatusBadGateway {
		t.Fatalf("discovery while down: %d, want 502", got)
	}
	s.Down.Store(false)
	resp, err := http.Get(s.URL() + "/.well-known/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || s.JWKSCalls.Load() != 1 {
		t.Fatalf("jwks: %d, %d calls; want 200 and 1", resp.StatusCode, s.JWKSCalls.Load())
	}
	if tok := s.MustMint(t, map[string]any{"ref": "refs/heads/x"}); tok == "" {
		t.Fatal("MustMint returned no token")
	}
}
