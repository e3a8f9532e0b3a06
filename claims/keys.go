package claims

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"

	"github.com/actions-authz/actions-authz/internal/fileread"
)

// issuerKeys is one trusted issuer: its configuration with defaults applied,
// the signing keys last fetched for it, and the state that makes concurrent
// refreshes share one fetch.
type issuerKeys struct {
	cfg IssuerConfig

	// store holds the last good key set, replaced whole on every successful
	// fetch; kf turns the JWK a token names into its verification key.
	store *jwkset.MemoryJWKSet
	kf    keyfunc.Keyfunc

	lastGood atomic.Pointer[time.Time] // Verifier.now at the last successful fetch; nil before the first
	count    atomic.Int64              // number of keys in store
	ids      atomic.Pointer[[]*keyID]  // the keys in store, for the token cache; nil before the first fetch

	mu           sync.Mutex
	inflight     *fetchCall // the fetch running now, if any
	lastOnDemand time.Time  // when an unknown kid last started a fetch
}

// fetchCall is one fetch of an issuer's keys that several callers may wait
// for. err is written before done is closed and read only after.
type fetchCall struct {
	done chan struct{}
	err  error
}

// join returns the fetch running for is, or registers a new one that the
// caller (the leader) must run and finish.
func (is *issuerKeys) join() (call *fetchCall, leader bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.inflight != nil {
		return is.inflight, false
	}
	is.inflight = &fetchCall{done: make(chan struct{})}
	return is.inflight, true
}

// finish publishes the result of call and lets the next fetch start.
func (is *issuerKeys) finish(call *fetchCall, err error) {
	call.err = err
	is.mu.Lock()
	is.inflight = nil
	is.mu.Unlock()
	close(call.done)
}

// Run fetches every issuer's keys, retrying failures with a capped backoff,
// then refreshes each issuer every RefreshInterval (with ±10% jitter) until
// ctx is done, and returns nil. A failed refresh is logged and retried sooner;
// the last good keys keep serving until they are older than MaxStale. Run may
// be called again after it returned, but not while it runs.
func (v *Verifier) Run(ctx context.Context) error {
	if !v.running.CompareAndSwap(false, true) {
		return errors.New("claims: Verifier.Run is already running")
	}
	defer v.running.Store(false)

	var wg sync.WaitGroup
	for _, is := range v.ordered {
		wg.Go(func() { v.keepFresh(ctx, is) })
	}
	wg.Wait()
	return nil
}

