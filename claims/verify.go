package claims

import (
	"context"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/actions-authz/actions-authz/claims/internal/keyset"
)

// Client-safe descriptions of each refusal. They name the rule that failed,
// never a value taken from the token.
const (
	descTooLarge       = "token is too large"
	descMalformed      = "token is malformed"
	descUnverifiable   = "token could not be verified"
	descCritical       = "token uses unsupported critical header parameters"
	descType           = "token type is not JWT"
	descKIDTooLong     = "token key ID is too long"
	descLifetime       = "token lifetime is longer than an ID token's"
	descControl        = "token claims hold control characters"
	descAlgorithm      = "token signing algorithm is not accepted"
	descKeyAlgorithm   = "token signing algorithm does not match its key"
	descMissingKID     = "token has no key ID"
	descUnknownKey     = "token signing key is not known"
	descSignature      = "token signature is invalid"
	descIssuer         = "token issuer is not trusted"
	descAudience       = "token audience is not accepted"
	descExpired        = "token has expired"
	descNotYetValid    = "token is not valid yet"
	descIssuedInFuture = "token was issued in the future"
	descMissingIss     = "token has no issuer"
	descMissingExp     = "token has no expiry"
	descMissingIat     = "token has no issue time"
	descMissingSub     = "token has no subject"
	descMissingClaim   = "token is missing a required claim"
	descNotIDToken     = "token is not a GitHub Actions ID token"
	descUnavailable    = "signing keys for the token issuer are unavailable"
)

// Verify checks raw, a compact JWS, and returns its claims when it is a
// GitHub Actions ID token from a configured issuer, for a configured audience,
// signed by a current key of that issuer with an accepted algorithm, and
// within its lifetime (give or take the leeway).
//
// A refused token yields an *Error that wraps ErrInvalidToken; a token that
// cannot be checked because its issuer's keys were never fetched or are older
// than MaxStale yields one that wraps ErrKeysUnavailable. Verify waits for a
// key refresh (on an unknown kid) no longer than ctx.
//
// The checks run cheapest first, and every check that needs no key runs before
// a key is looked up, so a forged or stale token never triggers a refresh:
//
//  1. size, before any parsing (ReasonTooLarge), and only base64url
//     characters and dots (ReasonMalformed);
//  2. structure: three base64url segments, JSON header and claims, with
//     exp, nbf and iat JSON numbers and iss, sub and every aud entry JSON
//     strings when present (ReasonMalformed; see Claims.UnmarshalJSON), an
//     alg some issuer accepts (ReasonAlgorithm);
//  3. then, in keyFor: no crit header, a typ of "JWT" if any and no cty
//     (ReasonMalformed); iss equal to a configured issuer (ReasonIssuer); alg
//     accepted for that issuer (ReasonAlgorithm); a kid (ReasonMissingKID);
//     exp and iat present, exp, nbf and iat within the leeway
//     (ReasonExpired, ReasonNotYetValid, ReasonIssuedInFuture,
//     ReasonMissingClaim); aud holding a configured audience (ReasonAudience);
//     repository and repository_owner_id present (ReasonNotIDToken) and a
//     non-empty sub (ReasonMissingClaim); no control characters in any claim
//     (ReasonMalformed); exp − iat within MaxLifetime (ReasonLifetime); the
//     issuer's keys not stale (ErrKeysUnavailable); the key named by kid,
//     refreshing once if unknown (ReasonUnknownKey; a kid longer than any
//     key's is unknown at once). jku, x5u, x5c, jwk and x5t headers are
//     never used;
//  4. the signature (ReasonSignature), then the time claims again.
//
// A token that passes is cached (see Config.CacheMaxEntries). When the same
// token comes again, step 1 runs, then, instead of steps 2 to 4: its exp,
// nbf and iat against the clock with the leeway, its audience, and the
// staleness of its issuer's keys; the key that signed it must still be in
// the issuer's set, or the token is verified in full again. Every call
// returns Claims of its own, which the caller may keep or modify.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	return v.verify(ctx, raw, nil)
}

// VerifySum is Verify that also returns the SHA-256 of raw, which the
// verifier computes itself (its cache is keyed by it), so that a caller
// that identifies tokens by their digest, in logs, need not hash the token
// a second time. The digest is returned whatever the outcome.
func (v *Verifier) VerifySum(ctx context.Context, raw string) (*Claims, [32]byte, error) {
	key := digest(raw)
	c, err := v.verify(ctx, raw, &key)
	return c, key, err
}

