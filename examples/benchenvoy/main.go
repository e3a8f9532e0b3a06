// Command benchenvoy measures what authorization costs through real Envoy
// (make bench-envoy): Envoy 1.40 on 127.0.0.1 in front of a tiny upstream,
// under HTTP load from this process, in configurations that take turns in
// each round:
//
//	(a) Envoy alone, no authorization;
//	(b) Envoy + ext_authz -> actions-authz (the release binary, serve with
//	    examples/dev/config.yaml), with one token, answered from its
//	    cache, and with a stream of new tokens, each verified in full;
//	(c) Envoy's own jwt_authn (issuer, audience, signature, the claims as
//	    headers) + RBAC on repository_owner_id, the closest equivalent
//	    check, with the same tokens;
//	(d) Envoy + ext_authz -> the minimal baseline server of make bench;
//	(b') actions-authz again, over ext_authz's http_service.
//
// Each configuration has its own Envoy (--concurrency 1, as localstack runs
// it: one worker thread, so that Envoy, the authorizer, the upstream and
// this load generator share two cores predictably; nothing is pinned). The
// driver lives here, beside examples/localstack (make stack), rather than in
// the product binary: it reuses envoy/localstack to run Envoy and the
// processes, and the baseline from the cmd/actions-authz test binary, as
// make load does.
//
// It reports requests/s, p50 and p99 from a closed loop at a fixed
// concurrency, the CPU time per request of Envoy and of the authorizer
// (from /proc), as ratios within the run; then latency against offered load
// from an open loop at fractions of (a)'s saturation rate, drawn as a PNG.
//
//	make bench-envoy
//	bin/benchenvoy --rounds 1 --duration 3s --rates 0.1,0.3 --only 'c jwt'
//	bin/benchenvoy --actions-authz bin/actions-authz-syms --rates '' --perf .cache/perf
//
// It is a benchmark, never a test: it checks only that each configuration
// allows the right token and refuses another owner's before it measures.
package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/actions-authz/actions-authz/envoy/localstack"
	"github.com/actions-authz/actions-authz/internal/cli"
)

func main() { cli.Main("benchenvoy", run) }

// options are the command's flags.
type options struct {
	root, envoy, authz, baseline string
	rounds, concurrency, tokens  int
	warmup, duration             time.Duration
	rates                        []float64
	rateDuration                 time.Duration
	png, perf                    string
	gomaxprocs                   int
	only                         *regexp.Regexp
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "upstream" {
		return serveUpstream(ctx, args[1:], stderr)
	}
	var o options
	fs := cli.NewFlagSet("benchenvoy", stderr)
	fs.StringVar(&o.root, "root", ".", "repository root")
	fs.StringVar(&o.envoy, "envoy", "", "Envoy binary (default: $ENVOY_BIN, make envoy's, or envoy on the PATH)")
	fs.StringVar(&o.authz, "actions-authz", "bin/actions-authz", "actions-authz binary (make build)")
	fs.StringVar(&o.baseline, "baseline", "bin/baseline.test", "cmd/actions-authz test binary, which serves the baseline (go test -c)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of the closed loop; each runs every configuration in turn")
	fs.IntVar(&o.concurrency, "concurrency", 32, "requests in flight in the closed loop, one per connection")
	fs.IntVar(&o.tokens, "tokens", 2000, "distinct tokens of the new-token configurations")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "closed-loop warm-up before each measurement")
	fs.DurationVar(&o.duration, "duration", 8*time.Second, "closed-loop measurement of each configuration in each round")
	rates := fs.String("rates", "0.05,0.1,0.2,0.3,0.4,0.5,0.6,0.75", "open-loop rates, as fractions of (a)'s closed-loop rate; empty: none")
	fs.DurationVar(&o.rateDuration, "rate-duration", 4*time.Second, "open-loop run at each rate")
	fs.StringVar(&o.png, "png", "", "write the plot of latency against offered load here")
	fs.StringVar(&o.perf, "perf", "", "after the rounds, profile Envoy and the authorizer with perf under (b) and (c), into this directory")
	fs.IntVar(&o.gomaxprocs, "authz-gomaxprocs", 0, "GOMAXPROCS of actions-authz and the baseline (0: Go's default, the cores)")
	only := fs.String("only", "", "run only the configurations whose names match this regular expression, and (a)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.only, err = regexp.Compile(*only); err != nil {
		return fmt.Errorf("--only: %w", err)
	}
	for f := range strings.SplitSeq(*rates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("--rates: %q is not a positive fraction", f)
		}
		o.rates = append(o.rates, v)
	}
	if o.envoy == "" {
		bin, err := localstack.Find(o.root)
		if err != nil {
			return err
		}
		o.envoy = bin
	}
	b, err := setUp(ctx, o, stdout)
	if b != nil {
		defer b.stop()
	}
	if err != nil {
		return err
	}
	return b.measure(ctx, o, stdout)
}
