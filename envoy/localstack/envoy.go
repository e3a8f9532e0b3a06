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
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvoyOptions says how to run Envoy.
type EnvoyOptions struct {
	// Bin is the Envoy binary (see Find).
	Bin string
	// Config is the bootstrap, as YAML. Its admin address is replaced with
	// Admin (added when the file has none).
	Config []byte
	// Admin is the admin interface's loopback address.
	Admin string
	// Dir is where the bootstrap file is written.
	Dir string
	// Lifetime bounds how long Envoy may run.
	Lifetime time.Duration
	// Echo, when not nil, gets a copy of Envoy's output.
	Echo io.Writer
	// LogLevel is Envoy's --log-level; "warn" when empty.
	LogLevel string
}

// Envoy is a running Envoy.
type Envoy struct {
	*Process
	// Admin is the admin interface's address.
	Admin string
}

// StartEnvoy writes the bootstrap, starts Envoy and waits until its admin
// interface says LIVE (every cluster and listener initialised). One worker
// thread and no hot restart: several Envoys run side by side in tests.
func StartEnvoy(ctx context.Context, o EnvoyOptions) (*Envoy, error) {
	config, err := withAdmin(o.Config, o.Admin)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(o.Dir, "envoy.yaml")
	if err := os.WriteFile(path, config, 0o600); err != nil {
		return nil, err
	}
	level := o.LogLevel
	if level == "" {
		level = "warn"
	}
	cmd := exec.Command(o.Bin, "--config-path", path, "--disable-hot-restart", "--concurrency", "1",
		"--log-level", level, "--drain-time-s", "1", "--drain-strategy", "immediate",
		// Access-log lines within a second, as docker-compose.yaml has it
		// (Envoy's default is 10s).
		"--file-flush-interval-msec", "1000")
	p, err := Start("envoy", cmd, o.Lifetime, o.Echo)
	if err != nil {
		return nil, err
	}
	e := &Envoy{Process: p, Admin: o.Admin}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.WaitHTTP(ctx, "http://"+o.Admin+"/ready", http.StatusOK, func(body string) bool {
		return strings.TrimSpace(body) == "LIVE"
	}); err != nil {
		p.Kill()
		return nil, err
	}
	return e, nil
}

// AdminGet returns the body of an admin interface page, such as /clusters.
func (e *Envoy) AdminGet(path string) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + e.Admin + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("admin %s: HTTP %d: %s", path, resp.StatusCode, body)
	}
	return string(body), nil
}

// HostHealth returns the health flags that the admin page /clusters gives
// each host of a cluster, by address: "healthy", or flags such as
// "/failed_active_hc".
func (e *Envoy) HostHealth(cluster string) (map[string]string, error) {
	page, err := e.AdminGet("/clusters")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	prefix := cluster + "::"
	for _, line := range strings.Split(page, "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		// 127.0.0.1:9000::health_flags::healthy
		host, flags, ok := strings.Cut(rest, "::health_flags::")
		if ok {
			out[host] = flags
		}
	}
	return out, nil
}

// Counter returns one of Envoy's counters or gauges, such as
// cluster.private_service.upstream_rq_total; 0 when Envoy has no such stat
// yet.
func (e *Envoy) Counter(name string) (int64, error) {
	page, err := e.AdminGet("/stats?filter=" + "^" + regexp.QuoteMeta(name) + "$")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, name+": "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, nil
}

// withAdmin sets the bootstrap's admin address.
func withAdmin(config []byte, admin string) ([]byte, error) {
	host, port, err := net.SplitHostPort(admin)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", admin, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(config, &root); err != nil {
		return nil, fmt.Errorf("envoy bootstrap: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("envoy bootstrap: not a YAML mapping")
	}
	var adminNode yaml.Node
	src := fmt.Sprintf("address: {socket_address: {address: %q, port_value: %s}}", host, port)
	if err := yaml.Unmarshal([]byte(src), &adminNode); err != nil {
		return nil, err
	}
	top := root.Content[0]
	if v := mapValue(top, "admin"); v != nil {
		*v = *adminNode.Content[0]
	} else {
		top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "admin"}, adminNode.Content[0])
	}
	return encode(&root)
}
