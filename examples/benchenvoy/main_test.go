package main

import (
	"bufio"
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// Configuration (c) is the equivalent of actions-authz's check that the
// benchmark claims it is, through real Envoy: jwt_authn and RBAC allow a
// token of the owner, with the claims as headers and without the token,
// and refuse, before the upstream, a token of another owner or another
// audience (403), expired, signed with another key, or none (401).
func TestJWTAuthnConfigIsEquivalent(t *testing.T) {
	t.Parallel()
	bin := localstack.Require(t, "../..")
	iss, err := devissuer.New(devissuer.Options{URL: "http://127.0.0.1:1/issuer", Lifetime: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := devissuer.New(devissuer.Options{URL: iss.URL()}) // same issuer URL, another key
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var seen []http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
	}))
	t.Cleanup(upstream.Close)

	listener, err := localstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := localstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := envoyConfig(envoyParams{
		Listener: listener, Upstream: strings.TrimPrefix(upstream.URL, "http://"),
		JWT: &jwtParams{Issuer: iss.URL(), JWKS: string(iss.JWKS()), Owner: owner},
	})
	if err != nil {
		t.Fatal(err)
	}
	e, err := localstack.StartEnvoy(context.Background(), localstack.EnvoyOptions{
		Bin: bin, Config: cfg, Admin: admin, Dir: t.TempDir(), Lifetime: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(5 * time.Second) })

	mint := func(i *devissuer.Issuer, claims map[string]any) string {
		t.Helper()
		tok, err := i.Mint(claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now().Unix()
	for _, c := range []struct {
		name  string
		token string
		want  int
	}{
		{"owner", mint(iss, nil), http.StatusOK},
		{"another owner", mint(iss, map[string]any{"repository_owner_id": "999", "aud": audience}), http.StatusForbidden},
		// jwt_authn answers 403 here, where actions-authz answers 401: the
		// same refusal, another status.
		{"another audience", mint(iss, map[string]any{"aud": "https://github.com/evil-org"}), http.StatusForbidden},
		{"expired", mint(iss, map[string]any{"iat": now - 3600, "nbf": now - 3600, "exp": now - 3000}), http.StatusUnauthorized},
		{"another key", mint(impostor, nil), http.StatusUnauthorized},
		{"no token", "", http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			req, err := http.NewRequest("GET", "http://"+listener+"/api/status", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.want != http.StatusOK {
				if len(seen) != 0 {
					t.Errorf("a refused request reached the upstream")
				}
				return
			}
			if len(seen) != 1 {
				t.Fatalf("the upstream saw %d requests, want 1", len(seen))
			}
			h := seen[0]
			if got := h.Get("Authorization"); got != "" {
				t.Errorf("the token reached the upstream: %q", got)
			}
			for k, want := range map[string]string{
				"x-github-repository":          "octo-org/octo-repo",
				"x-github-repository-owner-id": owner,
				"x-github-ref":                 "refs/heads/main",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("upstream header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestReadResponse(t *testing.T) {
	for _, c := range []struct {
		name, raw  string
		status     int
		keep       bool
		restLength int // bytes left after the response
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokX", 200, true, 1},
		{"chunked", "HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nX", 403, true, 1},
		{"close", "HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n", 401, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(c.raw))
			status, keep, err := readResponse(r)
			if err != nil || status != c.status || keep != c.keep || r.Buffered() != c.restLength {
				t.Errorf("readResponse = %d, %v, %v with %d bytes left; want %d, %v, nil with %d",
					status, keep, err, r.Buffered(), c.status, c.keep, c.restLength)
			}
		})
	}
	if _, _, err := readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n\r\n"))); err == nil {
		t.Error("a response without a length: no error")
	}
}

func TestWritePlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plot.png")
	points := map[string][]point{
		configNone:  {{offered: 1000, p99: time.Millisecond}, {offered: 5000, p99: 3 * time.Millisecond}},
		configAuthz: {{offered: 1000, p99: 2 * time.Millisecond}, {offered: 5000, p99: 20 * time.Second}},
	}
	if err := writePlot(path, plotConfigs, points, 10000); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != plotW || b.Dy() != plotH {
		t.Errorf("plot is %v, want %dx%d", b, plotW, plotH)
	}
}

// The upstream answers 200 "ok" to requests on one keep-alive connection,
// and 400 to a request with a body.
func TestUpstream(t *testing.T) {
	addr, err := localstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveUpstream(ctx, []string{"--addr", addr}, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveUpstream: %v", err)
		}
	})
	c := &client{addr: addr}
	defer c.close()
	req := request("example.test", "/", "token")
	for i := range 3 {
		var status int
		for try := 0; try < 50; try++ { // until it listens
			if status, err = c.do(req, time.Now().Add(5*time.Second)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil || status != http.StatusOK {
			t.Fatalf("request %d: %d, %v; want 200", i, status, err)
		}
	}
	resp, err := http.Post("http://"+addr+"/", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a request with a body: %d, want 400", resp.StatusCode)
	}
}

func TestPerfShares(t *testing.T) {
	report := "# comment\n" +
		" 40.00%|wrk:worker_0   |envoy             |[.] 0x000000000607b0f3\n" +
		" 10.00%|wrk:worker_0   |[kernel.kallsyms] |[k] tcp_sendmsg\n" +
		" 20.00%|actions-authz-s|actions-authz     |[.] runtime.mallocgc\n" +
		" 5.00%|actions-authz-s|actions-authz     |[.] runtime.findRunnable\n" +
		" 15.00%|actions-authz-s|actions-authz     |[.] google.golang.org/grpc/internal/transport.(*http2Server).operateHeaders\n" +
		" 10.00%|actions-authz-s|actions-authz     |[.] github.com/actions-authz/actions-authz/envoy.next\n"
	got := perfShares(report)
	want := []perfShare{
		{"authorizer", "Go runtime: allocation and GC", 20},
		{"authorizer", "gRPC and HTTP/2", 15},
		{"authorizer", "actions-authz code (decode, verify, decide, log)", 10},
		{"authorizer", "Go runtime: scheduler, netpoll, other", 5},
		{"envoy", "envoy (user space)", 40},
		{"envoy", "kernel (syscalls, network, scheduling)", 10},
	}
	if len(got) != len(want) {
		t.Fatalf("perfShares = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("perfShares[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
