package devissuer_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
)

// testNow is the fixed clock of the tests, a day in 2026.
var testNow = time.Date(2026, 8, 21, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// newIssuer returns an Issuer on a URL nothing serves.
func newIssuer(t *testing.T, opts devissuer.Options) *devissuer.Issuer {
	t.Helper()
	if opts.URL == "" {
		opts.URL = "http://127.0.0.1:9002"
	}
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	iss, err := devissuer.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// serve returns an Issuer served by httptest on loopback, below path.
func serve(t *testing.T, opts devissuer.Options, path string) (*devissuer.Issuer, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	opts.URL = "http://" + srv.Listener.Addr().String() + path
	iss := newIssuer(t, opts)
	srv.Config.Handler = iss.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return iss, srv
}

// jwkJSON is a JWK as the JWKS carries it.
type jwkJSON struct {
	Kty string   `json:"kty"`
	Use string   `json:"use"`
	Alg string   `json:"alg"`
	Kid string   `json:"kid"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	X5C []string `json:"x5c"`
	X5T string   `json:"x5t"`
}

func parseJWKS(t *testing.T, data []byte) []jwkJSON {
	t.Helper()
	var set struct {
		Keys []jwkJSON `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatalf("JWKS %s: %v", data, err)
	}
	return set.Keys
}

func kids(keys []jwkJSON) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.Kid)
	}
	return out
}

