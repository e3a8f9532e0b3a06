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

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/procfs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

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

// loadtest sends Envoy-shaped Checks to a running actions-authz (or any
// ext_authz server) from --concurrency goroutines for --duration, with
// --tokens distinct tokens minted beforehand from a development issuer, and
// prints the throughput, the latency percentiles and the count of each
// decision. It is a closed loop: each goroutine sends its next Check when
// the previous one is answered.
func loadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o loadOptions
	fs := newFlagSet("loadtest", stderr)
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case o.tokens < 1:
		return usageError("loadtest: --tokens must be at least 1")
	case o.concurrency < 1 || o.connections < 1:
		return usageError("loadtest: --concurrency and --connections must be at least 1")
	case o.duration <= 0 || o.warmup < 0 || o.timeout <= 0:
		return usageError("loadtest: --duration and --timeout must be positive, --warmup not negative")
	}

	tokens, err := loadTokens(ctx, &o, stdout)
	if err != nil {
		return err
	}

	reqs := make([]*authv3.CheckRequest, len(tokens))
	for i, tok := range tokens {
		reqs[i] = envoyCheckRequest(tok, o.method, o.host, o.path, o.policy, i)
	}
	conns := make([]checkFunc, o.connections)
	for i := range conns {
		conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		conns[i] = statusOnly(conn)
		if o.decodeFull {
			conns[i] = fullDecode(authv3.NewAuthorizationClient(conn))
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
			return fmt.Errorf("loadtest: reading the server's /proc: %w", procErr)
		}
		fmt.Fprintf(stdout, "server (pid %d): %.1f us CPU per Check, peak RSS %.1f MiB\n", o.pid,
			float64((after.cpu-before.cpu).Microseconds())/float64(max(res.total, 1)), float64(after.hwm)/(1<<20))
	}
	if res.total == 0 {
		return errors.New("loadtest: no Check was answered")
	}
	return nil
}

// loadTokens reads the tokens from --tokens-file, or mints --tokens of them
// (and writes them to --tokens-file when it is set).
func loadTokens(ctx context.Context, o *loadOptions, stdout io.Writer) ([]string, error) {
	if o.tokensFile != "" {
		data, err := os.ReadFile(o.tokensFile)
		if err == nil {
			tokens := strings.Fields(string(data))
			if len(tokens) == 0 {
				return nil, fmt.Errorf("loadtest: %s holds no token", o.tokensFile)
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
		return nil, usageError("loadtest: --mint-url %q is not an absolute URL", mintURL)
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
		return "", fmt.Errorf("loadtest: minting a token (is serve --dev running?): %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("loadtest: minting a token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("loadtest: minting a token: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}

// envoyCheckRequest is a CheckRequest as Envoy sends one for a request
// carrying tok: addresses, lower-case headers with pseudo-headers, and the
// route's policy in context_extensions when policy is set.
func envoyCheckRequest(tok, method, host, path, policy string, n int) *authv3.CheckRequest {
	addr := func(ip string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
		}}}
	}
	id := fmt.Sprintf("5f0c2b9e-8a7d-4c1e-9b3a-%012d", n)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: addr("10.0.3.17", 41234)},
		Destination: &authv3.AttributeContext_Peer{Address: addr("10.0.0.2", 8443)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: strconv.Itoa(n), Method: method, Host: host, Path: path, Scheme: "https", Protocol: "HTTP/1.1",
			Headers: map[string]string{
				":authority":        host,
				":method":           method,
				":path":             path,
				":scheme":           "https",
				"accept":            "*/*",
				"authorization":     "Bearer " + tok,
				"user-agent":        "actions/http-client",
				"x-forwarded-proto": "https",
				"x-request-id":      id,
			},
		}},
	}}
	if policy != "" {
		req.Attributes.ContextExtensions = map[string]string{"policy": policy}
	}
	return req
}

// loadResult is what one load run measured.
type loadResult struct {
	elapsed   time.Duration
	total     int
	latencies []time.Duration // sorted
	outcomes  map[string]int  // by decision, and "error" for failed calls
	firstErr  error
}

// checkFunc sends one Check and returns the status code of the response.
type checkFunc func(ctx context.Context, req *authv3.CheckRequest) (codes.Code, error)

// fullDecode sends Checks with the generated client, which decodes the
// whole response.
func fullDecode(c authv3.AuthorizationClient) checkFunc {
	return func(ctx context.Context, req *authv3.CheckRequest) (codes.Code, error) {
		resp, err := c.Check(ctx, req)
		if err != nil {
			return 0, err
		}
		return codes.Code(resp.GetStatus().GetCode()), nil
	}
}

