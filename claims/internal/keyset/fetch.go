package keyset

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/actions-authz/actions-authz/internal/fileread"
)

// Limits on what a Set fetches and keeps; they are not configurable.
const (
	maxDiscoveryBytes = 64 << 10 // a discovery document is a few hundred bytes
	maxJWKSBytes      = 1 << 20  // GitHub's key set is about 8 KiB
	httpTimeout       = 10 * time.Second
	fetchTimeout      = 30 * time.Second // discovery plus key set, for unknown-kid refreshes
	maxRedirects      = 5
	minRSABits        = 2048
)

// MaxKIDBytes is the longest kid a Set keeps: a token naming a longer one
// names no key. GitHub's kids are 30 to 50 characters.
const MaxKIDBytes = 256

// fetchKeys reads s's key set from its file, its JWKSURL, or the jwks_uri
// its discovery document names, and parses it.
func (s *Set) fetchKeys(ctx context.Context) ([]jwkset.JWK, error) {
	var (
		body []byte
		err  error
	)
	switch {
	case s.src.JWKSFile != "":
		body, err = fileread.Limited(s.src.JWKSFile, maxJWKSBytes)
	case s.src.JWKSURL != "":
		body, err = s.get(ctx, s.src.JWKSURL, maxJWKSBytes)
	default:
		var jwksURI string
		if jwksURI, err = s.discover(ctx); err == nil {
			body, err = s.get(ctx, jwksURI, maxJWKSBytes)
		}
	}
	if err != nil {
		return nil, err
	}
	return s.parseKeySet(body)
}

// discover reads the issuer's OpenID discovery document and returns its
// jwks_uri, as given (an enterprise issuer's key set lives at the root). The
// document must name exactly the configured issuer.
func (s *Set) discover(ctx context.Context) (string, error) {
	issuer := s.src.Issuer
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, err := s.get(ctx, u, maxDiscoveryBytes)
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
	if msg := CheckURL(doc.JWKSURI); msg != "" {
		return "", fmt.Errorf("discovery document %s: jwks_uri: %s", u, msg)
	}
	return doc.JWKSURI, nil
}

// get fetches u and returns its body, refusing a status other than 200 and a
// body longer than limit.
func (s *Set) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
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

// CheckURL returns what is wrong with an issuer, JWKS or discovered jwks_uri
// URL, or "": it must be https, or http on a loopback host, with a host and
// without user information, query or fragment.
func CheckURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "invalid URL " + strconv.Quote(s)
	case u.Host == "" || u.Opaque != "":
		return "invalid URL " + strconv.Quote(s) + ": want https://host/path"
	case u.User != nil:
		return "URL " + strconv.Quote(s) + " must not hold user information"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "URL " + strconv.Quote(s) + " must not have a query or fragment"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	}
	return "URL " + strconv.Quote(s) + " must use https (http is accepted only for loopback hosts)"
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

// parseKeySet parses a JWKS one key at a time: a key that is malformed, not
// RSA, not for signatures, without a kid or too weak is logged and skipped,
// and the others are kept. A set with no usable key is an error, so that it
// never replaces a good one.
func (s *Set) parseKeySet(body []byte) ([]jwkset.JWK, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("key set is not a JSON Web Key Set: %w", err)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for i, raw := range set.Keys {
		k, err := parseKey(raw, s.src.Algorithms)
		if err == nil && slices.ContainsFunc(keys, func(o jwkset.JWK) bool { return o.Marshal().KID == k.Marshal().KID }) {
			err = errors.New("duplicate kid")
		}
		if err != nil {
			s.log.Warn("skipping a key in the key set", "issuer", s.src.Issuer, "index", i, "error", err)
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
// algorithm, one of algs. Private key material is never read.
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
	case len(m.KID) > MaxKIDBytes:
		return jwkset.JWK{}, fmt.Errorf("kid is longer than %d bytes", MaxKIDBytes)
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
