//go:build resilience

package localstack_test

// The resilience suite (make test-resilience): two actions-authz replicas
// behind real Envoy's actions_authz cluster (envoy/envoy.yaml, rendered for
// loopback, its health checks, retries and timeouts as shipped), a test
// issuer, and steady load from a few closed-loop HTTP clients with valid
// tokens, while a replica is restarted or killed, the signing key rotates,
// the issuer goes away, or the policy file is rewritten. Every scenario
// counts what the clients saw and logs one summary line per phase.
//
// It runs on its own (build tag resilience), not in make test: it puts
// load through Envoy for about 80s, and beside the rest of go test ./... on
// a 2-core machine, CPU starvation could push a Check past Envoy's 0.5s
// ext_authz timeout and fail a request that the scenario did not.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// The audience of the test issuer's tokens and of the replicas'
// configuration.
const audience = "https://private.example.test"

// plainBinaries builds actions-authz and the private service without the
// race detector, once: under load, its five- to tenfold CPU cost on a
// 2-core machine would make Envoy's 0.5s ext_authz timeout, not the
// behaviour under test, decide the outcome. The other tests in this
// directory run the race build.
var plainBinaries = sync.OnceValues(func() ([2]string, error) { return buildBinaries("localstack-plain") })

// testIssuer serves a development issuer's discovery and JWKS on
// 127.0.0.1, and can be taken down (every request answered 503) and
// brought back.
type testIssuer struct {
	*devissuer.Issuer
	down atomic.Bool
}

func startTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if iss.down.Load() {
			http.Error(w, "issuer down", http.StatusServiceUnavailable)
			return
		}
		iss.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	dev, err := devissuer.New(devissuer.Options{URL: srv.URL, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	iss.Issuer = dev
	return iss
}

// replicaConfig is the replicas' configuration: the test issuer, the two
// policies envoy/envoy.yaml's routes name, and the claims sent upstream.
// server and issuer are inserted as they are (YAML lines, indented).
func replicaConfig(server, issuerURL, issuer string, claims []string) string {
	return fmt.Sprintf(`server:
  shutdown_grace: 5s
%sissuers:
  - url: %s
%saudiences: [%q]
log: {decisions: none}
upstream: {claims: [%s]}
policies:
  - name: deploy
    allow:
      - {repository_owner_id: "123456", environment: production}
  - name: default
    allow:
      - repository_owner_id: "123456"
`, server, issuerURL, issuer, audience, strings.Join(claims, ", "))
}

// replica is one actions-authz behind Envoy; restart keeps its addresses.
type replica struct {
	name, grpc, http string
	mu               sync.Mutex
	p                *localstack.Process
}

func (r *replica) process() *localstack.Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p
}

// cluster is Envoy with the private service and replicas behind it.
type cluster struct {
	t          *testing.T
	bin        string
	configPath string
	addrs      localstack.Addrs
	envoy      *localstack.Envoy
	upstream   *localstack.Process
	replicas   []*replica
}

