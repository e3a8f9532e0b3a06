// Command benchenvoy measures what authorization costs through real Envoy
// (make bench-envoy): Envoy 1.40 on 127.0.0.1 in front of a tiny upstream,
// under HTTP load from this process, in configurations that take turns in
// each round:
//
//	(a) Envoy alone, no authorization;
//	(b) Envoy + ext_authz -> actions-authz (the release binary, serve with
//	    examples/dev/config.yaml), with one token, answered from its
//	    cache, and with a stream of new tokens, each verified in full;
//	(c) Envoy's own jwt_authn (issuer, audience, signature, the claims as
//	    headers) + RBAC on repository_owner_id, the closest equivalent
//	    check, with the same tokens;
//	(d) Envoy + ext_authz -> the minimal baseline server of make bench;
//	(b') actions-authz again, over ext_authz's http_service.
//
// Each configuration has its own Envoy (--concurrency 1, as localstack runs
// it: one worker thread, so that Envoy, the authorizer, the upstream and
// this load generator share two cores predictably; nothing is pinned). The
// driver lives here, beside examples/localstack (make stack), rather than in
// the product binary: it reuses envoy/localstack to run Envoy and the
// processes, and the baseline from the cmd/actions-authz test binary, as
// make load does.
//
// It reports requests/s, p50 and p99 from a closed loop at a fixed
// concurrency, the CPU time per request of Envoy and of the authorizer
// (from /proc), as ratios within the run; then latency against offered load
// from an open loop at fractions of (a)'s saturation rate, drawn as a PNG.
//
//	make bench-envoy
//	bin/benchenvoy --rounds 1 --duration 3s --rates 0.1,0.3 --only 'c jwt'
//	bin/benchenvoy --actions-authz bin/actions-authz-syms --rates '' --perf .cache/perf
//
// It is a benchmark, never a test: it checks only that each configuration
// allows the right token and refuses another owner's before it measures.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/procfs"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/envoy/localstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchenvoy:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	root, envoy, authz, baseline string
	rounds, concurrency, tokens  int
	warmup, duration             time.Duration
	rates                        []float64
	rateDuration                 time.Duration
	png, perf                    string
	gomaxprocs                   int
	only                         *regexp.Regexp
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "upstream" {
		return serveUpstream(ctx, args[1:], stderr)
	}
	var o options
	fs := flag.NewFlagSet("benchenvoy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.root, "root", ".", "repository root")
	fs.StringVar(&o.envoy, "envoy", "", "Envoy binary (default: $ENVOY_BIN, make envoy's, or envoy on the PATH)")
	fs.StringVar(&o.authz, "actions-authz", "bin/actions-authz", "actions-authz binary (make build)")
	fs.StringVar(&o.baseline, "baseline", "bin/baseline.test", "cmd/actions-authz test binary, which serves the baseline (go test -c)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of the closed loop; each runs every configuration in turn")
	fs.IntVar(&o.concurrency, "concurrency", 32, "requests in flight in the closed loop, one per connection")
	fs.IntVar(&o.tokens, "tokens", 2000, "distinct tokens of the new-token configurations")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "closed-loop warm-up before each measurement")
	fs.DurationVar(&o.duration, "duration", 8*time.Second, "closed-loop measurement of each configuration in each round")
	rates := fs.String("rates", "0.05,0.1,0.2,0.3,0.4,0.5,0.6,0.75", "open-loop rates, as fractions of (a)'s closed-loop rate; empty: none")
	fs.DurationVar(&o.rateDuration, "rate-duration", 4*time.Second, "open-loop run at each rate")
	fs.StringVar(&o.png, "png", "", "write the plot of latency against offered load here")
	fs.StringVar(&o.perf, "perf", "", "after the rounds, profile Envoy and the authorizer with perf under (b) and (c), into this directory")
	fs.IntVar(&o.gomaxprocs, "authz-gomaxprocs", 0, "GOMAXPROCS of actions-authz and the baseline (0: Go's default, the cores)")
	only := fs.String("only", "", "run only the configurations whose names match this regular expression, and (a)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.only, err = regexp.Compile(*only); err != nil {
		return fmt.Errorf("--only: %w", err)
	}
	for f := range strings.SplitSeq(*rates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("--rates: %q is not a positive fraction", f)
		}
		o.rates = append(o.rates, v)
	}
	if o.envoy == "" {
		bin, err := localstack.Find(o.root)
		if err != nil {
			return err
		}
		o.envoy = bin
	}
	b, err := setUp(ctx, o, stdout)
	if b != nil {
		defer b.stop()
	}
	if err != nil {
		return err
	}
	return b.measure(ctx, o, stdout)
}

