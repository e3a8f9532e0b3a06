package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinaryReloadsOnSIGHUP: SIGHUP reloads the configuration even when the
// file did not change (no file event can have caused it), and the reload is
// counted and logged.
func TestBinaryReloadsOnSIGHUP(t *testing.T) {
	is := newIssuer(t)
	// No drain: the test stops it as soon as it has reloaded.
	p := startBinary(t, "server: {drain_delay: 0s}\n"+fmt.Sprintf(policyV1, is.URL()))
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