// publicKey builds the RSA key of a JWK from n and e, as a verifier would.
func publicKey(t *testing.T, k jwkJSON) *rsa.PublicKey {
	t.Helper()
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil {
		t.Fatalf("kid %s: n: %v", k.Kid, err)
	}
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil {
		t.Fatalf("kid %s: e: %v", k.Kid, err)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

// keyfunc returns a jwt.Keyfunc over the keys of a JWKS, selected by kid.
func keyfunc(t *testing.T, jwks []byte) jwt.Keyfunc {
	t.Helper()
	keys := map[string]*rsa.PublicKey{}
	for _, k := range parseJWKS(t, jwks) {
		keys[k.Kid] = publicKey(t, k)
	}
	return func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("no key with kid %q", kid)
	}
}

// verify checks a token against a JWKS the way the service will: RS256 only,
// exact issuer, the audience, and the time claims at testNow.
func verify(t *testing.T, token string, jwks []byte, issuer, aud string) (*claims.Claims, error) {
	t.Helper()
	c := &claims.Claims{}
	_, err := jwt.ParseWithClaims(token, c, keyfunc(t, jwks),
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(aud),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(fixedNow),
	)
	return c, err
}

// segment decodes the header (0) or payload (1) of a token as raw JSON.
func segment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// checkSignature verifies the RS256 signature of a token whatever its
// header says.
func checkSignature(t *testing.T, token string, key *rsa.PublicKey) error {
	t.Helper()
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(token[:i]))
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig)
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts devissuer.Options
	}{
		{"no URL", devissuer.Options{}},
		{"no scheme", devissuer.Options{URL: "127.0.0.1:9002"}},
		{"ftp", devissuer.Options{URL: "ftp://127.0.0.1"}},
		{"no host", devissuer.Options{URL: "http:///dev"}},
		{"trailing slash", devissuer.Options{URL: "http://127.0.0.1:9002/"}},
		{"query", devissuer.Options{URL: "http://127.0.0.1:9002?x=1"}},
		{"fragment", devissuer.Options{URL: "http://127.0.0.1:9002#x"}},
		{"user info", devissuer.Options{URL: "http://u:p@127.0.0.1:9002"}},
		{"pattern in path", devissuer.Options{URL: "http://127.0.0.1:9002/{x}"}},
		{"space in path", devissuer.Options{URL: "http://127.0.0.1:9002/a%20b"}},
		{"negative KeyBits", devissuer.Options{URL: "http://127.0.0.1", KeyBits: -1}},
		{"tiny KeyBits", devissuer.Options{URL: "http://127.0.0.1", KeyBits: 512}},
		{"negative Lifetime", devissuer.Options{URL: "http://127.0.0.1", Lifetime: -time.Minute}},
		{"sub-second Lifetime", devissuer.Options{URL: "http://127.0.0.1", Lifetime: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if iss, err := devissuer.New(tc.opts); err == nil {
				t.Fatalf("New(%+v) = %v, want an error", tc.opts, iss.URL())
			}
		})
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	for _, path := range []string{"", "/enterprise-slug"} {
		t.Run("path="+path, func(t *testing.T) {
			iss, srv := serve(t, devissuer.Options{}, path)
			if want := srv.URL + path; iss.URL() != want {
				t.Fatalf("URL() = %q, want %q", iss.URL(), want)
			}

			res, body := get(t, iss.URL()+"/.well-known/openid-configuration")
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("discovery: %s %q", res.Status, res.Header.Get("Content-Type"))
			}
			var doc struct {
				Issuer                           string   `json:"issuer"`
				JWKSURI                          string   `json:"jwks_uri"`
				SubjectTypesSupported            []string `json:"subject_types_supported"`
				ResponseTypesSupported           []string `json:"response_types_supported"`
				ClaimsSupported                  []string `json:"claims_supported"`
				IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
				ScopesSupported                  []string `json:"scopes_supported"`
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Issuer != iss.URL() || doc.JWKSURI != iss.URL()+"/.well-known/jwks" {
				t.Errorf("issuer %q, jwks_uri %q", doc.Issuer, doc.JWKSURI)
			}
			if diff := cmp.Diff([]string{"RS256"}, doc.IDTokenSigningAlgValuesSupported); diff != "" {
				t.Errorf("id_token_signing_alg_values_supported (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"id_token"}, doc.ResponseTypesSupported); diff != "" {
				t.Errorf("response_types_supported (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"public", "pairwise"}, doc.SubjectTypesSupported); diff != "" {
				t.Errorf("subject_types_supported (-want +got):\n%s", diff)
			}
			// Every claim a policy may name is one the issuer says it supports.
			supported := map[string]bool{}
			for _, c := range doc.ClaimsSupported {
				supported[c] = true
			}
			for _, name := range claims.Names() {
				if !supported[name] {
					t.Errorf("claims_supported lacks %q", name)
				}
			}

			// Resolve the JWKS through discovery, as a verifier must.
			res, body = get(t, doc.JWKSURI)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("JWKS: %s %q", res.Status, res.Header.Get("Content-Type"))
			}
			if !bytes.Equal(body, iss.JWKS()) {
				t.Errorf("served JWKS %s differs from JWKS() %s", body, iss.JWKS())
			}
			keys := parseJWKS(t, body)
			if len(keys) != 1 {
				t.Fatalf("JWKS has %d keys, want 1", len(keys))
			}
			checkJWK(t, keys[0])

			if path != "" {
				if res, _ := get(t, srv.URL+"/.well-known/jwks"); res.StatusCode != http.StatusNotFound {
					t.Errorf("JWKS outside the issuer path: %s, want 404", res.Status)
				}
			}
		})
	}
}

// checkJWK checks the shape of one published key: an RS256 signing key, a
// UUID kid, and an x5c certificate for the same key whose thumbprint is x5t.
func checkJWK(t *testing.T, k jwkJSON) {
	t.Helper()
	if k.Kty != "RSA" || k.Use != "sig" || k.Alg != "RS256" || k.E != "AQAB" {
		t.Errorf("key %+v: want kty RSA, use sig, alg RS256, e AQAB", k)
	}
	if !uuidRE.MatchString(k.Kid) {
		t.Errorf("kid %q is not a UUID", k.Kid)
	}
	pub := publicKey(t, k)
	if pub.N.BitLen() != 2048 {
		t.Errorf("key has %d bits, want 2048", pub.N.BitLen())
	}
	if len(k.X5C) != 1 {
		t.Fatalf("x5c has %d certificates, want 1", len(k.X5C))
	}
	der, err := base64.StdEncoding.DecodeString(k.X5C[0])
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(cert.PublicKey) {
		t.Error("x5c certificate holds another key")
	}
	if thumb := sha1.Sum(der); k.X5T != base64.RawURLEncoding.EncodeToString(thumb[:]) {
		t.Errorf("x5t %q is not the SHA-1 thumbprint of x5c", k.X5T)
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return res, readAll(t, res)
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMintVerifiesWithGitHubShape(t *testing.T) {
	iss := newIssuer(t, devissuer.Options{})
	token, err := iss.Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	jwks := iss.JWKS()
	c, err := verify(t, token, jwks, iss.URL(), "https://github.com/octo-org")
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if c.Subject != "repo:octo-org/octo-repo:ref:refs/heads/main" || c.RepositoryOwnerID != "123456" {
		t.Errorf("sub %q, repository_owner_id %q", c.Subject, c.RepositoryOwnerID)
	}

	key := parseJWKS(t, jwks)[0]
	if diff := cmp.Diff(map[string]any{
		"typ": "JWT", "alg": "RS256", "kid": key.Kid, "x5t": key.X5T,
	}, segment(t, token, 0)); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}

	payload := segment(t, token, 1)
	if !uuidRE.MatchString(fmt.Sprint(payload["jti"])) {
		t.Errorf("jti %v is not a UUID", payload["jti"])
	}
	iat := testNow.Unix()
	sha := "5b1c0c6f3c1d9f2a8e4b7d6a9c0e1f2d3b4a5c6d"
	want := map[string]any{
		"iss": iss.URL(),
		"aud": "https://github.com/octo-org",
		"sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
		"iat": json.Number(fmt.Sprint(iat)),
		"nbf": json.Number(fmt.Sprint(iat - 300)),
		"exp": json.Number(fmt.Sprint(iat + 300)),

		"actor":                 "octocat",
		"actor_id":              "583231",
		"base_ref":              "",
		"check_run_id":          "28123456789",
		"event_name":            "push",
		"head_ref":              "",
		"job_workflow_ref":      "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main",
		"job_workflow_sha":      sha,
		"ref":                   "refs/heads/main",
		"ref_protected":         "false",
		"ref_type":              "branch",
		"repository":            "octo-org/octo-repo",
		"repository_id":         "456789",
		"repository_owner":      "octo-org",
		"repository_owner_id":   "123456",
		"repository_visibility": "private",
		"run_attempt":           "1",
		"run_id":                "10123456789",
		"run_number":            "42",
		"runner_environment":    "github-hosted",
		"sha":                   sha,
		"workflow":              "CI",
		"workflow_ref":          "octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main",
		"workflow_sha":          sha,
	}
	if diff := cmp.Diff(want, payload, cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "jti" })); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}

	// Changing one claim breaks the signature, as with GitHub's tokens.
	payload["repository_owner_id"] = "654321"
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	if _, err := verify(t, forged, jwks, iss.URL(), "https://github.com/octo-org"); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("forged token: %v, want %v", err, jwt.ErrTokenSignatureInvalid)
	}

	// Another issuer's key does not verify it.
	other := newIssuer(t, devissuer.Options{URL: iss.URL()})
	if _, err := verify(t, token, other.JWKS(), iss.URL(), "https://github.com/octo-org"); err == nil {
		t.Error("token verifies against another issuer's JWKS")
	}
}