// keepFresh is Run's loop for one issuer.
func (v *Verifier) keepFresh(ctx context.Context, is *issuerKeys) {
	backoff := v.retryMin
	for {
		err := v.refresh(ctx, is)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err != nil {
			wait = min(backoff, is.cfg.RefreshInterval)
			backoff = min(2*backoff, v.retryMax)
		} else {
			backoff = v.retryMin
			wait = jitter(is.cfg.RefreshInterval)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// jitter returns d changed by a random amount of up to ±10%, so that many
// replicas do not refresh in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// Refresh fetches the keys of the issuer whose URL is issuerURL now, or waits
// for the fetch already running for it, and returns that fetch's error. On
// failure the issuer keeps its last good keys. Run calls it on schedule; a
// one-shot caller without Run (a CLI, a test) calls it to load keys.
func (v *Verifier) Refresh(ctx context.Context, issuerURL string) error {
	is, ok := v.issuers[issuerURL]
	if !ok {
		return fmt.Errorf("claims: issuer %q is not configured", issuerURL)
	}
	return v.refresh(ctx, is)
}

// Refetch fetches the keys of the issuer whose URL is issuerURL anew, and
// returns that fetch's error: the emergency path, for when an operator knows
// the issuer's key set changed (a key rotated or revoked, perhaps under the
// same kid). Unlike Refresh it does not settle for a fetch already running,
// which may have read the set before it changed: it waits for that one to
// finish, then fetches again. A successful fetch drops at once every cached
// token whose signing key left the set or changed; a failed one keeps the
// last good keys, as any refresh does.
func (v *Verifier) Refetch(ctx context.Context, issuerURL string) error {
	is, ok := v.issuers[issuerURL]
	if !ok {
		return fmt.Errorf("claims: issuer %q is not configured", issuerURL)
	}
	for {
		call, leader := is.join()
		if leader {
			is.finish(call, v.fetch(ctx, is))
			return call.err
		}
		select {
		case <-call.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// refresh is Refresh for a known issuer.
func (v *Verifier) refresh(ctx context.Context, is *issuerKeys) error {
	call, leader := is.join()
	if leader {
		is.finish(call, v.fetch(ctx, is))
		return call.err
	}
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refreshForKID is called when a token names a kid the issuer's set lacks:
// the key may have just been rotated in. It joins a fetch already running,
// or starts one unless an unknown kid already started one within
// RefreshMinInterval, so a flood of bogus kids costs the issuer at most one
// fetch per interval. It waits for the fetch no longer than ctx. The fetch
// runs in its own goroutine, bounded by fetchTimeout, so that one caller
// giving up does not cancel it for the others.
func (v *Verifier) refreshForKID(ctx context.Context, is *issuerKeys) {
	is.mu.Lock()
	call := is.inflight
	if call == nil {
		now := v.now()
		if !is.lastOnDemand.IsZero() && now.Before(is.lastOnDemand.Add(is.cfg.RefreshMinInterval)) {
			is.mu.Unlock()
			return
		}
		is.lastOnDemand = now
		call = &fetchCall{done: make(chan struct{})}
		is.inflight = call
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
			defer cancel()
			is.finish(call, v.fetch(fctx, is))
		}()
	}
	is.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
	}
}

// fetch gets is's key set once, stores it when it holds at least one usable
// key, logs the outcome and reports it to OnFetch.
func (v *Verifier) fetch(ctx context.Context, is *issuerKeys) error {
	keys, err := v.fetchKeys(ctx, is)
	if err == nil {
		err = v.store(ctx, is, keys)
	}
	// A fetch cancelled because Run is stopping is not worth a warning; one
	// that timed out is.
	if err != nil && !errors.Is(err, context.Canceled) {
		v.log.Warn("fetching signing keys failed; keeping the last good keys",
			"issuer", is.cfg.URL, "keys", is.count.Load(), "error", err)
	}
	if v.onFetch != nil {
		v.onFetch(is.cfg.URL, int(is.count.Load()), err)
	}
	return err
}

// store replaces is's keys with keys, so that a key absent from the new set
// stops being accepted at once, and logs the kids that came and went.
func (v *Verifier) store(ctx context.Context, is *issuerKeys, keys []jwkset.JWK) error {
	old, err := is.store.KeyReadAll(ctx)
	if err != nil {
		return fmt.Errorf("reading stored keys: %w", err)
	}
	if err := is.store.KeyReplaceAll(ctx, keys); err != nil {
		return fmt.Errorf("storing keys: %w", err)
	}
	now := v.now()
	is.lastGood.Store(&now)
	is.count.Store(int64(len(keys)))
	// Entries verified with a key that left the set or changed are refused
	// from now on (keyID.current); dropKeys also frees their room.
	ids, gone := is.nextIDs(keys)
	is.ids.Store(&ids)
	tokens := 0
	if len(gone) > 0 && v.cache != nil {
		tokens = v.cache.dropKeys(is, ids)
	}

	added, removed := kidChanges(old, keys)
	var replaced []string // kids still published, with other key material
	for _, id := range gone {
		if !slices.Contains(removed, id.kid) {
			replaced = append(replaced, id.kid)
		}
	}
	if len(added) > 0 || len(removed) > 0 || len(replaced) > 0 {
		v.log.Info("signing keys changed", "issuer", is.cfg.URL, "keys", len(keys),
			"added", added, "removed", removed, "replaced", replaced, "cached_tokens_dropped", tokens)
	} else {
		v.log.Debug("signing keys refreshed", "issuer", is.cfg.URL, "keys", len(keys))
	}
	return nil
}

// nextIDs returns the key identities of keys, reusing the current identity
// of every key whose kid, modulus and exponent are unchanged, and the
// current identities it did not reuse: keys that left the set or changed.
func (is *issuerKeys) nextIDs(keys []jwkset.JWK) (ids, gone []*keyID) {
	var prev []*keyID
	if p := is.ids.Load(); p != nil {
		prev = *p
	}
	ids = make([]*keyID, 0, len(keys))
	for _, k := range keys {
		pub, ok := k.Key().(*rsa.PublicKey)
		if !ok {
			continue // unreachable: parseKey keeps RSA public keys only
		}
		kid := k.Marshal().KID
		i := slices.IndexFunc(prev, func(id *keyID) bool {
			return id.kid == kid && id.e == pub.E && id.n.Cmp(pub.N) == 0
		})
		if i >= 0 {
			ids = append(ids, prev[i])
		} else {
			ids = append(ids, &keyID{issuer: is, kid: kid, n: pub.N, e: pub.E})
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

// usable reports whether is has keys that are not stale: fetched at least
// once, the last time no longer than MaxStale ago.
func (v *Verifier) usable(is *issuerKeys) bool {
	last := is.lastGood.Load()
	return last != nil && !v.now().After(last.Add(is.cfg.MaxStale))
}

// Ready reports whether every issuer has signing keys that are not stale,
// that is whether Verify can check a token from any configured issuer.
func (v *Verifier) Ready() bool {
	for _, is := range v.ordered {
		if !v.usable(is) {
			return false
		}
	}
	return true
}

// fetchKeys reads is's key set from its file, its jwks_url, or the jwks_uri
// its discovery document names, and parses it.
func (v *Verifier) fetchKeys(ctx context.Context, is *issuerKeys) ([]jwkset.JWK, error) {
	var (
		body []byte
		err  error
	)
	switch {
	case is.cfg.JWKSFile != "":
		body, err = fileread.Limited(is.cfg.JWKSFile, maxJWKSBytes)
	case is.cfg.JWKSURL != "":
		body, err = v.get(ctx, is.cfg.JWKSURL, maxJWKSBytes)
	default:
		var jwksURI string
		if jwksURI, err = v.discover(ctx, is.cfg.URL); err == nil {
			body, err = v.get(ctx, jwksURI, maxJWKSBytes)
		}
	}
	if err != nil {
		return nil, err
	}
	return v.parseKeySet(is, body)
}

// discover reads the issuer's OpenID discovery document and returns its
// jwks_uri, as given (an enterprise issuer's key set lives at the root). The
// document must name exactly the configured issuer.
func (v *Verifier) discover(ctx context.Context, issuer string) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, err := v.get(ctx, u, maxDiscoveryBytes)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery document %s: %w", u, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery document %s names issuer %q, want exactly %q", u, doc.Issuer, issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("discovery document %s has no jwks_uri", u)
	}
	if msg := checkFetchURL(doc.JWKSURI); msg != "" {
		return "", fmt.Errorf("discovery document %s: jwks_uri: %s", u, msg)
	}
	return doc.JWKSURI, nil
}

// get fetches u and returns its body, refusing a status other than 200 and a
// body longer than limit.
func (v *Verifier) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: unexpected status %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("GET %s: response larger than %d bytes", u, limit)
	}
	return body, nil
}

// parseKeySet parses a JWKS one key at a time: a key that is malformed, not
// RSA, not for signatures, without a kid or too weak is logged and skipped,
// and the others are kept. A set with no usable key is an error, so that it
// never replaces a good one.
func (v *Verifier) parseKeySet(is *issuerKeys, body []byte) ([]jwkset.JWK, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("key set is not a JSON Web Key Set: %w", err)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for i, raw := range set.Keys {
		k, err := parseKey(raw, is.cfg.Algorithms)
		if err == nil && slices.ContainsFunc(keys, func(o jwkset.JWK) bool { return o.Marshal().KID == k.Marshal().KID }) {
			err = errors.New("duplicate kid")
		}
		if err != nil {
			v.log.Warn("skipping a key in the key set", "issuer", is.cfg.URL, "index", i, "error", err)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("key set holds no usable RSA signing key (%d keys given)", len(set.Keys))
	}
	return keys, nil
}

// parseKey parses one JWK and accepts it only as an RSA public key for
// signatures with a kid, at least minRSABits long and, when the key names an
// algorithm, one this issuer accepts. Private key material is never read.
func parseKey(raw json.RawMessage, algs []string) (jwkset.JWK, error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return jwkset.JWK{}, fmt.Errorf("malformed key: %w", err)
	}
	switch {
	case m.KTY != jwkset.KtyRSA:
		return jwkset.JWK{}, fmt.Errorf("kid %q: key type %q is not RSA", m.KID, m.KTY)
	case m.KID == "":
		return jwkset.JWK{}, errors.New("key has no kid")
	case len(m.KID) > maxKIDBytes:
		return jwkset.JWK{}, fmt.Errorf("kid is longer than %d bytes", maxKIDBytes)
	case m.USE != "" && m.USE != jwkset.UseSig:
		return jwkset.JWK{}, fmt.Errorf("kid %q: key use %q is not sig", m.KID, m.USE)
	case len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify):
		return jwkset.JWK{}, fmt.Errorf("kid %q: key_ops do not include verify", m.KID)
	case m.ALG != "" && !slices.Contains(algs, m.ALG.String()):
		return jwkset.JWK{}, fmt.Errorf("kid %q: key algorithm %q is not accepted for this issuer", m.KID, m.ALG)
	}
	// jwkset checks that n and e decode, that an x5c certificate holds the
	// same public key and that x5t is its thumbprint.
	k, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return jwkset.JWK{}, fmt.Errorf("kid %q: %w", m.KID, err)
	}
	pub, ok := k.Key().(*rsa.PublicKey)
	if !ok {
		return jwkset.JWK{}, fmt.Errorf("kid %q: not an RSA public key", m.KID)
	}
	if bits := pub.N.BitLen(); bits < minRSABits {
		return jwkset.JWK{}, fmt.Errorf("kid %q: RSA key of %d bits is shorter than %d", m.KID, bits, minRSABits)
	}
	return k, nil
}
