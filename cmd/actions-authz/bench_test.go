//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/decisionlog"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/service"
	"github.com/actions-authz/actions-authz/envoy"
	"github.com/actions-authz/actions-authz/metrics"
)

// verifiedOnce stands in for a verified-token cache hit: it returns the
// claims of the one token it verified at setup.
type verifiedOnce struct{ c *claims.Claims }

func (v verifiedOnce) Verify(context.Context, string) (*claims.Claims, error) { return v.c, nil }

// BenchmarkCheckDecisionLogs compares in-process Check throughput with the
// decision log off and on, to several outputs, with metrics always on:
//
//	none        log.decisions: none
//	discard     slog JSON to io.Discard: the cost of building the line
//	file        slog JSON written to a file by each Check
//	file-async  through the bounded log buffer, written by its goroutine
//	pipe        written to a pipe whose reader drains it, by each Check
//	pipe-async  through the bounded log buffer
//
// for a token verified by RS256 on every Check ("rs256") and one verified
// once ("verified-once", the cost of a Check that hits the token cache).
// cpu-ns/op is the CPU time the whole process spent per Check (the log
// writing goroutine and the pipe's reader included): on a machine shared
// with other work it compares the variants better than ns/op, and on a
// CPU-bound replica Checks per second are its inverse.
//
// Run with: go test -run '^$' -bench CheckDecisionLogs ./cmd/actions-authz
func BenchmarkCheckDecisionLogs(b *testing.B) {
	iss, err := devissuer.New(devissuer.Options{URL: "https://issuer.example"})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Parse(fmt.Appendf(nil, `
issuers: [{url: %q, jwks_file: %q}]
audiences: ["https://github.com/octo-org"]
policies:
  - name: default
    match: {path_prefixes: [/]}
    allow:
      - repository_owner_id: "123456"
        ref: refs/heads/main
`, iss.URL(), jwks))
	if err != nil {
		b.Fatal(err)
	}
	v, err := claims.NewVerifier(claims.Config{Issuers: cfg.Issuers, Audiences: cfg.AllAudiences()})
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Refresh(context.Background(), iss.URL()); err != nil {
		b.Fatal(err)
	}
	token, err := iss.Mint(map[string]any{"lifetime": 3600})
	if err != nil {
		b.Fatal(err)
	}
	c, err := v.Verify(context.Background(), token)
	if err != nil {
		b.Fatal(err)
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Host: "deploy.internal", Path: "/deploy/app?x=1",
			Headers: map[string]string{
				"authorization": "Bearer " + token, "x-request-id": "5f1c2e0a-9d3b-4c1e-8f00-1234567890ab",
				"user-agent": "curl/8.5.0", "accept": "*/*", "x-github-repository": "spoofed",
			},
		}},
	}}

	type sink struct {
		name  string
		open  func(b *testing.B) (io.Writer, func() uint64) // output, and how many lines it dropped
		which string
	}
	file := func(b *testing.B) *os.File {
		f, err := os.Create(filepath.Join(b.TempDir(), "decisions.log"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return f
	}
	pipe := func(b *testing.B) *os.File {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, r); close(done) }()
		b.Cleanup(func() { w.Close(); <-done; r.Close() })
		return w
	}
	async := func(b *testing.B, out io.Writer) (io.Writer, func() uint64) {
		w := decisionlog.NewWriter(out, 0)
		b.Cleanup(func() { w.Close() })
		return w, w.Dropped
	}
	none := func() uint64 { return 0 }
	sinks := []sink{
		{"none", func(*testing.B) (io.Writer, func() uint64) { return io.Discard, none }, "none"},
		{"discard", func(*testing.B) (io.Writer, func() uint64) { return io.Discard, none }, "all"},
		{"file", func(b *testing.B) (io.Writer, func() uint64) { return file(b), none }, "all"},
		{"file-async", func(b *testing.B) (io.Writer, func() uint64) { return async(b, file(b)) }, "all"},
		{"pipe", func(b *testing.B) (io.Writer, func() uint64) { return pipe(b), none }, "all"},
		{"pipe-async", func(b *testing.B) (io.Writer, func() uint64) { return async(b, pipe(b)) }, "all"},
	}
	verifiers := []struct {
		name string
		v    authz.TokenVerifier
	}{
		{"rs256", v},
		{"verified-once", verifiedOnce{c}},
	}
	for _, vf := range verifiers {
		for _, sk := range sinks {
			b.Run(vf.name+"/"+sk.name, func(b *testing.B) {
				out, dropped := sk.open(b)
				level := new(slog.LevelVar)
				logger := service.NewLogger(out, level)
				m, err := metrics.New(prometheus.NewRegistry(), metrics.Options{})
				if err != nil {
					b.Fatal(err)
				}
				srv := envoy.NewServer(envoy.Options{
					Authorizer: authz.NewAuthorizer(vf.v, cfg.Engine()),
					Observe:    service.ObserveAll(m.Observe, decisionlog.New(logger, out, sk.which).Observe),
				})
				if resp, err := srv.Check(context.Background(), req); err != nil || resp.GetStatus().GetCode() != 0 {
					b.Fatalf("Check = %v, %v; want OK", resp, err)
				}
				b.ReportAllocs()
				cpu0 := processCPU()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						srv.Check(ctx, req)
					}
				})
				b.StopTimer()
				reportCPU(b, cpu0)
				b.ReportMetric(float64(dropped())/float64(b.N), "dropped/op")
			})
		}
	}
}