// verify is Verify; key, if not nil, is the digest of raw, computed by the
// caller in this package.
func (v *Verifier) verify(ctx context.Context, raw string, key *cacheKey) (*Claims, error) {
	if len(raw) > v.maxBytes {
		return nil, invalid(ReasonTooLarge, descTooLarge, nil)
	}
	// encoding/base64 skips newlines, so without this one token would have
	// many spellings.
	if !CompactAlphabet(raw) {
		return nil, invalid(ReasonMalformed, descMalformed, nil)
	}
	if v.cache != nil {
		if key == nil {
			k := digest(raw)
			key = &k
		}
		h, ok := v.cache.get(key, v.now())
		if v.onCache != nil {
			v.onCache(ok)
		}
		if ok {
			return v.checkCached(&h)
		}
	}
	var used verifiedKey
	c := new(Claims)
	tok, err := v.parser.ParseWithClaims(raw, c, func(t *jwt.Token) (any, error) {
		return v.keyFor(ctx, t, &used)
	})
	if err != nil {
		return nil, v.classify(tok, err)
	}
	if v.cache != nil {
		if e, ok := newEntry(c, used.id(), v.now()); ok {
			v.cache.put(key, e)
		}
	}
	return c, nil
}

// checkCached returns the claims of a cached token after the checks that
// depend on the time or on the issuer's keys: the time claims against the
// clock with the leeway, the audience, and the freshness of the keys. The
// signature and every other claim check passed when the token was cached,
// and the key that verified it is still in its issuer's set.
func (v *Verifier) checkCached(h *hit) (*Claims, error) {
	c := v.cache.claims(h)
	if e := v.checkTimeAudience(c); e != nil {
		return nil, e
	}
	if !h.key.Set().Usable() {
		return nil, unavailable(descUnavailable, nil)
	}
	return c, nil
}

// verifiedKey is the key keyFor handed to jwt, kept so that Verify can tie
// a cache entry to it.
type verifiedKey struct {
	is  *keyset.Set
	kid string
	pub *rsa.PublicKey
}

// id returns the current identity of the key, or nil when the key has left
// its issuer's set (or changed) since it verified the token.
func (k *verifiedKey) id() *keyset.Key {
	if k.is == nil || k.pub == nil {
		return nil
	}
	return k.is.KeyOf(k.kid, k.pub)
}

// keyFor is the jwt.Keyfunc of Verify. jwt has decoded the header and claims
// and checked the alg against every configured algorithm; keyFor checks the
// claims against this issuer and returns the verification key, or an *Error.
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token, used *verifiedKey) (any, error) {
	c, ok := t.Claims.(*Claims)
	if !ok {
		return nil, invalid(ReasonMalformed, descUnverifiable, nil)
	}
	// RFC 7515: a crit header names extensions the verifier must understand;
	// this one understands none.
	if _, ok := t.Header["crit"]; ok {
		return nil, invalid(ReasonMalformed, descCritical, nil)
	}
	// Explicit typing (RFC 8725 section 3.11): GitHub types its ID tokens
	// "JWT". A token typed as anything else (an access token, a logout
	// token) or with a content type (a nested JWT) is some other kind of
	// token, whoever signed it.
	if typ, ok := t.Header["typ"]; ok {
		s, _ := typ.(string)
		if !strings.EqualFold(s, "JWT") && !strings.EqualFold(s, "application/jwt") {
			return nil, invalid(ReasonMalformed, descType, nil)
		}
	}
	if _, ok := t.Header["cty"]; ok {
		return nil, invalid(ReasonMalformed, descType, nil)
	}

	// The issuer, exactly: no trailing-slash or prefix leniency.
	if c.Issuer == "" {
		return nil, invalid(ReasonMissingClaim, descMissingIss, nil)
	}
	is, ok := v.issuers[c.Issuer]
	if !ok {
		return nil, invalid(ReasonIssuer, descIssuer, nil)
	}
	if !slices.Contains(is.Source().Algorithms, t.Method.Alg()) {
		return nil, invalid(ReasonAlgorithm, descAlgorithm, nil)
	}
	kid, _ := t.Header[jwkset.HeaderKID].(string)
	if kid == "" {
		return nil, invalid(ReasonMissingKID, descMissingKID, nil)
	}
	// No key has a kid this long (keyset skips them), so it is unknown
	// without a lookup or a refresh.
	if len(kid) > keyset.MaxKIDBytes {
		return nil, invalid(ReasonUnknownKey, descKIDTooLong, nil)
	}

	// Time claims. jwt checks them again after the signature; checking them
	// here keeps expired tokens away from the key sets.
	if c.ExpiresAt == nil {
		return nil, invalid(ReasonMissingClaim, descMissingExp, nil)
	}
	if c.IssuedAt == nil {
		return nil, invalid(ReasonMissingClaim, descMissingIat, nil)
	}
	if e := v.checkTimeAudience(c); e != nil {
		return nil, e
	}
	// GitHub's runner token carries the same iss and key as an ID token but
	// no sub and no repository claims: it must never pass.
	if c.Repository == "" || c.RepositoryOwnerID == "" {
		return nil, invalid(ReasonNotIDToken, descNotIDToken, nil)
	}
	if c.Subject == "" {
		return nil, invalid(ReasonMissingClaim, descMissingSub, nil)
	}
	// Every claim may be sent upstream as a header value, which cannot hold
	// control characters; GitHub's claims never do.
	if !printable(c) {
		return nil, invalid(ReasonMalformed, descControl, nil)
	}
	// GitHub's ID tokens live five minutes. One that is valid for much
	// longer was not minted as an ID token, and would stay replayable for
	// as long as it says.
	if c.ExpiresAt.Sub(c.IssuedAt.Time) > v.maxLifetime {
		return nil, invalid(ReasonLifetime, descLifetime, nil)
	}

	if !is.Usable() {
		return nil, unavailable(descUnavailable, nil)
	}
	// The key the kid names, after one (rate-limited, shared) refresh of
	// the set when the kid is unknown.
	pub, err := is.Lookup(ctx, t)
	switch {
	case errors.Is(err, jwkset.ErrKeyNotFound):
		return nil, invalid(ReasonUnknownKey, descUnknownKey, nil)
	case err != nil:
		// keyfunc refuses a token whose alg differs from its key's alg.
		return nil, invalid(ReasonAlgorithm, descKeyAlgorithm, err)
	}
	*used = verifiedKey{is: is, kid: kid, pub: pub}
	return pub, nil
}