// bench is everything the benchmark runs.
type bench struct {
	dir      string
	issuer   *devissuer.Issuer
	procs    []*localstack.Process
	closers  []func() error
	upstream *localstack.Process
	configs  []*config
}

// config is one configuration under load.
type config struct {
	name     string
	envoy    *localstack.Envoy
	listener string
	authz    *localstack.Process // nil for (a) and (c)
	reqs     [][]byte            // one token, or the stream of new ones
	refused  []byte              // a token of another owner; nil for (a)
	rounds   []sample
}

// sample is one closed-loop measurement of a configuration.
type sample struct {
	res                             *loadResult
	envoyCPU, authzCPU, upstreamCPU time.Duration
	generatorCPU                    time.Duration
}

// lifetime bounds every process the benchmark starts.
const lifetime = time.Hour

func setUp(ctx context.Context, o options, stdout io.Writer) (*bench, error) {
	dir, err := os.MkdirTemp("", "benchenvoy")
	if err != nil {
		return nil, err
	}
	b := &bench{dir: dir}
	fmt.Fprintf(stdout, "machine: %d cores, %s; load average %s\n", runtime.NumCPU(), cpuModel(), loadAverage())
	if v, err := localstack.Version(ctx, o.envoy); err == nil {
		fmt.Fprintf(stdout, "envoy %s (%s), --concurrency 1\n", v, o.envoy)
	}

	// The issuer: discovery and keys for actions-authz and the baseline,
	// the same keys inline for jwt_authn.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return b, err
	}
	if b.issuer, err = devissuer.New(devissuer.Options{URL: "http://" + lis.Addr().String(), Lifetime: 50 * time.Minute}); err != nil {
		lis.Close()
		return b, err
	}
	issuerSrv := &http.Server{Handler: b.issuer.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go issuerSrv.Serve(lis)
	b.closers = append(b.closers, issuerSrv.Close)
	start := time.Now()
	one, err := b.issuer.Mint(nil)
	if err != nil {
		return b, err
	}
	stranger, err := b.issuer.Mint(map[string]any{"repository": "evil-org/evil", "repository_owner": "evil-org",
		"repository_owner_id": "999", "aud": audience})
	if err != nil {
		return b, err
	}
	fresh, err := mintMany(b.issuer, o.tokens)
	if err != nil {
		return b, err
	}
	fmt.Fprintf(stdout, "minted %d tokens in %v\n", o.tokens+2, time.Since(start).Round(time.Millisecond))
	const host, path = "private.example.test", "/api/status"
	oneReq := [][]byte{request(host, path, one)}
	freshReqs := make([][]byte, len(fresh))
	for i, tok := range fresh {
		freshReqs[i] = request(host, path, tok)
	}
	refused := request(host, path, stranger)

	// The upstream: this program, serving 200 "ok" in its own process.
	self, err := os.Executable()
	if err != nil {
		return b, err
	}
	upAddr, err := localstack.FreeAddr()
	if err != nil {
		return b, err
	}
	if b.upstream, err = b.start("upstream", exec.Command(self, "upstream", "--addr", upAddr)); err != nil {
		return b, err
	}
	if err := b.upstream.WaitHTTP(ctx, "http://"+upAddr+"/", http.StatusOK, nil); err != nil {
		return b, err
	}

	// The authorizers.
	authzCached, err := b.startActionsAuthz(ctx, o, "actions-authz", "")
	if err != nil {
		return b, err
	}
	authzUncached, err := b.startActionsAuthz(ctx, o, "actions-authz-uncached", "cache: {max_entries: 1}\n")
	if err != nil {
		return b, err
	}
	baseCached, err := b.startBaseline(ctx, o, "baseline", true)
	if err != nil {
		return b, err
	}
	baseUncached, err := b.startBaseline(ctx, o, "baseline-uncached", false)
	if err != nil {
		return b, err
	}

	jwt := &jwtParams{Issuer: b.issuer.URL(), JWKS: string(b.issuer.JWKS()), Owner: owner}
	for _, c := range []struct {
		name  string
		authz *authzServer
		jwt   *jwtParams
		reqs  [][]byte
		raw   bool // encode_raw_headers
		http  bool // ext_authz over HTTP
	}{
		{configNone, nil, nil, oneReq, false, false},
		{configAuthz, authzCached, nil, oneReq, true, false},
		{configJWT, nil, jwt, oneReq, false, false},
		{configBase, baseCached, nil, oneReq, false, false},
		{configAuthzHTTP, authzCached, nil, oneReq, false, true},
		{configAuthzNew, authzUncached, nil, freshReqs, true, false},
		{configJWTNew, nil, jwt, freshReqs, false, false},
		{configBaseNew, baseUncached, nil, freshReqs, false, false},
	} {
		if c.name != configNone && !o.only.MatchString(c.name) {
			continue
		}
		listener, err := localstack.FreeAddr()
		if err != nil {
			return b, err
		}
		p := envoyParams{Listener: listener, Upstream: upAddr, RawHeaders: c.raw, HTTP: c.http, JWT: c.jwt}
		cfg := &config{name: c.name, listener: listener, reqs: c.reqs}
		if c.authz != nil {
			p.Authz, cfg.authz = c.authz.addr, c.authz.proc
			if c.http {
				p.Authz = c.authz.httpAddr
			}
		}
		if c.authz != nil || c.jwt != nil {
			cfg.refused = refused
		}
		if cfg.envoy, err = b.startEnvoy(ctx, o, c.name, p); err != nil {
			return b, err
		}
		if err := cfg.check(); err != nil {
			return b, err
		}
		b.configs = append(b.configs, cfg)
	}
	return b, nil
}

