package envoy_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"sigs.k8s.io/yaml"

	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/envoy"
)

// loadCompose loads a compose file as docker compose would, relative to the
// repository root, with the compose-spec loader (schema included).
func loadCompose(t *testing.T, content []byte) (*types.Project, error) {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yaml"), Content: content}},
		Environment: types.Mapping{},
	})
}

// checkCompose checks that the stack can start as described: the services
// exist, every mounted file exists, the Envoy configuration it mounts is
// valid, each Envoy cluster points at a compose service on a port that
// service listens on and exposes, healthchecks and dependencies line up, and
// the images are built from Dockerfile targets that exist.
func checkCompose(p *types.Project) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for _, name := range []string{"envoy", "actions-authz", "private-service"} {
		if _, ok := p.Services[name]; !ok {
			fail("services: %q is missing", name)
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range p.Services {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		s := p.Services[name]
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				fail("services.%s.volumes: %s (mounted at %s) does not exist", name, relToRoot(v.Source), v.Target)
			}
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			fail("services.%s: no healthcheck", name)
		}
		for dep, d := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok {
				fail("services.%s.depends_on: %q is not a service", name, dep)
			} else if d.Condition != types.ServiceConditionHealthy {
				fail("services.%s.depends_on.%s: condition %q, want service_healthy", name, dep, d.Condition)
			}
		}
		errs = append(errs, checkBuild(name, s)...)
	}

	envoySvc, ok := p.Services["envoy"]
	if !ok {
		return errs
	}
	if err := checkEnvoyImage(envoySvc.Image); err != nil {
		fail("services.envoy.image: %v", err)
	}
	envoyPath, ok := flagValue(envoySvc.Command, "--config-path", "-c")
	if !ok {
		fail("services.envoy.command: no --config-path")
		return errs
	}
	src, ok := mountSource(envoySvc, envoyPath)
	if !ok {
		fail("services.envoy: %s (--config-path) is not a mounted file", envoyPath)
		return errs
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return errs // reported with the volumes
	}
	b, err := validateEnvoyConfig(data)
	if err != nil {
		fail("%s: %v", relToRoot(src), err)
		return errs
	}

	// Envoy's own ports: every listener and the admin interface published.
	published := portTargets(envoySvc)
	for _, l := range b.GetStaticResources().GetListeners() {
		if port := l.GetAddress().GetSocketAddress().GetPortValue(); !published[port] {
			fail("services.envoy.ports: listener %s listens on %d, which is not published", l.GetName(), port)
		}
	}
	if port := b.GetAdmin().GetAddress().GetSocketAddress().GetPortValue(); port != 0 && !published[port] {
		fail("services.envoy.ports: the admin interface listens on %d, which is not published", port)
	}

	// Every cluster endpoint is a compose service listening on that port.
	for _, c := range b.GetStaticResources().GetClusters() {
		for _, le := range c.GetLoadAssignment().GetEndpoints() {
			for _, ep := range le.GetLbEndpoints() {
				sa := ep.GetEndpoint().GetAddress().GetSocketAddress()
				host, port := sa.GetAddress(), sa.GetPortValue()
				svc, ok := p.Services[host]
				if !ok {
					fail("%s: cluster %s sends to %s, which is not a compose service", relToRoot(src), c.GetName(), host)
					continue
				}
				if !portTargets(svc)[port] {
					fail("services.%s: cluster %s sends to port %d, which the service does not expose", host, c.GetName(), port)
				}
				listens, err := listenPorts(svc)
				if err != nil {
					fail("services.%s: %v", host, err)
				} else if !slices.Contains(listens, port) {
					fail("services.%s: cluster %s sends to port %d; the service listens on %v", host, c.GetName(), port, listens)
				}
			}
		}
	}

	// The policies Envoy's routes name exist in the configuration
	// actions-authz runs.
	if svc, ok := p.Services["actions-authz"]; ok {
		if cfg, err := authzConfig(svc); err == nil {
			for route, name := range routePolicies(b) {
				if !slices.ContainsFunc(cfg.Policies, func(pc config.PolicyConfig) bool { return pc.Name == name }) {
					fail("%s: route %s names policy %q, which services.actions-authz's configuration does not have", relToRoot(src), route, name)
				}
			}
		}
	}
	return errs
}

