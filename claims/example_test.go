package claims_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/actions-authz/actions-authz/claims"
	"github.com/golang-jwt/jwt/v5"
)

// A Verifier that trusts GitHub's issuer with a static key set (as an
// air-gapped install would) accepts a token GitHub's key signed and refuses
// one for another audience. A server would call Run in a goroutine instead of
// Refresh, and serve once Ready reports true.
func ExampleVerifier() {
	const issuer = "https://token.actions.githubusercontent.com"

	// Stand-in for GitHub's signing key and its published key set.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	jwksFile := filepath.Join(dir, "jwks.json")
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]string{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "example-kid",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		fmt.Println(err)
		return
	}

	v, err := claims.NewVerifier(claims.Config{
		Issuers:   []claims.IssuerConfig{{URL: issuer, JWKSFile: jwksFile}},
		Audiences: []string{"https://github.com/octo-org"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := v.Refresh(ctx, issuer); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ready:", v.Ready())

	// What a workflow in octo-org/octo-repo would send.
	mint := func(aud string) string {
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": issuer, "aud": aud, "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
			"iat": now.Unix(), "nbf": now.Add(-5 * time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"repository": "octo-org/octo-repo", "repository_owner_id": "1234567", "ref": "refs/heads/main",
		})
		tok.Header["kid"] = "example-kid"
		s, _ := tok.SignedString(key)
		return s
	}

	c, err := v.Verify(ctx, mint("https://github.com/octo-org"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Repository, c.Ref, c.Value(claims.FieldRepositoryOwnerID))

	_, err = v.Verify(ctx, mint("https://github.com/evil-org"))
	fmt.Println(claims.ReasonOf(err), errors.Is(err, claims.ErrInvalidToken))
	fmt.Println(err)

	// Output:
	// ready: true
	// octo-org/octo-repo refs/heads/main 1234567
	// bad_audience true
	// token audience is not accepted
}
