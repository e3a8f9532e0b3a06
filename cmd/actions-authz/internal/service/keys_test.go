package service

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/claims/claimstest"
	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/claims/devissuer/devissuertest"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// TestKeysOutageBeyondMaxStale: when an issuer's key set is down, its tokens
// are allowed while the last good keys are within that issuer's max_stale,
// get 503 beyond it (and the service reports not ready), and are allowed
// again once the key set is back. Another issuer, with its own max_stale,
// is not affected.
func TestKeysOutageBeyondMaxStale(t *testing.T) {
	a, b := devissuertest.Start(t, devissuer.Options{}), devissuertest.Start(t, devissuer.Options{})
	clk := claimstest.NewClock(time.Now())
	s := startService(t, fmt.Sprintf(`
issuers:
  - {url: %q, refresh_interval: 50ms, max_stale: 2m}
  - {url: %q, refresh_interval: 50ms}
`+servicetest.OwnerPolicy, a.URL(), b.URL()), TestHooks{Now: clk.Now})
	s.waitReady()
	// Tokens live 5 minutes by the issuers' real clock; the service's clock
	// moves 2.5 minutes at most.
	tokA, tokB := a.MustMint(t, nil), b.MustMint(t, nil)
	failuresOfA := fmt.Sprintf(`actions_authz_jwks_fetches_total{issuer=%q,result="failure"}`, a.URL())
	ageOfA := fmt.Sprintf(`actions_authz_jwks_key_age_seconds{issuer=%q}`, a.URL())

	steps := []struct {
		name    string
		act     func()
		a, b    int // HTTP status for each issuer's token
		readyz  int
		minAgeA float64
	}{
		{"keys fresh", func() {}, 200, 200, 200, 0},
		{"a's key set down, keys 1m old: within max_stale", func() {
			a.Down.Store(true)
			s.waitFor("a failed refresh", func() bool { m, _ := s.scrape(); return m[failuresOfA] >= 1 })
			clk.Advance(time.Minute)
		}, 200, 200, 200, 60},
		{"a's keys 2m30s old: beyond max_stale", func() { clk.Advance(90 * time.Second) }, 503, 200, 503, 150},
	}
	for _, st := range steps {
		st.act()
		if got, _ := s.check(tokA, ""); got != st.a {
			t.Errorf("%s: token of a: HTTP %d, want %d", st.name, got, st.a)
		}
		if got, _ := s.check(tokB, ""); got != st.b {
			t.Errorf("%s: token of b: HTTP %d, want %d", st.name, got, st.b)
		}
		if got := s.httpStatus("/readyz"); got != st.readyz {
			t.Errorf("%s: /readyz %d, want %d", st.name, got, st.readyz)
		}
		if m, _ := s.scrape(); m[ageOfA] < st.minAgeA {
			t.Errorf("%s: key age of a = %v, want at least %v", st.name, m[ageOfA], st.minAgeA)
		}
	}
	_, resp := s.check(tokA, "")
	retry := false
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		retry = retry || strings.EqualFold(h.GetHeader().GetKey(), "retry-after")
	}
	if !retry {
		t.Error("the 503 has no Retry-After")
	}

	// Back: the next refresh brings fresh keys.
	a.Down.Store(false)
	s.waitFor("a's token allowed again", func() bool { got, _ := s.check(tokA, ""); return got == 200 })
	s.waitReady()
	if got, _ := s.check(tokB, ""); got != 200 {
		t.Errorf("after recovery: token of b: HTTP %d", got)
	}
}

// TestKeysRemovedKIDRefused: after a rotation both keys verify; once the
// old key leaves the published set, its tokens are refused after the next
// refresh, and the new key's are still allowed.
func TestKeysRemovedKIDRefused(t *testing.T) {
	is := devissuertest.Start(t, devissuer.Options{})
	s := startService(t, fmt.Sprintf(`
issuers:
  - {url: %q, refresh_interval: 50ms}
`+servicetest.OwnerPolicy, is.URL()), TestHooks{})
	s.waitReady()
	old := is.MustMint(t, nil)
	if err := is.Rotate(); err != nil {
		t.Fatal(err)
	}
	current := is.MustMint(t, nil)
	s.waitFor("the rotated-in key", func() bool { got, _ := s.check(current, ""); return got == 200 })
	if got, _ := s.check(old, ""); got != 200 {
		t.Fatalf("old key while still published: HTTP %d, want 200", got)
	}

	is.DropPrevious()
	// Two more successful fetches: the second began after the drop.
	successes := fmt.Sprintf(`actions_authz_jwks_fetches_total{issuer=%q,result="success"}`, is.URL())
	m, _ := s.scrape()
	n := m[successes]
	s.waitFor("two refreshes", func() bool { m, _ := s.scrape(); return m[successes] >= n+2 })

	status, resp := s.check(old, "")
	if status != 401 || !strings.Contains(resp.GetDeniedResponse().GetBody(), "signing key is not known") {
		t.Errorf("removed kid: HTTP %d %s, want 401 (unknown key)", status, resp.GetDeniedResponse().GetBody())
	}
	if got, _ := s.check(current, ""); got != 200 {
		t.Errorf("current key: HTTP %d, want 200", got)
	}
}
