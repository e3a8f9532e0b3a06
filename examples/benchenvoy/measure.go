package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// openConns is the number of connections the open loop may use: enough
// that requests seldom wait for a free one below saturation.
const openConns = 64

// measure runs the closed-loop rounds, the open-loop sweep and the
// profiles, and prints the report.
func (b *bench) measure(ctx context.Context, o options, stdout io.Writer) error {
	fmt.Fprintf(stdout, "closed loop: %d connections, %v warm-up then %v per configuration, %d rounds; %d new tokens\n\n",
		o.concurrency, o.warmup, o.duration, o.rounds, o.tokens)
	for round := 1; round <= o.rounds; round++ {
		for _, c := range b.configs {
			if err := ctx.Err(); err != nil {
				return err
			}
			closedLoop(ctx, c.listener, c.reqs, o.concurrency, o.warmup)
			e0, a0, u0, g0 := cpuOf(c.envoy.Process), cpuOf(c.authz), cpuOf(b.upstream), selfCPU()
			res := closedLoop(ctx, c.listener, c.reqs, o.concurrency, o.duration)
			s := sample{res: res, envoyCPU: cpuOf(c.envoy.Process) - e0, authzCPU: cpuOf(c.authz) - a0,
				upstreamCPU: cpuOf(b.upstream) - u0, generatorCPU: selfCPU() - g0}
			if msg := res.errorSummary(); msg != "" {
				return fmt.Errorf("round %d, %s: %s", round, c.name, msg)
			}
			c.rounds = append(c.rounds, s)
			fmt.Fprintf(stdout, "round %d  %-30s %8.0f req/s  p50 %s  p99 %s  CPU/req: envoy %s  authorizer %s\n",
				round, c.name, res.rate(), ms(res.percentile(0.5)), ms(res.percentile(0.99)),
				us(s.perRequest(s.envoyCPU)), us(s.perRequest(s.authzCPU)))
		}
	}
	b.report(stdout)

	var points map[string][]point
	if len(o.rates) > 0 {
		points = b.sweep(ctx, o, stdout)
		if o.png != "" {
			if err := os.MkdirAll(filepath.Dir(o.png), 0o755); err != nil {
				return err
			}
			if err := writePlot(o.png, plotConfigs, points, b.byName(configNone).median(rateOf)); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "plot: %s\n", o.png)
		}
	}
	b.targets(stdout, points)
	fmt.Fprintf(stdout, "\nload average at the end: %s\n", loadAverage())
	if o.perf != "" {
		return b.profile(ctx, o, stdout)
	}
	return nil
}

func (s sample) perRequest(cpu time.Duration) time.Duration {
	return cpu / time.Duration(max(s.res.ok(), 1))
}

// The figures of a sample that the report takes medians of.
var (
	rateOf     = func(s sample) float64 { return s.res.rate() }
	p50Of      = func(s sample) float64 { return float64(s.res.percentile(0.5)) }
	p99Of      = func(s sample) float64 { return float64(s.res.percentile(0.99)) }
	envoyCPUOf = func(s sample) float64 { return float64(s.perRequest(s.envoyCPU)) }
	authzCPUOf = func(s sample) float64 { return float64(s.perRequest(s.authzCPU)) }
	upCPUOf    = func(s sample) float64 { return float64(s.perRequest(s.upstreamCPU)) }
	genCPUOf   = func(s sample) float64 { return float64(s.perRequest(s.generatorCPU)) }
	perRoundOf = func(c *config, f func(sample) float64) []float64 { return apply(c.rounds, f) }
	durationOf = func(v float64) time.Duration { return time.Duration(v) }
)

func apply(ss []sample, f func(sample) float64) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

func (c *config) median(f func(sample) float64) float64 { return median(apply(c.rounds, f)) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Sorted(slices.Values(v))
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (b *bench) byName(name string) *config {
	for _, c := range b.configs {
		if c.name == name {
			return c
		}
	}
	return nil
}

// report prints the closed-loop table: medians over the rounds, and each
// configuration's requests/s as a ratio to (a)'s in the same round.
func (b *bench) report(stdout io.Writer) {
	none := b.byName(configNone)
	fmt.Fprintf(stdout, "\nmedians of the rounds (CPU: time per request, from /proc/<pid>/stat):\n\n")
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "configuration\treq/s\tvs (a)\tp50\tp99\tEnvoy CPU\tauthorizer CPU\tupstream CPU\tgenerator CPU")
	for _, c := range b.configs {
		authz := us(durationOf(c.median(authzCPUOf)))
		if c.authz == nil {
			authz = "-"
		}
		fmt.Fprintf(w, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.name, c.median(rateOf),
			ratios(perRoundOf(c, rateOf), perRoundOf(none, rateOf)),
			ms(durationOf(c.median(p50Of))), ms(durationOf(c.median(p99Of))),
			us(durationOf(c.median(envoyCPUOf))), authz,
			us(durationOf(c.median(upCPUOf))), us(durationOf(c.median(genCPUOf))))
	}
	w.Flush()
}

