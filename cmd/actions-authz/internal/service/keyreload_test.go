package service

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// TestCompromisedKeyRefusedAtOnce is the emergency procedure: a token
// allowed (and cached) is refused, 401, as soon as its key is replaced
// under the same kid, in a jwks_file (the file change is enough) or in a
// remote key set (SIGHUP), with refresh_interval an hour away. A refetch
// that fails keeps the last good keys.
func TestCompromisedKeyRefusedAtOnce(t *testing.T) {
	leaked, replacement := servicetest.NewRSAKey(t), servicetest.NewRSAKey(t)
	for _, source := range []string{"jwks_file", "jwks_url"} {
		t.Run(source, func(t *testing.T) {
			is := servicetest.NewStaticIssuer("https://token.actions.githubusercontent.com", "key-1", leaked)
			keys := ""
			path := filepath.Join(t.TempDir(), "keys", "jwks.json") // not the configuration's directory
			if source == "jwks_file" {
				if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				is.WriteFile(t, path)
				keys = "jwks_file: " + path
			} else {
				keys = "jwks_url: " + is.Serve(t)
			}
			hup := make(chan os.Signal, 1)
			s := startService(t, fmt.Sprintf(`
issuers:
  - {url: %q, %s, refresh_interval: 1h}
`+servicetest.OwnerPolicy, is.URL(), keys), TestHooks{Debounce: 20 * time.Millisecond, HUP: hup})
			s.waitReady()

			tok := is.Sign(t, "key-1", leaked)
			for range 2 {
				if got, _ := s.check(tok, ""); got != 200 {
					t.Fatalf("before the rotation: HTTP %d, want 200", got)
				}
			}
			if m, _ := s.scrape(); m[`actions_authz_token_cache_requests_total{result="hit"}`] < 1 {
				t.Fatal("the token is not answered from the cache")
			}

			// The operator replaces the leaked key under the same kid.
			is.SetKey("key-1", replacement)
			if source == "jwks_file" {
				is.WriteFile(t, path)
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
			if got, _ := s.check(is.Sign(t, "key-1", replacement), ""); got != 200 {
				t.Errorf("token of the replacement key: HTTP %d, want 200", got)
			}

			if source == "jwks_url" {
				// The key set is down: SIGHUP logs the failure and the last
				// good keys keep serving.
				is.SetStatus(http.StatusBadGateway)
				hup <- syscall.SIGHUP
				s.waitFor("the failed refetch logged", func() bool {
					for _, l := range s.logLines("signing keys fetched anew") {
						if fmt.Sprint(l["failed"]) == "["+is.URL()+"]" {
							return true
						}
					}
					return false
				})
				if got, _ := s.check(is.Sign(t, "key-1", replacement), ""); got != 200 {
					t.Errorf("after a failed refetch: HTTP %d, want 200 (last good keys)", got)
				}
			}
		})
	}
}