// mintMany mints n tokens with the issuer's defaults, on every core.
func mintMany(iss *devissuer.Issuer, n int) ([]string, error) {
	tokens := make([]string, n)
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += len(errs) {
				tokens[i], errs[w] = iss.Mint(nil)
			}
		})
	}
	wg.Wait()
	return tokens, errors.Join(errs...)
}

func (b *bench) start(name string, cmd *exec.Cmd) (*localstack.Process, error) {
	p, err := localstack.Start(name, cmd, lifetime, nil)
	if err == nil {
		b.procs = append(b.procs, p)
	}
	return p, err
}

// authzEnv is the environment of the authorizers.
func (o options) authzEnv() []string {
	env := os.Environ()
	if o.gomaxprocs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(o.gomaxprocs))
	}
	return env
}

// authzServer is a running ext_authz server.
type authzServer struct {
	addr     string // ext_authz gRPC
	httpAddr string // ext_authz over HTTP (forward_auth_addr); actions-authz only
	proc     *localstack.Process
}

// startActionsAuthz runs actions-authz serve with the configuration of make
// run (examples/dev/config.yaml) trusting the benchmark's issuer, plus
// extra; its decision logs go to a file, as make load has them.
func (b *bench) startActionsAuthz(ctx context.Context, o options, name, extra string) (*authzServer, error) {
	raw, err := os.ReadFile(filepath.Join(o.root, "examples", "dev", "config.yaml"))
	if err != nil {
		return nil, err
	}
	forwardAuth, err := localstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg := strings.ReplaceAll(string(raw), "http://127.0.0.1:9002", b.issuer.URL()) + extra
	if !strings.Contains(cfg, "\nserver:\n") {
		return nil, fmt.Errorf("examples/dev/config.yaml has no server section for forward_auth_addr")
	}
	cfg = strings.Replace(cfg, "\nserver:\n", "\nserver:\n  forward_auth_addr: "+forwardAuth+"\n", 1)
	path := filepath.Join(b.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	grpcAddr, err := localstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := localstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.authz, "serve", "--config", path, "--grpc-addr", grpcAddr, "--http-addr", httpAddr)
	cmd.Env = o.authzEnv()
	p, err := localstack.StartLogged(name, cmd, lifetime, filepath.Join(b.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	b.procs = append(b.procs, p)
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return &authzServer{grpcAddr, forwardAuth, p}, p.WaitHTTP(wait, "http://"+httpAddr+"/readyz", http.StatusOK, nil)
}

// startBaseline runs the baseline of make bench and make load: the
// cmd/actions-authz test binary with ACTIONS_AUTHZ_BASELINE_ADDR set.
func (b *bench) startBaseline(ctx context.Context, o options, name string, cache bool) (*authzServer, error) {
	addr, err := localstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.baseline)
	cmd.Env = append(o.authzEnv(), "ACTIONS_AUTHZ_BASELINE_ADDR="+addr, "ACTIONS_AUTHZ_BASELINE_ISSUER="+b.issuer.URL(),
		"ACTIONS_AUTHZ_BASELINE_AUDIENCE="+audience, "ACTIONS_AUTHZ_BASELINE_CACHE="+map[bool]string{true: "1", false: "0"}[cache])
	p, err := b.start(name, cmd)
	if err != nil {
		return nil, err
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return &authzServer{addr: addr, proc: p}, p.WaitListening(wait, addr)
}

func (b *bench) startEnvoy(ctx context.Context, o options, name string, p envoyParams) (*localstack.Envoy, error) {
	cfg, err := envoyConfig(p)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.dir, strings.NewReplacer(" ", "-", ",", "", "+", "-").Replace(name))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	admin, err := localstack.FreeAddr()
	if err != nil {
		return nil, err
	}
	e, err := localstack.StartEnvoy(ctx, localstack.EnvoyOptions{Bin: o.envoy, Config: cfg, Admin: admin, Dir: dir, Lifetime: lifetime})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b.procs = append(b.procs, e.Process)
	return e, nil
}

// check sends the configuration's first request, which must be allowed,
// and another owner's token, which must be refused (403), before the
// configuration is measured.
func (c *config) check() error {
	cl := &client{addr: c.listener}
	defer cl.close()
	status, err := cl.do(c.reqs[0], time.Now().Add(5*time.Second))
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("%s: the right token got %d (%v), want 200", c.name, status, err)
	}
	if c.refused == nil {
		return nil
	}
	status, err = cl.do(c.refused, time.Now().Add(5*time.Second))
	if err != nil || status != http.StatusForbidden {
		return fmt.Errorf("%s: another owner's token got %d (%v), want 403", c.name, status, err)
	}
	return nil
}

