package claims

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRefetch: the emergency path. A cached token is allowed; its key is
// replaced under the same kid, or removed, in a remote key set or in a
// jwks_file; Refetch makes the next Verify of the same token refuse it, with
// its cache entry gone, without waiting for a refresh; a failed Refetch
// keeps the last good keys.
func TestRefetch(t *testing.T) {
	keys := testKeys()
	k1 := testKey{kid: "key-1", key: keys[0]}
	k2 := testKey{kid: "key-2", key: keys[1]}
	compromised := testKey{kid: "key-1", key: keys[2]} // key-1 was leaked: replaced by new material
	tests := []struct {
		name   string
		next   []any  // the key set the operator publishes
		status int    // JWKS status for the refetch; 0 means 200
		want   Reason // for the cached key-1 token after Refetch
		err    bool   // Refetch fails
	}{
		{"key replaced under the same kid", []any{compromised, k2}, 0, ReasonSignature, false},
		{"key removed", []any{k2}, 0, ReasonUnknownKey, false},
		{"set unchanged", []any{k1, k2}, 0, "", false},
		{"refetch fails: last good keys kept", []any{k2}, http.StatusInternalServerError, "", true},
		{"empty set: last good keys kept", []any{}, 0, "", true},
	}
	for _, source := range []string{"jwks_url", "jwks_file"} {
		for _, tt := range tests {
			if source == "jwks_file" && tt.status != 0 {
				continue
			}
			t.Run(source+"/"+tt.name, func(t *testing.T) {
				gh := newFakeIssuer(t, k1, k2)
				path := filepath.Join(t.TempDir(), "jwks.json")
				write := func(keys ...any) {
					if err := os.WriteFile(path, jwksJSON(t, keys...), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				write(k1, k2)
				clock := newFakeClock()
				var logs bytes.Buffer
				v := newTestVerifier(t, clock, func(c *Config) {
					c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
					if source == "jwks_file" {
						c.Issuers = []IssuerConfig{{URL: gh.URL(), JWKSFile: path}}
					}
				}, gh)
				if err := v.Refresh(t.Context(), gh.URL()); err != nil {
					t.Fatal(err)
				}
				tok1 := sign(t, k1, idClaims(gh.URL(), clock.Now()))
				tok2 := sign(t, k2, idClaims(gh.URL(), clock.Now()))
				for _, tok := range []string{tok1, tok2, tok1} {
					if got := verifyReason(t, v, tok); got != "" {
						t.Fatalf("before: reason %q", got)
					}
				}
				if st := v.CacheStats(); st.Hits != 1 || st.Entries != 2 {
					t.Fatalf("before: cache %+v, want 1 hit and 2 entries", st)
				}

				if source == "jwks_file" {
					write(tt.next...)
				} else {
					gh.setKeys(t, tt.next...)
					gh.setStatus(tt.status)
				}
				logs.Reset()
				if err := v.Refetch(t.Context(), gh.URL()); (err != nil) != tt.err {
					t.Fatalf("Refetch: %v, want an error %v", err, tt.err)
				}
				wantEntries := 2
				if tt.want != "" {
					wantEntries = 1
				}
				if n := v.CacheStats().Entries; n != wantEntries {
					t.Errorf("after Refetch: %d cache entries, want %d", n, wantEntries)
				}
				if got := verifyReason(t, v, tok1); got != tt.want {
					t.Errorf("key-1 token after Refetch: reason %q, want %q", got, tt.want)
				}
				if got := verifyReason(t, v, tok2); got != "" {
					t.Errorf("key-2 token after Refetch: reason %q, want accepted", got)
				}
				if tt.want == ReasonSignature && !strings.Contains(logs.String(), `msg="signing keys changed"`) ||
					tt.want == ReasonSignature && !strings.Contains(logs.String(), "replaced=[key-1] cached_tokens_dropped=1") {
					t.Errorf("log after a replaced key:\n%s", logs.String())
				}
			})
		}
	}
}

// TestRefetchDoesNotSettleForAnEarlierFetch: a fetch that was running when
// the key set changed may have read the old set; Refetch waits for it and
// fetches again, where Refresh would share its result.
func TestRefetchDoesNotSettleForAnEarlierFetch(t *testing.T) {
	keys := testKeys()
	k1 := testKey{kid: "key-1", key: keys[0]}
	compromised := testKey{kid: "key-1", key: keys[2]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	tok1 := sign(t, k1, idClaims(gh.URL(), clock.Now()))
	if got := verifyReason(t, v, tok1); got != "" {
		t.Fatalf("before: %q", got)
	}

	// A scheduled refresh reads the old set and is held before answering.
	block := make(chan struct{})
	gh.mu.Lock()
	gh.block = block
	gh.mu.Unlock()
	fetches := gh.jwksFetches.Load()
	early := make(chan error, 1)
	go func() { early <- v.Refresh(t.Context(), gh.URL()) }()
	for gh.jwksFetches.Load() == fetches {
		time.Sleep(time.Millisecond)
	}
	// The key is replaced, and the operator asks for a refetch.
	gh.setKeys(t, compromised)
	refetched := make(chan error, 1)
	go func() { refetched <- v.Refetch(t.Context(), gh.URL()) }()
	time.Sleep(20 * time.Millisecond) // let Refetch find the running fetch
	gh.mu.Lock()
	gh.block = nil
	gh.mu.Unlock()
	close(block)
	if err := <-early; err != nil {
		t.Fatal(err)
	}
	if err := <-refetched; err != nil {
		t.Fatal(err)
	}
	if got := verifyReason(t, v, tok1); got != ReasonSignature {
		t.Errorf("after Refetch: reason %q, want %q", got, ReasonSignature)
	}
}