// ratios formats the per-round ratios num/den.
func ratios(num, den []float64) string {
	var parts []string
	for i := range min(len(num), len(den)) {
		parts = append(parts, strconv.FormatFloat(num[i]/den[i], 'f', 2, 64))
	}
	return strings.Join(parts, " ")
}

// plotConfigs are the configurations of the open-loop sweep and the plot.
var plotConfigs = []string{configNone, configAuthz, configJWT, configBase}

// point is one open-loop run: the offered rate and the latencies.
type point struct {
	offered, achieved float64
	p50, p99          time.Duration
	failed            int
}

// sweep runs the open loop at each fraction of (a)'s closed-loop rate, every
// plotted configuration in turn at each rate.
func (b *bench) sweep(ctx context.Context, o options, stdout io.Writer) map[string][]point {
	sat := b.byName(configNone).median(rateOf)
	fmt.Fprintf(stdout, "\nopen loop: requests at a fixed rate, up to %d connections, %v at each rate; (a) saturates at %.0f req/s\n\n",
		openConns, o.rateDuration, sat)
	points := map[string][]point{}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "offered\tconfiguration\tachieved\tp50\tp99\tfailed")
	for _, f := range o.rates {
		rate := f * sat
		for _, name := range plotConfigs {
			if ctx.Err() != nil {
				return points
			}
			c := b.byName(name)
			if c == nil {
				continue
			}
			clients := make([]*client, openConns)
			for i := range clients {
				clients[i] = &client{addr: c.listener}
			}
			openLoop(ctx, clients, c.reqs, rate, time.Second) // warm-up
			res := openLoop(ctx, clients, c.reqs, rate, o.rateDuration)
			for _, cl := range clients {
				cl.close()
			}
			p := point{offered: rate, achieved: res.rate(), p50: res.percentile(0.5), p99: res.percentile(0.99), failed: res.other + res.errors}
			points[name] = append(points[name], p)
			fmt.Fprintf(w, "%.0f (%.2f)\t%s\t%.0f\t%s\t%s\t%d\n", rate, f, name, p.achieved, ms(p.p50), ms(p.p99), p.failed)
		}
	}
	w.Flush()
	return points
}

// targets prints the targets against the figures of this run:
// requests/s as ratios per round, and the same comparison by CPU time per
// request (Envoy + authorizer), which the machine's other work moves less.
func (b *bench) targets(stdout io.Writer, points map[string][]point) {
	fmt.Fprintf(stdout, "\ntargets (req/s ratios per round; CPU: Envoy + authorizer per request, inverted):\n")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT MET"
	}
	cpu := func(s sample) float64 { return float64(s.perRequest(s.envoyCPU + s.authzCPU)) }
	for _, t := range []struct {
		label, num, den string
		target          float64 // 0: none
		strict          bool
	}{
		{"(b)/(c), one token ", configAuthz, configJWT, 0.7, false},
		{"(b)/(c), new tokens", configAuthzNew, configJWTNew, 0, false},
		{"(b)/(d), one token ", configAuthz, configBase, 1, true},
		{"(b)/(d), new tokens", configAuthzNew, configBaseNew, 1, true},
		{"(b')/(b), one token", configAuthzHTTP, configAuthz, 0, false},
	} {
		num, den := b.byName(t.num), b.byName(t.den)
		if num == nil || den == nil {
			continue
		}
		m := num.median(rateOf) / den.median(rateOf)
		line := fmt.Sprintf("  %s  %s  (median %.2f; by CPU %.2f", t.label,
			ratios(perRoundOf(num, rateOf), perRoundOf(den, rateOf)), m, den.median(cpu)/num.median(cpu))
		switch {
		case t.target > 0 && t.strict:
			line += fmt.Sprintf("; target > %g: %s", t.target, verdict(m > t.target))
		case t.target > 0:
			line += fmt.Sprintf("; target >= %g: %s", t.target, verdict(m >= t.target))
		}
		fmt.Fprintln(stdout, line+")")
	}
	sat := b.byName(configNone).median(rateOf)
	for i, p := range points[configNone] {
		if i >= len(points[configAuthz]) || math.Abs(p.offered/sat-0.5) > 0.005 {
			continue
		}
		add := points[configAuthz][i].p99 - p.p99
		fmt.Fprintf(stdout, "  p99 at half of (a)'s saturation (%.0f req/s): (a) %s, (b) %s: (b) adds %s (target <= 1 ms: %s)\n",
			p.offered, ms(p.p99), ms(points[configAuthz][i].p99), ms(add), verdict(add <= time.Millisecond))
	}
	// The highest rate up to which (b) adds at most 1 ms.
	within := 0.0
	for i, p := range points[configNone] {
		if i >= len(points[configAuthz]) || points[configAuthz][i].p99-p.p99 > time.Millisecond {
			break
		}
		within = p.offered
	}
	if len(points[configNone]) > 0 {
		fmt.Fprintf(stdout, "  (b) adds at most 1 ms to p99 up to %.0f req/s offered (%.2f of (a)'s saturation)\n", within, within/sat)
	}
}

