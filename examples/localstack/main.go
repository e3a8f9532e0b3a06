// Command localstack runs the local stack of docker-compose.yaml without
// Docker, on 127.0.0.1: real Envoy with envoy/envoy.yaml, actions-authz
// serve --dev with examples/compose/config.yaml, and the sample private
// service, with the same host ports as compose. make stack builds the two
// Go binaries, installs Envoy into .cache when it is not on the PATH, and
// runs it:
//
//	make stack
//	TOKEN=$(curl -fsS "http://127.0.0.1:9002/token?format=raw")
//	curl -s -H "Authorization: Bearer $TOKEN" http://localhost:8080/hello
//
// The addresses of the compose files are rewritten for loopback by
// envoy/localstack (ComposeAddrs). Ctrl-C stops all three.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/actions-authz/actions-authz/envoy/localstack"
	"github.com/actions-authz/actions-authz/internal/cli"
)

func main() { cli.Main("localstack", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("localstack", stderr)
	root := fs.String("root", ".", "the repository root")
	envoyBin := fs.String("envoy", "", "the Envoy binary (default: $ENVOY_BIN, envoy on the PATH, or the one make envoy installed)")
	authzBin := fs.String("actions-authz", "bin/actions-authz", "the actions-authz binary")
	upstreamBin := fs.String("private-service", "bin/private-service", "the private service binary")
	lifetime := fs.Duration("lifetime", 12*time.Hour, "stop everything after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *envoyBin == "" {
		bin, err := localstack.Find(*root)
		if err != nil {
			return err
		}
		*envoyBin = bin
	}
	dir, err := os.MkdirTemp("", "actions-authz-localstack")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	a := localstack.DefaultAddrs()
	s, err := localstack.StartStack(ctx, localstack.Options{
		Root: *root, Envoy: *envoyBin, ActionsAuthz: *authzBin, PrivateService: *upstreamBin,
		Addrs: a, Dir: dir, Lifetime: *lifetime, Echo: stderr, EnvoyLogLevel: "warn",
	})
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Fprintf(stdout, `
localstack: Envoy on http://%[1]s (admin %[2]s), actions-authz on %[3]s (gRPC) and %[4]s (health),
the development issuer on http://%[5]s, the private service on %[6]s (reached through Envoy only).
In another terminal, as in the README's "Local stack" section:

  TOKEN=$(curl -fsS "http://%[5]s/token?format=raw")
  curl -s -H "Authorization: Bearer $TOKEN" http://%[1]s/hello

Ctrl-C stops all three.
`, a.Listener, a.Admin, a.GRPC, a.HTTP, a.Dev, a.Upstream)

	select {
	case <-ctx.Done():
		return nil
	case <-s.Envoy.Done():
		return errors.New("envoy exited; the end of its output:\n" + s.Envoy.Tail(20))
	case <-s.ActionsAuthz.Done():
		return errors.New("actions-authz exited; the end of its output:\n" + s.ActionsAuthz.Tail(20))
	case <-s.PrivateService.Done():
		return errors.New("the private service exited")
	}
}
