package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// staticIssuer is a key set the test controls: the keys it publishes, by
// kid, in a jwks_file or from an httptest server, and the tokens it signs.
type staticIssuer struct {
	url string // the iss of its tokens

	mu     sync.Mutex
	keys   map[string]*rsa.PrivateKey
	status int // of the JWKS endpoint; 0 means 200
}

// newRSAKey generates a 2048-bit key for a test.
func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwks returns the key set as JSON.
func (s *staticIssuer) jwks(t *testing.T) []byte {
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

func (s *staticIssuer) setKey(kid string, k *rsa.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[kid] = k
}

// serve publishes the key set at the returned URL.
func (s *staticIssuer) serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		status := s.status
		s.mu.Unlock()
		if status != 0 {
			http.Error(w, "unavailable", status)
			return
		}
		w.Write(s.jwks(t))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/jwks"
}

// writeFile writes the key set to path as Kubernetes and editors do: a new
// file renamed over the old one.
func (s *staticIssuer) writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", s.jwks(t), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// sign returns a token of octo-org/octo-repo (owner 123456) signed with k
// under kid.
func (s *staticIssuer) sign(t *testing.T, kid string, k *rsa.PrivateKey) string {
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

// TestCompromisedKeyRefusedAtOnce is the emergency procedure: a token
// allowed (and cached) is refused, 401, as soon as its key is replaced
// under the same kid, in a jwks_file (the file change is enough) or in a
// remote key set (SIGHUP), with refresh_interval an hour away. A refetch
// that fails keeps the last good keys.
func TestCompromisedKeyRefusedAtOnce(t *testing.T) {
	leaked, replacement := newRSAKey(t), newRSAKey(t)
	for _, source := range []string{"jwks_file", "jwks_url"} {
		t.Run(source, func(t *testing.T) {
			is := &staticIssuer{url: "https://token.actions.githubusercontent.com", keys: map[string]*rsa.PrivateKey{"key-1": leaked}}
			keys := ""
			path := filepath.Join(t.TempDir(), "keys", "jwks.json") // not the configuration's directory
			if source == "jwks_file" {
				if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				is.writeFile(t, path)
				keys = "jwks_file: " + path
			} else {
				keys = "jwks_url: " + is.serve(t)
			}
			hup := make(chan os.Signal, 1)
			s := startService(t, fmt.Sprintf(`
issuers:
  - {url: %q, %s, refresh_interval: 1h}
`+ownerPolicy, is.url, keys), opsOptions{debounce: 20 * time.Millisecond, hup: hup})
			s.waitReady()

			tok := is.sign(t, "key-1", leaked)
			for range 2 {
				if got, _ := s.check(tok, ""); got != 200 {
					t.Fatalf("before the rotation: HTTP %d, want 200", got)
				}
			}
			if m, _ := s.scrape(); m[`actions_authz_token_cache_requests_total{result="hit"}`] < 1 {
				t.Fatal("the token is not answered from the cache")
			}

			// The operator replaces the leaked key under the same kid.
			is.setKey("key-1", replacement)
			if source == "jwks_file" {
				is.writeFile(t, path)
			} else {
				hup <- syscall.SIGHUP
			}
			s.waitFor("the token refused", func() bool { got, _ := s.check(tok, ""); return got == 401 })
			status, resp := s.check(tok, "")
			if body := resp.GetDeniedResponse().GetBody(); status != 401 || !strings.Contains(body, "signature is invalid") {
				t.Errorf("after the rotation: HTTP %d %s, want 401 (bad signature)", status, body)
			}
			// The log names the replaced kid. (How many cached tokens the
			// refresh dropped depends on whether a Check found the entry
			// refused first.)
			s.waitFor("the replaced kid logged", func() bool {
				for _, l := range s.logLines("signing keys changed") {
					if fmt.Sprint(l["replaced"]) == "[key-1]" {
						return true
					}
				}
				return false
			})
			if got, _ := s.check(is.sign(t, "key-1", replacement), ""); got != 200 {
				t.Errorf("token of the replacement key: HTTP %d, want 200", got)
			}

			if source == "jwks_url" {
				// The key set is down: SIGHUP logs the failure and the last
				// good keys keep serving.
				is.mu.Lock()
				is.status = http.StatusBadGateway
				is.mu.Unlock()
				hup <- syscall.SIGHUP
				s.waitFor("the failed refetch logged", func() bool {
					for _, l := range s.logLines("signing keys fetched anew") {
						if fmt.Sprint(l["failed"]) == "["+is.url+"]" {
							return true
						}
					}
					return false
				})
				if got, _ := s.check(is.sign(t, "key-1", replacement), ""); got != 200 {
					t.Errorf("after a failed refetch: HTTP %d, want 200 (last good keys)", got)
				}
			}
		})
	}
}