func relToRoot(path string) string {
	root, _ := filepath.Abs(repoRoot)
	if rel, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return path
}

// checkEnvoyImage checks that the Envoy image has the minor version of
// go-control-plane/envoy in go.mod, which validated its configuration.
func checkEnvoyImage(image string) error {
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`github\.com/envoyproxy/go-control-plane/envoy v(\d+)\.(\d+)\.`).FindSubmatch(gomod)
	if m == nil {
		return errors.New("go.mod does not require github.com/envoyproxy/go-control-plane/envoy")
	}
	minor := fmt.Sprintf("v%s.%s", m[1], m[2])
	re := regexp.MustCompile(`^envoyproxy/envoy:(distroless-)?` + regexp.QuoteMeta(minor) + `(-latest|\.\d+)$`)
	if !re.MatchString(image) {
		return fmt.Errorf("%q: want envoyproxy/envoy:%s-latest or %s.N, the version of go-control-plane/envoy in go.mod", image, minor, minor)
	}
	return nil
}

// checkBuild checks a built service: its Dockerfile target exists, runs as
// a non-root user on a distroless or scratch base, and holds the binary its
// healthcheck runs.
func checkBuild(name string, s types.ServiceConfig) []error {
	if s.Build == nil {
		return nil
	}
	dockerfile := s.Build.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	path := filepath.Join(s.Build.Context, dockerfile)
	stages, err := dockerfileStages(path)
	if err != nil {
		return []error{fmt.Errorf("services.%s.build: %v", name, err)}
	}
	stage, ok := stages[s.Build.Target]
	if !ok {
		return []error{fmt.Errorf("services.%s.build.target: %q is not a stage of %s", name, s.Build.Target, relToRoot(path))}
	}
	var errs []error
	if !regexp.MustCompile(`^FROM\s+(scratch|\S*distroless/static\S*)`).MatchString(stage[0]) {
		errs = append(errs, fmt.Errorf("services.%s.build: stage %s is not based on distroless/static or scratch: %s", name, s.Build.Target, stage[0]))
	}
	if !slices.ContainsFunc(stage, func(l string) bool {
		return strings.HasPrefix(l, "USER ") && !strings.HasPrefix(l, "USER root") && !strings.HasPrefix(l, "USER 0")
	}) {
		errs = append(errs, fmt.Errorf("services.%s.build: stage %s does not switch to a non-root USER", name, s.Build.Target))
	}
	if hc := s.HealthCheck; hc != nil && len(hc.Test) > 1 && hc.Test[0] == "CMD" {
		bin := hc.Test[1]
		if !slices.ContainsFunc(stage, func(l string) bool { return strings.HasPrefix(l, "COPY ") && strings.HasSuffix(l, " "+bin) }) {
			errs = append(errs, fmt.Errorf("services.%s.healthcheck: %s is not copied into stage %s", name, bin, s.Build.Target))
		}
	}
	return errs
}

// dockerfileStages returns the instructions of each named stage, with
// continuation lines joined; the first is the FROM line.
func dockerfileStages(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	stages := map[string][]string{}
	var current string
	var pending string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		if f := strings.Fields(line); f[0] == "FROM" {
			current = ""
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				current = f[3]
			}
		}
		if current != "" {
			stages[current] = append(stages[current], line)
		}
	}
	return stages, sc.Err()
}

