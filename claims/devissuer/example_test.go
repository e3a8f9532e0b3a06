package devissuer_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/actions-authz/actions-authz/claims/devissuer"
)

// Serve the issuer on loopback and mint a token over HTTP, as a developer
// would with curl against "serve --dev".
func Example() {
	// The issuer must know its URL, so create the listener first.
	srv := httptest.NewUnstartedServer(nil)
	iss, err := devissuer.New(devissuer.Options{
		URL:      "http://" + srv.Listener.Addr().String(),
		Audience: "actions-authz",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv.Config.Handler = iss.Handler()
	srv.Start()
	defer srv.Close()

	// curl -d '{"environment":"production","run_attempt":2}' "$ISSUER/token?format=raw"
	res, err := http.Post(iss.URL()+"/token?format=raw", "application/json",
		strings.NewReader(`{"environment":"production","run_attempt":2}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	token, err := io.ReadAll(res.Body)
	if err != nil {
		fmt.Println(err)
		return
	}

	// Show what the token says. A real consumer verifies it against the keys
	// at iss.URL()+"/.well-known/jwks" instead.
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(string(token), claims); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims["sub"])
	fmt.Println(claims["aud"])
	fmt.Println(claims["run_attempt"])
	// Output:
	// repo:octo-org/octo-repo:environment:production
	// actions-authz
	// 2
}

// Override claims, remove one with nil, and lie in the header.
func ExampleIssuer_MintWith() {
	iss, err := devissuer.New(devissuer.Options{URL: "http://127.0.0.1:9002"})
	if err != nil {
		fmt.Println(err)
		return
	}
	token, err := iss.MintWith(
		map[string]any{"kid": "not-a-published-kid"},
		map[string]any{"repository": "acme/widgets", "ref": "refs/tags/v1.0.0", "jti": nil},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(parsed.Header["kid"])
	fmt.Println(claims["sub"])
	fmt.Println(claims["aud"])
	_, hasJTI := claims["jti"]
	fmt.Println(hasJTI)
	// Output:
	// not-a-published-kid
	// repo:acme/widgets:ref:refs/tags/v1.0.0
	// https://github.com/acme
	// false
}

// Rotate keeps the replaced key published until DropPrevious, so tokens
// signed before a rotation keep verifying for a while, as with GitHub.
func ExampleIssuer_Rotate() {
	iss, err := devissuer.New(devissuer.Options{URL: "http://127.0.0.1:9002"})
	if err != nil {
		fmt.Println(err)
		return
	}
	count := func() int { return strings.Count(string(iss.JWKS()), `"kid"`) }
	fmt.Println(count())
	if err := iss.Rotate(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(count())
	iss.DropPrevious()
	fmt.Println(count())
	// Output:
	// 1
	// 2
	// 1
}
