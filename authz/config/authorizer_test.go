package config

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
)

// fakeVerifier returns fixed claims for the token "good.token.x", a keys
// outage for "outage.token.x", a claims.Error for "described.token.x" and a
// bare invalid-token error otherwise, and remembers what it was asked.
type fakeVerifier struct {
	claims *claims.Claims
	mu     sync.Mutex
	seen   []string
}

func (f *fakeVerifier) Verify(ctx context.Context, raw string) (*claims.Claims, error) {
	f.mu.Lock()
	f.seen = append(f.seen, raw)
	f.mu.Unlock()
	switch raw {
	case "good.token.x":
		return f.claims, nil
	case "outage.token.x":
		return nil, fmt.Errorf("fetching keys: %w", claims.ErrKeysUnavailable)
	case "described.token.x":
		return nil, &claims.Error{Reason: claims.ReasonExpired, Description: "the token has expired"}
	}
	return nil, fmt.Errorf("verify: %w", claims.ErrInvalidToken)
}

func TestAuthorize(t *testing.T) {
	e := loadEngine(t, "valid.yaml")
	route := authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy/x"}
	with := func(h map[string]string) authz.Request { r := route; r.Headers = h; return r }
	missing := outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonMissingToken, Policy: "deploy", Rule: -1, Description: "a bearer token is required"}
	invalidRequest := func(desc string) outline {
		return outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidRequest, Policy: "deploy", Rule: -1, Description: desc}
	}
	tests := []struct {
		name     string
		req      authz.Request
		want     outline
		verified string // the raw token the verifier must have seen, if any
	}{
		{"allowed", with(map[string]string{"authorization": "Bearer good.token.x"}),
			outline{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "deploy", Rule: 0}, "good.token.x"},
		{"scheme is case-insensitive, spaces tolerated", with(map[string]string{"authorization": "bearer   good.token.x "}),
			outline{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "deploy", Rule: 0}, "good.token.x"},
		{"no headers", route, missing, ""},
		{"empty header", with(map[string]string{"authorization": ""}), missing, ""},
		{"token in another header", with(map[string]string{"x-token": "good.token.x"}), missing, ""},
		{"basic", with(map[string]string{"authorization": "Basic dXNlcjpwYXNz"}), missing, ""},
		{"bearer without a space", with(map[string]string{"authorization": "Bearergood.token.x"}), missing, ""},
		{"bearer without token", with(map[string]string{"authorization": "Bearer "}), invalidRequest("the bearer token is empty"), ""},
		{"two tokens joined by Envoy", with(map[string]string{"authorization": "Bearer a.b.c,Bearer d.e.f"}),
			invalidRequest("several tokens in the authorization header"), ""},
		{"basic and bearer joined", with(map[string]string{"authorization": "Basic dXNlcjpwYXNz,Bearer d.e.f"}),
			invalidRequest("several credentials in the authorization header"), ""},
		{"two tokens with a space", with(map[string]string{"authorization": "Bearer a.b.c d.e.f"}),
			invalidRequest("several tokens in the authorization header"), ""},
		{"not the JWT alphabet", with(map[string]string{"authorization": "Bearer a.b.c=="}),
			invalidRequest("the token holds characters a JWT cannot have"), ""},
		{"invalid token", with(map[string]string{"authorization": "Bearer bad.token.x"}),
			outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Policy: "deploy", Rule: -1, Description: "the token is not valid"}, "bad.token.x"},
		{"invalid token with a claims.Error", with(map[string]string{"authorization": "Bearer described.token.x"}),
			outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Detail: "expired", Policy: "deploy", Rule: -1, Description: "the token has expired"}, "described.token.x"},
		{"keys unavailable", with(map[string]string{"authorization": "Bearer outage.token.x"}),
			outline{Outcome: authz.Unavailable, Reason: authz.ReasonKeysUnavailable, Policy: "deploy", Rule: -1,
				Description: "the signing keys for the token's issuer are unavailable; retry later"}, "outage.token.x"},
		{"no policy: the token is not even verified", authz.Request{Method: "GET", Host: "x", Path: "/", Headers: map[string]string{"authorization": "Bearer good.token.x"}},
			outline{Outcome: authz.Deny, Reason: authz.ReasonNoPolicy, Rule: -1, Description: "no policy for this route"}, ""},
		{"unknown policy", authz.Request{Policy: "gone", Headers: map[string]string{"authorization": "Bearer good.token.x"}},
			outline{Outcome: authz.Deny, Reason: authz.ReasonUnknownPolicy, Detail: "gone", Rule: -1, Description: "no policy for this route"}, ""},
		{"more header names than MaxHeaders: the token is not even verified", with(spoofed(authz.MaxHeaders)),
			outlineOf(authz.HeadersTooLarge()), ""},
		{"MaxHeaders header names", with(spoofed(authz.MaxHeaders - 2)),
			outline{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Policy: "deploy", Rule: -1, Description: "the token is not valid"}, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &fakeVerifier{claims: tok()}
			a := authz.NewAuthorizer(v, e)
			d := a.Authorize(context.Background(), tt.req)
			if diff := cmp.Diff(tt.want, outlineOf(d)); diff != "" {
				t.Errorf("Authorize (-want +got):\n%s", diff)
			}
			var want []string
			if tt.verified != "" {
				want = []string{tt.verified}
			}
			if diff := cmp.Diff(want, v.seen); diff != "" {
				t.Errorf("verifier saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthorizeRawTokenHeader(t *testing.T) {
	e := loadEngine(t, "loopback.yaml") // token.header: X-GitHub-OIDC-Token
	v := &fakeVerifier{claims: tok(aud("dev"), func(c *claims.Claims) { c.RepositoryOwnerID = "1" })}
	a := authz.NewAuthorizer(v, e)
	tests := []struct {
		headers map[string]string
		want    authz.Reason
	}{
		{map[string]string{"x-github-oidc-token": "good.token.x"}, authz.ReasonAllowed},
		{map[string]string{"authorization": "Bearer good.token.x"}, authz.ReasonMissingToken},
		{map[string]string{"x-github-oidc-token": "Bearer good.token.x"}, authz.ReasonInvalidRequest},
		{map[string]string{"x-github-oidc-token": "a.b.c,d.e.f"}, authz.ReasonInvalidRequest},
	}
	for _, tt := range tests {
		d := a.Authorize(context.Background(), authz.Request{Policy: "dev", Headers: tt.headers})
		if d.Reason != tt.want {
			t.Errorf("Authorize(%v) = %+v, want %s", tt.headers, d, tt.want)
		}
	}
}

// TestSetEngine swaps the policy while requests run (go test -race).
func TestSetEngine(t *testing.T) {
	e1 := loadEngine(t, "valid.yaml")
	e2 := loadEngine(t, "pinned.yaml")
	a := authz.NewAuthorizer(&fakeVerifier{claims: tok(aud("my-service"))}, e1)
	req := authz.Request{Policy: "pinned", Headers: map[string]string{"authorization": "Bearer good.token.x"}}
	if d := a.Authorize(context.Background(), req); d.Reason != authz.ReasonUnknownPolicy {
		t.Fatalf("before the swap: %+v, want unknown_policy", d)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				a.Authorize(context.Background(), req)
			}
		})
	}
	a.SetEngine(e2)
	wg.Wait()
	if a.Engine() != e2 {
		t.Fatal("Engine() is not the new engine")
	}
	if d := a.Authorize(context.Background(), req); d.Outcome != authz.Allow || d.Policy != "pinned" {
		t.Fatalf("after the swap: %+v, want allowed by pinned", d)
	}
}
