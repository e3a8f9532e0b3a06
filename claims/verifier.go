package claims

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/actions-authz/actions-authz/claims/internal/keyset"
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
	issuers   map[string]*keyset.Set // by exact issuer URL
	ordered   []*keyset.Set          // in configuration order
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

	now func() time.Time

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
		issuers:     make(map[string]*keyset.Set, len(cfg.Issuers)),
		audiences:   slices.Clone(cfg.Audiences),
		maxBytes:    cfg.MaxBytes,
		maxLifetime: cfg.MaxLifetime,
		now:         cfg.Now,
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
	if v.now == nil {
		v.now = time.Now
	}
	switch n := cfg.CacheMaxEntries; {
	case n == 0:
		v.cache = newTokenCache(DefaultCacheMaxEntries)
	case n > 0:
		v.cache = newTokenCache(n)
	}

	opts := keyset.Options{Client: cfg.HTTPClient, Log: cfg.Logger, Now: v.now, OnFetch: cfg.OnFetch}
	if v.cache != nil {
		// Tokens verified with a key that left its set are refused from
		// then on (keyset.Key.Current); dropping them frees their room.
		opts.Drop = v.cache.dropKeys
	}
	for i, ic := range cfg.Issuers {
		src := issuerSource(ic)
		is, err := keyset.New(src, opts)
		if err != nil {
			return nil, fmt.Errorf("issuers[%d]: %w", i, err)
		}
		v.issuers[src.Issuer] = is
		v.ordered = append(v.ordered, is)
		for _, a := range src.Algorithms {
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

// issuerSource applies the defaults to one validated issuer configuration.
func issuerSource(ic IssuerConfig) keyset.Source {
	src := keyset.Source{
		Issuer: ic.URL, JWKSURL: ic.JWKSURL, JWKSFile: ic.JWKSFile, Algorithms: []string{"RS256"},
		RefreshInterval: ic.RefreshInterval, RefreshMinInterval: ic.RefreshMinInterval, MaxStale: ic.MaxStale,
	}
	if len(ic.Algorithms) > 0 {
		src.Algorithms = nil
		for _, a := range ic.Algorithms {
			if !slices.Contains(src.Algorithms, a) {
				src.Algorithms = append(src.Algorithms, a)
			}
		}
	}
	for _, d := range []struct {
		value *time.Duration
		def   time.Duration
	}{
		{&src.RefreshInterval, DefaultRefreshInterval},
		{&src.RefreshMinInterval, DefaultRefreshMinInterval},
		{&src.MaxStale, DefaultMaxStale},
	} {
		if *d.value == 0 {
			*d.value = d.def
		}
	}
	return src
}
