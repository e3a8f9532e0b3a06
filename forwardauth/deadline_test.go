package forwardauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/forwardauth"
)

// stuckVerifier waits for the request's context to end, as Verify does while
// an unknown kid's key refresh hangs, and reports the deadline it was given.
type stuckVerifier struct{ deadline chan time.Time }

func (v *stuckVerifier) Verify(ctx context.Context, _ string) (*claims.Claims, error) {
	d, _ := ctx.Deadline()
	v.deadline <- d
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestDecisionDeadline: a proxy sends no deadline, so the handler bounds each
// decision itself, in both modes, and still answers with a refusal.
func TestDecisionDeadline(t *testing.T) {
	raw, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("GOOD_ISSUER", "https://good.example", "DOWN_ISSUER", "https://down.example").Replace(string(raw))
	cfg, err := config.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, timeout := range []time.Duration{50 * time.Millisecond, 0} {
		sv := &stuckVerifier{deadline: make(chan time.Time, 1)}
		h := forwardauth.New(forwardauth.Options{Authorizer: authz.NewAuthorizer(sv, cfg.Engine()), Timeout: timeout})
		want := timeout
		if want == 0 {
			want = forwardauth.DefaultTimeout
		}
		for _, target := range []string{"/envoy/anything", forwardauth.VerifyPath} {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("Authorization", "Bearer a.b.c")
			req.Header.Set("X-Forwarded-Method", "GET")
			req.Header.Set("X-Forwarded-Uri", "/anything")
			req.Header.Set("X-Forwarded-Host", "private.example.test")
			rec := httptest.NewRecorder()
			before := time.Now()
			h.ServeHTTP(rec, req)
			after := time.Now()
			select {
			case d := <-sv.deadline:
				if d.IsZero() || d.Before(before.Add(want)) || d.After(after.Add(want)) {
					t.Errorf("%s, timeout %v: the verifier's deadline %v is not the handler's bound", target, timeout, d)
				}
			default:
				t.Fatalf("%s: answered %d without asking the verifier", target, rec.Code)
			}
			if rec.Code == http.StatusOK {
				t.Errorf("%s: a token that never verified was allowed", target)
			}
		}
	}
}
