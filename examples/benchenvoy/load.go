package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actions-authz/actions-authz/internal/loadgen"
)

// The load generator: HTTP/1.1 with keep-alive on loopback, with requests
// written from bytes prepared beforehand and answers read only as far as
// their status and length. It shares two cores with Envoy, the authorizer
// and the upstream, so it must cost little: net/http's client would cost
// several times more CPU per request than the parsing here (the driver
// reports the generator's own CPU per request).

// request returns the bytes of a GET carrying token, as a workflow's call
// would arrive at Envoy.
func request(host, path, token string) []byte {
	return fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: actions/http-client\r\nAccept: */*\r\n"+
		"Authorization: Bearer %s\r\n\r\n", path, host, token)
}

// client is one keep-alive connection.
type client struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
}

// do sends req and reads the answer, reconnecting first when the
// connection is closed. It returns the answer's status code.
func (c *client) do(req []byte, deadline time.Time) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, time.Second)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		c.r = bufio.NewReaderSize(conn, 16<<10)
	}
	c.conn.SetDeadline(deadline)
	if _, err := c.conn.Write(req); err != nil {
		c.close()
		return 0, err
	}
	status, keep, err := readResponse(c.r)
	if err != nil || !keep {
		c.close()
	}
	return status, err
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.r = nil, nil
	}
}

// readResponse reads one HTTP/1.1 response, discarding its body, and
// returns its status and whether the connection stays open.
func readResponse(r *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("not an HTTP/1 status line: %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("status line %q: %w", line, err)
	}
	length, chunked, keepAlive := -1, false, true
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("content-length %q", value)
			}
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("connection")):
			keepAlive = !bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = discardChunked(r)
	case length >= 0:
		_, err = r.Discard(length)
	default:
		return status, false, errors.New("a response without a length")
	}
	return status, keepAlive && err == nil, err
}

// discardChunked reads a chunked body and its trailers.
func discardChunked(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil {
			return fmt.Errorf("chunk size %q", line)
		}
		if n == 0 {
			for { // trailers, then the empty line
				line, err := r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := r.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

// loadResult is what one run measured.
type loadResult struct {
	elapsed   time.Duration
	latencies []time.Duration // of the 200 answers, sorted
	other     int             // answers other than 200
	errors    int             // failed exchanges
	firstErr  error
	lastOther int // the status of an answer other than 200
}

func (r *loadResult) ok() int { return len(r.latencies) }

func (r *loadResult) rate() float64 { return float64(r.ok()) / r.elapsed.Seconds() }

// percentile returns the q-quantile (0 < q <= 1) of the latencies.
func (r *loadResult) percentile(q float64) time.Duration { return loadgen.Percentile(r.latencies, q) }

// merge collects the workers' figures into r.
func (r *loadResult) merge(w *loadResult) {
	r.latencies = append(r.latencies, w.latencies...)
	r.other += w.other
	r.errors += w.errors
	if r.firstErr == nil {
		r.firstErr = w.firstErr
	}
	if w.lastOther != 0 {
		r.lastOther = w.lastOther
	}
}

func (r *loadResult) record(status int, err error, lat time.Duration) {
	switch {
	case err != nil:
		r.errors++
		if r.firstErr == nil {
			r.firstErr = err
		}
	case status != 200:
		r.other++
		r.lastOther = status
	default:
		r.latencies = append(r.latencies, lat)
	}
}

// closedLoop keeps concurrency requests in flight, one per connection, for
// d: each connection sends its next request when the answer to the last
// one is read. Requests cycle through reqs.
func closedLoop(ctx context.Context, addr string, reqs [][]byte, concurrency int, d time.Duration) *loadResult {
	end := time.Now().Add(d)
	workers := make([]loadResult, concurrency)
	clients := make([]*client, concurrency)
	for w := range clients {
		clients[w] = &client{addr: addr}
	}
	elapsed := loadgen.ClosedLoop(ctx, concurrency, d, func(ctx context.Context, w int, i uint64) {
		t0 := time.Now()
		status, err := clients[w].do(reqs[i%uint64(len(reqs))], end.Add(5*time.Second))
		workers[w].record(status, err, time.Since(t0))
		if err != nil {
			sleep(ctx, 10*time.Millisecond) // no busy loop on a refused connection
		}
	})
	res := &loadResult{elapsed: elapsed}
	for w := range workers {
		clients[w].close()
		res.merge(&workers[w])
	}
	slices.Sort(res.latencies)
	return res
}

// openLoop sends requests at a fixed rate for d, whatever the answers do,
// over the connections of clients (kept open for the next run, so that a
// run at a low rate does not count their set-up). Each latency is counted
// from the moment the request was released, not from when a connection was
// free to send it, so a server that falls behind is charged for the wait
// (no coordinated omission). Requests still waiting 5s after d are abandoned as errors.
func openLoop(ctx context.Context, clients []*client, reqs [][]byte, rate float64, d time.Duration) *loadResult {
	n := int(rate * d.Seconds())
	due := make(chan time.Time, n)
	hard := time.Now().Add(d + 5*time.Second)
	workers := make([]loadResult, len(clients))
	var next atomic.Uint64
	var wg sync.WaitGroup
	for w := range workers {
		res, c := &workers[w], clients[w]
		wg.Go(func() {
			for t := range due {
				if time.Now().After(hard) || ctx.Err() != nil {
					res.record(0, errors.New("abandoned: the run's time was up"), 0)
					continue
				}
				status, err := c.do(reqs[next.Add(1)%uint64(len(reqs))], hard)
				res.record(status, err, time.Since(t))
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		t := start.Add(time.Duration(i) * interval)
		if wait := time.Until(t); wait > 0 {
			sleep(ctx, wait)
		}
		// Counted from now, not from t: Go's timers wake up to a
		// millisecond late when the process is otherwise idle, which would
		// be charged to Envoy at low rates. A wait for a free connection
		// still counts.
		due <- time.Now()
	}
	close(due)
	wg.Wait()
	res := &loadResult{elapsed: d}
	for w := range workers {
		res.merge(&workers[w])
	}
	slices.Sort(res.latencies)
	return res
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// errorSummary describes a run's failures, or is empty when it had none.
func (r *loadResult) errorSummary() string {
	if r.other == 0 && r.errors == 0 {
		return ""
	}
	s := fmt.Sprintf("%d answers other than 200 (last %d), %d failed exchanges", r.other, r.lastOther, r.errors)
	if r.firstErr != nil && !errors.Is(r.firstErr, io.EOF) {
		s += fmt.Sprintf(" (first: %v)", r.firstErr)
	}
	return s
}