// statusOnly sends Checks and reads only the status code of each response:
// the load generator shares the machine with the server, and decoding every
// header and metadata field of a response, which the decision does not
// need, would take CPU from the server in proportion to what it answers.
func statusOnly(conn *grpc.ClientConn) checkFunc {
	return func(ctx context.Context, req *authv3.CheckRequest) (codes.Code, error) {
		var st checkStatus
		err := conn.Invoke(ctx, authv3.Authorization_Check_FullMethodName, req, &st, grpc.ForceCodecV2(statusCodec{}))
		return codes.Code(st), err
	}
}

// checkStatus is the status code of a CheckResponse.
type checkStatus int32

// statusCodec marshals requests as gRPC's protobuf codec does and reads
// only CheckResponse.status.code from responses.
type statusCodec struct{}

// protoCodec is gRPC's protobuf codec, registered by its package.
var protoCodec = encoding.GetCodecV2(grpcproto.Name)

func (statusCodec) Name() string { return grpcproto.Name }

func (statusCodec) Marshal(v any) (mem.BufferSlice, error) { return protoCodec.Marshal(v) }

func (statusCodec) Unmarshal(data mem.BufferSlice, v any) error {
	st, ok := v.(*checkStatus)
	if !ok {
		return fmt.Errorf("loadtest: cannot decode a response into %T", v)
	}
	b := data.Materialize()
	// CheckResponse.status is field 1, a google.rpc.Status whose code is
	// field 1; an absent status or code is OK (0), as proto3 reads it.
	status, err := lengthDelimited(b, 1)
	if err != nil {
		return err
	}
	*st = 0
	for len(status) > 0 {
		num, typ, n := protowire.ConsumeTag(status)
		if n < 0 {
			return protowire.ParseError(n)
		}
		status = status[n:]
		if num == 1 && typ == protowire.VarintType {
			code, m := protowire.ConsumeVarint(status)
			if m < 0 {
				return protowire.ParseError(m)
			}
			*st = checkStatus(int32(code))
			status = status[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, status)
		if m < 0 {
			return protowire.ParseError(m)
		}
		status = status[m:]
	}
	return nil
}

// lengthDelimited returns the last value of field num of a message, which
// must be length-delimited, or nil when the field is absent.
func lengthDelimited(b []byte, num protowire.Number) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		n, typ, m := protowire.ConsumeTag(b)
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		b = b[m:]
		if n == num && typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(b)
			if k < 0 {
				return nil, protowire.ParseError(k)
			}
			out, b = v, b[k:]
			continue
		}
		k := protowire.ConsumeFieldValue(n, typ, b)
		if k < 0 {
			return nil, protowire.ParseError(k)
		}
		b = b[k:]
	}
	return out, nil
}

// runLoad sends Checks from concurrency goroutines, spread over conns and
// cycling through reqs, for d.
func runLoad(ctx context.Context, conns []checkFunc, reqs []*authv3.CheckRequest, concurrency int, d, timeout time.Duration) (*loadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type worker struct {
		lat      []time.Duration
		outcomes map[string]int
		err      error
	}
	workers := make([]worker, concurrency)
	var next atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wk := &workers[w]
		wk.outcomes = make(map[string]int, 5)
		client := conns[w%len(conns)]
		wg.Go(func() {
			for ctx.Err() == nil {
				req := reqs[int(next.Add(1)-1)%len(reqs)]
				cctx, ccancel := context.WithTimeout(context.Background(), timeout)
				t0 := time.Now()
				code, err := client(cctx, req)
				lat := time.Since(t0)
				ccancel()
				if err != nil {
					wk.outcomes["error"]++
					if wk.err == nil {
						wk.err = err
					}
					continue
				}
				wk.lat = append(wk.lat, lat)
				wk.outcomes[decisionOf(code)]++
			}
		})
	}
	wg.Wait()
	res := &loadResult{elapsed: time.Since(start), outcomes: map[string]int{}}
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

// percentile returns the q-quantile (0 < q <= 1) of sorted latencies.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (r *loadResult) print(w io.Writer) {
	fmt.Fprintf(w, "%d Checks in %s: %.0f Checks/s\n", r.total, r.elapsed.Round(time.Millisecond),
		float64(r.total)/r.elapsed.Seconds())
	us := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Nanoseconds())/1e3, 'f', 0, 64) + "us"
	}
	fmt.Fprintf(w, "latency: p50 %s  p90 %s  p99 %s  max %s\n", us(percentile(r.latencies, 0.50)),
		us(percentile(r.latencies, 0.90)), us(percentile(r.latencies, 0.99)), us(percentile(r.latencies, 1)))
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
