package localstack

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// ConfigFiles returns the YAML files of the repository at root that hold
// Envoy configuration, slash-separated from root: a document with
// static_resources (a bootstrap), a ConfigMap whose data holds one, or
// anything naming an Envoy type (type.googleapis.com/envoy.…, as a lone
// cluster does). The tests that run Envoy's own validation over the
// repository's files use it to leave none out.
func ConfigFiles(root string) ([]string, error) {
	return YAMLFiles(root, func(data []byte) bool {
		return bytes.Contains(data, []byte("type.googleapis.com/envoy.")) || holdsBootstrap(data)
	})
}

// YAMLFiles returns the YAML files (.yaml, .yml) of the repository at root
// whose content keep accepts, slash-separated from root. Hidden folders
// (but .github), testdata and node_modules are left out.
func YAMLFiles(root string, keep func(data []byte) bool) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (strings.HasPrefix(name, ".") && name != ".github" || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if keep(data) {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files, err
}

// holdsBootstrap reports whether a YAML stream has a document with
// static_resources at its top, or a ConfigMap with such a data value.
func holdsBootstrap(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if err == io.EOF {
			return false
		}
		if err != nil {
			return false // not YAML mappings: not Envoy's
		}
		if _, ok := doc["static_resources"]; ok {
			return true
		}
		if doc["kind"] == "ConfigMap" {
			values, _ := doc["data"].(map[string]any)
			for _, v := range values {
				s, _ := v.(string)
				var inner map[string]any
				if yaml.Unmarshal([]byte(s), &inner) == nil && inner["static_resources"] != nil {
					return true
				}
			}
		}
	}
}

// ConfigCase is one Envoy configuration of the repository, as a bootstrap
// Envoy can validate.
type ConfigCase struct {
	Name string
	// Files are the repository files (slash-separated, from the root) whose
	// Envoy configuration this case validates.
	Files []string
	// Bootstrap returns the path of the bootstrap to validate; dir is the
	// test's own temporary directory.
	Bootstrap func(t *testing.T, dir string) string
}

// ValidateConfigs runs Envoy's own check, Validate, with the pinned Envoy
// (see Require) over each case's bootstrap, in parallel subtests of t.
// First it fails t for each file of ConfigFiles(root) that mine says is
// the test's to cover and that no case names: a new file cannot escape
// validation.
func ValidateConfigs(t *testing.T, root string, mine func(file string) bool, cases []ConfigCase) {
	t.Helper()
	bin := Require(t, root)
	found, err := ConfigFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(found, ComposeEnvoyConfig) {
		t.Fatalf("found Envoy configuration in %q, without %s: the search is broken", found, ComposeEnvoyConfig)
	}
	for _, f := range found {
		covered := slices.ContainsFunc(cases, func(c ConfigCase) bool { return slices.Contains(c.Files, f) })
		if mine(f) && !covered {
			t.Errorf("%s holds Envoy configuration that no case of %s validates: add one", f, t.Name())
		}
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			config := c.Bootstrap(t, t.TempDir())
			if err := Validate(context.Background(), bin, config); err != nil {
				t.Errorf("%s: %v", strings.Join(c.Files, ", "), err)
			}
		})
	}
}

// LoadYAML reads the file rel of the repository at root, which holds one
// YAML mapping, for a test to edit into a configuration Envoy validates.
func LoadYAML(tb testing.TB, root, rel string) map[string]any {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		tb.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	return doc
}

// WriteYAML writes doc into dir as name and returns the file's path.
func WriteYAML(tb testing.TB, dir, name string, doc map[string]any) string {
	tb.Helper()
	data, err := yaml.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return p
}