func (b *bench) stop() {
	for _, p := range slices.Backward(b.procs) {
		p.Stop(5 * time.Second)
	}
	for _, c := range b.closers {
		c()
	}
	os.RemoveAll(b.dir)
}

// cpuOf returns a process's CPU time so far, user and system.
func cpuOf(p *localstack.Process) time.Duration {
	if p == nil {
		return 0
	}
	proc, err := procfs.NewProc(p.PID())
	if err != nil {
		return 0
	}
	st, err := proc.Stat()
	if err != nil {
		return 0
	}
	return time.Duration(st.CPUTime() * float64(time.Second))
}

// selfCPU returns this process's CPU time so far: the load generator's.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	return strings.Join(f[:min(3, len(f))], " ")
}

func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.SplitSeq(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// serveUpstream is the upstream behind Envoy: 200 "ok" to every request,
// on keep-alive connections. It reads requests without a body only, which
// is all Envoy forwards here, and answers from prepared bytes: a net/http
// server would cost several times its CPU per request, which the
// configurations share and which would blur the difference between them.
func serveUpstream(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); lis.Close() }()
	for {
		conn, err := lis.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go answer(conn)
	}
}

var (
	okResponse  = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	badResponse = []byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
)

// answer answers the requests of one connection until it closes.
func answer(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 16<<10)
	for {
		for first := true; ; first = false {
			line, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			line = bytes.TrimRight(line, "\r\n")
			if len(line) == 0 && !first {
				break
			}
			name, value, _ := bytes.Cut(line, []byte(":"))
			if bytes.EqualFold(name, []byte("transfer-encoding")) ||
				bytes.EqualFold(name, []byte("content-length")) && string(bytes.TrimSpace(value)) != "0" {
				conn.Write(badResponse) // a body: not what this upstream is for
				return
			}
		}
		if _, err := conn.Write(okResponse); err != nil {
			return
		}
	}
}
