package claims

import (
	"log/slog"
	"net/http"
	"time"
)

// IssuerConfig is one trusted issuer as the configuration file states it.
// Zero durations mean the defaults documented on each field.
type IssuerConfig struct {
	// URL is the exact issuer ("iss") value; no prefix or trailing-slash leniency.
	URL string `yaml:"url"`
	// JWKSURL, when set, is used instead of discovery.
	JWKSURL string `yaml:"jwks_url"`
	// JWKSFile, when set, is a static key set read once (air-gapped installs, tests).
	JWKSFile string `yaml:"jwks_file"`
	// Algorithms accepted for this issuer; default [RS256]. Only RSA PKCS#1 v1.5
	// algorithms (RS256, RS384, RS512) can be configured.
	Algorithms []string `yaml:"algorithms"`
	// RefreshInterval between background refreshes (jittered); default 15m.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// RefreshMinInterval bounds unknown-kid refreshes; default 30s.
	RefreshMinInterval time.Duration `yaml:"refresh_min_interval"`
	// MaxStale is how long the last good keys serve while refreshes fail; default 24h.
	MaxStale time.Duration `yaml:"max_stale"`
}

// Config configures a Verifier. Zero values mean the documented defaults.
type Config struct {
	Issuers   []IssuerConfig
	Audiences []string      // required; the token's aud must contain one of these
	Leeway    time.Duration // clock skew allowed on exp, nbf and iat; default 60s (negative: none)
	MaxBytes  int           // larger tokens are refused before parsing; default 8192

	// HTTPClient fetches discovery documents and key sets; nil means a client
	// with timeouts suited to it.
	HTTPClient *http.Client
	// Logger receives refresh failures and key changes; nil discards.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. Used by tests and by
	// "explain --at" to examine a captured token within its own lifetime.
	Now func() time.Time
	// OnFetch, if set, is called after every key-set fetch attempt with the
	// issuer URL, the number of keys now held and the fetch error (nil on success).
	OnFetch func(issuer string, keys int, err error)
}
