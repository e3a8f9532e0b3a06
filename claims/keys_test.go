package claims

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// verifyReason verifies tok and returns its refusal reason, "" when accepted.
func verifyReason(t *testing.T, v *Verifier, tok string) Reason {
	t.Helper()
	_, err := v.Verify(t.Context(), tok)
	if err != nil && ReasonOf(err) == "" {
		t.Fatalf("Verify error without a reason: %v", err)
	}
	return ReasonOf(err)
}

func TestUnknownKIDRefreshesOnce(t *testing.T) {
	keys := testKeys()
	k1 := testKey{kid: "key-1", key: keys[0]}
	k2 := testKey{kid: "key-2", key: keys[1]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	tok2 := sign(t, k2, idClaims(gh.URL(), clock.Now()))

	before := gh.jwksFetches.Load()
	if got := verifyReason(t, v, tok2); got != ReasonUnknownKey {
		t.Fatalf("unknown kid: reason %q, want %q", got, ReasonUnknownKey)
	}
	if n := gh.jwksFetches.Load() - before; n != 1 {
		t.Fatalf("unknown kid caused %d fetches, want exactly 1", n)
	}

	// The issuer now publishes key-2, but the last unknown-kid refresh is
	// too recent: no fetch, still unknown.
	gh.setKeys(t, k1, k2)
	if got := verifyReason(t, v, tok2); got != ReasonUnknownKey {
		t.Fatalf("within refresh_min_interval: reason %q, want %q", got, ReasonUnknownKey)
	}
	if n := gh.jwksFetches.Load() - before; n != 1 {
		t.Fatalf("within refresh_min_interval: %d fetches, want still 1", n)
	}

	clock.Advance(DefaultRefreshMinInterval)
	tok2 = sign(t, k2, idClaims(gh.URL(), clock.Now()))
	if got := verifyReason(t, v, tok2); got != "" {
		t.Fatalf("after refresh_min_interval: reason %q, want accepted", got)
	}
	if n := gh.jwksFetches.Load() - before; n != 2 {
		t.Fatalf("after refresh_min_interval: %d fetches, want 2", n)
	}
}

func TestKeyRotation(t *testing.T) {
	keys := testKeys()
	oldKey := testKey{kid: "old", key: keys[0]}
	newKey := testKey{kid: "new", key: keys[1]}
	gh := newFakeIssuer(t, oldKey)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	claims := idClaims(gh.URL(), clock.Now())
	if got := verifyReason(t, v, sign(t, oldKey, claims)); got != "" {
		t.Fatalf("old key before rotation: %q", got)
	}

	// GitHub rotates: the set now holds only the new key. A token with the
	// new kid is accepted on its very first request.
	gh.setKeys(t, newKey)
	before := gh.jwksFetches.Load()
	if got := verifyReason(t, v, sign(t, newKey, claims)); got != "" {
		t.Fatalf("new key on first request: reason %q, want accepted", got)
	}
	if n := gh.jwksFetches.Load() - before; n != 1 {
		t.Errorf("rotation took %d fetches, want 1", n)
	}
	// The old key left the set with that refresh.
	if got := verifyReason(t, v, sign(t, oldKey, claims)); got != ReasonUnknownKey {
		t.Errorf("old key after rotation: reason %q, want %q", got, ReasonUnknownKey)
	}
}

func TestUnknownKIDFlood(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	claims := idClaims(gh.URL(), clock.Now())
	tokens := make([]string, 100)
	for i := range tokens {
		tokens[i] = sign(t, testKey{kid: fmt.Sprintf("bogus-%d-%d", i, time.Now().UnixNano()), key: k1.key}, claims)
	}

	before := gh.jwksFetches.Load()
	var wg sync.WaitGroup
	reasons := make([]Reason, len(tokens))
	for i, tok := range tokens {
		wg.Go(func() {
			_, err := v.Verify(t.Context(), tok)
			reasons[i] = ReasonOf(err)
		})
	}
	wg.Wait()
	for i, r := range reasons {
		if r != ReasonUnknownKey {
			t.Errorf("token %d: reason %q, want %q", i, r, ReasonUnknownKey)
		}
	}
	if n := gh.jwksFetches.Load() - before; n > 1 {
		t.Errorf("100 bogus kids caused %d fetches, want at most 1", n)
	}
	if got := verifyReason(t, v, sign(t, k1, claims)); got != "" {
		t.Errorf("valid token after the flood: %q", got)
	}
}

// TestUnknownKIDWaitBoundedByContext checks that a request never waits for
// a slow refresh past its own context, and that others still share it.
func TestUnknownKIDWaitBoundedByContext(t *testing.T) {
	keys := testKeys()
	k1 := testKey{kid: "key-1", key: keys[0]}
	k2 := testKey{kid: "key-2", key: keys[1]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}

	block := make(chan struct{})
	gh.mu.Lock()
	gh.block = block
	gh.mu.Unlock()
	gh.setKeys(t, k1, k2)
	tok2 := sign(t, k2, idClaims(gh.URL(), clock.Now()))

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := v.Verify(ctx, tok2)
	if ReasonOf(err) != ReasonUnknownKey {
		t.Errorf("slow refresh: %v, want %q", err, ReasonUnknownKey)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Verify waited %s, past its 50ms context", d)
	}

	// A patient caller joins the refresh still running and gets the key.
	done := make(chan Reason)
	go func() {
		_, err := v.Verify(t.Context(), tok2)
		done <- ReasonOf(err)
	}()
	time.Sleep(20 * time.Millisecond)
	close(block)
	if got := <-done; got != "" {
		t.Errorf("caller joining the refresh: reason %q, want accepted", got)
	}
}

func TestOutageKeepsLastGoodKeys(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	var (
		mu      sync.Mutex
		fetches []error
	)
	v := newTestVerifier(t, clock, func(c *Config) {
		c.OnFetch = func(issuer string, keys int, err error) {
			mu.Lock()
			defer mu.Unlock()
			if issuer != gh.URL() || keys != 1 {
				t.Errorf("OnFetch(%q, %d, %v)", issuer, keys, err)
			}
			fetches = append(fetches, err)
		}
	}, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}

	gh.setStatus(http.StatusInternalServerError)
	if err := v.Refresh(t.Context(), gh.URL()); err == nil {
		t.Fatal("Refresh succeeded against a failing server")
	}
	if !v.Ready() {
		t.Error("Ready() = false after one failed refresh")
	}
	if got := verifyReason(t, v, sign(t, k1, idClaims(gh.URL(), clock.Now()))); got != "" {
		t.Errorf("known key during the outage: reason %q, want accepted", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(fetches) != 2 || fetches[0] != nil || fetches[1] == nil {
		t.Errorf("OnFetch errors = %v, want [nil, error]", fetches)
	}
}

func TestNoKeysBeforeFirstFetch(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	tok := sign(t, k1, idClaims(gh.URL(), clock.Now()))

	check := func(when string) {
		t.Helper()
		if v.Ready() {
			t.Errorf("%s: Ready() = true", when)
		}
		_, err := v.Verify(t.Context(), tok)
		if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) || ReasonOf(err) != ReasonKeysUnavailable {
			t.Errorf("%s: Verify = %v, want ErrKeysUnavailable", when, err)
		}
	}
	check("never fetched")
	gh.setStatus(http.StatusServiceUnavailable)
	if err := v.Refresh(t.Context(), gh.URL()); err == nil {
		t.Fatal("Refresh succeeded against a failing server")
	}
	check("first fetch failed")

	gh.setStatus(0)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	if !v.Ready() {
		t.Error("Ready() = false after a good fetch")
	}
	if got := verifyReason(t, v, tok); got != "" {
		t.Errorf("after recovery: reason %q", got)
	}
}

func TestMaxStale(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, func(c *Config) { c.Issuers[0].MaxStale = time.Hour }, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	token := func() string { return sign(t, k1, idClaims(gh.URL(), clock.Now())) }

	gh.setStatus(http.StatusBadGateway)
	clock.Advance(59 * time.Minute)
	if err := v.Refresh(t.Context(), gh.URL()); err == nil {
		t.Fatal("Refresh succeeded against a failing server")
	}
	if got := verifyReason(t, v, token()); got != "" || !v.Ready() {
		t.Errorf("within max_stale: reason %q, ready %v; want accepted, ready", got, v.Ready())
	}

	clock.Advance(2 * time.Minute)
	_, err := v.Verify(t.Context(), token())
	if !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("past max_stale: %v, want ErrKeysUnavailable", err)
	}
	if v.Ready() {
		t.Error("past max_stale: Ready() = true")
	}

	gh.setStatus(0)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	if got := verifyReason(t, v, token()); got != "" || !v.Ready() {
		t.Errorf("after recovery: reason %q, ready %v", got, v.Ready())
	}
}

// TestMalformedKeyKeepsGoodOnes checks end to end that a malformed key does
// not take the rest of the set down.
func TestMalformedKeyKeepsGoodOnes(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, json.RawMessage(`{"kty":"RSA","kid":"broken","n":"%%%","e":"AQAB"}`), k1)
	clock := newFakeClock()
	var held int
	v := newTestVerifier(t, clock, func(c *Config) {
		c.OnFetch = func(_ string, keys int, _ error) { held = keys }
	}, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	if held != 1 {
		t.Errorf("OnFetch reported %d keys, want 1", held)
	}
	if got := verifyReason(t, v, sign(t, k1, idClaims(gh.URL(), clock.Now()))); got != "" {
		t.Errorf("good key beside a malformed one: reason %q", got)
	}
}

func TestRemovedKIDRefused(t *testing.T) {
	keys := testKeys()
	k1 := testKey{kid: "key-1", key: keys[0]}
	k2 := testKey{kid: "key-2", key: keys[1]}
	gh := newFakeIssuer(t, k1, k2)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	tok2 := sign(t, k2, idClaims(gh.URL(), clock.Now()))
	if got := verifyReason(t, v, tok2); got != "" {
		t.Fatalf("key-2 while published: %q", got)
	}
	gh.setKeys(t, k1)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	if got := verifyReason(t, v, tok2); got != ReasonUnknownKey {
		t.Errorf("key-2 after removal: reason %q, want %q", got, ReasonUnknownKey)
	}
	if got := verifyReason(t, v, sign(t, k1, idClaims(gh.URL(), clock.Now()))); got != "" {
		t.Errorf("key-1 still published: %q", got)
	}
}

func TestEmptySetKeepsLastGoodKeys(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	gh.setKeys(t)
	if err := v.Refresh(t.Context(), gh.URL()); err == nil {
		t.Error("Refresh accepted an empty key set")
	}
	if got := verifyReason(t, v, sign(t, k1, idClaims(gh.URL(), clock.Now()))); got != "" {
		t.Errorf("after an empty set: reason %q, want the last good keys", got)
	}
}

func TestJWKSFile(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwksJSON(t, k1), 0o600); err != nil {
		t.Fatal(err)
	}
	const iss = "https://token.actions.githubusercontent.com"
	clock := newFakeClock()
	v := newTestVerifier(t, clock, func(c *Config) {
		c.Issuers = []IssuerConfig{{URL: iss, JWKSFile: path}}
	})
	if err := v.Refresh(t.Context(), iss); err != nil {
		t.Fatal(err)
	}
	if got := verifyReason(t, v, sign(t, k1, idClaims(iss, clock.Now()))); got != "" {
		t.Errorf("jwks_file key: reason %q", got)
	}

	missing := newTestVerifier(t, clock, func(c *Config) {
		c.Issuers = []IssuerConfig{{URL: iss, JWKSFile: filepath.Join(t.TempDir(), "absent.json")}}
	})
	if err := missing.Refresh(t.Context(), iss); err == nil {
		t.Error("Refresh succeeded with a missing jwks_file")
	}
}

