package claims

import (
	"errors"
	"strings"
	"testing"
)

func TestIssuerURLs(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://token.actions.githubusercontent.com", true},
		{"https://token.actions.githubusercontent.com/my-enterprise", true},
		{"https://ghes.example.com/_services/token", true},
		{"http://127.0.0.1:8080", true},
		{"http://127.1.2.3", true},
		{"http://localhost:8080/x", true},
		{"http://LOCALHOST", true},
		{"http://[::1]:8080", true},
		{"http://token.actions.githubusercontent.com", false},
		{"http://127.0.0.1.nip.io", false},
		{"http://localhost.example.com", false},
		{"http://10.0.0.1", false},
		{"ftp://example.com", false},
		{"token.actions.githubusercontent.com", false},
		{"https://user:pw@example.com", false},
		{"https://example.com/?q=1", false},
	}
	for _, tt := range tests {
		err := CheckIssuerURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckIssuerURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

// TestValidateFieldErrors: Validate reports every problem at once, each with
// the path a configuration file gives it; a jwks_url with a query is one
// (check once accepted it while serve refused it).
func TestValidateFieldErrors(t *testing.T) {
	cfg := Config{
		Issuers: []IssuerConfig{
			{URL: "https://token.actions.githubusercontent.com", JWKSURL: "https://example.com/jwks?x=1"},
			{URL: "https://a.example", Algorithms: []string{"RS256", "HS256"}},
		},
		Audiences: []string{"svc", ""},
		MaxBytes:  -1,
	}
	var errs FieldErrors
	if !errors.As(cfg.Validate(), &errs) {
		t.Fatalf("Validate() = %v, want FieldErrors", cfg.Validate())
	}
	var paths []string
	for _, fe := range errs {
		paths = append(paths, fe.Path)
	}
	want := "issuers[0].jwks_url issuers[1].algorithms[1] audiences[1] max_bytes"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("paths = %q, want %q", got, want)
	}
	if _, err := NewVerifier(cfg); err == nil || err.Error() != cfg.Validate().Error() {
		t.Errorf("NewVerifier error %v, want Validate's", err)
	}
}
