package claims

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerify(t *testing.T) {
	keys := testKeys()
	k1 := testKey{kid: "key-1", key: keys[0]}
	impostor := testKey{kid: "key-1", key: keys[1]} // same kid, another key
	other := testKey{kid: "other-1", key: keys[2], alg: "RS384"}

	gh := newFakeIssuer(t, k1)
	second := newFakeIssuer(t, other)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, func(c *Config) {
		c.Issuers[1].Algorithms = []string{"RS256", "RS384"}
	}, gh, second)
	ctx := t.Context()
	for _, f := range []*fakeIssuer{gh, second} {
		if err := v.Refresh(ctx, f.URL()); err != nil {
			t.Fatalf("Refresh(%s): %v", f.URL(), err)
		}
	}

	now := clock.Now()
	iss := gh.URL()
	good := idClaims(iss, now)
	pub, err := x509.MarshalPKIXPublicKey(&k1.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	valid := sign(t, k1, good)
	tampered := func() string {
		p := strings.Split(valid, ".")
		body, _ := base64.RawURLEncoding.DecodeString(p[1])
		body = []byte(strings.Replace(string(body), `"1234567"`, `"7654321"`, 1))
		p[1] = base64.RawURLEncoding.EncodeToString(body)
		return strings.Join(p, ".")
	}()

	tests := []struct {
		name  string
		token string
		want  Reason // "" means accepted
	}{
		{"valid", valid, ""},
		{"aud array holding the audience", sign(t, k1, with(good, "aud", []string{"other", testAudience})), ""},
		{"nbf in the future within leeway", sign(t, k1, with(good, "nbf", now.Add(30*time.Second).Unix())), ""},
		{"exp just past within leeway", sign(t, k1, with(good, "exp", now.Add(-30*time.Second).Unix())), ""},
		{"iat in the future within leeway", sign(t, k1, with(good, "iat", now.Add(30*time.Second).Unix())), ""},
		{"no nbf", sign(t, k1, with(good, "nbf", nil)), ""},
		{"RS384 for an issuer configured with it", mint(t, jwt.SigningMethodRS384, other.key, map[string]any{"kid": other.kid}, idClaims(second.URL(), now)), ""},

		{"too large", sign(t, k1, with(good, "workflow", strings.Repeat("x", 9000))), ReasonTooLarge},
		{"empty", "", ReasonMalformed},
		{"garbage", "not a token", ReasonMalformed},
		{"three garbage segments", "a.b.c", ReasonMalformed},
		{"four segments", valid + ".x", ReasonMalformed},
		{"claims not JSON", strings.Split(valid, ".")[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + strings.Split(valid, ".")[2], ReasonMalformed},
		{"claim of the wrong type", sign(t, k1, with(good, "repository", 42)), ReasonMalformed},
		{"exp of the wrong type", sign(t, k1, with(good, "exp", "tomorrow")), ReasonMalformed},
		{"no alg header", mint(t, jwt.SigningMethodRS256, k1.key, map[string]any{"kid": k1.kid, "alg": nil}, good), ReasonMalformed},
		{"crit header", mint(t, jwt.SigningMethodRS256, k1.key, map[string]any{"kid": k1.kid, "crit": []string{"exp"}}, good), ReasonMalformed},

		{"alg none", mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": k1.kid}, good), ReasonAlgorithm},
		{"HS256 keyed with the public key PEM", mint(t, jwt.SigningMethodHS256, pubPEM, map[string]any{"kid": k1.kid}, good), ReasonAlgorithm},
		{"RS384 not configured for this issuer", mint(t, jwt.SigningMethodRS384, k1.key, map[string]any{"kid": k1.kid}, good), ReasonAlgorithm},
		{"RS512 configured for no issuer", mint(t, jwt.SigningMethodRS512, k1.key, map[string]any{"kid": k1.kid}, good), ReasonAlgorithm},
		{"PS256", mint(t, jwt.SigningMethodPS256, k1.key, map[string]any{"kid": k1.kid}, good), ReasonAlgorithm},
		{"RS256 with a key published for RS384", sign(t, other, idClaims(second.URL(), now)), ReasonAlgorithm},
		{"alg unknown to jwt", mint(t, jwt.SigningMethodRS256, k1.key, map[string]any{"kid": k1.kid, "alg": "XS999"}, good), ReasonAlgorithm},

		{"no kid", mint(t, jwt.SigningMethodRS256, k1.key, nil, good), ReasonMissingKID},
		{"empty kid", mint(t, jwt.SigningMethodRS256, k1.key, map[string]any{"kid": ""}, good), ReasonMissingKID},
		{"numeric kid", mint(t, jwt.SigningMethodRS256, k1.key, map[string]any{"kid": 1}, good), ReasonMissingKID},

		{"signed by another key with the same kid", sign(t, impostor, good), ReasonSignature},
		{"payload changed after signing", tampered, ReasonSignature},

		{"expired", sign(t, k1, with(good, "exp", now.Add(-2*time.Minute).Unix())), ReasonExpired},
		{"nbf in the future beyond leeway", sign(t, k1, with(good, "nbf", now.Add(2*time.Minute).Unix())), ReasonNotYetValid},
		{"iat in the future beyond leeway", sign(t, k1, with(good, "iat", now.Add(2*time.Minute).Unix())), ReasonIssuedInFuture},
		{"no exp", sign(t, k1, with(good, "exp", nil)), ReasonMissingClaim},
		{"no iat", sign(t, k1, with(good, "iat", nil)), ReasonMissingClaim},

		{"untrusted issuer", sign(t, k1, with(good, "iss", "https://token.actions.githubusercontent.com")), ReasonIssuer},
		{"issuer with a trailing slash", sign(t, k1, with(good, "iss", iss+"/")), ReasonIssuer},
		{"issuer with a suffix", sign(t, k1, with(good, "iss", iss+".evil.example")), ReasonIssuer},
		{"issuer with a path", sign(t, k1, with(good, "iss", iss+"/enterprise")), ReasonIssuer},
		{"issuer in other case", sign(t, k1, with(good, "iss", strings.ToUpper(iss))), ReasonIssuer},
		{"no issuer", sign(t, k1, with(good, "iss", nil)), ReasonMissingClaim},
		{"another trusted issuer's key", sign(t, k1, idClaims(second.URL(), now)), ReasonUnknownKey},

		{"wrong audience", sign(t, k1, with(good, "aud", "https://github.com/evil-org")), ReasonAudience},
		{"audience array without ours", sign(t, k1, with(good, "aud", []string{"a", "b"})), ReasonAudience},
		{"audience differing by a slash", sign(t, k1, with(good, "aud", testAudience+"/")), ReasonAudience},
		{"no audience", sign(t, k1, with(good, "aud", nil)), ReasonAudience},

		{"no sub", sign(t, k1, with(good, "sub", nil)), ReasonMissingClaim},
		{"empty sub", sign(t, k1, with(good, "sub", "")), ReasonMissingClaim},
		{"no repository", sign(t, k1, with(good, "repository", nil)), ReasonNotIDToken},
		{"no repository_owner_id", sign(t, k1, with(good, "repository_owner_id", nil)), ReasonNotIDToken},
		{"runner token", sign(t, k1, jwt.MapClaims{
			"iss": iss, "aud": testAudience, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(6 * time.Hour).Unix(),
			"oidc_sub":   "repo:octo-org/octo-repo:ref:refs/heads/main",
			"oidc_extra": `{"repository":"octo-org/octo-repo","repository_owner_id":"1234567"}`,
			"scp":        "Actions.GenericRead:00000000-0000-0000-0000-000000000000 generate_id_token:x:y",
		}), ReasonNotIDToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(ctx, tc.token)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v, want accepted", err)
				}
				if c.Repository != "octo-org/octo-repo" || c.RepositoryOwnerID != "1234567" || c.Subject == "" {
					t.Errorf("claims not decoded: %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token, want %s", tc.want)
			}
			if c != nil {
				t.Errorf("Verify returned claims with an error")
			}
			if got := ReasonOf(err); got != tc.want {
				t.Errorf("reason = %q (%v), want %q", got, err, tc.want)
			}
			if !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrKeysUnavailable) {
				t.Errorf("error %v: want ErrInvalidToken only", err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Description == "" {
				t.Fatalf("error %v is not an *Error with a description", err)
			}
			if tc.token != "" && (strings.Contains(e.Description, tc.token) || strings.Contains(err.Error(), tc.token)) {
				t.Errorf("error text contains the token")
			}
		})
	}
}

// TestVerifyIgnoresKeyURLHeaders checks that jku, x5u and jwk headers, which
// name a key the attacker controls, are never followed or used.
func TestVerifyIgnoresKeyURLHeaders(t *testing.T) {
	keys := testKeys()
	k1 := testKey{kid: "key-1", key: keys[0]}
	attacker := testKey{kid: "attacker", key: keys[1]}

	var attackerHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		w.Write(jwksJSON(t, attacker))
	}))
	defer evil.Close()

	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	tok := mint(t, jwt.SigningMethodRS256, attacker.key, map[string]any{
		"kid": attacker.kid,
		"jku": evil.URL,
		"x5u": evil.URL,
		"jwk": jwkJSON(attacker),
	}, idClaims(gh.URL(), clock.Now()))
	_, err := v.Verify(t.Context(), tok)
	if got := ReasonOf(err); got != ReasonUnknownKey {
		t.Errorf("reason = %q (%v), want %q", got, err, ReasonUnknownKey)
	}
	if n := attackerHits.Load(); n != 0 {
		t.Errorf("the jku/x5u server was fetched %d times", n)
	}
}

