package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/actions-authz/actions-authz/claims/devissuer"
	"github.com/actions-authz/actions-authz/envoy/localstack"
)

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
