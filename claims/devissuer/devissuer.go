// Package devissuer is a development OIDC issuer: its own RSA key, a discovery
// document, a JWKS and an endpoint that mints GitHub-Actions-shaped tokens with
// the claims a caller asks for. "serve --dev" embeds it so the whole flow can be
// tried without GitHub, and tests use it as a stand-in for GitHub's issuer.
// It must never be trusted in production.
//
// Tokens look like GitHub's (Issuer.Mint lists the default claims):
// header {"typ":"JWT","alg":"RS256","x5t":…,"kid":…}, exp = iat + 5m,
// nbf = iat − 5m, and every GitHub claim a JSON string.
//
// An Issuer must know the URL it is served at before it exists, because that
// URL is its "iss". With httptest, create the server unstarted, build the
// Issuer from the listener's address, then install its Handler:
//
//	srv := httptest.NewUnstartedServer(nil)
//	iss, err := devissuer.New(devissuer.Options{URL: "http://" + srv.Listener.Addr().String()})
//	...
//	srv.Config.Handler = iss.Handler()
//	srv.Start()
package devissuer

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/actions-authz/actions-authz/claims"
)

// Defaults for the zero values of Options.
const (
	defaultKeyBits  = 2048
	defaultLifetime = 5 * time.Minute
)

// Options configures an Issuer. Zero values mean the documented defaults,
// except URL, which is required.
type Options struct {
	// URL is the issuer URL the Handler will be served at, exactly as it
	// appears in "iss", e.g. "http://127.0.0.1:9002". It must be an absolute
	// http or https URL without a trailing slash, user info, query or
	// fragment. It may have a path ("http://127.0.0.1:9002/dev"), like an
	// enterprise issuer; the Handler then serves its routes below that path.
	URL string
	// KeyBits is the size of each RSA key; default 2048.
	KeyBits int
	// Audience is the "aud" of tokens whose caller names none. Empty means
	// what GitHub does: "https://github.com/" followed by the token's
	// repository_owner.
	Audience string
	// Lifetime is exp − iat for tokens whose caller names none; default
	// 5 minutes, as GitHub. It is rounded down to whole seconds.
	Lifetime time.Duration
	// Now returns the current time; nil means time.Now. It sets iat, nbf and
	// exp, and the validity of each key's certificate, and must be safe for
	// concurrent use.
	Now func() time.Time
}

// Issuer is a development OIDC issuer. Its methods are safe for concurrent
// use.
type Issuer struct {
	url       string
	bits      int
	audience  string
	lifetime  time.Duration
	now       func() time.Time
	discovery []byte
	handler   http.Handler

	mu       sync.RWMutex
	current  *signingKey
	previous []*signingKey // still published, newest first
	jwks     []byte        // current, then previous; replaced, never modified
}

// signingKey is one RSA key with everything derived from it once.
type signingKey struct {
	kid  string
	x5t  string
	priv *rsa.PrivateKey
	jwk  []byte // the public key as a JWK
}

// New generates a first signing key and returns an Issuer for opts.URL.
func New(opts Options) (*Issuer, error) {
	prefix, err := checkURL(opts.URL)
	if err != nil {
		return nil, err
	}
	iss := &Issuer{
		url:      opts.URL,
		bits:     opts.KeyBits,
		audience: opts.Audience,
		lifetime: opts.Lifetime,
		now:      opts.Now,
	}
	switch {
	case iss.bits == 0:
		iss.bits = defaultKeyBits
	case iss.bits < 0:
		return nil, fmt.Errorf("devissuer: KeyBits %d is negative", iss.bits)
	}
	switch {
	case iss.lifetime == 0:
		iss.lifetime = defaultLifetime
	case iss.lifetime < time.Second:
		return nil, fmt.Errorf("devissuer: Lifetime %v is shorter than a second", iss.lifetime)
	}
	if iss.now == nil {
		iss.now = time.Now
	}
	if iss.discovery, err = json.Marshal(newDiscovery(iss.url)); err != nil {
		return nil, fmt.Errorf("devissuer: discovery document: %w", err)
	}
	key, err := newSigningKey(iss.bits, iss.now())
	if err != nil {
		return nil, err
	}
	iss.current = key
	iss.jwks = keySet(key, nil)
	iss.handler = iss.newHandler(prefix)
	return iss, nil
}

// checkURL validates an issuer URL and returns its path: a URL a Verifier
// accepts (claims.CheckIssuerURL), without a trailing slash and with a path
// the Handler can serve its routes below.
func checkURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("devissuer: URL is required")
	}
	if err := claims.CheckIssuerURL(raw); err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	u, _ := url.Parse(raw) // parsed by CheckIssuerURL
	switch {
	case strings.HasSuffix(u.Path, "/"):
		return "", fmt.Errorf("devissuer: URL %q must not end with a slash", raw)
	case strings.ContainsFunc(u.Path, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-._~", r))
	}) || u.RawPath != "":
		return "", fmt.Errorf("devissuer: URL %q: path may hold only letters, digits and /-._~", raw)
	}
	return u.Path, nil
}