// TestVerifyLeeway checks the configured leeway, and that a negative one
// means none.
func TestVerifyLeeway(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	for _, tc := range []struct {
		leeway time.Duration
		skew   time.Duration // exp this far in the past
		want   Reason
	}{
		{0, 59 * time.Second, ""}, // default 60s
		{0, 61 * time.Second, ReasonExpired},
		{5 * time.Minute, 4 * time.Minute, ""},
		{-1, time.Second, ReasonExpired},
	} {
		clock := newFakeClock()
		v := newTestVerifier(t, clock, func(c *Config) { c.Leeway = tc.leeway }, gh)
		if err := v.Refresh(t.Context(), gh.URL()); err != nil {
			t.Fatal(err)
		}
		now := clock.Now()
		tok := sign(t, k1, with(idClaims(gh.URL(), now), "iat", now.Add(-5*time.Minute).Unix(), "exp", now.Add(-tc.skew).Unix()))
		_, err := v.Verify(t.Context(), tok)
		if got := ReasonOf(err); got != tc.want {
			t.Errorf("leeway %s, exp %s ago: reason %q (%v), want %q", tc.leeway, tc.skew, got, err, tc.want)
		}
	}
}

func TestVerifyMaxBytes(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	tok := sign(t, k1, idClaims(gh.URL(), clock.Now()))
	for _, tc := range []struct {
		max  int
		want Reason
	}{
		{len(tok), ""},
		{len(tok) - 1, ReasonTooLarge},
	} {
		v := newTestVerifier(t, clock, func(c *Config) { c.MaxBytes = tc.max }, gh)
		if err := v.Refresh(t.Context(), gh.URL()); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), tok); ReasonOf(err) != tc.want {
			t.Errorf("MaxBytes %d, token %d bytes: %v, want %q", tc.max, len(tok), err, tc.want)
		}
	}
}

