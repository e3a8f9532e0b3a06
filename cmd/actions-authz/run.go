package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/actions-authz/actions-authz/internal/cli"
)

// version and commit are set at build time with
// -ldflags "-X main.version=... -X main.commit=..." (make build, make
// release-snapshot). Without them the build information fills them in.
var (
	version = "dev"
	commit  = ""
)

const usage = `actions-authz: Envoy external authorization for GitHub Actions OIDC tokens

Usage:
  actions-authz serve   --config FILE [--grpc-addr A] [--http-addr A] [--dev] [--dev-addr A]
  actions-authz check   --config FILE
  actions-authz explain --config FILE (--token T | --token-file F | --claims-file F)
                        [--policy NAME] [--method M] [--host H] [--path P]
                        [--at RFC3339] [--jwks-file F]
  actions-authz test    --config FILE [--jwks-file F] TESTS...
  actions-authz healthcheck (--addr HOST:PORT | --grpc-addr HOST:PORT [--tls-ca F [--tls-cert F --tls-key F]])
  actions-authz version

Run "actions-authz COMMAND --help" for a command's flags.
`

// run is the whole program: main only adds signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return cli.Usage("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "check":
		return check(rest, stdout, stderr)
	case "explain":
		return explain(ctx, rest, stdout, stderr)
	case "test":
		return policyTest(ctx, rest, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return cli.Usage("unknown command %q", cmd)
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// versionLine is what "actions-authz version" prints: the version, the
// commit it was built from and the Go toolchain that built it, for example
// "actions-authz v1.2.0 commit 3d3c42e5aac5ba805825da76410c181273ba90b1 go1.26.8 linux/amd64".
func versionLine() string {
	rev, goVersion := commit, runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if rev == "" {
			rev = buildSetting(bi, "vcs.revision")
			if rev != "" && buildSetting(bi, "vcs.modified") == "true" {
				rev += "-dirty"
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return fmt.Sprintf("actions-authz %s commit %s %s %s/%s", buildVersion(), rev, goVersion, runtime.GOOS, runtime.GOARCH)
}

func buildSetting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