func TestOptions(t *testing.T) {
	iss := newIssuer(t, devissuer.Options{Audience: "actions-authz", Lifetime: 10 * time.Minute})
	token, err := iss.Mint(map[string]any{"repository": "acme/widgets"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, token, iss.JWKS(), iss.URL(), "actions-authz"); err != nil {
		t.Fatal(err)
	}
	p := segment(t, token, 1)
	if got := num(t, p["exp"]) - num(t, p["iat"]); got != 600 {
		t.Errorf("exp − iat = %d, want 600", got)
	}
	if got := num(t, p["iat"]) - num(t, p["nbf"]); got != 300 {
		t.Errorf("iat − nbf = %d, want 300", got)
	}
}

func TestMintOverrides(t *testing.T) {
	iss := newIssuer(t, devissuer.Options{})
	jwks := iss.JWKS()
	iat := testNow.Unix()

	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   map[string]any // claims that must have these values
		absent []string
	}{
		{
			name:   "repository and tag",
			claims: map[string]any{"repository": "acme/widgets", "ref": "refs/tags/v1.2.3"},
			want: map[string]any{
				"repository":       "acme/widgets",
				"repository_owner": "acme",
				"aud":              "https://github.com/acme",
				"ref":              "refs/tags/v1.2.3",
				"ref_type":         "tag",
				"sub":              "repo:acme/widgets:ref:refs/tags/v1.2.3",
				"workflow_ref":     "acme/widgets/.github/workflows/ci.yml@refs/tags/v1.2.3",
				"job_workflow_ref": "acme/widgets/.github/workflows/ci.yml@refs/tags/v1.2.3",
			},
		},
		{
			name: "numbers and booleans become strings",
			claims: map[string]any{
				"run_id": int64(12345678901234567), "run_attempt": 3, "ref_protected": true,
				"repo_property_weight": 1.5, "repository_id": json.Number("922761846"),
			},
			want: map[string]any{
				"run_id": "12345678901234567", "run_attempt": "3", "ref_protected": "true",
				"repo_property_weight": "1.5", "repository_id": "922761846",
			},
		},
		{
			name:   "null removes",
			claims: map[string]any{"head_ref": nil, "base_ref": nil, "check_run_id": nil, "jti": nil, "nbf": nil},
			absent: []string{"head_ref", "base_ref", "check_run_id", "jti", "nbf"},
		},
		{
			name:   "environment",
			claims: map[string]any{"environment": "Production:V1"},
			want: map[string]any{
				"environment": "Production:V1",
				"sub":         "repo:octo-org/octo-repo:environment:Production%3AV1",
			},
		},
		{
			name: "pull request",
			claims: map[string]any{
				"event_name": "pull_request", "ref": "refs/pull/7/merge", "head_ref": "feature", "base_ref": "main",
			},
			want: map[string]any{"sub": "repo:octo-org/octo-repo:pull_request", "head_ref": "feature"},
		},
		{
			name: "explicit sub wins",
			claims: map[string]any{
				"sub":         "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main",
				"environment": "prod",
			},
			want: map[string]any{"sub": "repo:octo-org@123456/octo-repo@456789:ref:refs/heads/main"},
		},
		{
			name:   "sha",
			claims: map[string]any{"sha": "1111111111111111111111111111111111111111"},
			want: map[string]any{
				"sha":              "1111111111111111111111111111111111111111",
				"workflow_sha":     "1111111111111111111111111111111111111111",
				"job_workflow_sha": "1111111111111111111111111111111111111111",
			},
		},
		{
			name: "repository custom properties",
			claims: map[string]any{
				"repo_property_team":    "platform",
				"repo_property_regions": []any{"us-east-1", "eu-west-1"},
				"repo_property_tags":    []string{"a"},
				"repo_property_pci":     true,
			},
			want: map[string]any{
				"repo_property_team":    "platform",
				"repo_property_regions": "us-east-1,eu-west-1",
				"repo_property_tags":    "a",
				"repo_property_pci":     "true",
			},
		},
		{
			name:   "aud array",
			claims: map[string]any{"aud": []any{"a", "b"}},
			want:   map[string]any{"aud": []any{"a", "b"}},
		},
		{
			name:   "aud []string",
			claims: map[string]any{"aud": []string{"a"}},
			want:   map[string]any{"aud": []any{"a"}},
		},
		{
			name:   "lifetime in seconds",
			claims: map[string]any{"lifetime": 60},
			want:   map[string]any{"iat": json.Number(fmt.Sprint(iat)), "exp": json.Number(fmt.Sprint(iat + 60))},
		},
		{
			name:   "lifetime as a Duration",
			claims: map[string]any{"lifetime": 90 * time.Second},
			want:   map[string]any{"exp": json.Number(fmt.Sprint(iat + 90))},
		},
		{
			name:   "iat moves nbf and exp",
			claims: map[string]any{"iat": 1700000000},
			want: map[string]any{
				"iat": json.Number("1700000000"), "nbf": json.Number("1699999700"), "exp": json.Number("1700000300"),
			},
		},
		{
			name:   "exp as a time",
			claims: map[string]any{"exp": testNow.Add(-time.Minute)},
			want:   map[string]any{"exp": json.Number(fmt.Sprint(iat - 60))},
		},
		{
			name:   "issuer",
			claims: map[string]any{"iss": "https://token.actions.githubusercontent.com"},
			want:   map[string]any{"iss": "https://token.actions.githubusercontent.com"},
		},
		{
			name:   "raw JSON is verbatim",
			claims: map[string]any{"repository_id": json.RawMessage(`922761846`), "extra": json.RawMessage(`{"a":[1]}`)},
			want: map[string]any{
				"repository_id": json.Number("922761846"),
				"extra":         map[string]any{"a": []any{json.Number("1")}},
				"repository":    "octo-org/octo-repo",
			},
		},
		{
			name:   "unknown claims are kept",
			claims: map[string]any{"repo_property_tier": "gold", "oidc_sub": "x"},
			want:   map[string]any{"repo_property_tier": "gold", "oidc_sub": "x"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := fmt.Sprint(tc.claims)
			token, err := iss.Mint(tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			if after := fmt.Sprint(tc.claims); after != before {
				t.Errorf("Mint changed its argument from %s to %s", before, after)
			}
			if _, err := jwt.Parse(token, keyfunc(t, jwks), jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation()); err != nil {
				t.Errorf("signature: %v", err)
			}
			p := segment(t, token, 1)
			got := map[string]any{}
			for name := range tc.want {
				got[name] = p[name]
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			for _, name := range tc.absent {
				if v, ok := p[name]; ok {
					t.Errorf("claim %q = %v, want it removed", name, v)
				}
			}
		})
	}
}

func TestMintRefusesBadClaims(t *testing.T) {
	iss := newIssuer(t, devissuer.Options{})
	for _, c := range []map[string]any{
		{"aud": 5},
		{"aud": []any{"a", 1}},
		{"aud": map[string]any{}},
		{"repository": map[string]any{"name": "x"}},
		{"repository": []any{"a"}},
		{"exp": "soon"},
		{"iat": true},
		{"lifetime": 0},
		{"lifetime": -5},
		{"lifetime": "60"},
		{"lifetime": 1e12},
		{"lifetime": json.Number("abc")},
		{"lifetime": testNow},
		{"extra": json.RawMessage(`{`)},
		{"repo_property_regions": []any{"a", 1}},
		{"not_a_property": []any{"a"}},
	} {
		if token, err := iss.Mint(c); err == nil {
			t.Errorf("Mint(%v) = %.20s…, want an error", c, token)
		}
	}
}

func TestMintWithHeader(t *testing.T) {
	iss := newIssuer(t, devissuer.Options{})
	key := parseJWKS(t, iss.JWKS())[0]

	token, err := iss.MintWith(map[string]any{"kid": "some-other-kid", "x5t": nil, "alg": "none", "jku": "https://evil.example/jwks"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{
		"typ": "JWT", "alg": "none", "kid": "some-other-kid", "jku": "https://evil.example/jwks",
	}, segment(t, token, 0)); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	// The header lies; the token is still signed RS256 with the current key.
	if err := checkSignature(t, token, publicKey(t, key)); err != nil {
		t.Errorf("signature: %v", err)
	}
	if _, err := verify(t, token, iss.JWKS(), iss.URL(), "https://github.com/octo-org"); err == nil {
		t.Error("token with alg none and an unknown kid verifies")
	}

	// No header changes: the same as Mint.
	token, err = iss.MintWith(nil, map[string]any{"actor": "hubot"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := verify(t, token, iss.JWKS(), iss.URL(), "https://github.com/octo-org")
	if err != nil || c.Actor != "hubot" {
		t.Errorf("actor %q, err %v", c.Actor, err)
	}
}

func TestRotate(t *testing.T) {
	iss, _ := serve(t, devissuer.Options{}, "")
	aud := "https://github.com/octo-org"
	servedKids := func() []string {
		t.Helper()
		res, body := get(t, iss.URL()+"/.well-known/jwks")
		if res.StatusCode != http.StatusOK {
			t.Fatal(res.Status)
		}
		if !bytes.Equal(body, iss.JWKS()) {
			t.Errorf("served JWKS %s differs from JWKS() %s", body, iss.JWKS())
		}
		return kids(parseJWKS(t, body))
	}
	kidOf := func(token string) string { return segment(t, token, 0)["kid"].(string) }

	kid1 := servedKids()[0]
	old, err := iss.Mint(nil)
	if err != nil {
		t.Fatal(err)
	}

	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	got := servedKids()
	if len(got) != 2 || got[1] != kid1 || got[0] == kid1 {
		t.Fatalf("after Rotate the JWKS has kids %v, want [new %s]", got, kid1)
	}
	kid2 := got[0]
	for _, k := range parseJWKS(t, iss.JWKS()) {
		checkJWK(t, k)
	}
	if _, err := verify(t, old, iss.JWKS(), iss.URL(), aud); err != nil {
		t.Errorf("token from before the rotation: %v", err)
	}
	current, err := iss.Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(current) != kid2 {
		t.Errorf("new token has kid %s, want %s", kidOf(current), kid2)
	}
	if _, err := verify(t, current, iss.JWKS(), iss.URL(), aud); err != nil {
		t.Errorf("token after the rotation: %v", err)
	}

	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	got = servedKids()
	if len(got) != 3 || got[1] != kid2 || got[2] != kid1 {
		t.Fatalf("after a second Rotate the JWKS has kids %v, want [new %s %s]", got, kid2, kid1)
	}
	kid3 := got[0]

	iss.DropPrevious()
	if diff := cmp.Diff([]string{kid3}, servedKids()); diff != "" {
		t.Errorf("after DropPrevious (-want +got):\n%s", diff)
	}
	if _, err := verify(t, old, iss.JWKS(), iss.URL(), aud); err == nil {
		t.Error("token signed by a dropped key still verifies")
	}
	current, err = iss.Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, current, iss.JWKS(), iss.URL(), aud); err != nil || kidOf(current) != kid3 {
		t.Errorf("token after DropPrevious: kid %s, %v", kidOf(current), err)
	}
}

func TestJWKSIsACopy(t *testing.T) {
	iss := newIssuer(t, devissuer.Options{})
	b := iss.JWKS()
	want := string(b)
	clear(b)
	if got := string(iss.JWKS()); got != want {
		t.Errorf("changing the result of JWKS changed the issuer's JWKS to %q", got)
	}
}

func TestConcurrentMintAndRotate(t *testing.T) {
	iss, srv := serve(t, devissuer.Options{}, "")
	const workers, perWorker = 8, 10

	var wg sync.WaitGroup
	tokens := make([][]string, workers)
	errs := make(chan error, workers+1)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				var token string
				var err error
				if i%2 == 0 {
					token, err = iss.Mint(map[string]any{"run_attempt": w})
				} else {
					token, err = postRaw(srv, `{"run_attempt":`+fmt.Sprint(w)+`}`)
				}
				if err != nil {
					errs <- err
					return
				}
				tokens[w] = append(tokens[w], token)
			}
		})
	}
	wg.Go(func() {
		for range 2 {
			if err := iss.Rotate(); err != nil {
				errs <- err
				return
			}
			_ = iss.JWKS()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	jwks := iss.JWKS()
	if n := len(parseJWKS(t, jwks)); n != 3 {
		t.Errorf("JWKS has %d keys after two rotations, want 3", n)
	}
	seen := map[string]bool{}
	for w, ts := range tokens {
		for _, token := range ts {
			c, err := verify(t, token, jwks, iss.URL(), "https://github.com/octo-org")
			if err != nil {
				t.Fatal(err)
			}
			if c.RunAttempt != fmt.Sprint(w) {
				t.Errorf("run_attempt %q, want %d", c.RunAttempt, w)
			}
			if seen[c.ID] {
				t.Errorf("jti %s minted twice", c.ID)
			}
			seen[c.ID] = true
		}
	}
	if len(seen) != workers*perWorker {
		t.Errorf("%d distinct tokens, want %d", len(seen), workers*perWorker)
	}
}

// postRaw mints a token through the HTTP endpoint; it is safe to call from
// any goroutine.
func postRaw(srv *httptest.Server, body string) (string, error) {
	res, err := http.Post(srv.URL+"/token?format=raw", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(res.Body); err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /token: %s: %s", res.Status, b.String())
	}
	return b.String(), nil
}
