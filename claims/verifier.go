package claims

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
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
	if err := cfg.Validate(); err != nil {
		return nil, err
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

// newIssuerKeys applies the defaults of one validated issuer configuration
// and prepares its (empty) key storage.
func newIssuerKeys(ic IssuerConfig) (*issuerKeys, error) {
	if len(ic.Algorithms) == 0 {
		ic.Algorithms = []string{"RS256"}
	} else {
		var algs []string
		for _, a := range ic.Algorithms {
			if !slices.Contains(algs, a) {
				algs = append(algs, a)
			}
		}
		ic.Algorithms = algs
	}

	for _, d := range []struct {
		value *time.Duration
		def   time.Duration
	}{
		{&ic.RefreshInterval, DefaultRefreshInterval},
		{&ic.RefreshMinInterval, DefaultRefreshMinInterval},
		{&ic.MaxStale, DefaultMaxStale},
	} {
		if *d.value == 0 {
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