// TestVerifySum checks that VerifySum answers as Verify does, cached or
// not, and returns the SHA-256 of the token whatever the outcome.
func TestVerifySum(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	good := sign(t, k1, idClaims(gh.URL(), clock.Now()))
	expired := sign(t, k1, with(idClaims(gh.URL(), clock.Now()), "exp", clock.Now().Add(-time.Hour).Unix()))
	for _, max := range []int{0, -1} {
		v := newTestVerifier(t, clock, func(c *Config) { c.CacheMaxEntries = max; c.MaxBytes = len(good) }, gh)
		if err := v.Refresh(t.Context(), gh.URL()); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			raw  string
			want Reason
		}{
			{good, ""}, {good, ""}, // the second from the cache, when there is one
			{expired, ReasonExpired},
			{good + "x", ReasonTooLarge},
			{"a b", ReasonMalformed},
		} {
			want, wantErr := v.Verify(t.Context(), tc.raw)
			c, sum, err := v.VerifySum(t.Context(), tc.raw)
			if ReasonOf(err) != tc.want || ReasonOf(wantErr) != tc.want {
				t.Errorf("cache %d: VerifySum: %v, Verify: %v, want %q", max, err, wantErr, tc.want)
			}
			if (c == nil) != (want == nil) || c != nil && c.Subject != want.Subject {
				t.Errorf("cache %d: VerifySum claims %+v, Verify claims %+v", max, c, want)
			}
			if sum != sha256.Sum256([]byte(tc.raw)) {
				t.Errorf("cache %d: VerifySum digest %x is not the token's SHA-256", max, sum)
			}
		}
	}
}

// BenchmarkVerify verifies one token over and over: "cached" answers from
// the verified-token cache after the first call, "uncached" checks the
// signature every time.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		max  int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			k1 := testKey{kid: "key-1", key: testKeys()[0]}
			gh := newFakeIssuer(b, k1)
			clock := newFakeClock()
			v := newTestVerifier(b, clock, func(c *Config) { c.Logger = nil; c.CacheMaxEntries = bc.max }, gh)
			if err := v.Refresh(context.Background(), gh.URL()); err != nil {
				b.Fatal(err)
			}
			tok := sign(b, k1, idClaims(gh.URL(), clock.Now()))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
