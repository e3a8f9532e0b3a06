package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/procfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/actions-authz/actions-authz/cmd/internal/loadclient"
	"github.com/actions-authz/actions-authz/internal/cli"
	"github.com/actions-authz/actions-authz/internal/loadgen"
)

// loadTokens reads the tokens from --tokens-file, or mints --tokens of them
// (and writes them to --tokens-file when it is set).
func loadTokens(ctx context.Context, o *loadOptions, stdout io.Writer) ([]string, error) {
	if o.tokensFile != "" {
		data, err := os.ReadFile(o.tokensFile)
		if err == nil {
			tokens := strings.Fields(string(data))
			if len(tokens) == 0 {
				return nil, fmt.Errorf("%s holds no token", o.tokensFile)
			}
			fmt.Fprintf(stdout, "read %d tokens from %s\n", len(tokens), o.tokensFile)
			return tokens, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	start := time.Now()
	tokens, err := mintTokens(ctx, o.mintURL, o.tokens, o.distinctRuns)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "minted %d tokens in %s\n", len(tokens), time.Since(start).Round(time.Millisecond))
	if o.tokensFile != "" {
		if err := os.WriteFile(o.tokensFile, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// mintTokens gets n distinct tokens from a development issuer's token
// endpoint, several at a time.
func mintTokens(ctx context.Context, mintURL string, n int, distinctRuns bool) ([]string, error) {
	base, err := url.Parse(mintURL)
	if err != nil || base.Host == "" {
		return nil, cli.Usage("--mint-url %q is not an absolute URL", mintURL)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	tokens := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				u := *base
				q := u.Query()
				q.Set("format", "raw")
				if distinctRuns {
					q.Set("run_id", strconv.Itoa(20_000_000_000+i))
					q.Set("run_number", strconv.Itoa(1+i))
					q.Set("check_run_id", strconv.Itoa(40_000_000_000+i))
					q.Set("sha", fmt.Sprintf("%040x", i+1))
				}
				u.RawQuery = q.Encode()
				tok, err := mintOne(ctx, client, u.String())
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
					return
				}
				tokens[i] = tok
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return tokens, nil
}

func mintOne(ctx context.Context, client *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("minting a token (is serve --dev running?): %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("minting a token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("minting a token: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}

// loadResult is what one load run measured.
type loadResult struct {
	elapsed   time.Duration
	total     int
	latencies []time.Duration // sorted
	outcomes  map[string]int  // by decision, and "error" for failed calls
	firstErr  error
}

// runLoad sends Checks from concurrency goroutines, spread over conns and
// cycling through reqs, for d.
func runLoad(ctx context.Context, conns []loadclient.Func, reqs []*authv3.CheckRequest, concurrency int, d, timeout time.Duration) (*loadResult, error) {
	type worker struct {
		lat      []time.Duration
		outcomes map[string]int
		err      error
	}
	workers := make([]worker, concurrency)
	for w := range workers {
		workers[w].outcomes = make(map[string]int, 5)
	}
	elapsed := loadgen.ClosedLoop(ctx, concurrency, d, func(_ context.Context, w int, i uint64) {
		wk, client := &workers[w], conns[w%len(conns)]
		cctx, ccancel := context.WithTimeout(context.Background(), timeout)
		t0 := time.Now()
		code, err := client(cctx, reqs[i%uint64(len(reqs))])
		lat := time.Since(t0)
		ccancel()
		if err != nil {
			wk.outcomes["error"]++
			if wk.err == nil {
				wk.err = err
			}
			return
		}
		wk.lat = append(wk.lat, lat)
		wk.outcomes[decisionOf(code)]++
	})
	res := &loadResult{elapsed: elapsed, outcomes: map[string]int{}}
	for _, wk := range workers {
		res.latencies = append(res.latencies, wk.lat...)
		for k, n := range wk.outcomes {
			res.outcomes[k] += n
		}
		if res.firstErr == nil {
			res.firstErr = wk.err
		}
	}
	res.total = len(res.latencies)
	slices.Sort(res.latencies)
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err // the caller's context ended the run
	}
	return res, nil
}

// decisionOf names the decision of a CheckResponse status code.
func decisionOf(code codes.Code) string {
	switch code {
	case codes.OK:
		return "allow"
	case codes.PermissionDenied:
		return "deny"
	case codes.Unauthenticated:
		return "unauthenticated"
	case codes.Unavailable:
		return "unavailable"
	}
	return "other"
}

func (r *loadResult) print(w io.Writer) {
	fmt.Fprintf(w, "%d Checks in %s: %.0f Checks/s\n", r.total, r.elapsed.Round(time.Millisecond),
		float64(r.total)/r.elapsed.Seconds())
	us := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Nanoseconds())/1e3, 'f', 0, 64) + "us"
	}
	fmt.Fprintf(w, "latency: p50 %s  p90 %s  p99 %s  max %s\n", us(loadgen.Percentile(r.latencies, 0.50)),
		us(loadgen.Percentile(r.latencies, 0.90)), us(loadgen.Percentile(r.latencies, 0.99)), us(loadgen.Percentile(r.latencies, 1)))
	fmt.Fprintf(w, "decisions: allow %d  deny %d  unauthenticated %d  unavailable %d  other %d  errors %d\n",
		r.outcomes["allow"], r.outcomes["deny"], r.outcomes["unauthenticated"], r.outcomes["unavailable"],
		r.outcomes["other"], r.outcomes["error"])
	if r.firstErr != nil {
		fmt.Fprintf(w, "first error: %v\n", status.Convert(r.firstErr).Message())
	}
}

// procSample is a process's CPU time so far and its peak resident memory.
type procSample struct {
	cpu time.Duration
	hwm int64 // bytes
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status; pid 0 reads
// nothing.
func readProc(pid int) (procSample, error) {
	if pid == 0 {
		return procSample{}, nil
	}
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procSample{}, err
	}
	stat, err := p.Stat()
	if err != nil {
		return procSample{}, err
	}
	status, err := p.NewStatus()
	if err != nil {
		return procSample{}, err
	}
	return procSample{
		cpu: time.Duration(stat.CPUTime() * float64(time.Second)),
		hwm: int64(status.VmHWM),
	}, nil
}
