package localstack_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actions-authz/actions-authz/envoy/localstack"
)

// A process started with StartLogged writes its output, standard output
// and error, to the file, where Output reads it back.
func TestStartLogged(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.log")
	p, err := localstack.StartLogged("sh", exec.Command("sh", "-c", "echo to-stdout; echo to-stderr >&2"), time.Minute, path)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		p.Kill()
		t.Fatal("sh did not exit")
	}
	for _, want := range []string{"to-stdout", "to-stderr"} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("Output() = %q, want %q in it", p.Output(), want)
		}
	}
}
