package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/claims/devissuer/devissuertest"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// forwardAuthAddr returns the address the binary logged for its forward-auth
// listener, or "" when it logged none.
func (p *process) forwardAuthAddr() string {
	for _, line := range strings.Split(p.logs.String(), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"forward_auth_addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "forward-auth serving" {
			return rec.Addr
		}
	}
	return ""
}

func TestBinaryForwardAuth(t *testing.T) {
	iss := devissuertest.Start(t, devissuer.Options{})
	const config = `
server:
  forward_auth_addr: %s
  drain_delay: 0s
issuers:
  - url: %s
` + servicetest.OwnerPolicy
	off := startBinary(t, fmt.Sprintf(config, `""`, iss.URL()))
	if addr := off.forwardAuthAddr(); addr != "" {
		t.Errorf("forward-auth listening on %s with forward_auth_addr empty", addr)
	}
	off.cmd.Process.Signal(syscall.SIGTERM)
	<-off.exited

	p := startBinary(t, fmt.Sprintf(config, "127.0.0.1:0", iss.URL()))
	p.waitReady(t)
	addr := p.forwardAuthAddr()
	if addr == "" {
		t.Fatalf("no forward-auth listener logged\n%s", p.logs.String())
	}
	tok, err := iss.Mint(nil)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(auth, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/auth/verify", nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Uri", path)
		req.Header.Set("X-Forwarded-Host", "svc")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		client := &http.Client{Timeout: 10 * time.Second}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := verify("Bearer "+tok, "/forward-auth-allowed")
	if resp.StatusCode != 200 || resp.Header.Get("X-Github-Repository") != "octo-org/octo-repo" {
		t.Errorf("allowed: %d, x-github-repository %q; want 200 and octo-org/octo-repo", resp.StatusCode, resp.Header.Get("X-Github-Repository"))
	}
	if resp := verify("", "/forward-auth-denied"); resp.StatusCode != 401 {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}

	// The same decision log as the gRPC server's, one line per request.
	for deadline := time.Now().Add(5 * time.Second); ; {
		logs := p.logs.String()
		if strings.Contains(logs, `"path":"/forward-auth-allowed"`) && strings.Contains(logs, `"path":"/forward-auth-denied"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no decision log lines for the forward-auth requests:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(p.logs.String(), tok[strings.LastIndexByte(tok, '.')+1:]) {
		t.Error("the token appears in the log")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("exit: %v, want status 0\n%s", err, p.logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
}
