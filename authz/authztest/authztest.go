// Package authztest provides utilities for tests that need a running
// Authorizer, in the manner of net/http/httptest: a configuration parsed,
// its Verifier fetching keys until the test ends, and the Authorizer over
// both.
package authztest

import (
	"context"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
)

// Stack is a configuration and what a front door needs to serve it.
type Stack struct {
	Config     *config.Config
	Verifier   *claims.Verifier
	Authorizer *authz.Authorizer
}

// Start parses the configuration file, starts its Verifier, which runs
// until the test ends, and returns the Authorizer over both. It does not
// wait for keys: see WaitReady.
func Start(t testing.TB, file string) *Stack {
	t.Helper()
	cfg, err := config.Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	v, err := claims.NewVerifier(cfg.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { v.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &Stack{Config: cfg, Verifier: v, Authorizer: authz.NewAuthorizer(v, cfg.Engine())}
}

// WaitReady waits until v holds keys for every issuer, failing the test
// after ten seconds.
func WaitReady(t testing.TB, v *claims.Verifier) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("verifier not ready after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// HeaderValue is one case of what reaches an upstream identity header for a
// claim value (see HeaderValues).
type HeaderValue struct {
	Name   string
	Claim  string // the value of the ref and environment claims
	Header string // what x-github-ref and x-github-environment carry, on a 200
	Status int    // 200, or 401 when the value refuses the token
}

// HeaderValues is the table every front door is tested with: a value of
// printable ASCII without '%' is sent as it is; any other is
// percent-encoded, byte by byte of its UTF-8, '%' included; a control
// character other than tab refuses the token.
var HeaderValues = []HeaderValue{
	{"ASCII", "refs/heads/main", "refs/heads/main", 200},
	{"a space", "production east", "production east", 200},
	{"UTF-8", "refs/heads/café", "refs/heads/caf%C3%A9", 200},
	{"U+0085", "refs/heads/a\u0085b", "refs/heads/a%C2%85b", 200},
	{"U+2028", "refs/heads/a\u2028b", "refs/heads/a%E2%80%A8b", 200},
	{"U+2029", "refs/heads/a\u2029b", "refs/heads/a%E2%80%A9b", 200},
	{"tab", "prod\teu", "prod%09eu", 200},
	{"a percent sign", "refs/heads/100%", "refs/heads/100%25", 200},
	{"an encoding, written out", "refs/heads/caf%C3%A9", "refs/heads/caf%25C3%25A9", 200},
	{"CR LF", "refs/heads/a\r\nx-github-repository: evil", "", 401},
	{"NUL", "refs/heads/a\x00b", "", 401},
}
