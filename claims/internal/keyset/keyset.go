// Package keyset holds the signing keys of one token issuer: it fetches the
// issuer's JSON Web Key Set (from a file, a URL, or the jwks_uri of the
// issuer's OpenID discovery document), keeps the RSA signing keys it
// accepts, and refreshes them on a schedule, on demand, and when a token
// names a kid the set lacks (rate-limited); concurrent refreshes share one
// fetch. What the keys verify, and what else must go when a key leaves the
// set, is the caller's: it learns of fetches and of departing keys through
// the hooks of Options.
package keyset

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Source is where one issuer's keys come from and how long they serve. The
// caller applies its defaults; zero durations are taken as they are.
type Source struct {
	// Issuer is the exact issuer URL; discovery reads
	// Issuer/.well-known/openid-configuration.
	Issuer string
	// JWKSURL, when set, is fetched instead of discovery.
	JWKSURL string
	// JWKSFile, when set, is read instead of any fetch.
	JWKSFile string
	// Algorithms are the signing algorithms accepted: a key that names
	// another is skipped.
	Algorithms []string
	// RefreshInterval is the time between KeepFresh's refreshes (jittered).
	RefreshInterval time.Duration
	// RefreshMinInterval is the least time between two fetches started by
	// unknown kids.
	RefreshMinInterval time.Duration
	// MaxStale is how long the last good keys serve after their fetch.
	MaxStale time.Duration
}

// Options are the hooks and tools of a Set. Zero values mean the documented
// defaults.
type Options struct {
	// Client fetches discovery documents and key sets; nil means a client
	// with a 10s timeout that follows redirects only within the same host.
	Client *http.Client
	// Log receives skipped keys, failed fetches and key changes; nil
	// discards.
	Log *slog.Logger
	// Now dates fetches (for MaxStale) and unknown-kid refreshes (for
	// RefreshMinInterval); nil means time.Now.
	Now func() time.Time
	// OnFetch, if set, is called after every fetch attempt with the issuer
	// URL, the number of keys now held and the fetch's error (nil on
	// success), possibly from several goroutines at once.
	OnFetch func(issuer string, keys int, err error)
	// Drop, if set, is called by a successful fetch after which some keys
	// of the set have left it or changed, with keep the keys now current.
	// It returns how many things verified with the departed keys it
	// dropped, for the log line that reports the change.
	Drop func(set *Set, keep []*Key) int
}

// Set is the key set of one issuer, safe for concurrent use. It holds no
// keys until its first successful fetch (Refresh, Refetch or KeepFresh).
type Set struct {
	src     Source
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	onFetch func(issuer string, keys int, err error)
	drop    func(set *Set, keep []*Key) int

	// jwks holds the last good key set, replaced whole on every successful
	// fetch; kf turns the JWK a token names into its verification key.
	jwks *jwkset.MemoryJWKSet
	kf   keyfunc.Keyfunc

	lastGood atomic.Pointer[time.Time] // now at the last successful fetch; nil before the first
	count    atomic.Int64              // number of keys in jwks
	keys     atomic.Pointer[[]*Key]    // the keys in jwks; nil before the first fetch

	mu           sync.Mutex
	inflight     *fetchCall // the fetch running now, if any
	lastOnDemand time.Time  // when an unknown kid last started a fetch
}

// Key identifies one public key of a Set across refreshes: a refresh that
// publishes the same kid with the same modulus and exponent keeps the same
// *Key, while a key that leaves the set, or a kid that comes back with
// other key material, is a Key that is no longer current.
type Key struct {
	set *Set
	kid string
	n   *big.Int
	e   int
}

// New returns the empty Set of src.
func New(src Source, o Options) (*Set, error) {
	s := &Set{src: src, client: o.Client, log: o.Log, now: o.Now, onFetch: o.OnFetch, drop: o.Drop}
	if s.client == nil {
		s.client = &http.Client{Timeout: httpTimeout, CheckRedirect: sameHostRedirect}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.jwks = jwkset.NewMemoryStorage()
	kf, err := keyfunc.New(keyfunc.Options{Storage: s.jwks})
	if err != nil {
		return nil, fmt.Errorf("key storage: %w", err)
	}
	s.kf = kf
	return s, nil
}

// Source returns the source s was built with.
func (s *Set) Source() Source { return s.src }

// Count returns the number of keys s holds.
func (s *Set) Count() int { return int(s.count.Load()) }

// Usable reports whether s has keys that are not stale: fetched at least
// once, the last time no longer than MaxStale ago.
func (s *Set) Usable() bool {
	last := s.lastGood.Load()
	return last != nil && !s.now().After(last.Add(s.src.MaxStale))
}

// Lookup returns the public key that t's kid names, after fetching the set
// once more when no key has that kid (see refreshForKID); it waits for that
// fetch no longer than ctx. Its error wraps jwkset.ErrKeyNotFound when the
// kid is still unknown; any other error is keyfunc's refusal of the token
// for that key (an alg that differs from the key's).
func (s *Set) Lookup(ctx context.Context, t *jwt.Token) (*rsa.PublicKey, error) {
	kf := s.kf.KeyfuncCtx(ctx)
	key, err := kf(t)
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		s.refreshForKID(ctx)
		key, err = kf(t)
	}
	if err != nil {
		return nil, err
	}
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, jwkset.ErrKeyNotFound // unreachable: parseKey keeps RSA public keys only
	}
	return pub, nil
}

