package claims

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/actions-authz/actions-authz/claims/internal/keyset"
)

// IssuerConfig is one trusted issuer as the configuration file states it.
// Zero durations mean the defaults documented on each field.
type IssuerConfig struct {
	// URL is the exact issuer ("iss") value; no prefix or trailing-slash leniency.
	URL string `yaml:"url"`
	// JWKSURL, when set, is used instead of discovery.
	JWKSURL string `yaml:"jwks_url"`
	// JWKSFile, when set, is a static key set (air-gapped installs, tests),
	// read at start-up and again on every refresh and Refetch.
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
	Issuers   []IssuerConfig // required; the trusted issuers, matched exactly
	Audiences []string       // required; the token's aud must contain one of these
	Leeway    time.Duration  // clock skew allowed on exp, nbf and iat; default 60s (negative: none)
	MaxBytes  int            // larger tokens are refused before parsing; default 8192
	// MaxLifetime is the longest exp − iat accepted; default 1h. GitHub's ID
	// tokens live five minutes; a token valid for days or years is not one.
	MaxLifetime time.Duration

	// HTTPClient fetches discovery documents and key sets; nil means a client
	// with a 10s timeout that follows redirects only within the same host.
	HTTPClient *http.Client
	// Logger receives refresh failures and key changes; nil discards.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. Used by tests and by
	// "explain --at" to examine a captured token within its own lifetime. It
	// also dates fetched keys (for MaxStale) and unknown-kid refreshes (for
	// RefreshMinInterval); the refresh schedule of Run uses the real clock.
	Now func() time.Time
	// OnFetch, if set, is called after every key-set fetch attempt with the
	// issuer URL, the number of keys now held and the fetch error (nil on
	// success). It may be called from several goroutines at once (Run, Refresh
	// and unknown-kid refreshes) and should return quickly.
	OnFetch func(issuer string, keys int, err error)

	// CacheMaxEntries bounds the verified-token cache: a token that passed
	// every check is kept, by the SHA-256 of the whole token, until its exp
	// (never longer) or until its signing key leaves the issuer's set, so
	// that the next Verify of the same token skips the signature. A cached
	// token still goes through the time, audience and key-staleness checks.
	// Zero means DefaultCacheMaxEntries; a negative value turns the cache off.
	CacheMaxEntries int
	// OnCache, if set, is called after every cache lookup with whether the
	// token was found (a metric's hook; CacheStats has the same counts). It
	// is called from every Verify, concurrently, and must be cheap.
	OnCache func(hit bool)
}

// Defaults applied by NewVerifier to zero-valued configuration fields. They
// are the only copy: a configuration file that leaves a setting out gets these.
const (
	DefaultLeeway             = 60 * time.Second
	DefaultMaxBytes           = 8192
	DefaultMaxLifetime        = time.Hour
	DefaultRefreshInterval    = 15 * time.Minute
	DefaultRefreshMinInterval = 30 * time.Second
	DefaultMaxStale           = 24 * time.Hour
	// DefaultCacheMaxEntries is the number of verified tokens a Verifier
	// keeps when Config.CacheMaxEntries is zero.
	DefaultCacheMaxEntries = 100000
)

// supportedAlgorithm reports whether an issuer can be configured with alg:
// only RSA PKCS#1 v1.5, which is what GitHub signs with (RS256). Never "none",
// never HMAC (a public key must never become a shared secret), never ECDSA or
// PSS, which no GitHub issuer uses.
func supportedAlgorithm(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512":
		return true
	}
	return false
}

// FieldError is one invalid setting of a Config. Path names it as a
// configuration file does: "issuers[0].jwks_url", "audiences[1]",
// "max_bytes".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// FieldErrors is every problem Config.Validate found, in field order.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns each FieldError, for errors.As.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Validate reports every invalid setting of c as FieldErrors, or nil. It is
// the one check of a Verifier's settings: NewVerifier refuses what it
// refuses, and a configuration file is checked with it (authz only adds line
// numbers). The hooks (HTTPClient, Logger, Now, OnFetch, OnCache) are not
// checked.
func (c Config) Validate() error {
	var errs FieldErrors
	fail := func(path, msg string) { errs = append(errs, &FieldError{Path: path, Msg: msg}) }
	if len(c.Issuers) == 0 {
		fail("issuers", "no issuers: list at least one (url: https://token.actions.githubusercontent.com for github.com)")
	}
	seen := make(map[string]int, len(c.Issuers))
	for i, is := range c.Issuers {
		place := "issuers[" + strconv.Itoa(i) + "]."
		switch {
		case is.URL == "":
			fail(place+"url", "missing issuer url")
		default:
			if msg := keyset.CheckURL(is.URL); msg != "" {
				fail(place+"url", msg)
			}
			if first, dup := seen[is.URL]; dup {
				fail(place+"url", "issuer "+strconv.Quote(is.URL)+" is listed twice (also issuers["+strconv.Itoa(first)+"])")
			} else {
				seen[is.URL] = i
			}
		}
		if is.JWKSURL != "" {
			if msg := keyset.CheckURL(is.JWKSURL); msg != "" {
				fail(place+"jwks_url", msg)
			}
			if is.JWKSFile != "" {
				fail(place+"jwks_file", "set jwks_url or jwks_file, not both")
			}
		}
		for j, alg := range is.Algorithms {
			if !supportedAlgorithm(alg) {
				fail(place+"algorithms["+strconv.Itoa(j)+"]", "unsupported algorithm "+strconv.Quote(alg)+": want RS256, RS384 or RS512")
			}
		}
		for _, d := range []struct {
			key   string
			value time.Duration
		}{
			{"refresh_interval", is.RefreshInterval}, {"refresh_min_interval", is.RefreshMinInterval}, {"max_stale", is.MaxStale},
		} {
			if d.value < 0 {
				fail(place+d.key, "must not be negative")
			}
		}
	}
	if len(c.Audiences) == 0 {
		fail("audiences", "no audiences: the token's aud must be one of them (use a custom audience per deployment)")
	}
	for i, a := range c.Audiences {
		if a == "" {
			fail("audiences["+strconv.Itoa(i)+"]", "empty audience")
		}
	}
	if c.MaxBytes < 0 {
		fail("max_bytes", "must not be negative")
	}
	if c.MaxLifetime < 0 {
		fail("max_lifetime", "must not be negative")
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// CheckIssuerURL reports whether raw is an issuer URL a Verifier accepts:
// https, or http on a loopback host (127.0.0.0/8, ::1, localhost), with a
// host and without user information, query or fragment. devissuer checks
// the URL it serves at with it.
func CheckIssuerURL(raw string) error {
	if msg := keyset.CheckURL(raw); msg != "" {
		return errors.New(msg)
	}
	return nil
}
