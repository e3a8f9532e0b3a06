package localstack_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// root is the repository root, seen from this package's directory.
const root = "../.."

// lifetime bounds every process a test starts.
const lifetime = 3 * time.Minute

// requireEnvoy returns the pinned Envoy binary (see localstack.Require).
func requireEnvoy(t *testing.T) string {
	t.Helper()
	return localstack.Require(t, root)
}

// binaries builds actions-authz (with the race detector and the tags make
// build uses) and the private service, once per test binary.
var binaries = sync.OnceValues(func() ([2]string, error) { return buildBinaries("localstack-bin", "-race") })

// buildBinaries builds actions-authz, with the tags make build uses, and
// the private service into a new temporary directory named after prefix.
func buildBinaries(prefix string, flags ...string) ([2]string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return [2]string{}, err
	}
	authz, upstream := filepath.Join(dir, "actions-authz"), filepath.Join(dir, "private-service")
	for _, b := range []struct{ out, pkg string }{
		{authz, "./cmd/actions-authz"},
		{upstream, "./examples/private-service"},
	} {
		args := append(append([]string{"build"}, flags...), "-tags", "vtprotobuf", "-o", b.out, b.pkg)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return [2]string{}, fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return [2]string{authz, upstream}, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins, err := binaries(); err == nil && bins[0] != "" {
		os.RemoveAll(filepath.Dir(bins[0]))
	}
	os.Exit(code)
}

// stackOptions returns the options of a stack on free ports, for the test.
func stackOptions(t *testing.T) localstack.Options {
	t.Helper()
	envoyBin := requireEnvoy(t)
	bins, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := localstack.FreeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	return localstack.Options{
		Root: root, Envoy: envoyBin, ActionsAuthz: bins[0], PrivateService: bins[1],
		Addrs: addrs, Dir: t.TempDir(), Lifetime: lifetime,
	}
}

// startStack starts the stack until the test ends; when the test fails, it
// logs the end of each process's output.
func startStack(t *testing.T, o localstack.Options) *localstack.Stack {
	t.Helper()
	s, err := localstack.StartStack(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			for _, p := range []*localstack.Process{s.Envoy.Process, s.ActionsAuthz, s.PrivateService} {
				t.Logf("--- %s (pid %d), the end of its output:\n%s", p.Name, p.PID(), p.Tail(30))
			}
		}
	})
	return s
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   string
}

// send sends one request and reads the whole answer.
func send(t *testing.T, method, url, token string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = append(req.Header[k], vs...)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// mint has the development issuer at devAddr mint a token with claims over
// its defaults, and returns it with every claim it holds.
func mint(t *testing.T, devAddr string, claims map[string]any) (string, map[string]any) {
	t.Helper()
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+devAddr+"/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token  string         `json:"token"`
		Claims map[string]any `json:"claims"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		t.Fatalf("mint %v: HTTP %d, %v", claims, resp.StatusCode, err)
	}
	return out.Token, out.Claims
}

// decisions returns the sum of actions_authz_decisions_total that
// actions-authz reports on httpAddr.
func decisions(t *testing.T, httpAddr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "actions_authz_decisions_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// echoed is what the private service answers: what it received.
type echoed struct {
	Method        string            `json:"method"`
	Path          string            `json:"path"`
	Identity      map[string]string `json:"identity"`
	Authorization string            `json:"authorization"`
}

func decodeEcho(t *testing.T, r response) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("the private service's answer %q: %v", r.body, err)
	}
	return e
}

// eventually retries check until it returns nil or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkAllowed sends token to base+"/hello" with client-sent identity
// headers, and checks what the upstream received: every configured identity
// header with the token's claim, none of the client's (in three spellings,
// one of them twice, and one we do not set), and no Authorization.
func checkAllowed(t *testing.T, base, token string, tokenClaims map[string]any, cfg *config.Config) {
	t.Helper()
	spoof := http.Header{
		"x-github-repository": {"evil-org/evil"},
		"X-GITHUB-REPOSITORY": {"evil-org/evil2", "evil-org/evil3"},
		"X-Github-Repository": {"evil-org/evil4"},
		"X-Github-Made-Up":    {"evil"},
	}
	r := send(t, "GET", base+"/hello", token, spoof)
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	e := decodeEcho(t, r)
	want := map[string]string{}
	for _, name := range cfg.Upstream.Claims {
		if v, ok := tokenClaims[name]; ok {
			want[cfg.Upstream.HeaderPrefix+strings.ReplaceAll(name, "_", "-")] = fmt.Sprint(v)
		}
	}
	if len(want) < 10 {
		t.Fatalf("the development token has only %d of the configured claims: %v", len(want), want)
	}
	if diff := cmp.Diff(want, e.Identity); diff != "" {
		t.Errorf("identity headers at the upstream (-want +got):\n%s", diff)
	}
	if e.Authorization != "absent" {
		t.Errorf("Authorization reached the upstream: %q", e.Authorization)
	}
	if e.Path != "/hello" || e.Method != "GET" {
		t.Errorf("upstream saw %s %s, want GET /hello", e.Method, e.Path)
	}
}

// checkRefused sends one request that must be refused, and checks the
// status, WWW-Authenticate and JSON body the client got, and that nothing
// reached the private service.
func checkRefused(t *testing.T, s *localstack.Stack, method, url, token string, want documented) {
	t.Helper()
	before := upstreamRequests(t, s)
	r := send(t, method, url, token, nil)
	if r.status != want.status {
		t.Errorf("status %d, want %d", r.status, want.status)
	}
	if got := r.header.Get("WWW-Authenticate"); got != want.wwwAuthenticate {
		t.Errorf("WWW-Authenticate %q, want %q", got, want.wwwAuthenticate)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q, want application/json", got)
	}
	if r.body != want.body {
		t.Errorf("body %s, want %s", r.body, want.body)
	}
	if after := upstreamRequests(t, s); after != before {
		t.Errorf("a denied request reached the private service (%d requests, then %d)", before, after)
	}
}
