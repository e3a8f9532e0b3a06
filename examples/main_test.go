package examples_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// root is the repository root, seen from this directory.
const root = ".."

// binDir is the temporary directory of the binary, once built; TestMain
// removes it.
var binDir struct {
	sync.Mutex
	path string
}

// binary builds actions-authz once per test binary run, for the tests whose
// subject is one of its commands.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "examples-bin")
	if err != nil {
		return "", err
	}
	binDir.Lock()
	binDir.path = dir
	binDir.Unlock()
	bin := filepath.Join(dir, "actions-authz")
	cmd := exec.Command("go", "build", "-race", "-o", bin, "./cmd/actions-authz")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/actions-authz: %v\n%s", err, out)
	}
	return bin, nil
})

// requireBinary returns the actions-authz binary, failing the test when it
// does not build.
func requireBinary(t *testing.T) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	binDir.Lock()
	if binDir.path != "" {
		os.RemoveAll(binDir.path)
	}
	binDir.Unlock()
	os.Exit(code)
}
