package claims

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewVerifierConfig(t *testing.T) {
	const gh = "https://token.actions.githubusercontent.com"
	aud := []string{testAudience}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // a substring naming the place; "" means valid
	}{
		{"minimal", Config{Issuers: []IssuerConfig{{URL: gh}}, Audiences: aud}, ""},
		{"enterprise and GHES issuers", Config{Issuers: []IssuerConfig{{URL: gh}, {URL: gh + "/my-enterprise"}, {URL: "https://ghes.example.com/_services/token"}}, Audiences: aud}, ""},
		{"http on 127.0.0.1", Config{Issuers: []IssuerConfig{{URL: "http://127.0.0.1:8080"}}, Audiences: aud}, ""},
		{"http on 127.1.2.3", Config{Issuers: []IssuerConfig{{URL: "http://127.1.2.3"}}, Audiences: aud}, ""},
		{"http on ::1", Config{Issuers: []IssuerConfig{{URL: "http://[::1]:8080/dev"}}, Audiences: aud}, ""},
		{"http on localhost", Config{Issuers: []IssuerConfig{{URL: "http://localhost:8080"}}, Audiences: aud}, ""},
		{"algorithms RS256 and RS512", Config{Issuers: []IssuerConfig{{URL: gh, Algorithms: []string{"RS256", "RS512"}}}, Audiences: aud}, ""},
		{"jwks_file", Config{Issuers: []IssuerConfig{{URL: gh, JWKSFile: "/etc/jwks.json"}}, Audiences: aud}, ""},

		{"no issuers", Config{Audiences: aud}, "issuers"},
		{"no audiences", Config{Issuers: []IssuerConfig{{URL: gh}}}, "audiences"},
		{"empty audience", Config{Issuers: []IssuerConfig{{URL: gh}}, Audiences: []string{""}}, "audiences[0]"},
		{"empty url", Config{Issuers: []IssuerConfig{{}}, Audiences: aud}, "issuers[0].url"},
		{"http issuer", Config{Issuers: []IssuerConfig{{URL: "http://token.actions.githubusercontent.com"}}, Audiences: aud}, "issuers[0].url"},
		{"http on a look-alike of localhost", Config{Issuers: []IssuerConfig{{URL: "http://localhost.evil.example"}}, Audiences: aud}, "issuers[0].url"},
		{"http on 10.0.0.1", Config{Issuers: []IssuerConfig{{URL: "http://10.0.0.1"}}, Audiences: aud}, "issuers[0].url"},
		{"relative url", Config{Issuers: []IssuerConfig{{URL: "token.actions.githubusercontent.com"}}, Audiences: aud}, "issuers[0].url"},
		{"url with a query", Config{Issuers: []IssuerConfig{{URL: gh + "?x=1"}}, Audiences: aud}, "issuers[0].url"},
		{"url with credentials", Config{Issuers: []IssuerConfig{{URL: "https://u:p@ghes.example.com"}}, Audiences: aud}, "issuers[0].url"},
		{"ftp url", Config{Issuers: []IssuerConfig{{URL: "ftp://ghes.example.com"}}, Audiences: aud}, "issuers[0].url"},
		{"http jwks_url", Config{Issuers: []IssuerConfig{{URL: gh, JWKSURL: "http://keys.example.com/jwks"}}, Audiences: aud}, "issuers[0].jwks_url"},
		{"jwks_url and jwks_file", Config{Issuers: []IssuerConfig{{URL: gh, JWKSURL: gh + "/.well-known/jwks", JWKSFile: "/etc/jwks.json"}}, Audiences: aud}, "issuers[0].jwks_file"},
		{"duplicate issuer", Config{Issuers: []IssuerConfig{{URL: gh}, {URL: gh}}, Audiences: aud}, "issuers[1].url"},
		{"HS256", Config{Issuers: []IssuerConfig{{URL: gh, Algorithms: []string{"HS256"}}}, Audiences: aud}, "issuers[0].algorithms"},
		{"none", Config{Issuers: []IssuerConfig{{URL: gh, Algorithms: []string{"none"}}}, Audiences: aud}, "issuers[0].algorithms"},
		{"ES256", Config{Issuers: []IssuerConfig{{URL: gh, Algorithms: []string{"RS256", "ES256"}}}, Audiences: aud}, "issuers[0].algorithms"},
		{"lower-case rs256", Config{Issuers: []IssuerConfig{{URL: gh, Algorithms: []string{"rs256"}}}, Audiences: aud}, "issuers[0].algorithms"},
		{"negative refresh_interval", Config{Issuers: []IssuerConfig{{URL: gh, RefreshInterval: -time.Second}}, Audiences: aud}, "issuers[0].refresh_interval"},
		{"negative refresh_min_interval", Config{Issuers: []IssuerConfig{{URL: gh, RefreshMinInterval: -time.Second}}, Audiences: aud}, "issuers[0].refresh_min_interval"},
		{"negative max_stale", Config{Issuers: []IssuerConfig{{URL: gh, MaxStale: -time.Second}}, Audiences: aud}, "issuers[0].max_stale"},
		{"negative max_bytes", Config{Issuers: []IssuerConfig{{URL: gh}}, Audiences: aud, MaxBytes: -1}, "max_bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewVerifier: %v", err)
				}
				if v.Ready() {
					t.Error("Ready() before any fetch")
				}
				return
			}
			if err == nil {
				t.Fatalf("NewVerifier accepted the config, want an error about %s", tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not start with %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewVerifierDefaults(t *testing.T) {
	v, err := NewVerifier(Config{
		Issuers:   []IssuerConfig{{URL: "https://token.actions.githubusercontent.com"}, {URL: "https://ghes.example.com/_services/token", Algorithms: []string{"RS512", "RS256", "RS512"}, MaxStale: time.Hour}},
		Audiences: []string{testAudience},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v.maxBytes != DefaultMaxBytes {
		t.Errorf("maxBytes = %d", v.maxBytes)
	}
	gh, ghes := v.ordered[0].Source(), v.ordered[1].Source()
	if !slices.Equal(gh.Algorithms, []string{"RS256"}) || !slices.Equal(ghes.Algorithms, []string{"RS512", "RS256"}) {
		t.Errorf("algorithms = %v, %v", gh.Algorithms, ghes.Algorithms)
	}
	if !slices.Equal(v.algs, []string{"RS256", "RS512"}) {
		t.Errorf("algorithm union = %v", v.algs)
	}
	if gh.RefreshInterval != DefaultRefreshInterval || gh.RefreshMinInterval != DefaultRefreshMinInterval || gh.MaxStale != DefaultMaxStale {
		t.Errorf("durations = %s, %s, %s", gh.RefreshInterval, gh.RefreshMinInterval, gh.MaxStale)
	}
	if ghes.MaxStale != time.Hour {
		t.Errorf("configured max_stale = %s", ghes.MaxStale)
	}
	if v.now == nil {
		t.Error("nil clock")
	}

	var asked atomic.Bool
	own := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		asked.Store(true)
		return nil, errors.New("offline")
	})}
	v, err = NewVerifier(Config{Issuers: []IssuerConfig{{URL: "https://token.actions.githubusercontent.com"}}, Audiences: []string{testAudience}, HTTPClient: own})
	if err != nil || v.Refresh(t.Context(), "https://token.actions.githubusercontent.com") == nil || !asked.Load() {
		t.Errorf("configured HTTP client not used: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