// startCluster starts the private service, n replicas sharing the
// configuration config, and Envoy with envoy/envoy.yaml whose
// actions_authz cluster lists the replicas (edit, if not nil, changes the
// rendered bootstrap first). It returns once Envoy finds every replica
// healthy.
func startCluster(t *testing.T, n int, config string, edit func([]byte) []byte) *cluster {
	t.Helper()
	envoyBin := requireEnvoy(t)
	bins, err := plainBinaries()
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := localstack.FreeAddrs()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &cluster{t: t, bin: bins[0], configPath: filepath.Join(dir, "config.yaml"), addrs: addrs}
	t.Cleanup(c.stop)
	if err := os.WriteFile(c.configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	c.upstream, err = localstack.Start("private-service", exec.Command(bins[1], "--addr", addrs.Upstream), lifetime, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.upstream.WaitHTTP(ctx, "http://"+addrs.Upstream+"/healthz", http.StatusOK, nil); err != nil {
		t.Fatal(err)
	}
	var endpoints []string
	for i := range n {
		r := &replica{name: fmt.Sprintf("replica-%d", i+1), grpc: addrs.GRPC, http: addrs.HTTP}
		if i > 0 {
			if r.grpc, err = localstack.FreeAddr(); err != nil {
				t.Fatal(err)
			}
			if r.http, err = localstack.FreeAddr(); err != nil {
				t.Fatal(err)
			}
		}
		c.replicas = append(c.replicas, r)
		c.start(ctx, r)
		endpoints = append(endpoints, r.grpc)
	}

	envoyConfig, _, err := localstack.RenderCompose(root, addrs)
	if err != nil {
		t.Fatal(err)
	}
	if envoyConfig, err = localstack.SetEndpoints(envoyConfig, "actions_authz", endpoints); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		envoyConfig = edit(envoyConfig)
	}
	c.envoy, err = localstack.StartEnvoy(ctx, localstack.EnvoyOptions{
		Bin: envoyBin, Config: envoyConfig, Admin: addrs.Admin, Dir: dir, Lifetime: lifetime,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.replicas {
		c.waitHealthy(ctx, r)
	}
	return c
}

// start starts r and waits until it is ready (its keys fetched).
func (c *cluster) start(ctx context.Context, r *replica) {
	c.t.Helper()
	p, err := localstack.StartServe(r.name, c.bin, c.configPath, r.grpc, r.http, lifetime, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	r.mu.Lock()
	r.p = p
	r.mu.Unlock()
	if err := p.WaitHTTP(ctx, "http://"+r.http+"/readyz", http.StatusOK, nil); err != nil {
		c.t.Fatal(err)
	}
}

// waitHealthy waits until Envoy's health checks find r healthy.
func (c *cluster) waitHealthy(ctx context.Context, r *replica) {
	c.t.Helper()
	if err := c.envoy.WaitHealthy(ctx, "actions_authz", r.grpc); err != nil {
		c.t.Fatal(err)
	}
}

// stop stops everything; when the test failed, it logs the end of each
// process's output.
func (c *cluster) stop() {
	if c.t.Failed() && c.envoy != nil {
		c.t.Logf("--- envoy's actions_authz stats:\n%s", c.stats())
		var refused []string
		for _, line := range strings.Split(c.envoy.Output(), "\n") {
			if strings.Contains(line, `"status":503`) && len(refused) < 5 {
				refused = append(refused, line)
			}
		}
		c.t.Logf("--- envoy's first access-log lines with status 503:\n%s", strings.Join(refused, "\n"))
	}
	procs := []*localstack.Process{c.upstream}
	if c.envoy != nil {
		procs = append([]*localstack.Process{c.envoy.Process}, procs...)
	}
	for _, r := range c.replicas {
		if p := r.process(); p != nil {
			procs = append(procs, p)
		}
	}
	for _, p := range procs {
		if p == nil {
			continue
		}
		p.Kill()
		<-p.Done()
		if c.t.Failed() && p != c.upstream && (c.envoy == nil || p != c.envoy.Process) {
			// Envoy's output is one access-log line per request.
			c.t.Logf("--- %s (pid %d), the end of its output:\n%s", p.Name, p.PID(), p.Tail(20))
		}
	}
}

// timeline records, with the time since it started, what a test did and
// each change of the health flags Envoy gives the replicas.
type timeline struct {
	start  time.Time
	mu     sync.Mutex
	events []string
}

func (tl *timeline) note(what string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.events = append(tl.events, fmt.Sprintf("%6.2fs %s", time.Since(tl.start).Seconds(), what))
}

func (tl *timeline) String() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return strings.Join(tl.events, "\n")
}

// watchHealth polls Envoy's health flags of the replicas every 50ms until
// the test ends, noting every change.
func (c *cluster) watchHealth() *timeline {
	tl := &timeline{start: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	c.t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		last := map[string]string{}
		for ctx.Err() == nil {
			if hosts, err := c.envoy.HostHealth("actions_authz"); err == nil {
				for _, r := range c.replicas {
					if hosts[r.grpc] != last[r.grpc] {
						tl.note(fmt.Sprintf("envoy: %s %s", r.name, hosts[r.grpc]))
						last[r.grpc] = hosts[r.grpc]
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	return tl
}

// stats returns Envoy's non-zero counters about actions_authz.
func (c *cluster) stats() string {
	page, err := c.envoy.AdminGet("/stats?filter=actions_authz")
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(page, "\n") {
		if line != "" && !strings.HasSuffix(line, ": 0") && !strings.Contains(line, "P0(") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// outcome is one request as a client saw it.
type outcome struct {
	status     int // 0: no answer (a transport error)
	retryAfter bool
	identity   map[string]string // the identity headers the upstream received
	err        string
}

// load is a steady closed-loop load through Envoy: clients, each sending
// one request after the other, until stopped (or for a minute at most).
// Each outcome is counted in the current phase.
type load struct {
	mu      sync.Mutex
	phases  []*phaseCount
	current *phaseCount
	cancel  context.CancelFunc
	done    sync.WaitGroup
}

// phaseCount counts the outcomes of one phase of a scenario.
type phaseCount struct {
	name     string
	total    int
	byStatus map[int]int
	noRetry  int               // non-2xx without Retry-After
	sets     map[string]int    // identity header sets seen at the upstream, by their names
	examples map[string]string // one failure of each kind, to show
}

func (p *phaseCount) non2xx() int {
	n := 0
	for s, c := range p.byStatus {
		if s < 200 || s > 299 {
			n += c
		}
	}
	return n
}

func (p *phaseCount) String() string {
	var parts []string
	keys := make([]int, 0, len(p.byStatus))
	for s := range p.byStatus {
		keys = append(keys, s)
	}
	sort.Ints(keys)
	for _, s := range keys {
		name := fmt.Sprint(s)
		if s == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, p.byStatus[s]))
	}
	return fmt.Sprintf("%s: %d requests, %d non-2xx (%s)", p.name, p.total, p.non2xx(), strings.Join(parts, ", "))
}

// startLoad starts clients closed-loop clients sending GET /hello through
// Envoy with a token from tokens, and counts the outcomes under phase.
func startLoad(t *testing.T, listener string, clients int, tokens func() string, phase string) *load {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+30*time.Second)
	l := &load{cancel: cancel}
	l.phase(phase)
	for range clients {
		l.done.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for ctx.Err() == nil {
				l.record(send1(ctx, client, "http://"+listener+"/hello", tokens()))
				// A little think time: steady load, not saturation, so
				// that the 2 cores shared by every scenario keep up.
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Millisecond):
				}
			}
		})
	}
	t.Cleanup(func() { l.stop() })
	return l
}

// phase starts counting outcomes under a new phase and returns the
// previous one.
func (l *load) phase(name string) *phaseCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.current
	l.current = &phaseCount{name: name, byStatus: map[int]int{}, sets: map[string]int{}, examples: map[string]string{}}
	l.phases = append(l.phases, l.current)
	return prev
}

// stop ends the load and waits for the clients; it returns every phase.
func (l *load) stop() []*phaseCount {
	l.cancel()
	l.done.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.phases
}

func (l *load) record(o outcome) {
	if o.status == -1 {
		return // cancelled by stop: not an outcome
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.current
	p.total++
	p.byStatus[o.status]++
	if o.status/100 != 2 {
		if !o.retryAfter {
			p.noRetry++
		}
		key := fmt.Sprint(o.status)
		if _, ok := p.examples[key]; !ok {
			p.examples[key] = o.err
		}
		return
	}
	names := make([]string, 0, len(o.identity))
	for k := range o.identity {
		names = append(names, k)
	}
	sort.Strings(names)
	p.sets[strings.Join(names, ",")]++
}

// send1 sends one request; status -1 means the load was stopped meanwhile.
func send1(ctx context.Context, client *http.Client, url, token string) outcome {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return outcome{err: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{status: -1}
		}
		return outcome{err: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if ctx.Err() != nil {
			return outcome{status: -1}
		}
		return outcome{err: err.Error()}
	}
	o := outcome{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After") != ""}
	if resp.StatusCode/100 != 2 {
		o.err = fmt.Sprintf("HTTP %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(string(body)))
		return o
	}
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil {
		return outcome{status: 299, err: "the private service's answer: " + err.Error()}
	}
	o.identity = e.Identity
	return o
}

// tokenSource hands out a valid token, re-minted every 100ms so that the
// replicas verify new ones (not only cached ones) all along, signed by the
// issuer's current key.
type tokenSource struct {
	iss    *testIssuer
	mu     sync.Mutex
	tok    string
	minted time.Time
}

func (s *tokenSource) token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.minted) > 100*time.Millisecond {
		tok, err := s.iss.Mint(nil)
		if err != nil {
			panic(err) // a test issuer that cannot sign: nothing to measure
		}
		s.tok, s.minted = tok, time.Now()
	}
	return s.tok
}

// TestResilience runs the scenarios side by side, each with its own Envoy,
// replicas and issuer.
func TestResilience(t *testing.T) {
	t.Parallel()
	t.Run("rolling restart", testRollingRestart)
	t.Run("kill -9", testKill)
	t.Run("key rotation", testKeyRotation)
	t.Run("issuer outage", testIssuerOutage)
	t.Run("reload under load", testReloadUnderLoad)
}

// clients is how many closed-loop clients each scenario runs.
const clients = 4

var defaultClaims = []string{"repository", "repository_id", "ref", "sha"}

// Restarting one replica, then the other, with the default drain_delay and
// the shipped health check, fails no request.
func testRollingRestart(t *testing.T) {
	t.Parallel()
	iss := startTestIssuer(t)
	c := startCluster(t, 2, replicaConfig("", iss.URL(), "", defaultClaims), nil)
	src := &tokenSource{iss: iss}
	l := startLoad(t, c.addrs.Listener, clients, src.token, "rolling restart")
	timeline := c.watchHealth()
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, r := range c.replicas {
		// SIGTERM; Process.Stop kills only if it outlives drain + grace.
		timeline.note("SIGTERM " + r.name)
		r.process().Stop(time.Minute)
		timeline.note(r.name + " exited")
		c.start(ctx, r)
		timeline.note(r.name + " restarted and ready")
		c.waitHealthy(ctx, r)
	}
	time.Sleep(time.Second)
	phases := l.stop()
	p := phases[0]
	t.Logf("rolling restart: %v", p)
	t.Logf("rolling restart: the timeline:\n%s", timeline)
	if p.non2xx() != 0 {
		t.Errorf("rolling restart: %d requests failed, want 0; for example %v", p.non2xx(), p.examples)
	}
	if p.total < 100 {
		t.Errorf("only %d requests went through", p.total)
	}
}

// kill -9 of one replica: only the Checks in flight on it may fail (the
// retry policy of envoy/envoy.yaml sends them, and those that find it
// gone, to the other replica), and the load goes on.
func testKill(t *testing.T) {
	t.Parallel()
	iss := startTestIssuer(t)
	c := startCluster(t, 2, replicaConfig("", iss.URL(), "", defaultClaims), nil)
	src := &tokenSource{iss: iss}
	l := startLoad(t, c.addrs.Listener, clients, src.token, "before")
	time.Sleep(2 * time.Second)
	victim := c.replicas[0]
	l.phase("after kill -9")
	victim.process().Kill()
	<-victim.process().Done()
	// Long enough for Envoy's health checks to take it out (two failed
	// probes, 5s apart) and for the load to go on after that.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.envoy.WaitUnhealthy(ctx, "actions_authz", victim.grpc); err != nil {
		t.Fatal(err)
	}
	l.phase("after it was taken out")
	time.Sleep(2 * time.Second)
	phases := l.stop()
	for _, p := range phases {
		t.Logf("kill -9: %v", p)
	}
	var stats []string
	for _, name := range []string{"upstream_rq_retry", "upstream_rq_retry_success", "upstream_rq_retry_overflow", "upstream_cx_connect_fail", "upstream_rq_pending_failure_eject", "upstream_cx_destroy_remote_with_active_rq"} {
		n, err := c.envoy.Counter("cluster.actions_authz." + name)
		if err != nil {
			t.Fatal(err)
		}
		stats = append(stats, fmt.Sprintf("%s %d", name, n))
	}
	t.Logf("kill -9: Envoy's actions_authz cluster: %s", strings.Join(stats, ", "))
	before, after, out := phases[0], phases[1], phases[2]
	if before.non2xx() != 0 {
		t.Errorf("before the kill: %d requests failed; for example %v", before.non2xx(), before.examples)
	}
	// At most one request per client can have been in flight on the
	// victim when it died.
	if n := after.non2xx(); n > clients {
		t.Errorf("after the kill: %d requests failed, more than the %d that can have been in flight; for example %v", n, clients, after.examples)
	}
	if out.non2xx() != 0 || out.total < 50 {
		t.Errorf("once the replica was out: %v; want no failures and the load going on", out)
	}
}

// The issuer starts signing with a new key, published under a new kid,
// while load runs: no valid token is refused (an unknown kid makes each
// replica refresh the key set once).
func testKeyRotation(t *testing.T) {
	t.Parallel()
	iss := startTestIssuer(t)
	c := startCluster(t, 2, replicaConfig("  drain_delay: 0s\n", iss.URL(), "", defaultClaims), nil)
	src := &tokenSource{iss: iss}
	l := startLoad(t, c.addrs.Listener, clients, src.token, "before the rotation")
	time.Sleep(2 * time.Second)
	l.phase("after the rotation")
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	phases := l.stop()
	for _, p := range phases {
		t.Logf("key rotation: %v", p)
		if p.non2xx() != 0 {
			t.Errorf("%s: %d valid tokens refused; for example %v", p.name, p.non2xx(), p.examples)
		}
	}
	if phases[1].total < 50 {
		t.Errorf("after the rotation: only %d requests", phases[1].total)
	}
}

// The issuer goes down: within max_stale nothing fails; beyond it the
// answer is 503 with Retry-After; when the issuer returns, service recovers
// without a restart.
func testIssuerOutage(t *testing.T) {
	t.Parallel()
	iss := startTestIssuer(t)
	const refresh, maxStale = time.Second, 6 * time.Second
	c := startCluster(t, 2, replicaConfig("  drain_delay: 0s\n", iss.URL(),
		fmt.Sprintf("    refresh_interval: %s\n    max_stale: %s\n", refresh, maxStale), defaultClaims), nil)
	src := &tokenSource{iss: iss}
	l := startLoad(t, c.addrs.Listener, clients, src.token, "issuer up")
	time.Sleep(2 * time.Second)

	// The keys were last fetched at most refresh (+10% jitter) before
	// the issuer went down, so they stay good for at least
	// maxStale - 1.1*refresh after: count the outage in two phases, the
	// first well within that.
	iss.down.Store(true)
	l.phase("down, within max_stale")
	time.Sleep(maxStale - 2*refresh)
	l.phase("down, beyond max_stale")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Beyond max_stale every replica reports not ready, and Envoy's
	// health checks take both out.
	for _, r := range c.replicas {
		if err := c.envoy.WaitUnhealthy(ctx, "actions_authz", r.grpc); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)

	iss.down.Store(false)
	l.phase("issuer back, until Envoy has both replicas again")
	for _, r := range c.replicas {
		c.waitHealthy(ctx, r)
	}
	l.phase("recovered")
	time.Sleep(2 * time.Second)
	phases := l.stop()
	for _, p := range phases {
		t.Logf("issuer outage: %v", p)
	}
	up, within, beyond, back, recovered := phases[0], phases[1], phases[2], phases[3], phases[4]
	for _, p := range []*phaseCount{up, within, recovered} {
		if p.non2xx() != 0 {
			t.Errorf("%s: %d requests failed; for example %v", p.name, p.non2xx(), p.examples)
		}
	}
	if beyond.byStatus[http.StatusServiceUnavailable] == 0 {
		t.Errorf("beyond max_stale: no 503 (%v)", beyond)
	}
	// Whether actions-authz answers (its keys too stale) or Envoy does
	// (every replica out): 503 with Retry-After.
	for _, p := range []*phaseCount{beyond, back} {
		for status, n := range p.byStatus {
			if status/100 != 2 && status != http.StatusServiceUnavailable {
				t.Errorf("%s: %d answers %d, want 503; for example %s", p.name, n, status, p.examples[fmt.Sprint(status)])
			}
		}
		if p.noRetry != 0 {
			t.Errorf("%s: %d of %d non-2xx answers without Retry-After; for example %v", p.name, p.noRetry, p.non2xx(), p.examples)
		}
	}
	if recovered.total < 50 {
		t.Errorf("recovered: only %d requests", recovered.total)
	}
}

// The policy file is rewritten every second for 30s, alternating between
// two versions that both allow but send different identity headers
// upstream: no request fails, and every one is decided by one version
// entirely: its identity headers are exactly one version's set.
func testReloadUnderLoad(t *testing.T) {
	t.Parallel()
	iss := startTestIssuer(t)
	versions := [][]string{
		{"repository", "ref", "sha"},
		{"repository_id", "run_id", "actor"},
	}
	configs := make([]string, len(versions))
	sets := map[string]bool{}
	for i, claims := range versions {
		configs[i] = replicaConfig("  drain_delay: 0s\n", iss.URL(), "", claims)
		var names []string
		for _, c := range claims {
			names = append(names, "x-github-"+strings.ReplaceAll(c, "_", "-"))
		}
		sort.Strings(names)
		sets[strings.Join(names, ",")] = true
	}
	c := startCluster(t, 2, configs[0], nil)
	src := &tokenSource{iss: iss}
	l := startLoad(t, c.addrs.Listener, clients, src.token, "reload every second for 30s")

	// Each version is written beside the file and renamed over it, as
	// editors and Kubernetes ConfigMaps replace files: a reader never
	// sees half a file.
	tmp := c.configPath + ".new"
	for i := 1; i <= 30; i++ {
		time.Sleep(time.Second)
		if err := os.WriteFile(tmp, []byte(configs[i%2]), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, c.configPath); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	p := l.stop()[0]
	var reloads float64
	for _, r := range c.replicas {
		reloads += reloadsOf(t, r.http)
	}
	var seen []string
	for set, n := range p.sets {
		seen = append(seen, fmt.Sprintf("{%s}: %d", set, n))
		if !sets[set] {
			t.Errorf("%d requests reached the upstream with the identity headers {%s}: not one version's set", n, set)
		}
	}
	slices.Sort(seen)
	t.Logf("reload under load: %v; %v successful reloads over both replicas; identity header sets %s", p, reloads, strings.Join(seen, ", "))
	if p.non2xx() != 0 {
		t.Errorf("%d requests failed; for example %v", p.non2xx(), p.examples)
	}
	if len(p.sets) != len(versions) {
		t.Errorf("identity header sets %v, want both versions' to have decided requests", seen)
	}
	// 30 rewrites per replica; a few may be merged by the debounce.
	if reloads < 40 {
		t.Errorf("%v successful reloads over both replicas, want about 60", reloads)
	}
}

// reloadsOf is a replica's count of successful reloads.
func reloadsOf(t *testing.T, httpAddr string) float64 {
	t.Helper()
	r := send(t, "GET", "http://"+httpAddr+"/metrics", "", nil)
	for _, line := range strings.Split(r.body, "\n") {
		if v, ok := strings.CutPrefix(line, `actions_authz_config_reloads_total{result="success"} `); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	t.Fatalf("no successful reload count in %s/metrics", httpAddr)
	return 0
}
