package claims

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzVerify gives Verify arbitrary strings, with a Verifier over a static
// key set (jwks_file). Verify must never panic, must return claims or an
// *Error and never both, and may accept a token only if it really is an
// RS256 JWS whose signature checks against the test key and whose claims
// name the configured issuer and audience. An accepted token must verify
// again to the same claims.
func FuzzVerify(f *testing.F) {
	const iss = "https://issuer.example"
	k1 := testKey{kid: "key-1", key: testKeys()[0]}
	path := filepath.Join(f.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwksJSON(f, k1), 0o600); err != nil {
		f.Fatal(err)
	}
	clock := newFakeClock()
	v, err := NewVerifier(Config{
		Issuers:   []IssuerConfig{{URL: iss, JWKSFile: path}},
		Audiences: []string{testAudience},
		Now:       clock.Now,
	})
	if err != nil {
		f.Fatal(err)
	}
	if err := v.Refresh(f.Context(), iss); err != nil {
		f.Fatal(err)
	}

	now := clock.Now()
	good := sign(f, k1, idClaims(iss, now))
	p := strings.Split(good, ".")
	for _, seed := range []string{
		good,
		sign(f, k1, with(idClaims(iss, now), "aud", []string{"x", testAudience})),
		sign(f, k1, with(idClaims(iss, now), "exp", now.Add(-time.Hour).Unix())),
		p[0] + "." + p[1] + ".",
		p[0] + "." + p[1],
		b64url(`{"alg":"none","typ":"JWT"}`) + "." + p[1] + ".",
		b64url(`{"alg":"HS256","kid":"key-1"}`) + "." + p[1] + "." + p[2],
		b64url(`{"alg":"HS256","kid":"key-1","typ":"JWT"}`) + "." + p[1] + "." + b64url(strings.Repeat("x", 32)),
		b64url(`{"alg":"RS256","kid":"key-1","b64":false,"crit":["b64"]}`) + "." + p[1] + "." + p[2],
		b64url(`{"alg":"RS256","kid":"../../etc/passwd","typ":"JWT"}`) + "." + p[1] + "." + p[2],
		b64url(`{"alg":"RS256","kid":"key-1"} `) + "." + p[1] + "." + p[2], // padded header
		b64url(`{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".aw.aXY.Y3Q.dGFn",  // a JWE
		good + "." + p[2],
		"",
		"..",
	} {
		f.Add(seed)
	}

	pub := &k1.key.PublicKey
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(t.Context(), raw)
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			if ReasonOf(err) == "" {
				t.Fatalf("error %v is not a *claims.Error", err)
			}
			return
		}
		if c == nil {
			t.Fatal("no claims and no error")
		}
		if !signedRS256(raw, pub) {
			t.Fatalf("accepted a token whose signature does not check against the key: %q", raw)
		}
		if c.Issuer != iss || !slices.Contains(c.Audience, testAudience) || c.Repository == "" || c.RepositoryOwnerID == "" {
			t.Fatalf("accepted claims that do not name the issuer, the audience and a repository: %+v", c)
		}
		again, err := v.Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("an accepted token failed to verify again: %v", err)
		}
		a, _ := json.Marshal(c)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Fatalf("the same token verified to different claims:\n%s\n%s", a, b)
		}
	})
}

// signedRS256 checks raw independently of the jwt library: three segments,
// a header saying RS256, and a PKCS#1 v1.5 SHA-256 signature by pub over the
// first two segments.
func signedRS256(raw string, pub *rsa.PublicKey) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hdr, &h) != nil || h.Alg != "RS256" {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
}