func TestJWKSURLSkipsDiscovery(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	// The issuer is not the server: only jwks_url is fetched.
	const iss = "https://ghes.example.com/_services/token"
	clock := newFakeClock()
	v := newTestVerifier(t, clock, func(c *Config) {
		c.Issuers = []IssuerConfig{{URL: iss, JWKSURL: gh.URL() + "/.well-known/jwks"}}
	})
	if err := v.Refresh(t.Context(), iss); err != nil {
		t.Fatal(err)
	}
	if n := gh.discoveryFetches.Load(); n != 0 {
		t.Errorf("discovery fetched %d times with jwks_url set", n)
	}
	if got := verifyReason(t, v, sign(t, k1, idClaims(iss, clock.Now()))); got != "" {
		t.Errorf("jwks_url key: reason %q", got)
	}
}

func TestDiscoveryIssuerMustMatch(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	for _, claimed := range []string{"https://token.actions.githubusercontent.com", "/", ".evil.example"} {
		gh := newFakeIssuer(t, k1)
		gh.mu.Lock()
		if strings.HasPrefix(claimed, "https://") {
			gh.discoveryIssuer = claimed
		} else {
			gh.discoveryIssuer = gh.URL() + claimed
		}
		gh.mu.Unlock()
		clock := newFakeClock()
		v := newTestVerifier(t, clock, nil, gh)
		err := v.Refresh(t.Context(), gh.URL())
		if err == nil {
			t.Errorf("discovery naming issuer %q was accepted", gh.discoveryIssuer)
		}
		if n := gh.jwksFetches.Load(); n != 0 {
			t.Errorf("issuer %q: JWKS fetched %d times", gh.discoveryIssuer, n)
		}
		if _, err := v.Verify(t.Context(), sign(t, k1, idClaims(gh.URL(), clock.Now()))); !errors.Is(err, ErrKeysUnavailable) {
			t.Errorf("issuer %q: Verify = %v, want ErrKeysUnavailable", gh.discoveryIssuer, err)
		}
	}
}

func TestRun(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	gh.setStatus(http.StatusServiceUnavailable) // down at start-up
	clock := newFakeClock()
	v := newTestVerifier(t, clock, func(c *Config) { c.Issuers[0].RefreshInterval = 50 * time.Millisecond }, gh)
	v.retryMin, v.retryMax = 5*time.Millisecond, 20*time.Millisecond

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- v.Run(ctx) }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("retries while the issuer is down", func() bool { return gh.jwksFetches.Load() >= 3 })
	if v.Ready() {
		t.Fatal("Ready() before any successful fetch")
	}
	gh.setStatus(0)
	waitFor("Ready", v.Ready)
	n := gh.jwksFetches.Load()
	waitFor("a background refresh", func() bool { return gh.jwksFetches.Load() >= n+2 })

	if err := v.Run(ctx); err == nil {
		t.Error("a second concurrent Run was allowed")
	}
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
