package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/claims/devissuer/devissuertest"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// TestBinaryReloadsOnSIGHUP: SIGHUP reloads the configuration even when the
// file did not change (no file event can have caused it), and the reload is
// counted and logged.
func TestBinaryReloadsOnSIGHUP(t *testing.T) {
	is := devissuertest.Start(t, devissuer.Options{})
	// No drain: the test stops it as soon as it has reloaded.
	p := startBinary(t, "server: {drain_delay: 0s}\n"+servicetest.OwnerConfig(is.URL()))
	p.waitReady(t)
	metrics := func() string {
		resp, err := http.Get("http://" + p.httpAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	const reloaded = `actions_authz_config_reloads_total{result="success"} 1`
	if strings.Contains(metrics(), reloaded) {
		t.Fatal("reloaded before SIGHUP")
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(metrics(), reloaded) ||
		!strings.Contains(p.logs.String(), `"msg":"configuration reloaded"`); {
		if time.Now().After(deadline) {
			t.Fatalf("no reload counted and logged after SIGHUP\n%s", p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.exited; err != nil {
		t.Errorf("exit: %v", err)
	}
}

// TestBinaryRefetchesKeysOnSIGHUP: with refresh_interval an hour away, a
// key replaced under the same kid in the issuer's key set stops verifying
// once SIGHUP arrives, and the token it signed, allowed and cached before,
// is refused.
func TestBinaryRefetchesKeysOnSIGHUP(t *testing.T) {
	leaked, replacement := servicetest.NewRSAKey(t), servicetest.NewRSAKey(t)
	is := servicetest.NewStaticIssuer("https://token.actions.githubusercontent.com", "key-1", leaked)
	p := startBinary(t, fmt.Sprintf(`
issuers:
  - {url: %q, jwks_url: %q, refresh_interval: 1h}
`+servicetest.OwnerPolicy, is.URL(), is.Serve(t)))
	p.waitReady(t)
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	allowed := func(tok string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Host: "svc", Path: "/x", Headers: map[string]string{"authorization": "Bearer " + tok},
			}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatus().GetCode() == 0
	}
	tok := is.Sign(t, "key-1", leaked)
	for i := range 2 { // the second Check is answered from the cache
		if !allowed(tok) {
			t.Fatalf("Check %d before the rotation: token refused", i+1)
		}
	}

	is.SetKey("key-1", replacement)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); allowed(tok); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the token of the replaced key is still allowed after SIGHUP\n%s", p.logs.String())
		}
	}
	if !allowed(is.Sign(t, "key-1", replacement)) {
		t.Error("token of the replacement key refused")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.exited; err != nil {
		t.Errorf("exit: %v", err)
	}
}
