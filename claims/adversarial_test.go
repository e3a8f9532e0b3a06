package claims

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/claims/internal/keyset"
)

// This file is the adversarial token suite: every token is assembled by hand
// from base64url pieces, so that it can be wrong in ways a JWT library would
// never produce. Cases TestVerify already covers with library-minted tokens
// (no kid, numeric kid, crit ["exp"], no alg, an alg jwt does not know, RS384
// not configured, expired, no exp, no iat, exp as a string, wrong issuers and
// audiences, no sub, the runner token) are not repeated here.

// object is a JSON object written member by member, in order, so that a test
// can repeat a key or put any raw JSON in a value.
type object []member

type member struct{ key, raw string }

// set replaces the value of key, or appends it.
func (o object) set(key string, raw string) object {
	out := append(object(nil), o...)
	for i, m := range out {
		if m.key == key {
			out[i].raw = raw
			return out
		}
	}
	return append(out, member{key, raw})
}

// add appends key even if it is already there.
func (o object) add(key, raw string) object {
	return append(append(object(nil), o...), member{key, raw})
}

// del removes key.
func (o object) del(key string) object {
	var out object
	for _, m := range o {
		if m.key != key {
			out = append(out, m)
		}
	}
	return out
}

func (o object) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(m.key))
		b.WriteByte(':')
		b.WriteString(m.raw)
	}
	b.WriteByte('}')
	return b.String()
}

// q is a JSON string literal.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signer returns the signature of a JWS signing input.
type signer func(input string) []byte

