package fileread

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLimited(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := Limited(path, 5); err != nil || string(data) != "12345" {
		t.Errorf("Limited(5) = %q, %v", data, err)
	}
	if _, err := Limited(path, 4); err == nil || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Errorf("Limited(4) = %v, want too large", err)
	}
	if _, err := Limited(filepath.Join(t.TempDir(), "missing"), 4); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
