// Command loadtest sends Envoy-shaped Checks to a running actions-authz (or
// any ext_authz server) and prints the throughput, the latency percentiles
// and the count of each decision. It is the load generator of "make load"
// (examples/dev/load.sh) and of docs/performance.md, kept out of the
// production binary.
//
// Usage:
//
//	loadtest [--addr A] [--mint-url URL] [--tokens N] [--concurrency N] [--duration D] [--pid PID]
//
// "loadtest --help" lists every flag.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/actions-authz/actions-authz/cmd/internal/loadclient"
	"github.com/actions-authz/actions-authz/internal/cli"
)

const usage = `loadtest: closed-loop load of Envoy-shaped Checks against an ext_authz server

Usage:
  loadtest [--addr A] [--mint-url URL] [--tokens N] [--concurrency N] [--duration D] [--pid PID]

Flags:
`

func main() { cli.Main("loadtest", run) }

// loadOptions are the flags of the loadtest command.
type loadOptions struct {
	addr         string
	mintURL      string
	tokens       int
	tokensFile   string
	distinctRuns bool
	concurrency  int
	connections  int
	duration     time.Duration
	warmup       time.Duration
	timeout      time.Duration
	method       string
	host         string
	path         string
	policy       string
	pid          int
	decodeFull   bool
}

// run sends Envoy-shaped Checks to a running actions-authz (or any
// ext_authz server) from --concurrency goroutines for --duration, with
// --tokens distinct tokens minted beforehand from a development issuer, and
// prints the throughput, the latency percentiles and the count of each
// decision. It is a closed loop: each goroutine sends its next Check when
// the previous one is answered.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o loadOptions
	fs := cli.NewFlagSet("loadtest", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9000", "ext_authz gRPC address to load")
	fs.StringVar(&o.mintURL, "mint-url", "http://127.0.0.1:9002/token", "token endpoint of a development issuer (serve --dev); query parameters are claims")
	fs.IntVar(&o.tokens, "tokens", 1000, "distinct tokens to mint and cycle through")
	fs.StringVar(&o.tokensFile, "tokens-file", "", "read the tokens from this file (one a line) when it exists, else mint them and write it, so that several runs send the same tokens")
	fs.BoolVar(&o.distinctRuns, "distinct-runs", false, "give every token its own run_id, run_number, check_run_id and sha, as tokens of different workflow runs")
	fs.IntVar(&o.concurrency, "concurrency", 32, "Checks in flight at once")
	fs.IntVar(&o.connections, "connections", 2, "gRPC connections the Checks are spread over (Envoy opens one per worker)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send Checks")
	fs.DurationVar(&o.warmup, "warmup", 0, "send Checks this long first, without counting them")
	fs.DurationVar(&o.timeout, "timeout", 500*time.Millisecond, "deadline of each Check, sent as Envoy sends its ext_authz timeout (0.5s in envoy/envoy.yaml)")
	fs.StringVar(&o.method, "method", "GET", "method of the original request")
	fs.StringVar(&o.host, "host", "private.example.test", "host (:authority) of the original request")
	fs.StringVar(&o.path, "path", "/api/status", "path of the original request")
	fs.StringVar(&o.policy, "policy", "", "policy name sent as context_extensions, as an Envoy route would")
	fs.BoolVar(&o.decodeFull, "decode-full", false, "decode every response in full, as a Go client would, instead of its status only")
	fs.IntVar(&o.pid, "pid", 0, "process ID of the server, when it runs on this Linux host: report its CPU time per Check and peak resident memory")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case o.tokens < 1:
		return cli.Usage("--tokens must be at least 1")
	case o.concurrency < 1 || o.connections < 1:
		return cli.Usage("--concurrency and --connections must be at least 1")
	case o.duration <= 0 || o.warmup < 0 || o.timeout <= 0:
		return cli.Usage("--duration and --timeout must be positive, --warmup not negative")
	}

	tokens, err := loadTokens(ctx, &o, stdout)
	if err != nil {
		return err
	}

	reqs := make([]*authv3.CheckRequest, len(tokens))
	for i, tok := range tokens {
		reqs[i] = loadclient.EnvoyRequest(tok, o.method, o.host, o.path, o.policy, i)
	}
	conns := make([]loadclient.Func, o.connections)
	for i := range conns {
		conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		conns[i] = loadclient.StatusOnly(conn)
		if o.decodeFull {
			conns[i] = loadclient.FullDecode(authv3.NewAuthorizationClient(conn))
		}
	}

	if o.warmup > 0 {
		if _, err := runLoad(ctx, conns, reqs, o.concurrency, o.warmup, o.timeout); err != nil {
			return err
		}
	}
	before, _ := readProc(o.pid)
	res, err := runLoad(ctx, conns, reqs, o.concurrency, o.duration, o.timeout)
	if err != nil {
		return err
	}
	after, procErr := readProc(o.pid)
	res.print(stdout)
	if o.pid != 0 {
		if procErr != nil {
			return fmt.Errorf("reading the server's /proc: %w", procErr)
		}
		fmt.Fprintf(stdout, "server (pid %d): %.1f us CPU per Check, peak RSS %.1f MiB\n", o.pid,
			float64((after.cpu-before.cpu).Microseconds())/float64(max(res.total, 1)), float64(after.hwm)/(1<<20))
	}
	if res.total == 0 {
		return errors.New("no Check was answered")
	}
	return nil
}