func rsaPKCS1(t testing.TB, key *rsa.PrivateKey, h crypto.Hash) signer {
	return func(input string) []byte {
		d := h.New()
		d.Write([]byte(input))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, d.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

func rsaPSS(t testing.TB, key *rsa.PrivateKey) signer {
	return func(input string) []byte {
		d := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, d[:], nil)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

func ecdsaP256(t testing.TB, key *ecdsa.PrivateKey) signer {
	return func(input string) []byte {
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
}

func hmacWith(h func() hash.Hash, secret []byte) signer {
	return func(input string) []byte {
		m := hmac.New(h, secret)
		m.Write([]byte(input))
		return m.Sum(nil)
	}
}

// jws assembles a compact JWS from a raw header and payload.
func jws(header, payload string, sign signer) string {
	input := b64url(header) + "." + b64url(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

func TestVerifyAdversarial(t *testing.T) {
	keys := testKeys()
	k1 := testKey{kid: "key-1", key: keys[0]}
	attacker := keys[1]
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	var attackerHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		w.Write(jwksJSON(t, testKey{kid: k1.kid, key: attacker}))
	}))
	defer evil.Close()

	gh := newFakeIssuer(t, k1)
	clock := newFakeClock()
	v := newTestVerifier(t, clock, nil, gh)
	big := newTestVerifier(t, clock, func(c *Config) { c.MaxBytes = 1 << 20 }, gh)
	for _, v := range []*Verifier{v, big} {
		if err := v.Refresh(t.Context(), gh.URL()); err != nil {
			t.Fatal(err)
		}
	}
	fetchesBefore := gh.jwksFetches.Load()

	now := clock.Now().Unix()
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	hdr := object{{"alg", q("RS256")}, {"kid", q(k1.kid)}, {"typ", q("JWT")}}
	pay := object{
		{"iss", q(gh.URL())}, {"aud", q(testAudience)},
		{"sub", q("repo:octo-org/octo-repo:ref:refs/heads/main")},
		{"jti", q("7d1e0a52-2f43-4a55-9d8e-0d4f3c0b9a11")},
		{"iat", num(now)}, {"nbf", num(now - 300)}, {"exp", num(now + 300)},
		{"repository", q("octo-org/octo-repo")}, {"repository_id", q("7654321")},
		{"repository_owner", q("octo-org")}, {"repository_owner_id", q("1234567")},
		{"ref", q("refs/heads/main")},
	}
	rs256 := rsaPKCS1(t, k1.key, crypto.SHA256)
	good := jws(hdr.String(), pay.String(), rs256)
	parts := strings.Split(good, ".")

	// The public key as an attacker would use it for an HMAC secret.
	der, err := x509.MarshalPKIXPublicKey(&k1.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkBytes, _ := json.Marshal(jwkJSON(k1))
	attackerJWK, _ := json.Marshal(jwkJSON(testKey{kid: k1.kid, key: attacker}))
	attackerCert := selfSigned(t, attacker)

	// deep nests n arrays.
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

	tests := []struct {
		name   string
		token  string
		v      *Verifier // nil means v
		want   Reason    // "" means accepted
		reason string    // why this outcome is the right one
	}{
		{name: "hand-built valid token", token: good, want: ""},

		// Header tricks: keys named by the token itself are never used.
		{name: "jwk: attacker key embedded under our kid", token: jws(hdr.set("jwk", string(attackerJWK)).String(), pay.String(), rsaPKCS1(t, attacker, crypto.SHA256)), want: ReasonSignature,
			reason: "the embedded key is ignored; the kid selects our key, which the signature fails"},
		{name: "jku: attacker key set under our kid", token: jws(hdr.set("jku", q(evil.URL)).String(), pay.String(), rsaPKCS1(t, attacker, crypto.SHA256)), want: ReasonSignature},
		{name: "x5u: attacker certificate URL", token: jws(hdr.set("x5u", q(evil.URL)).String(), pay.String(), rsaPKCS1(t, attacker, crypto.SHA256)), want: ReasonSignature},
		{name: "x5c: attacker certificate chain", token: jws(hdr.set("x5c", "["+q(base64.StdEncoding.EncodeToString(attackerCert))+"]").String(), pay.String(), rsaPKCS1(t, attacker, crypto.SHA256)), want: ReasonSignature},
		{name: "jku on a token our key signed", token: jws(hdr.set("jku", q(evil.URL)).String(), pay.String(), rs256), want: "",
			reason: "jku is ignored, not refused: the token is what the issuer signed"},
		{name: "crit empty", token: jws(hdr.set("crit", "[]").String(), pay.String(), rs256), want: ReasonMalformed},
		{name: "crit b64 false (unencoded payload)", token: jws(hdr.set("b64", "false").set("crit", `["b64"]`).String(), pay.String(), rs256), want: ReasonMalformed},
		{name: "kid with a path", token: jws(hdr.set("kid", q("../../../../etc/passwd")).String(), pay.String(), rs256), want: ReasonUnknownKey,
			reason: "a kid is an opaque map key, never a path, URL or query"},
		{name: "kid with SQL", token: jws(hdr.set("kid", q("key-1' OR '1'='1")).String(), pay.String(), rs256), want: ReasonUnknownKey},
		{name: "kid with a NUL after ours", token: jws(hdr.set("kid", q("key-1\x00")).String(), pay.String(), rs256), want: ReasonUnknownKey},
		{name: "kid in other case", token: jws(hdr.set("kid", q("KEY-1")).String(), pay.String(), rs256), want: ReasonUnknownKey},
		{name: "kid of 5000 bytes", token: jws(hdr.set("kid", q(strings.Repeat("k", 5000))).String(), pay.String(), rs256), want: ReasonUnknownKey,
			reason: "longer than any key's kid: unknown without a lookup or refresh"},
		{name: "typ jwt in lower case", token: jws(hdr.set("typ", q("jwt")).String(), pay.String(), rs256), want: ""},
		{name: "typ application/jwt", token: jws(hdr.set("typ", q("application/jwt")).String(), pay.String(), rs256), want: ""},
		{name: "no typ", token: jws(hdr.del("typ").String(), pay.String(), rs256), want: ""},
		{name: "typ at+jwt", token: jws(hdr.set("typ", q("at+jwt")).String(), pay.String(), rs256), want: ReasonMalformed,
			reason: "explicitly typed as another kind of token (RFC 8725 section 3.11)"},
		{name: "typ JWE", token: jws(hdr.set("typ", q("JWE")).String(), pay.String(), rs256), want: ReasonMalformed},
		{name: "typ empty", token: jws(hdr.set("typ", q("")).String(), pay.String(), rs256), want: ReasonMalformed},
		{name: "typ a number", token: jws(hdr.set("typ", "1").String(), pay.String(), rs256), want: ReasonMalformed},
		{name: "cty JWT (nested token)", token: jws(hdr.set("cty", q("JWT")).String(), pay.String(), rs256), want: ReasonMalformed},

		// Algorithm tricks: only the configured RS256 verifies, whatever the header says.
		{name: "alg none, no signature", token: b64url(hdr.set("alg", q("none")).String()) + "." + b64url(pay.String()) + ".", want: ReasonAlgorithm},
		{name: "alg None", token: b64url(hdr.set("alg", q("None")).String()) + "." + b64url(pay.String()) + ".", want: ReasonAlgorithm},
		{name: "alg NONE with our real signature", token: b64url(hdr.set("alg", q("NONE")).String()) + "." + parts[1] + "." + parts[2], want: ReasonAlgorithm},
		{name: "HS256 keyed with the public key PEM", token: jws(hdr.set("alg", q("HS256")).String(), pay.String(), hmacWith(sha256.New, pubPEM)), want: ReasonAlgorithm},
		{name: "HS384 keyed with the public key DER", token: jws(hdr.set("alg", q("HS384")).String(), pay.String(), hmacWith(sha512.New384, der)), want: ReasonAlgorithm},
		{name: "HS512 keyed with the JWK", token: jws(hdr.set("alg", q("HS512")).String(), pay.String(), hmacWith(sha512.New, jwkBytes)), want: ReasonAlgorithm},
		{name: "HS256 keyed with the modulus", token: jws(hdr.set("alg", q("HS256")).String(), pay.String(), hmacWith(sha256.New, k1.key.N.Bytes())), want: ReasonAlgorithm},
		{name: "PS256 with our RSA key", token: jws(hdr.set("alg", q("PS256")).String(), pay.String(), rsaPSS(t, k1.key)), want: ReasonAlgorithm},
		{name: "ES256", token: jws(hdr.set("alg", q("ES256")).String(), pay.String(), ecdsaP256(t, ecKey)), want: ReasonAlgorithm},
		{name: "RS512 with our RSA key", token: jws(hdr.set("alg", q("RS512")).String(), pay.String(), rsaPKCS1(t, k1.key, crypto.SHA512)), want: ReasonAlgorithm},
		{name: "RS256 header over an RS512 signature", token: jws(hdr.String(), pay.String(), rsaPKCS1(t, k1.key, crypto.SHA512)), want: ReasonSignature},
		{name: "alg with a trailing space", token: jws(hdr.set("alg", q("RS256 ")).String(), pay.String(), rs256), want: ReasonAlgorithm},
		{name: "alg as a list", token: jws(hdr.set("alg", `["RS256"]`).String(), pay.String(), rs256), want: ReasonAlgorithm},

		// Encoding tricks: one token, one spelling.
		{name: "padded header", token: padded(hdr.String()) + "." + parts[1] + "." + parts[2], want: ReasonMalformed},
		{name: "padded payload", token: parts[0] + "." + padded(pay.String()) + "." + parts[2], want: ReasonMalformed},
		{name: "padded signature", token: parts[0] + "." + parts[1] + "." + base64.URLEncoding.EncodeToString(mustDecode(t, parts[2])) + "==", want: ReasonMalformed},
		{name: "standard base64 signature", token: parts[0] + "." + parts[1] + "." + base64.RawStdEncoding.EncodeToString(mustDecode(t, parts[2])), want: ReasonMalformed},
		{name: "standard base64 payload", token: parts[0] + "." + base64.StdEncoding.EncodeToString([]byte(pay.set("x", q("??>>??>>")).String())) + "." + parts[2], want: ReasonMalformed},
		{name: "leading space", token: " " + good, want: ReasonMalformed},
		{name: "trailing newline", token: good + "\n", want: ReasonMalformed,
			reason: "encoding/base64 skips newlines; Verify refuses any byte outside base64url and dots first"},
		{name: "newline inside the payload", token: parts[0] + "." + parts[1][:20] + "\r\n" + parts[1][20:] + "." + parts[2], want: ReasonMalformed},
		{name: "space after a dot", token: parts[0] + ". " + parts[1] + "." + parts[2], want: ReasonMalformed},
		{name: "tab inside the signature", token: parts[0] + "." + parts[1] + "." + parts[2][:10] + "\t" + parts[2][10:], want: ReasonMalformed},
		{name: "trailing dot", token: good + ".", want: ReasonMalformed},
		{name: "two segments", token: parts[0] + "." + parts[1], want: ReasonMalformed},
		{name: "empty segments", token: "..", want: ReasonMalformed},
		{name: "JWE with five parts", token: b64url(`{"alg":"RSA-OAEP","enc":"A256GCM","kid":"key-1"}`) + "." + b64url("encrypted-key") + "." + b64url("iv") + "." + b64url("ciphertext") + "." + b64url("tag"), want: ReasonMalformed},
		{name: "whitespace inside the JSON", token: jws("{ \"alg\" : \"RS256\" ,\n \"kid\" : \"key-1\" }", pay.String(), rs256), want: "",
			reason: "JSON whitespace is JSON; the signature covers it"},

		// Claim tricks.
		{name: "aud array with ours among others", token: jws(hdr.String(), pay.set("aud", `["https://github.com/evil",`+q(testAudience)+`,"x"]`).String(), rs256), want: ""},
		{name: "aud a number", token: jws(hdr.String(), pay.set("aud", "42").String(), rs256), want: ReasonMalformed},
		{name: "aud array holding a number", token: jws(hdr.String(), pay.set("aud", `[`+q(testAudience)+`,42]`).String(), rs256), want: ReasonMalformed},
		{name: "aud an object", token: jws(hdr.String(), pay.set("aud", `{"aud":`+q(testAudience)+`}`).String(), rs256), want: ReasonMalformed},
		{name: "aud empty array", token: jws(hdr.String(), pay.set("aud", "[]").String(), rs256), want: ReasonAudience},
		{name: "aud null", token: jws(hdr.String(), pay.set("aud", "null").String(), rs256), want: ReasonMalformed,
			reason: "an explicit null is the wrong type, not an absent claim (TestVerifyRegisteredClaimTypes)"},
		{name: "exp a float", token: jws(hdr.String(), pay.set("exp", num(now+300)+".75").String(), rs256), want: ""},
		{name: "exp a numeric string", token: jws(hdr.String(), pay.set("exp", q(num(now+300))).String(), rs256), want: ReasonMalformed,
			reason: "golang-jwt would read a quoted number through json.Number; RFC 7519 says a NumericDate is a JSON number"},
		{name: "exp a numeric string, expired", token: jws(hdr.String(), pay.set("exp", q(num(now-3600))).String(), rs256), want: ReasonMalformed},
		{name: "exp a boolean", token: jws(hdr.String(), pay.set("exp", "true").String(), rs256), want: ReasonMalformed},
		{name: "exp in ten years", token: jws(hdr.String(), pay.set("exp", num(now+10*365*86400)).String(), rs256), want: ReasonLifetime,
			reason: "a GitHub ID token lives five minutes; MaxLifetime (1h) refuses long-lived tokens"},
		{name: "exp 1e300", token: jws(hdr.String(), pay.set("exp", "1e300").String(), rs256), want: ReasonExpired,
			reason: "beyond int64 seconds: never read as far future"},
		{name: "exp negative", token: jws(hdr.String(), pay.set("exp", "-1").String(), rs256), want: ReasonExpired},
		{name: "iat in the future", token: jws(hdr.String(), pay.set("iat", num(now+600)).set("exp", num(now+900)).String(), rs256), want: ReasonIssuedInFuture},
		{name: "iat a non-numeric string", token: jws(hdr.String(), pay.set("iat", q("now")).String(), rs256), want: ReasonMalformed},
		{name: "nbf missing", token: jws(hdr.String(), pay.del("nbf").String(), rs256), want: "",
			reason: "nbf is optional in JWT; exp and iat are required"},
		{name: "duplicate claim, last one ours", token: jws(hdr.String(), pay.set("repository_owner_id", q("999")).add("repository_owner_id", q("1234567")).String(), rs256), want: "",
			reason: "encoding/json keeps the last; only the key holder can sign such a payload, and GitHub never does"},
		{name: "duplicate alg, last one RS256", token: jws(`{"alg":"none","alg":"RS256","kid":"key-1"}`, pay.String(), rs256), want: ""},
		{name: "duplicate alg, last one none", token: b64url(`{"alg":"RS256","kid":"key-1","alg":"none"}`) + "." + parts[1] + ".", want: ReasonAlgorithm},
		{name: "duplicate claim, unsigned", token: b64url(hdr.String()) + "." + b64url(pay.add("repository_owner_id", q("999")).String()) + "." + parts[2], want: ReasonSignature},
		{name: "repository_owner_id a number", token: jws(hdr.String(), pay.set("repository_owner_id", "1234567").String(), rs256), want: ReasonMalformed,
			reason: "GitHub's claims are strings; a number is not read as one"},
		{name: "ref_protected a boolean", token: jws(hdr.String(), pay.set("ref_protected", "true").String(), rs256), want: ReasonMalformed},
		{name: "sub an array", token: jws(hdr.String(), pay.set("sub", `["repo:octo-org/octo-repo"]`).String(), rs256), want: ReasonMalformed},
		{name: "repository null", token: jws(hdr.String(), pay.set("repository", "null").String(), rs256), want: ReasonNotIDToken},
		{name: "repository with a NUL", token: jws(hdr.String(), pay.set("repository", q("octo-org/octo-repo\x00evil")).String(), rs256), want: ReasonMalformed,
			reason: "no claim may hold a control character: any claim may become an upstream header value"},
		{name: "ref with a newline", token: jws(hdr.String(), pay.set("ref", q("refs/heads/main\r\nx-github-repository: evil/repo")).String(), rs256), want: ReasonMalformed},
		{name: "workflow with a tab", token: jws(hdr.String(), pay.set("workflow", q("build\tand test")).String(), rs256), want: "",
			reason: "a tab is allowed in a header value"},
		{name: "raw control character in the JSON", token: jws(hdr.String(), strings.Replace(pay.String(), "octo-org/octo-repo", "octo-org/octo\x01repo", 1), rs256), want: ReasonMalformed},

		// Size tricks.
		{name: "huge header", token: jws(hdr.set("x", q(strings.Repeat("h", 9000))).String(), pay.String(), rs256), want: ReasonTooLarge},
		{name: "huge payload", token: jws(hdr.String(), pay.set("workflow", q(strings.Repeat("w", 9000))).String(), rs256), want: ReasonTooLarge},
		{name: "huge payload under a raised max_bytes", v: big, token: jws(hdr.String(), pay.set("workflow", q(strings.Repeat("w", 500_000))).String(), rs256), want: ""},
		{name: "deep JSON in an unknown claim", token: jws(hdr.String(), pay.set("x", deep(2000)).String(), rs256), want: "",
			reason: "unknown claims are skipped; the size cap bounds the depth"},
		{name: "deep JSON in the header", token: jws(hdr.set("x", deep(2000)).String(), pay.String(), rs256), want: ""},
		{name: "JSON deeper than encoding/json allows", v: big, token: jws(hdr.String(), pay.set("x", deep(10001)).String(), rs256), want: ReasonMalformed},
		{name: "deep JSON in a known claim", token: jws(hdr.String(), pay.set("ref", deep(2000)).String(), rs256), want: ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ver := v
			if tc.v != nil {
				ver = tc.v
			}
			c, err := ver.Verify(t.Context(), tc.token)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v, want accepted (%s)", err, tc.reason)
				}
				if c.RepositoryOwnerID != "1234567" || c.Repository != "octo-org/octo-repo" {
					t.Errorf("accepted claims: owner %q repository %q", c.RepositoryOwnerID, c.Repository)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token, want %s (%s)", tc.want, tc.reason)
			}
			if c != nil {
				t.Error("Verify returned claims with an error")
			}
			if got := ReasonOf(err); got != tc.want {
				t.Errorf("reason = %q (%v), want %q (%s)", got, err, tc.want, tc.reason)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %v does not wrap ErrInvalidToken", err)
			}
		})
	}

	if n := attackerHits.Load(); n != 0 {
		t.Errorf("the jku/x5u server was fetched %d times", n)
	}
	// Every unknown kid above arrived within RefreshMinInterval of the
	// others: together they cost the issuer at most one fetch.
	if extra := gh.jwksFetches.Load() - fetchesBefore; extra > 1 {
		t.Errorf("unknown kids caused %d key set fetches, want at most 1", extra)
	}
}

// TestVerifyMaxLifetime checks the bound on exp − iat and its configuration.
func TestVerifyMaxLifetime(t *testing.T) {
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	gh := newFakeIssuer(t, k1)
	for _, tc := range []struct {
		max      time.Duration
		lifetime time.Duration
		want     Reason
	}{
		{0, 5 * time.Minute, ""},
		{0, time.Hour, ""},
		{0, time.Hour + time.Second, ReasonLifetime},
		{10 * time.Minute, 11 * time.Minute, ReasonLifetime},
		{24 * time.Hour, 6 * time.Hour, ""},
	} {
		clock := newFakeClock()
		v := newTestVerifier(t, clock, func(c *Config) { c.MaxLifetime = tc.max }, gh)
		if err := v.Refresh(t.Context(), gh.URL()); err != nil {
			t.Fatal(err)
		}
		now := clock.Now()
		tok := sign(t, k1, with(idClaims(gh.URL(), now), "exp", now.Add(tc.lifetime).Unix()))
		if _, err := v.Verify(t.Context(), tok); ReasonOf(err) != tc.want {
			t.Errorf("MaxLifetime %s, lifetime %s: %v, want %q", tc.max, tc.lifetime, err, tc.want)
		}
	}
	if _, err := NewVerifier(Config{Issuers: []IssuerConfig{{URL: gh.URL()}}, Audiences: []string{"a"}, MaxLifetime: -1}); err == nil {
		t.Error("a negative MaxLifetime was accepted")
	}
}

// TestKeySetSkipsLongKIDs: a key whose kid no token may name is skipped.
func TestKeySetSkipsLongKIDs(t *testing.T) {
	keys := testKeys()
	long := testKey{kid: strings.Repeat("k", keyset.MaxKIDBytes+1), key: keys[1]}
	gh := newFakeIssuer(t, testKey{kid: "key-1", key: keys[0]}, long)
	v := newTestVerifier(t, newFakeClock(), nil, gh)
	if err := v.Refresh(t.Context(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	if n := v.issuers[gh.URL()].Count(); n != 1 {
		t.Errorf("%d keys stored, want 1 (the long kid skipped)", n)
	}
}

// selfSigned returns a DER certificate for key, as an attacker would put in
// an x5c header.
func selfSigned(t testing.TB, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "token.actions.githubusercontent.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// padded encodes s in base64url with "=" padding, adding spaces to the
// JSON until padding is needed.
func padded(s string) string {
	for len(s)%3 == 0 {
		s += " "
	}
	return base64.URLEncoding.EncodeToString([]byte(s))
}

func mustDecode(t testing.TB, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(fmt.Errorf("decoding %q: %w", seg, err))
	}
	return b
}