// CompactAlphabet reports whether s holds only the characters of a compact
// JWS: base64url without padding, and dots. Verify checks it itself; a front
// door may call it first to tell a malformed credential from an invalid
// token. It looks each byte up in a table, eight bytes at a time without a
// branch between them.
func CompactAlphabet(s string) bool {
	for len(s) >= 8 {
		if compactBytes[s[0]]&compactBytes[s[1]]&compactBytes[s[2]]&compactBytes[s[3]]&
			compactBytes[s[4]]&compactBytes[s[5]]&compactBytes[s[6]]&compactBytes[s[7]] == 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if compactBytes[s[i]] == 0 {
			return false
		}
	}
	return true
}

// compactBytes is 1 for the bytes a compact JWS may hold (base64url and
// dots), 0 for the others. A table lookup per byte costs a third of the
// comparisons it replaces, on about a kilobyte per token.
var compactBytes = func() (t [256]byte) {
	for _, b := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") {
		t[b] = 1
	}
	return t
}()

// printable reports whether every claim of c, every audience and every value
// of an Extra claim included, is free of the characters an HTTP header value
// cannot carry: ASCII control characters other than tab, and DEL.
func printable(c *Claims) bool {
	ok := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if b := s[i]; (b < 0x20 && b != '\t') || b == 0x7f {
				return false
			}
		}
		return true
	}
	for f := FieldIssuer; f < fieldCount; f++ {
		if !ok(c.Value(f)) {
			return false
		}
	}
	for _, a := range c.Audience {
		if !ok(a) {
			return false
		}
	}
	for r := (extraReader{s: c.Extra.enc}); r.next(); {
		for _, v := range c.Extra.Values(r.name, nil) {
			if !ok(v) {
				return false
			}
		}
	}
	return true
}

// checkTimeAudience checks the time claims of c against the clock with
// the leeway, then that its audience holds one of the configured ones.
func (v *Verifier) checkTimeAudience(c *Claims) *Error {
	if err := v.validator.Validate(c); err != nil {
		if e := claimsError(err); e != nil {
			return e
		}
		return invalid(ReasonMalformed, descUnverifiable, err)
	}
	for _, a := range c.Audience {
		if slices.Contains(v.audiences, a) {
			return nil
		}
	}
	return invalid(ReasonAudience, descAudience, nil)
}

// classify turns a ParseWithClaims error into an *Error, by error identity
// and the parsed token, never by error text.
func (v *Verifier) classify(tok *jwt.Token, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e // from keyFor
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid(ReasonMalformed, descMalformed, err)
	case tok != nil && tok.Method == nil:
		if _, ok := tok.Header["alg"]; !ok {
			return invalid(ReasonMalformed, descMalformed, err)
		}
		return invalid(ReasonAlgorithm, descAlgorithm, err) // an alg jwt does not know
	case tok != nil && !slices.Contains(v.algs, tok.Method.Alg()):
		return invalid(ReasonAlgorithm, descAlgorithm, err) // none, HS256, PS256...
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid(ReasonSignature, descSignature, err)
	}
	if e := claimsError(err); e != nil {
		return e
	}
	return invalid(ReasonMalformed, descUnverifiable, err)
}

// claimsError maps a jwt claim-validation error to an *Error, or returns nil.
func claimsError(err error) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalid(ReasonExpired, descExpired, err)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid(ReasonIssuedInFuture, descIssuedInFuture, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return invalid(ReasonNotYetValid, descNotYetValid, err)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalid(ReasonMissingClaim, descMissingClaim, err)
	case errors.Is(err, jwt.ErrInvalidType), errors.Is(err, jwt.ErrTokenInvalidClaims):
		return invalid(ReasonMalformed, descMalformed, err)
	}
	return nil
}