// flagValue returns the value of the first of names in a command line,
// given as "--name value" or "--name=value".
func flagValue(cmd []string, names ...string) (string, bool) {
	for i, arg := range cmd {
		for _, n := range names {
			if arg == n && i+1 < len(cmd) {
				return cmd[i+1], true
			}
			if v, ok := strings.CutPrefix(arg, n+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

// mountSource returns the host file mounted at target in the service.
func mountSource(s types.ServiceConfig, target string) (string, bool) {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == target {
			return v.Source, true
		}
	}
	return "", false
}

// portTargets returns the container ports a service exposes or publishes.
func portTargets(s types.ServiceConfig) map[uint32]bool {
	out := map[uint32]bool{}
	for _, p := range s.Ports {
		out[p.Target] = true
	}
	for _, e := range s.Expose {
		port, _, _ := strings.Cut(e, "/")
		if n, err := strconv.ParseUint(port, 10, 16); err == nil {
			out[uint32(n)] = true
		}
	}
	return out
}

// listenPorts returns the ports a service listens on, from its command
// line: for actions-authz the gRPC and HTTP addresses of its configuration
// (or the flags that override them), for the private service --addr.
func listenPorts(s types.ServiceConfig) ([]uint32, error) {
	if _, ok := flagValue(s.Command, "--config"); ok {
		cfg, err := authzConfig(s)
		if err != nil {
			return nil, err
		}
		grpcAddr, httpAddr := cfg.Server.GRPCAddr, cfg.Server.HTTPAddr
		if v, ok := flagValue(s.Command, "--grpc-addr"); ok {
			grpcAddr = v
		}
		if v, ok := flagValue(s.Command, "--http-addr"); ok {
			httpAddr = v
		}
		return addrPorts(grpcAddr, httpAddr)
	}
	if addr, ok := flagValue(s.Command, "--addr"); ok {
		return addrPorts(addr)
	}
	return nil, errors.New("cannot tell which port it listens on: its command has neither --config nor --addr")
}

func addrPorts(addrs ...string) ([]uint32, error) {
	var out []uint32
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("address %q: %v", a, err)
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("address %q: port %q", a, port)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

// authzConfig loads the configuration file an actions-authz service mounts
// and names with --config.
func authzConfig(s types.ServiceConfig) (*config.Config, error) {
	path, _ := flagValue(s.Command, "--config")
	src, ok := mountSource(s, path)
	if !ok {
		return nil, fmt.Errorf("--config %s is not a mounted file", path)
	}
	cfg, err := config.Load(src)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// routePolicies returns the policy each route of the bootstrap names in its
// ext_authz context_extensions.
func routePolicies(b *bootstrapv3.Bootstrap) map[string]string {
	out := map[string]string{}
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				m := new(hcmv3.HttpConnectionManager)
				if f.GetTypedConfig().UnmarshalTo(m) != nil {
					continue
				}
				for _, vh := range m.GetRouteConfig().GetVirtualHosts() {
					for _, r := range vh.GetRoutes() {
						pr := new(extauthzv3.ExtAuthzPerRoute)
						if a, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]; ok && a.UnmarshalTo(pr) == nil {
							if name := pr.GetCheckSettings().GetContextExtensions()[envoy.PolicyKey]; name != "" {
								out[routeMatch(r)] = name
							}
						}
					}
				}
			}
		}
	}
	return out
}

// checkServiceExtras checks what only the actions-authz service needs: its
// healthcheck asks its own HTTP port, and with --dev the development issuer
// is published for minting and trusted at its in-container URL.
func checkServiceExtras(p *types.Project) []error {
	s, ok := p.Services["actions-authz"]
	if !ok {
		return nil
	}
	var errs []error
	cfg, err := authzConfig(s)
	if err != nil {
		return []error{fmt.Errorf("services.actions-authz: %v", err)}
	}
	httpAddr := cfg.Server.HTTPAddr
	if v, ok := flagValue(s.Command, "--http-addr"); ok {
		httpAddr = v
	}
	want, _ := addrPorts(httpAddr)
	if s.HealthCheck != nil {
		addr, ok := flagValue(s.HealthCheck.Test, "--addr")
		got, err := addrPorts(addr)
		if !ok || err != nil || len(want) == 0 || got[0] != want[0] {
			errs = append(errs, fmt.Errorf("services.actions-authz.healthcheck: --addr %q does not ask the service's HTTP address %q", addr, httpAddr))
		}
	}
	if slices.Contains(s.Command, "--dev") {
		devAddr, ok := flagValue(s.Command, "--dev-addr")
		ports, err := addrPorts(devAddr)
		switch {
		case !ok || err != nil:
			errs = append(errs, errors.New("services.actions-authz.command: --dev needs --dev-addr 0.0.0.0:PORT so the host can mint tokens"))
		case !slices.ContainsFunc(s.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == ports[0] && pc.Published != "" }):
			errs = append(errs, fmt.Errorf("services.actions-authz.ports: the development issuer's port %d is not published", ports[0]))
		case !slices.ContainsFunc(cfg.Issuers, func(ic claims.IssuerConfig) bool { return ic.URL == fmt.Sprintf("http://127.0.0.1:%d", ports[0]) }):
			errs = append(errs, fmt.Errorf("services.actions-authz: the configuration does not trust the development issuer http://127.0.0.1:%d", ports[0]))
		}
	}
	return errs
}

