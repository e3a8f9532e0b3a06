package forwardauth_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/authztest"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/forwardauth"
)

// stack is two development issuers, a verifier that trusts both and an
// Authorizer over a policy file. The "down" issuer never serves its keys, so
// its tokens get 503.
type stack struct {
	good, down *devissuer.Issuer
	authorizer *authz.Authorizer
	observed   *observations
}

// newStack builds a stack over the policy file at configPath, in which
// goodPlaceholder becomes the good issuer's URL and downPlaceholder the down
// one's; with no downPlaceholder the down issuer is added to the list.
func newStack(t *testing.T, configPath, goodPlaceholder, downPlaceholder string) *stack {
	t.Helper()
	s := &stack{observed: &observations{}}
	s.good = startIssuer(t, false)
	s.down = startIssuer(t, true)

	raw, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, r := range [][2]string{{goodPlaceholder, s.good.URL()}, {downPlaceholder, s.down.URL()}} {
		if r[0] == "" {
			continue
		}
		if !strings.Contains(text, r[0]) {
			t.Fatalf("%s does not contain %q", configPath, r[0])
		}
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	if downPlaceholder == "" { // the file has one issuer; trust the down one too
		text = strings.Replace(text, "issuers:\n", "issuers:\n  - url: "+s.down.URL()+"\n", 1)
	}
	st := authztest.Start(t, text)
	v := st.Verifier
	s.authorizer = st.Authorizer

	// The down issuer never gets keys, so Ready never holds: wait for a good
	// token to verify instead.
	tok := s.mint(t, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := v.Verify(context.Background(), tok); err == nil {
			break
		} else if !errors.Is(err, claims.ErrKeysUnavailable) || time.Now().After(deadline) {
			t.Fatalf("good issuer's token does not verify: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

// startIssuer serves a development issuer on loopback; a failing one answers
// every request with 500.
func startIssuer(t *testing.T, failing bool) *devissuer.Issuer {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	iss, err := devissuer.New(devissuer.Options{URL: "http://" + srv.Listener.Addr().String(), KeyBits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = iss.Handler()
	if failing {
		srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "down", http.StatusInternalServerError)
		})
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return iss
}

func (s *stack) mint(t *testing.T, c map[string]any) string {
	t.Helper()
	tok, err := s.good.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s *stack) mintDown(t *testing.T) string {
	t.Helper()
	tok, err := s.down.Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// serve runs the forward-auth server on a loopback port and returns its
// base URL.
func (s *stack) serve(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := forwardauth.NewServer(forwardauth.Options{Authorizer: s.authorizer, Observe: s.observed.observe})
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return "http://" + lis.Addr().String()
}

// observations records what Observe saw.
type observations struct {
	mu   sync.Mutex
	seen []observation
}

type observation struct {
	req authz.Request
	dec authz.Decision
}

func (o *observations) observe(_ context.Context, r *authz.Request, d *authz.Decision, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, observation{req: *r, dec: *d})
}

// take returns and forgets what was observed.
func (o *observations) take() []observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.seen
	o.seen = nil
	return out
}

// deployClaims are claims the deploy policy allows.
var deployClaims = map[string]any{
	"repository": "octo-org/infra", "repository_id": "777", "ref": "refs/heads/main", "environment": "production",
}

// identityHeaders returns the identity headers an allowed request carries
// upstream by the Authorizer's own account: every configured one, empty
// values included.
func identityHeaders(t *testing.T, a *authz.Authorizer, r authz.Request) map[string]string {
	t.Helper()
	d := a.Authorize(context.Background(), r)
	if d.Outcome != authz.Allow {
		t.Fatalf("Authorize(%+v) = %v (%s), want allow", r, d.Outcome, d.Reason)
	}
	out := make(map[string]string, len(d.Set))
	for _, h := range d.Set {
		out[h.Name] = h.Value
	}
	return out
}

// httpClient is the tests' client: bounded in time, never following
// redirects.
var httpClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
