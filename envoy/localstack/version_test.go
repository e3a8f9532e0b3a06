package localstack_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// The pinned Envoy has go-control-plane's minor: the configurations are
// validated against those protos and run by that Envoy.
func TestPinnedVersionMatchesGoControlPlane(t *testing.T) {
	pinned, err := localstack.PinnedVersion(root)
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/envoyproxy/go-control-plane/envoy v(\d+\.\d+)\.\d+`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/envoyproxy/go-control-plane/envoy")
	}
	if minor := pinned[:strings.LastIndexByte(pinned, '.')]; minor != string(m[1]) {
		t.Errorf("%s pins Envoy %s; go.mod has go-control-plane/envoy %s.x: the minors must match", localstack.VersionFile, pinned, m[1])
	}
	// The compose image follows the same minor.
	compose, err := os.ReadFile(filepath.Join(root, "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "envoyproxy/envoy:v" + string(m[1]) + "-latest"; !strings.Contains(string(compose), want) {
		t.Errorf("docker-compose.yaml does not run %s", want)
	}
}

// The binary the tests run is the pinned one.
func TestEnvoyIsPinnedVersion(t *testing.T) {
	bin := requireEnvoy(t) // checks the version
	if _, err := localstack.Version(context.Background(), bin); err != nil {
		t.Fatal(err)
	}
}

func TestPinnedVersionRefusesGarbage(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "envoy"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"", "1.40", "v1.40.0", "latest", "1.40.0-dev"} {
		if err := os.WriteFile(filepath.Join(dir, localstack.VersionFile), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := localstack.PinnedVersion(dir); err == nil {
			t.Errorf("version file %q: got %q, want an error", v, got)
		}
	}
}
