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
	"github.com/actions-authz/actions-authz/claims"
)

// Stack is a configuration and what a front door needs to serve it.
type Stack struct {
	Config     *authz.Config
	Verifier   *claims.Verifier
	Authorizer *authz.Authorizer
}

// Start parses config, starts its Verifier, which runs until the test
// ends, and returns the Authorizer over both. It does not wait for keys:
// see WaitReady.
func Start(t testing.TB, config string) *Stack {
	t.Helper()
	cfg, err := authz.ParseConfig([]byte(config))
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
