package envoy_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/envoy/envoytest"
)

// stuckVerifier waits for the request's context to end, as Verify does while
// an unknown kid's key refresh hangs, and records the deadline it was given.
type stuckVerifier struct {
	mu       sync.Mutex
	deadline time.Time
	had      bool
}

func (v *stuckVerifier) Verify(ctx context.Context, raw string) (*claims.Claims, error) {
	d, ok := ctx.Deadline()
	v.mu.Lock()
	v.deadline, v.had = d, ok
	v.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (v *stuckVerifier) seen() (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.deadline, v.had
}

func testEngine(t *testing.T) *authz.Engine {
	t.Helper()
	raw, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(strings.ReplaceAll(string(raw), "ISSUER_URL", "https://issuer.example")))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Engine()
}

// TestCheckDeadline: a Check never waits on the verifier past the server's
// Timeout, even when the caller set no deadline, and keeps a caller's
// shorter deadline.
func TestCheckDeadline(t *testing.T) {
	engine := testEngine(t)
	tests := []struct {
		name     string
		timeout  time.Duration // Options.Timeout
		caller   time.Duration // the caller's deadline; 0 means none
		wantOurs bool          // the verifier must see the server's deadline, else the caller's
	}{
		{"no caller deadline", 50 * time.Millisecond, 0, true},
		{"caller deadline later than the timeout", 50 * time.Millisecond, time.Hour, true},
		{"caller deadline sooner than the timeout", time.Hour, 50 * time.Millisecond, false},
		{"default timeout", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sv := &stuckVerifier{}
			srv := envoy.NewServer(envoy.Options{Authorizer: authz.NewAuthorizer(sv, engine), Timeout: tc.timeout})
			ctx := context.Background()
			var callerDeadline time.Time
			if tc.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.caller)
				defer cancel()
				callerDeadline, _ = ctx.Deadline()
			}
			before := time.Now()
			resp, err := srv.Check(ctx, checkRequest("", "/api/x", bearer("a.b.c")))
			after := time.Now()
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := codes.Code(resp.GetStatus().GetCode()); got != codes.Unauthenticated {
				t.Errorf("status %v, want Unauthenticated", got)
			}
			d, ok := sv.seen()
			if !ok {
				t.Fatal("the verifier ran without a deadline")
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = envoy.DefaultTimeout
			}
			if tc.wantOurs {
				if d.Before(before.Add(timeout)) || d.After(after.Add(timeout)) {
					t.Errorf("deadline %v is not within the server's timeout %v of the call", d, timeout)
				}
				if !callerDeadline.IsZero() && !d.Before(callerDeadline) {
					t.Errorf("deadline %v is not sooner than the caller's %v", d, callerDeadline)
				}
			} else if !d.Equal(callerDeadline) {
				t.Errorf("deadline %v, want the caller's %v", d, callerDeadline)
			}
		})
	}
}

// TestCheckDeadlineOverGRPC: a client that sends no deadline still gets an
// answer while the verifier hangs.
func TestCheckDeadlineOverGRPC(t *testing.T) {
	sv := &stuckVerifier{}
	client := envoytest.ServeGRPC(t, envoy.NewServer(envoy.Options{
		Authorizer: authz.NewAuthorizer(sv, testEngine(t)),
		Timeout:    50 * time.Millisecond,
	}))
	resp, err := client.Check(context.Background(), checkRequest("", "/api/x", bearer("a.b.c")))
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := httpStatus(resp); got != 401 {
		t.Errorf("status %d, want 401", got)
	}
	if _, ok := sv.seen(); !ok {
		t.Error("the verifier ran without a deadline")
	}
}