// KeyOf returns the current Key with this kid and public key, or nil when
// the set holds no such key (it left, or changed, after Lookup returned it).
func (s *Set) KeyOf(kid string, pub *rsa.PublicKey) *Key {
	if p := s.keys.Load(); p != nil {
		if i := slices.IndexFunc(*p, func(k *Key) bool { return k.is(kid, pub) }); i >= 0 {
			return (*p)[i]
		}
	}
	return nil
}

// Set returns the set k belongs to.
func (k *Key) Set() *Set { return k.set }

// Current reports whether k is still in its set.
func (k *Key) Current() bool {
	keys := k.set.keys.Load()
	return keys != nil && slices.Contains(*keys, k)
}

// is reports whether k has this kid and public key.
func (k *Key) is(kid string, pub *rsa.PublicKey) bool {
	return k.kid == kid && k.e == pub.E && k.n.Cmp(pub.N) == 0
}

// store replaces s's keys with keys, so that a key absent from the new set
// stops being accepted at once, and logs the kids that came and went.
func (s *Set) store(ctx context.Context, keys []jwkset.JWK) error {
	old, err := s.jwks.KeyReadAll(ctx)
	if err != nil {
		return fmt.Errorf("reading stored keys: %w", err)
	}
	if err := s.jwks.KeyReplaceAll(ctx, keys); err != nil {
		return fmt.Errorf("storing keys: %w", err)
	}
	now := s.now()
	s.lastGood.Store(&now)
	s.count.Store(int64(len(keys)))
	// Keys that left the set or changed stop being current now
	// (Key.Current); Drop lets the caller forget what they verified.
	ids, gone := s.nextKeys(keys)
	s.keys.Store(&ids)
	dropped := 0
	if len(gone) > 0 && s.drop != nil {
		dropped = s.drop(s, ids)
	}

	added, removed := kidChanges(old, keys)
	var replaced []string // kids still published, with other key material
	for _, id := range gone {
		if !slices.Contains(removed, id.kid) {
			replaced = append(replaced, id.kid)
		}
	}
	if len(added) > 0 || len(removed) > 0 || len(replaced) > 0 {
		s.log.Info("signing keys changed", "issuer", s.src.Issuer, "keys", len(keys),
			"added", added, "removed", removed, "replaced", replaced, "cached_tokens_dropped", dropped)
	} else {
		s.log.Debug("signing keys refreshed", "issuer", s.src.Issuer, "keys", len(keys))
	}
	return nil
}

// nextKeys returns the Keys of keys, reusing the current Key of every key
// whose kid, modulus and exponent are unchanged, and the current Keys it
// did not reuse: keys that left the set or changed.
func (s *Set) nextKeys(keys []jwkset.JWK) (ids, gone []*Key) {
	var prev []*Key
	if p := s.keys.Load(); p != nil {
		prev = *p
	}
	ids = make([]*Key, 0, len(keys))
	for _, k := range keys {
		pub, ok := k.Key().(*rsa.PublicKey)
		if !ok {
			continue // unreachable: parseKey keeps RSA public keys only
		}
		kid := k.Marshal().KID
		if i := slices.IndexFunc(prev, func(id *Key) bool { return id.is(kid, pub) }); i >= 0 {
			ids = append(ids, prev[i])
		} else {
			ids = append(ids, &Key{set: s, kid: kid, n: pub.N, e: pub.E})
		}
	}
	for _, id := range prev {
		if !slices.Contains(ids, id) {
			gone = append(gone, id)
		}
	}
	return ids, gone
}

// kidChanges lists the kids in next but not in prev, and in prev but not in next.
func kidChanges(prev, next []jwkset.JWK) (added, removed []string) {
	kids := func(keys []jwkset.JWK) []string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = k.Marshal().KID
		}
		return out
	}
	p, n := kids(prev), kids(next)
	for _, k := range n {
		if !slices.Contains(p, k) {
			added = append(added, k)
		}
	}
	for _, k := range p {
		if !slices.Contains(n, k) {
			removed = append(removed, k)
		}
	}
	return added, removed
}