func TestComposeFile(t *testing.T) {
	p, err := loadCompose(t, readRepoFile(t, "docker-compose.yaml"))
	if err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	for _, err := range append(checkCompose(p), checkServiceExtras(p)...) {
		t.Error(err)
	}
}

// The compose check must catch files that would not start or would not
// agree with envoy.yaml; each case breaks a copy of the shipped file.
func TestComposeCheckCatchesBrokenFiles(t *testing.T) {
	shipped := string(readRepoFile(t, "docker-compose.yaml"))

	// A copy of envoy.yaml with the actions_authz cluster on another port.
	var doc map[string]any
	if err := yaml.Unmarshal(readRepoFile(t, shippedEnvoyYAML), &doc); err != nil {
		t.Fatal(err)
	}
	dig(t, cluster(t, doc, "actions_authz"), "load_assignment", "endpoints", 0, "lb_endpoints", 0, "endpoint", "address", "socket_address").(map[string]any)["port_value"] = 9100
	otherPort := filepath.Join(t.TempDir(), "envoy.yaml")
	data, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(otherPort, data, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		old, new string
		wantErr  string
	}{
		{"mounted service config missing", "./examples/compose/config.yaml:", "./examples/compose/missing.yaml:", "examples/compose/missing.yaml (mounted at /etc/actions-authz/config.yaml) does not exist"},
		{"mounted envoy.yaml missing", "./envoy/envoy.yaml:", "./envoy/envoy.yml:", "envoy/envoy.yml (mounted at /etc/envoy/envoy.yaml) does not exist"},
		{"envoy.yaml cluster port disagrees", "./envoy/envoy.yaml:", otherPort + ":", "cluster actions_authz sends to port 9100"},
		{"actions-authz listens elsewhere", `"--dev-addr", "0.0.0.0:9002"]`, `"--dev-addr", "0.0.0.0:9002", "--grpc-addr", ":9100"]`, "cluster actions_authz sends to port 9000; the service listens on [9100 9001]"},
		{"private service listens elsewhere", `command: ["--addr", ":8080"]`, `command: ["--addr", ":8081"]`, "cluster private_service sends to port 8080; the service listens on [8081]"},
		{"port not exposed", `- "9000" `, `- "9010" `, "cluster actions_authz sends to port 9000, which the service does not expose"},
		{"listener not published", `"8080:8080"`, `"8080:8081"`, "listener ingress_http listens on 8080, which is not published"},
		{"service renamed", "private-service:", "upstream:", "cluster private_service sends to private-service, which is not a compose service"},
		{"envoy image of another minor", "envoyproxy/envoy:v1.40-latest", "envoyproxy/envoy:v1.39-latest", "want envoyproxy/envoy:v1.40-latest"},
		{"build target missing", "target: private-service", "target: echo", `"echo" is not a stage of Dockerfile`},
		{"healthcheck asks another port", `"healthcheck", "--addr", "127.0.0.1:9001"`, `"healthcheck", "--addr", "127.0.0.1:9011"`, "does not ask the service's HTTP address"},
		{"dev issuer not published", `"127.0.0.1:9002:9002"`, `"127.0.0.1:9003:9003"`, "the development issuer's port 9002 is not published"},
		{"dependency not waited for", "condition: service_healthy\n      private-service:", "condition: service_started\n      private-service:", `condition "service_started", want service_healthy`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(shipped, tc.old) {
				t.Fatalf("docker-compose.yaml no longer contains %q: update this case", tc.old)
			}
			broken := strings.ReplaceAll(shipped, tc.old, tc.new)
			p, err := loadCompose(t, []byte(broken))
			if err != nil {
				t.Fatalf("the broken copy does not load: %v", err)
			}
			errs := append(checkCompose(p), checkServiceExtras(p)...)
			if len(errs) == 0 {
				t.Fatalf("a copy with %s passed", tc.name)
			}
			joined := errors.Join(errs...).Error()
			t.Log(joined)
			if !strings.Contains(joined, tc.wantErr) {
				t.Errorf("errors do not mention %q:\n%s", tc.wantErr, joined)
			}
		})
	}
}