// URL returns the issuer URL: the "iss" of every token and the base of the
// discovery and JWKS URLs.
func (iss *Issuer) URL() string { return iss.url }

// JWKS returns the JSON Web Key Set the Handler serves at
// URL()+"/.well-known/jwks": the current key, then any previous keys kept by
// Rotate, newest first. Tests can write it to a file for a verifier's
// jwks_file. The caller owns the returned slice.
func (iss *Issuer) JWKS() []byte {
	iss.mu.RLock()
	defer iss.mu.RUnlock()
	return slices.Clone(iss.jwks)
}

// Rotate generates a new key and makes it the signing key. The keys it
// replaces stay in the JWKS, as GitHub publishes overlapping keys, so tokens
// minted before the rotation still verify, until DropPrevious.
func (iss *Issuer) Rotate() error {
	key, err := newSigningKey(iss.bits, iss.now())
	if err != nil {
		return err
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.previous = append([]*signingKey{iss.current}, iss.previous...)
	iss.current = key
	iss.jwks = keySet(iss.current, iss.previous)
	return nil
}

// DropPrevious removes every key but the signing key from the JWKS, so tokens
// signed by a key that Rotate replaced no longer verify.
func (iss *Issuer) DropPrevious() {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.previous = nil
	iss.jwks = keySet(iss.current, nil)
}

// signer returns the current signing key.
func (iss *Issuer) signer() *signingKey {
	iss.mu.RLock()
	defer iss.mu.RUnlock()
	return iss.current
}

// jwk is the public form of a key, with the fields GitHub's JWKS has.
type jwk struct {
	Kty string   `json:"kty"`
	Use string   `json:"use"`
	Alg string   `json:"alg"`
	Kid string   `json:"kid"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	X5C []string `json:"x5c"`
	X5T string   `json:"x5t"`
}

// newSigningKey generates an RSA key, a random UUID-shaped kid (the form of
// GitHub's current kids) and a self-signed certificate, whose SHA-1
// thumbprint is the x5t of the JWK and of the token headers, as GitHub's.
func newSigningKey(bits int, now time.Time) (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("devissuer: generating a %d-bit RSA key: %w", bits, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("devissuer: certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "actions-authz.dev-issuer"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("devissuer: self-signed certificate: %w", err)
	}
	thumb := sha1.Sum(der)
	k := &signingKey{
		kid:  newUUID(),
		x5t:  base64.RawURLEncoding.EncodeToString(thumb[:]),
		priv: priv,
	}
	k.jwk, err = json.Marshal(jwk{
		Kty: "RSA",
		Use: "sig",
		Alg: "RS256",
		Kid: k.kid,
		N:   base64.RawURLEncoding.EncodeToString(priv.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(priv.E)).Bytes()),
		X5C: []string{base64.StdEncoding.EncodeToString(der)},
		X5T: k.x5t,
	})
	if err != nil {
		return nil, fmt.Errorf("devissuer: encoding the JWK: %w", err)
	}
	return k, nil
}

// keySet assembles {"keys":[…]} from keys already encoded, so that changing
// the set cannot fail.
func keySet(current *signingKey, previous []*signingKey) []byte {
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	b.Write(current.jwk)
	for _, k := range previous {
		b.WriteByte(',')
		b.Write(k.jwk)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails; see crypto/rand.Read
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// discovery is the OpenID Provider metadata, with the values GitHub serves.
type discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                  []string `json:"scopes_supported"`
}

func newDiscovery(issuer string) discovery {
	return discovery{
		Issuer:                 issuer,
		JWKSURI:                issuer + "/.well-known/jwks",
		SubjectTypesSupported:  []string{"public", "pairwise"},
		ResponseTypesSupported: []string{"id_token"},
		// GitHub's list (2025-06), plus check_run_id, which its tokens carry.
		ClaimsSupported: []string{
			"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha",
			"repository", "repository_id", "repository_owner", "repository_owner_id",
			"enterprise", "enterprise_id", "run_id", "run_number", "run_attempt",
			"actor", "actor_id", "workflow", "workflow_ref", "workflow_sha",
			"head_ref", "base_ref", "event_name", "ref_type", "ref_protected",
			"environment", "environment_node_id", "job_workflow_ref",
			"job_workflow_sha", "repository_visibility", "runner_environment",
			"issuer_scope", "check_run_id",
		},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ScopesSupported:                  []string{"openid"},
	}
}
