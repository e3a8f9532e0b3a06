package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
)

// staticVerifier accepts exactly one raw token, with fixed claims.
type staticVerifier struct {
	token  string
	claims *claims.Claims
}

func (v staticVerifier) Verify(_ context.Context, raw string) (*claims.Claims, error) {
	if raw == v.token {
		return v.claims, nil
	}
	return nil, &claims.Error{Reason: claims.ReasonSignature, Description: "token signature is invalid"}
}

// summingVerifier is a staticVerifier that returns the token's digest, as
// a *claims.Verifier does.
type summingVerifier struct{ staticVerifier }

func (v summingVerifier) VerifySum(ctx context.Context, raw string) (*claims.Claims, [32]byte, error) {
	c, err := v.Verify(ctx, raw)
	return c, sha256.Sum256([]byte(raw)), err
}

func TestAuthorizeTokenHash(t *testing.T) {
	for _, summing := range []bool{false, true} {
		t.Run(fmt.Sprintf("summing=%v", summing), func(t *testing.T) { testAuthorizeTokenHash(t, summing) })
	}
}

func testAuthorizeTokenHash(t *testing.T, summing bool) {
	const good, bad = "aaa.bbb.ccc", "ddd.eee.fff"
	var v authz.TokenVerifier = staticVerifier{good, tok()}
	if summing {
		v = summingVerifier{staticVerifier{good, tok()}}
	}
	a := authz.NewAuthorizer(v, loadEngine(t, "valid.yaml"))
	hexHash := func(raw string) string {
		sum := sha256.Sum256([]byte(raw))
		return hex.EncodeToString(sum[:])[:12]
	}
	tests := []struct {
		name    string
		auth    string
		outcome authz.Outcome
		hash    string
	}{
		{"allowed", "Bearer " + good, authz.Allow, hexHash(good)},
		{"refused token", "Bearer " + bad, authz.Unauthenticated, hexHash(bad)},
		{"no token", "", authz.Unauthenticated, ""},
		{"not a bearer token", "Basic dXNlcjpwYXNz", authz.Unauthenticated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := a.Authorize(context.Background(), authz.Request{Policy: "deploy", Headers: map[string]string{"authorization": tt.auth}})
			if d.Outcome != tt.outcome {
				t.Errorf("Outcome = %v, want %v", d.Outcome, tt.outcome)
			}
			if got := d.TokenHash.String(); got != tt.hash {
				t.Errorf("TokenHash = %q, want %q", got, tt.hash)
			}
			if d.TokenHash.IsZero() != (tt.hash == "") {
				t.Errorf("TokenHash.IsZero() = %v", d.TokenHash.IsZero())
			}
		})
	}
}

func TestHashTokenAllocations(t *testing.T) {
	raw := string(make([]byte, 1200))
	if n := testing.AllocsPerRun(100, func() { authz.HashToken(raw) }); n > 0 {
		t.Errorf("HashToken allocates %v times, want 0", n)
	}
}

// TestAuthorizerReplace: SetEngine keeps the verifier, Replace swaps both.
func TestAuthorizerReplace(t *testing.T) {
	const first, second = "first.token.x", "second.token.x"
	e := loadEngine(t, "valid.yaml")
	a := authz.NewAuthorizer(staticVerifier{first, tok()}, e)
	decide := func(raw string) authz.Outcome {
		return a.Authorize(context.Background(), authz.Request{Policy: "deploy", Headers: map[string]string{"authorization": "Bearer " + raw}}).Outcome
	}
	if decide(first) != authz.Allow || decide(second) != authz.Unauthenticated {
		t.Fatal("the first verifier does not answer")
	}

	stricter := parse(t, `
issuers: [{url: "https://token.actions.githubusercontent.com"}]
audiences: ["https://github.com/my-org"]
policies:
  - name: deploy
    allow:
      - repository_owner_id: "1234567"
        ref: refs/heads/nope
`).Engine()
	a.SetEngine(stricter)
	if a.Engine() != stricter {
		t.Error("Engine() is not the engine just set")
	}
	if got := decide(first); got != authz.Deny {
		t.Errorf("after SetEngine: %v, want deny by the new policy with the old verifier", got)
	}

	v2 := staticVerifier{second, tok()}
	a.Replace(v2, e)
	if a.Verifier() != authz.TokenVerifier(v2) || a.Engine() != e {
		t.Error("Replace did not install both")
	}
	if decide(first) != authz.Unauthenticated || decide(second) != authz.Allow {
		t.Error("after Replace the old verifier still answers")
	}
}

func TestConfigHash(t *testing.T) {
	path := filepath.Join("testdata", "valid.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got, want := cfg.Hash(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Hash() = %s, want %s", got, want)
	}
	changed, err := Parse(append(data, "\n# a comment\n"...))
	if err != nil {
		t.Fatal(err)
	}
	if changed.Hash() == cfg.Hash() {
		t.Error("a changed file has the same hash")
	}
	if (&Config{}).Hash() != "" {
		t.Error("a Config not parsed has a hash")
	}
}

// A *claims.Verifier must stay a SummingVerifier, or every Check hashes the
// token twice.
var _ authz.SummingVerifier = (*claims.Verifier)(nil)
