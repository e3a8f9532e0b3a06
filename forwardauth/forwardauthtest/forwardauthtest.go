// Package forwardauthtest provides utilities for tests of the forward-auth
// front door, in the manner of net/http/httptest: two development issuers
// and an Authorizer over a policy file, the forward-auth server on a
// loopback port with its decisions recorded, a client to call it as it is
// and with a request line written by hand, and the table of tricky request
// paths every front door and proxy is tested with.
//
// It is for tests only: forwardauth's own, and those of package examples,
// which run the configurations of examples/forward-auth through nginx,
// Caddy and simulated Traefik and Envoy.
package forwardauthtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/authztest"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/claims/devissuer/devissuertest"
	"github.com/actions-authz/actions-authz/forwardauth"
)

// Stack is two development issuers, a verifier that trusts both and an
// Authorizer over a policy file. The Down issuer never serves its keys, so
// its tokens get 503.
type Stack struct {
	Good, Down *devissuertest.Server
	Authorizer *authz.Authorizer
	// Observed records the decisions of the servers Serve starts.
	Observed *Observations
}

// NewStack builds a Stack over the policy file at configPath, in which
// goodPlaceholder becomes the Good issuer's URL and downPlaceholder the Down
// one's; with no downPlaceholder the Down issuer is added to the list. It
// returns once a token of the Good issuer verifies, failing the test after
// ten seconds.
func NewStack(t testing.TB, configPath, goodPlaceholder, downPlaceholder string) *Stack {
	t.Helper()
	s := &Stack{Observed: &Observations{}}
	s.Good = devissuertest.Start(t, devissuer.Options{KeyBits: 2048})
	s.Down = devissuertest.Start(t, devissuer.Options{KeyBits: 2048})
	s.Down.Down.Store(true)

	raw, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, r := range [][2]string{{goodPlaceholder, s.Good.URL()}, {downPlaceholder, s.Down.URL()}} {
		if r[0] == "" {
			continue
		}
		if !strings.Contains(text, r[0]) {
			t.Fatalf("%s does not contain %q", configPath, r[0])
		}
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	if downPlaceholder == "" { // the file has one issuer; trust the down one too
		text = strings.Replace(text, "issuers:\n", "issuers:\n  - url: "+s.Down.URL()+"\n", 1)
	}
	st := authztest.Start(t, text)
	v := st.Verifier
	s.Authorizer = st.Authorizer

	// The down issuer never gets keys, so Ready never holds: wait for a good
	// token to verify instead.
	tok := s.Mint(t, nil)
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

// Mint returns a token of the Good issuer with its default claims, c
// overriding them.
func (s *Stack) Mint(t testing.TB, c map[string]any) string {
	t.Helper()
	return s.Good.MustMint(t, c)
}

// MintDown returns a token of the Down issuer, whose keys never arrive.
func (s *Stack) MintDown(t testing.TB) string {
	t.Helper()
	return s.Down.MustMint(t, nil)
}

// Serve runs the forward-auth server over the Authorizer on a loopback port
// until the test ends, recording its decisions in Observed, and returns its
// base URL.
func (s *Stack) Serve(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := forwardauth.NewServer(forwardauth.Options{Authorizer: s.Authorizer, Observe: s.Observed.Observe})
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return "http://" + lis.Addr().String()
}

// Observations records what an Observe hook saw.
type Observations struct {
	mu   sync.Mutex
	seen []Observation
}

// Observation is one decision and the request it was about.
type Observation struct {
	Request  authz.Request
	Decision authz.Decision
}

// Observe records a decision; it is an Observe hook of forwardauth.Options
// and envoy.Options.
func (o *Observations) Observe(_ context.Context, r *authz.Request, d *authz.Decision, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, Observation{Request: *r, Decision: *d})
}

// Take returns and forgets what was observed.
func (o *Observations) Take() []Observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.seen
	o.seen = nil
	return out
}

// IdentityHeaders returns the identity headers an allowed request carries
// upstream by the Authorizer's own account: every configured one, empty
// values included. It fails the test if a does not allow r.
func IdentityHeaders(t testing.TB, a *authz.Authorizer, r authz.Request) map[string]string {
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

// Client is the tests' client: bounded in time, never following redirects.
var Client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Response is what a server answered, read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Refusal is the JSON body of a refusal.
type Refusal struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Policy      string `json:"policy"`
}

// Do sends one request with Client, h as its header (a "Host" entry sets
// the Host), and reads the response.
func Do(t testing.TB, method, url string, h http.Header) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		if strings.EqualFold(k, "Host") {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// RawDo sends one request to addr with target written as it is on the
// request line, which Go's client would clean or escape, and reads the
// response. The exchange is bounded to ten seconds.
func RawDo(t testing.TB, addr, method, target string, h http.Header) Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n", method, target)
	for name, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// Bearer is the header that presents tok.
func Bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// With returns a copy of h plus the pairs name, value, ... (added, not
// replaced).
func With(h http.Header, kv ...string) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[http.CanonicalHeaderKey(kv[i])] = append(out[http.CanonicalHeaderKey(kv[i])], kv[i+1])
	}
	return out
}
