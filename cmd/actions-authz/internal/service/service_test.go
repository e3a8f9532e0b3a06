package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/servicetest"
)

// The in-process tests run the whole service (New, Run) on loopback ports
// with a configuration file in a temporary directory, and talk to it as
// Envoy and Prometheus do: gRPC Checks and HTTP scrapes.

// testService is one running service.
type testService struct {
	t          *testing.T
	configPath string
	httpAddr   string
	client     authv3.AuthorizationClient
	logs       *servicetest.SyncBuffer
	stop       func() error // cancels the service, waits for its last log line and returns its error
}

// startService writes the configuration src to a file and serves it with
// hooks.
func startService(t *testing.T, src string, hooks TestHooks) *testService {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServiceAt(t, path, hooks)
}

// startServiceAt serves the configuration file at path with hooks.
func startServiceAt(t *testing.T, path string, hooks TestHooks) *testService {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hooks.SkipDrain = true
	pr, pw := io.Pipe()
	logs := &servicetest.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := serve(ctx, Options{ConfigPath: path, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Version: "dev", LogOutput: pw, TestHooks: hooks})
		pw.Close()
		done <- err
	}()
	addrs := make(chan [2]string, 1)
	scanned := make(chan struct{}) // every line of the log is in logs
	go func() {
		defer close(scanned)
		servicetest.FollowLog(pr, logs, addrs)
	}()
	var stopped atomic.Bool
	s := &testService{t: t, configPath: path, logs: logs}
	s.stop = func() error {
		if !stopped.CompareAndSwap(false, true) {
			return nil
		}
		cancel()
		err := <-done
		<-scanned
		return err
	}
	t.Cleanup(func() { s.stop() })
	select {
	case a := <-addrs:
		conn, err := grpc.NewClient(a[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		s.client, s.httpAddr = authv3.NewAuthorizationClient(conn), a[1]
	case err := <-done:
		t.Fatalf("service exited early: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("service did not start\n%s", logs.String())
	}
	return s
}

// serve loads the configuration file of opts and runs the service until ctx
// is done, as the serve command does.
func serve(ctx context.Context, opts Options) error {
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return fmt.Errorf("%s is invalid:\n%w", opts.ConfigPath, err)
	}
	s, err := New(cfg, opts)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// check sends one Check for GET /x with token (none when ""), naming policy
// in context_extensions when it is not "", and returns the HTTP status the
// client would get (200 for OK) and the response.
func (s *testService) check(token, policy string) (int, *authv3.CheckResponse) {
	s.t.Helper()
	headers := map[string]string{"x-request-id": "req-1"}
	if token != "" {
		headers["authorization"] = "Bearer " + token
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "svc", Path: "/x", Headers: headers,
		}},
	}}
	if policy != "" {
		req.Attributes.ContextExtensions = map[string]string{"policy": policy}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := s.client.Check(ctx, req)
	if err != nil {
		s.t.Fatalf("Check: %v", err)
	}
	if resp.GetStatus().GetCode() == 0 {
		return 200, resp
	}
	return int(resp.GetDeniedResponse().GetStatus().GetCode()), resp
}

// scrape fetches /metrics and returns every sample by its series name
// ("name{a=\"x\",b=\"y\"}", labels sorted; "name" without labels), and the
// raw text.
func (s *testService) scrape() (map[string]float64, string) {
	s.t.Helper()
	resp, err := http.Get("http://" + s.httpAddr + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		s.t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		s.t.Fatalf("parsing /metrics: %v", err)
	}
	out := make(map[string]float64)
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			case m.GetUntyped() != nil:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out, string(body)
}

// waitFor polls cond until it holds, failing the test after 20 seconds: the
// service reacts in the background (reloads, key refreshes).
func (s *testService) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s\n%s", what, s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReady waits for /readyz to answer 200.
func (s *testService) waitReady() {
	s.t.Helper()
	s.waitFor("/readyz", func() bool { return s.httpStatus("/readyz") == 200 })
}

func (s *testService) httpStatus(path string) int {
	resp, err := http.Get("http://" + s.httpAddr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// writeConfig replaces the configuration file the way editors and
// Kubernetes do: a new file renamed over the old one.
func (s *testService) writeConfig(src string) {
	s.t.Helper()
	tmp := s.configPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(src), 0o600); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, s.configPath); err != nil {
		s.t.Fatal(err)
	}
}

// logLines returns the decoded JSON log lines whose msg is msg.
func (s *testService) logLines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}
