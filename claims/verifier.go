package claims

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
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

// Defaults applied by NewVerifier to zero-valued configuration fields.
const (
	DefaultLeeway             = 60 * time.Second
	DefaultMaxBytes           = 8192
	DefaultMaxLifetime        = time.Hour
	DefaultRefreshInterval    = 15 * time.Minute
	DefaultRefreshMinInterval = 30 * time.Second
	DefaultMaxStale           = 24 * time.Hour
)

// Limits on what the Verifier fetches; they are not configurable.
const (
	maxDiscoveryBytes = 64 << 10 // a discovery document is a few hundred bytes
	maxJWKSBytes      = 1 << 20  // GitHub's key set is about 8 KiB
	httpTimeout       = 10 * time.Second
	fetchTimeout      = 30 * time.Second // discovery plus key set, for unknown-kid refreshes
	maxRedirects      = 5
	minRSABits        = 2048
	maxKIDBytes       = 256 // GitHub's kids are 30 to 50 characters
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

// Verifier turns raw GitHub Actions OIDC tokens into verified Claims. It holds
// the signing keys of every configured issuer and keeps them fresh while Run
// runs. A Verifier is safe for concurrent use; build one with NewVerifier.
//
// A server starts Run in its own goroutine, reports ready once Ready returns
// true, and calls Verify for every request:
//
//	v, err := claims.NewVerifier(cfg)
//	...
//	go v.Run(ctx)
//	...
//	c, err := v.Verify(r.Context(), token)
type Verifier struct {
	issuers   map[string]*issuerKeys // by exact issuer URL
	ordered   []*issuerKeys          // in configuration order
	audiences []string
	maxBytes  int
	// maxLifetime bounds exp − iat.
	maxLifetime time.Duration

	// parser decodes, checks the algorithm against every configured issuer's
	// list, calls keyFor and verifies the signature and time claims.
	parser *jwt.Parser
	// validator applies the same time rules as parser; keyFor runs it before
	// touching any key, so that stale tokens never reach the key sets.
	validator *jwt.Validator
	algs      []string // union of every issuer's algorithms

	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	onFetch func(issuer string, keys int, err error)

	// retryMin and retryMax bound the backoff between failed fetches in Run.
	retryMin, retryMax time.Duration

	running atomic.Bool

	// cache holds verified tokens; nil when Config.CacheMaxEntries < 0.
	cache   *tokenCache
	onCache func(hit bool)
}

// NewVerifier validates cfg, applies the defaults and returns a Verifier that
// holds no keys yet: call Run (or Refresh) to fetch them. It does no I/O and
// starts no goroutine. An invalid configuration is an error naming the field.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Issuers) == 0 {
		return nil, errors.New("issuers: at least one issuer is required")
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("audiences: at least one audience is required")
	}
	for i, a := range cfg.Audiences {
		if a == "" {
			return nil, fmt.Errorf("audiences[%d]: must not be empty", i)
		}
	}
	if cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("max_bytes: must not be negative, got %d", cfg.MaxBytes)
	}
	if cfg.MaxLifetime < 0 {
		return nil, fmt.Errorf("max_lifetime: must not be negative, got %s", cfg.MaxLifetime)
	}

	v := &Verifier{
		issuers:     make(map[string]*issuerKeys, len(cfg.Issuers)),
		audiences:   slices.Clone(cfg.Audiences),
		maxBytes:    cfg.MaxBytes,
		maxLifetime: cfg.MaxLifetime,
		client:      cfg.HTTPClient,
		log:         cfg.Logger,
		now:         cfg.Now,
		onFetch:     cfg.OnFetch,
		onCache:     cfg.OnCache,
		retryMin:    time.Second,
		retryMax:    30 * time.Second,
	}
	if v.maxBytes == 0 {
		v.maxBytes = DefaultMaxBytes
	}
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: httpTimeout, CheckRedirect: sameHostRedirect}
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch n := cfg.CacheMaxEntries; {
	case n == 0:
		v.cache = newTokenCache(DefaultCacheMaxEntries)
	case n > 0:
		v.cache = newTokenCache(n)
	}

	for i, ic := range cfg.Issuers {
		is, err := newIssuerKeys(ic)
		if err != nil {
			return nil, fmt.Errorf("issuers[%d]: %w", i, err)
		}
		if _, dup := v.issuers[is.cfg.URL]; dup {
			return nil, fmt.Errorf("issuers[%d]: url %q: duplicate issuer", i, is.cfg.URL)
		}
		v.issuers[is.cfg.URL] = is
		v.ordered = append(v.ordered, is)
		for _, a := range is.cfg.Algorithms {
			if !slices.Contains(v.algs, a) {
				v.algs = append(v.algs, a)
			}
		}
	}

	leeway := cfg.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	timeRules := []jwt.ParserOption{
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(v.now),
	}
	v.validator = jwt.NewValidator(timeRules...)
	v.parser = jwt.NewParser(append(timeRules,
		// Refuse every algorithm no issuer is configured for before any key is
		// looked up; keyFor then narrows it to the token's own issuer.
		jwt.WithValidMethods(v.algs),
		// GitHub emits canonical base64url; refusing anything else keeps one
		// token from having several spellings.
		jwt.WithStrictDecoding(),
	)...)
	return v, nil
}

