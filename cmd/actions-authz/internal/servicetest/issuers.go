package servicetest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// StaticIssuer is a key set the test controls: the keys it publishes, by
// kid, in a jwks_file or from an httptest server, and the tokens it signs.
type StaticIssuer struct {
	url string // the iss of its tokens

	mu     sync.Mutex
	keys   map[string]*rsa.PrivateKey
	status int // of the JWKS endpoint; 0 means 200
}

// NewStaticIssuer returns a StaticIssuer whose tokens name url as their
// issuer, publishing k under kid.
func NewStaticIssuer(url, kid string, k *rsa.PrivateKey) *StaticIssuer {
	return &StaticIssuer{url: url, keys: map[string]*rsa.PrivateKey{kid: k}}
}

// NewRSAKey generates a 2048-bit key for a test.
func NewRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// URL is the iss of the issuer's tokens.
func (s *StaticIssuer) URL() string { return s.url }

// JWKS returns the key set as JSON.
func (s *StaticIssuer) JWKS(t *testing.T) []byte {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	b64 := base64.RawURLEncoding.EncodeToString
	var set []map[string]string
	for kid, k := range s.keys {
		set = append(set, map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())})
	}
	b, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SetKey publishes k under kid, in place of any key of that kid.
func (s *StaticIssuer) SetKey(kid string, k *rsa.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[kid] = k
}

// SetStatus makes the key set endpoint answer status; 0 means 200 and the
// key set.
func (s *StaticIssuer) SetStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

// Serve publishes the key set at the returned URL.
func (s *StaticIssuer) Serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		status := s.status
		s.mu.Unlock()
		if status != 0 {
			http.Error(w, "unavailable", status)
			return
		}
		w.Write(s.JWKS(t))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/jwks"
}

// WriteFile writes the key set to path as Kubernetes and editors do: a new
// file renamed over the old one.
func (s *StaticIssuer) WriteFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", s.JWKS(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// Sign returns a token of octo-org/octo-repo (owner 123456) signed with k
// under kid.
func (s *StaticIssuer) Sign(t *testing.T, kid string, k *rsa.PrivateKey) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": s.url, "aud": "https://github.com/octo-org", "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"repository": "octo-org/octo-repo", "repository_owner": "octo-org", "repository_owner_id": "123456",
		"ref": "refs/heads/main",
	})
	tok.Header["kid"] = kid
	raw, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