// profile records Envoy and the authorizer with perf during a closed-loop
// run of (b) and (c) with one token and of (b) and (d) with new tokens, and
// prints where their CPU time goes.
func (b *bench) profile(ctx context.Context, o options, stdout io.Writer) error {
	if _, err := exec.LookPath("perf"); err != nil {
		return fmt.Errorf("--perf: %w", err)
	}
	if err := os.MkdirAll(o.perf, 0o755); err != nil {
		return err
	}
	for _, name := range []string{configAuthz, configJWT, configAuthzNew, configBaseNew} {
		c := b.byName(name)
		if c == nil {
			continue
		}
		pids := strconv.Itoa(c.envoy.PID())
		if c.authz != nil {
			pids += "," + strconv.Itoa(c.authz.PID())
		}
		file := filepath.Join(o.perf, strings.NewReplacer(" ", "-", ",", "", "+", "-", "'", "").Replace(name)+".perf.data")
		rec := exec.CommandContext(ctx, "perf", "record", "-F", "999", "-g", "-o", file, "-p", pids, "--", "sleep", strconv.Itoa(int(o.duration.Seconds())))
		rec.Stderr = io.Discard
		if err := rec.Start(); err != nil {
			return err
		}
		closedLoop(ctx, c.listener, c.reqs, o.concurrency, o.duration+time.Second)
		if err := rec.Wait(); err != nil {
			return fmt.Errorf("perf record: %w", err)
		}
		out, err := exec.CommandContext(ctx, "perf", "report", "-i", file, "--no-children", "--sort", "comm,dso,sym",
			"--stdio", "-g", "none", "--field-separator", "|").Output()
		if err != nil {
			return fmt.Errorf("perf report: %w", err)
		}
		fmt.Fprintf(stdout, "\n== perf: %s, %v of closed loop; share of the samples of Envoy and the authorizer\n", name, o.duration)
		w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		for _, share := range perfShares(string(out)) {
			fmt.Fprintf(w, "  %s\t%s\t%5.1f%%\n", share.process, share.what, share.percent)
		}
		w.Flush()
		fmt.Fprintf(stdout, "  (profile: %s; perf report -i %s)\n", file, file)
	}
	return nil
}

// perfShare is the share of the samples that one kind of work took.
type perfShare struct {
	process, what string
	percent       float64
}

// perfShares groups the lines of perf report --sort comm,dso,sym
// --field-separator '|' by process and by kind of work. Envoy's binary is
// stripped, so its user time is one block.
func perfShares(report string) []perfShare {
	sum := map[[2]string]float64{}
	for line := range strings.SplitSeq(report, "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 || strings.HasPrefix(line, "#") {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(f[0]), "%"), 64)
		if err != nil {
			continue
		}
		comm, dso, sym := strings.TrimSpace(f[1]), strings.TrimSpace(f[2]), strings.TrimSpace(f[3])
		process := "authorizer"
		if strings.HasPrefix(comm, "wrk:") || strings.HasPrefix(comm, "envoy") {
			process = "envoy"
		}
		sum[[2]string{process, workOf(process, dso, sym)}] += pct
	}
	var out []perfShare
	for k, v := range sum {
		out = append(out, perfShare{k[0], k[1], v})
	}
	slices.SortFunc(out, func(a, b perfShare) int {
		if a.process != b.process {
			return strings.Compare(a.process, b.process)
		}
		return int(b.percent*1000) - int(a.percent*1000)
	})
	return out
}

// workOf names the kind of work a sample was doing.
func workOf(process, dso, sym string) string {
	sym = strings.TrimPrefix(strings.TrimPrefix(sym, "[.] "), "[k] ")
	switch {
	case strings.Contains(dso, "kernel"):
		return "kernel (syscalls, network, scheduling)"
	case process == "envoy" && strings.HasPrefix(dso, "envoy"):
		return "envoy (user space)"
	case process == "envoy":
		return "libraries (" + dso + ")"
	case strings.HasPrefix(sym, "runtime."):
		for _, gc := range []string{"gc", "malloc", "mark", "scan", "sweep", "memclr", "span", "heap", "wbBuf", "Barrier", "newobject", "greyobject", "findObject"} {
			if strings.Contains(sym, gc) {
				return "Go runtime: allocation and GC"
			}
		}
		return "Go runtime: scheduler, netpoll, other"
	case strings.HasPrefix(sym, "google.golang.org/grpc"), strings.HasPrefix(sym, "golang.org/x/net/http2"):
		return "gRPC and HTTP/2"
	case strings.HasPrefix(sym, "google.golang.org/protobuf"), strings.HasPrefix(sym, "github.com/envoyproxy/go-control-plane"):
		return "protobuf (CheckResponse encoding)"
	case strings.HasPrefix(sym, "crypto/"):
		return "crypto (token hash, RS256)"
	case strings.HasPrefix(sym, "github.com/actions-authz/"), strings.HasPrefix(sym, "main."):
		return "actions-authz code (decode, verify, decide, log)"
	case strings.HasPrefix(sym, "log/slog"), strings.HasPrefix(sym, "encoding/json"), strings.HasPrefix(sym, "github.com/prometheus"):
		return "logs and metrics libraries"
	}
	return "other Go code"
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 1, 64) + " µs"
}