// newIssuerKeys validates one issuer's configuration, applies its defaults and
// prepares its (empty) key storage.
func newIssuerKeys(ic IssuerConfig) (*issuerKeys, error) {
	if ic.URL == "" {
		return nil, errors.New("url: required")
	}
	if err := checkFetchURL(ic.URL); err != nil {
		return nil, fmt.Errorf("url %q: %w", ic.URL, err)
	}
	if ic.JWKSURL != "" && ic.JWKSFile != "" {
		return nil, errors.New("jwks_url and jwks_file: set at most one")
	}
	if ic.JWKSURL != "" {
		if err := checkFetchURL(ic.JWKSURL); err != nil {
			return nil, fmt.Errorf("jwks_url %q: %w", ic.JWKSURL, err)
		}
	}

	if len(ic.Algorithms) == 0 {
		ic.Algorithms = []string{"RS256"}
	} else {
		var algs []string
		for _, a := range ic.Algorithms {
			if !supportedAlgorithm(a) {
				return nil, fmt.Errorf("algorithms: %q is not supported (use RS256, RS384 or RS512)", a)
			}
			if !slices.Contains(algs, a) {
				algs = append(algs, a)
			}
		}
		ic.Algorithms = algs
	}

	for _, d := range []struct {
		name  string
		value *time.Duration
		def   time.Duration
	}{
		{"refresh_interval", &ic.RefreshInterval, DefaultRefreshInterval},
		{"refresh_min_interval", &ic.RefreshMinInterval, DefaultRefreshMinInterval},
		{"max_stale", &ic.MaxStale, DefaultMaxStale},
	} {
		switch {
		case *d.value < 0:
			return nil, fmt.Errorf("%s: must not be negative, got %s", d.name, *d.value)
		case *d.value == 0:
			*d.value = d.def
		}
	}

	store := jwkset.NewMemoryStorage()
	kf, err := keyfunc.New(keyfunc.Options{Storage: store})
	if err != nil {
		return nil, fmt.Errorf("key storage: %w", err)
	}
	return &issuerKeys{cfg: ic, store: store, kf: kf}, nil
}

// checkFetchURL accepts an absolute https URL, or an http URL whose host is a
// loopback address (127.0.0.0/8, ::1 or localhost), without query, fragment
// or credentials.
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute URL")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("must not carry credentials, a query or a fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("must be https (http is accepted only for loopback hosts)")
	}
	return errors.New("must be https (http is accepted only for loopback hosts)")
}

// isLoopback reports whether host names the local machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// sameHostRedirect follows a redirect only to the same scheme and host, so a
// discovery document or key set is never taken from a host the configuration
// did not name.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return fmt.Errorf("refusing redirect from %s to another host %s", first.Host, req.URL.Host)
	}
	return nil
}
