package localstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// The files the local stack runs, relative to the repository root: the
// same ones docker-compose.yaml mounts.
const (
	ComposeEnvoyConfig = "envoy/envoy.yaml"
	ComposeAuthzConfig = "examples/compose/config.yaml"
)

// Addrs are the loopback addresses of the local stack's processes.
type Addrs struct {
	Listener string // Envoy's listener, the only way in
	Admin    string // Envoy's admin interface
	GRPC     string // actions-authz: ext_authz gRPC, for Envoy
	HTTP     string // actions-authz: /healthz, /readyz, /metrics
	Dev      string // actions-authz: the development issuer
	Upstream string // the private service
}

// DefaultAddrs are the addresses make stack uses: the host ports of
// docker-compose.yaml (8080, 9901, 9002), actions-authz on 9000 and 9001 as
// with make run, and the private service on 8081.
func DefaultAddrs() Addrs {
	return Addrs{
		Listener: "127.0.0.1:8080",
		Admin:    "127.0.0.1:9901",
		GRPC:     "127.0.0.1:9000",
		HTTP:     "127.0.0.1:9001",
		Dev:      "127.0.0.1:9002",
		Upstream: "127.0.0.1:8081",
	}
}

// FreeAddrs returns addresses on 127.0.0.1 with ports free a moment ago.
func FreeAddrs() (Addrs, error) {
	var a Addrs
	for _, p := range []*string{&a.Listener, &a.Admin, &a.GRPC, &a.HTTP, &a.Dev, &a.Upstream} {
		addr, err := FreeAddr()
		if err != nil {
			return Addrs{}, err
		}
		*p = addr
	}
	return a, nil
}

// ComposeAddrs is the loopback table of the compose files: each address as
// envoy/envoy.yaml and examples/compose/config.yaml have it (inside
// compose's network, where each service is a host name) and what it
// becomes on loopback. This is the one place where the stack's addresses
// differ from compose's.
func ComposeAddrs(a Addrs) map[string]string {
	return map[string]string{
		// envoy/envoy.yaml
		"0.0.0.0:8080":         a.Listener, // the listener (published as the host's 8080)
		"0.0.0.0:9901":         a.Admin,    // admin (published on the host's 127.0.0.1:9901)
		"actions-authz:9000":   a.GRPC,     // the actions_authz cluster
		"private-service:8080": a.Upstream, // the private_service cluster
		// examples/compose/config.yaml
		":9000":          a.GRPC, // server.grpc_addr
		":9001":          a.HTTP, // server.http_addr
		"127.0.0.1:9002": a.Dev,  // the development issuer's URL
	}
}

// RenderCompose returns envoy/envoy.yaml and examples/compose/config.yaml
// from the repository at root, rewritten for loopback with ComposeAddrs.
func RenderCompose(root string, a Addrs) (envoyConfig, authzConfig []byte, err error) {
	table := ComposeAddrs(a)
	render := func(name string) ([]byte, error) {
		raw, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return nil, err
		}
		out, err := Rewrite(raw, table)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return out, nil
	}
	if envoyConfig, err = render(ComposeEnvoyConfig); err != nil {
		return nil, nil, err
	}
	if authzConfig, err = render(ComposeAuthzConfig); err != nil {
		return nil, nil, err
	}
	return envoyConfig, authzConfig, nil
}

// Options says how to run the stack.
type Options struct {
	// Root is the repository root.
	Root string
	// The three binaries: Envoy (see Find), actions-authz and
	// examples/private-service.
	Envoy, ActionsAuthz, PrivateService string
	// Addrs are the processes' addresses.
	Addrs Addrs
	// Dir receives the rendered configuration files.
	Dir string
	// Lifetime bounds how long each process may run.
	Lifetime time.Duration
	// EnvoyConfig and AuthzConfig replace the rendered compose files when
	// set (already rewritten for Addrs).
	EnvoyConfig, AuthzConfig []byte
	// NoWait starts actions-authz and Envoy without waiting for
	// actions-authz to be ready (its issuers' keys fetched: /readyz, then
	// its gRPC health, asked in plaintext) and for Envoy to see it healthy.
	NoWait bool
	// Echo, when not nil, gets a copy of every process's output.
	Echo io.Writer
	// EnvoyLogLevel is Envoy's --log-level ("warn" when empty).
	EnvoyLogLevel string
}

// Stack is the running local stack.
type Stack struct {
	Addrs          Addrs
	Envoy          *Envoy
	ActionsAuthz   *Process
	PrivateService *Process
}

