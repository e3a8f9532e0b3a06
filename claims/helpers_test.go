package claims

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/actions-authz/actions-authz/claims/claimstest"
	"github.com/actions-authz/actions-authz/claims/internal/keyset"
)

const testAudience = "https://github.com/octo-org"

// testKeys are generated once per test binary: RSA key generation is the
// slowest thing these tests do.
var testKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err) // test setup only
		}
		keys[i] = k
	}
	return keys
})

// newFakeClock returns a settable Config.Now, at a fixed time.
func newFakeClock() *claimstest.Clock { return claimstest.NewClock(time.Unix(1_750_000_000, 0)) }

// testKey is one public key as a JWKS publishes it.
type testKey struct {
	kid string
	key *rsa.PrivateKey
	alg string // the JWK's alg; "" means RS256
}

// jwkJSON is the JWK of k's public key, as GitHub publishes its keys.
func jwkJSON(k testKey) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	alg := k.alg
	if alg == "" {
		alg = "RS256"
	}
	return map[string]any{
		"kty": "RSA",
		"alg": alg,
		"use": "sig",
		"kid": k.kid,
		"n":   b64(k.key.N.Bytes()),
		"e":   b64(big.NewInt(int64(k.key.E)).Bytes()),
	}
}

// jwksJSON is a JWKS of the given keys; a json.RawMessage entry is included
// as is (for malformed keys).
func jwksJSON(t testing.TB, keys ...any) []byte {
	t.Helper()
	var set []any
	for _, k := range keys {
		switch k := k.(type) {
		case testKey:
			set = append(set, jwkJSON(k))
		default:
			set = append(set, k)
		}
	}
	b, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeIssuer serves a discovery document and a JWKS on 127.0.0.1 and counts
// the requests it gets.
type fakeIssuer struct {
	srv *httptest.Server

	mu              sync.Mutex
	jwks            []byte
	status          int           // JWKS status; 0 means 200
	discoveryIssuer string        // "" means the server's own URL
	block           chan struct{} // when non-nil, JWKS requests wait for it to close

	jwksFetches      atomic.Int32
	discoveryFetches atomic.Int32
}

func newFakeIssuer(t testing.TB, keys ...any) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{}
	f.jwks = jwksJSON(t, keys...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.discoveryFetches.Add(1)
		f.mu.Lock()
		iss := f.discoveryIssuer
		f.mu.Unlock()
		if iss == "" {
			iss = f.URL()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": f.URL() + "/.well-known/jwks"})
	})
	mux.HandleFunc("GET /.well-known/jwks", func(w http.ResponseWriter, r *http.Request) {
		f.jwksFetches.Add(1)
		f.mu.Lock()
		body, status, block := f.jwks, f.status, f.block
		f.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			http.Error(w, "unavailable", status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) URL() string { return f.srv.URL }

func (f *fakeIssuer) setKeys(t testing.TB, keys ...any) {
	t.Helper()
	b := jwksJSON(t, keys...)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jwks = b
}

func (f *fakeIssuer) setStatus(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
}

// newTestVerifier trusts the given issuers (discovery) for testAudience,
// with a fake clock and a logger that writes to the test output.
func newTestVerifier(t testing.TB, clock *claimstest.Clock, mod func(*Config), issuers ...*fakeIssuer) *Verifier {
	t.Helper()
	cfg := Config{
		Audiences: []string{testAudience},
		Now:       clock.Now,
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range issuers {
		cfg.Issuers = append(cfg.Issuers, IssuerConfig{URL: f.URL()})
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// idClaims are the claims of a valid GitHub Actions ID token from iss,
// issued at now, shaped like a real one.
func idClaims(iss string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":                 iss,
		"aud":                 testAudience,
		"sub":                 "repo:octo-org/octo-repo:ref:refs/heads/main",
		"jti":                 "2f3d6e0e-7a5d-4f4b-9a61-1b7b2c6c9f10",
		"iat":                 now.Unix(),
		"nbf":                 now.Add(-5 * time.Minute).Unix(),
		"exp":                 now.Add(5 * time.Minute).Unix(),
		"repository":          "octo-org/octo-repo",
		"repository_id":       "7654321",
		"repository_owner":    "octo-org",
		"repository_owner_id": "1234567",
		"ref":                 "refs/heads/main",
		"ref_protected":       "true",
		"event_name":          "push",
		"run_id":              "1234567890",
	}
}

// with returns a copy of c with the given claims set, or deleted when nil.
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// mint signs claims with method and key, with the given header fields set
// (or deleted when nil) on top of jwt's {"alg","typ"}.
func mint(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing test token: %v", err)
	}
	return s
}

// sign mints an RS256 token with kid, as GitHub does.
func sign(t testing.TB, k testKey, c jwt.Claims) string {
	t.Helper()
	return mint(t, jwt.SigningMethodRS256, k.key, map[string]any{"kid": k.kid}, c)
}

// currentKey returns a key that is current in a key set of its own, read
// from a file, for tests of the cache alone.
func currentKey(t testing.TB) *keyset.Key {
	t.Helper()
	k := testKey{kid: "key-1", key: testKeys()[0]}
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwksJSON(t, k), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := keyset.New(keyset.Source{Issuer: "https://issuer.example", JWKSFile: file, Algorithms: []string{"RS256"}}, keyset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	return set.KeyOf(k.kid, &k.key.PublicKey)
}