// StartStack starts the private service, actions-authz serve --dev and
// Envoy, in that order, each once the one before answers. On an error,
// whatever was started is stopped again.
func StartStack(ctx context.Context, o Options) (_ *Stack, err error) {
	envoyConfig, authzConfig := o.EnvoyConfig, o.AuthzConfig
	if envoyConfig == nil || authzConfig == nil {
		e, a, err := RenderCompose(o.Root, o.Addrs)
		if err != nil {
			return nil, err
		}
		if envoyConfig == nil {
			envoyConfig = e
		}
		if authzConfig == nil {
			authzConfig = a
		}
	}
	// A process that cannot listen exits, but a leftover process on its
	// address could answer the readiness probes in its place.
	if err := checkFree(o.Addrs); err != nil {
		return nil, err
	}
	s := &Stack{Addrs: o.Addrs}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	s.PrivateService, err = Start("private-service",
		exec.Command(o.PrivateService, "--addr", o.Addrs.Upstream), o.Lifetime, o.Echo)
	if err != nil {
		return nil, err
	}
	if err := s.PrivateService.WaitHTTP(wait, "http://"+o.Addrs.Upstream+"/healthz", http.StatusOK, nil); err != nil {
		return nil, err
	}

	if s.ActionsAuthz, err = StartActionsAuthz(o.ActionsAuthz, authzConfig, o.Dir, o.Addrs.Dev, o.Lifetime, o.Echo); err != nil {
		return nil, err
	}
	probe := "/readyz"
	if o.NoWait {
		probe = "/healthz"
	}
	if err := s.ActionsAuthz.WaitHTTP(wait, "http://"+o.Addrs.HTTP+probe, http.StatusOK, nil); err != nil {
		return nil, err
	}
	s.Envoy, err = StartEnvoy(wait, EnvoyOptions{
		Bin: o.Envoy, Config: envoyConfig, Admin: o.Addrs.Admin, Dir: o.Dir,
		Lifetime: o.Lifetime, Echo: o.Echo, LogLevel: o.EnvoyLogLevel,
	})
	if err != nil {
		return nil, err
	}
	if !o.NoWait {
		if err := s.Envoy.WaitHealthy(wait, "actions_authz", o.Addrs.GRPC); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// checkFree returns an error naming the first address something already
// listens on.
func checkFree(a Addrs) error {
	for _, addr := range []string{a.Listener, a.Admin, a.GRPC, a.HTTP, a.Dev, a.Upstream} {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s is taken (another stack still running?): %w", addr, err)
		}
		lis.Close()
	}
	return nil
}

// StartActionsAuthz runs bin serve --dev with the configuration config
// (written into dir) and the development issuer on devAddr.
func StartActionsAuthz(bin string, config []byte, dir, devAddr string, lifetime time.Duration, echo io.Writer) (*Process, error) {
	path := filepath.Join(dir, "actions-authz.yaml")
	if err := os.WriteFile(path, config, 0o600); err != nil {
		return nil, err
	}
	return Start("actions-authz", exec.Command(bin, "serve", "--dev", "--dev-addr", devAddr, "--config", path), lifetime, echo)
}

// StartServe runs bin serve with the configuration file at path, listening
// on grpcAddr and httpAddr whatever the file says: several replicas can
// share one file, as the pods of a Deployment share a ConfigMap, and a
// replica restarted with the same addresses is the same endpoint to Envoy.
func StartServe(name, bin, path, grpcAddr, httpAddr string, lifetime time.Duration, echo io.Writer) (*Process, error) {
	return Start(name, exec.Command(bin, "serve", "--config", path, "--grpc-addr", grpcAddr, "--http-addr", httpAddr), lifetime, echo)
}

// WaitHealthy waits until Envoy's health checks find host of cluster
// healthy.
func (e *Envoy) WaitHealthy(ctx context.Context, cluster, host string) error {
	return e.waitHealth(ctx, cluster, host, func(flags string) bool { return flags == "healthy" })
}

// WaitUnhealthy waits until Envoy's health checks take host of cluster out.
func (e *Envoy) WaitUnhealthy(ctx context.Context, cluster, host string) error {
	return e.waitHealth(ctx, cluster, host, func(flags string) bool { return flags != "" && flags != "healthy" })
}

func (e *Envoy) waitHealth(ctx context.Context, cluster, host string, ok func(string) bool) error {
	var last map[string]string
	for {
		hosts, err := e.HostHealth(cluster)
		if err == nil && ok(hosts[host]) {
			return nil
		}
		last = hosts
		select {
		case <-e.Done():
			return e.exitError()
		case <-ctx.Done():
			return fmt.Errorf("envoy: cluster %s host %s: health flags %q: %w; the end of its output:\n%s",
				cluster, host, last, ctx.Err(), e.Tail(40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops Envoy, then actions-authz, then the private service.
func (s *Stack) Stop() {
	for _, p := range []*Process{s.envoyProcess(), s.ActionsAuthz, s.PrivateService} {
		if p != nil {
			p.Stop(5 * time.Second)
		}
	}
}

func (s *Stack) envoyProcess() *Process {
	if s.Envoy == nil {
		return nil
	}
	return s.Envoy.Process
}
