// Command private-service is the sample upstream behind Envoy: it answers
// every request with the identity headers it received, as JSON, so you can
// see what actions-authz tells the upstream about the calling workflow.
//
//	private-service --addr :8080
//	private-service --probe http://127.0.0.1:8080/healthz   # for container healthchecks
//
// GET /healthz answers "ok". Every other request gets a JSON object with the
// method, host and path, every header that starts with the identity prefix
// (x-github- by default), and whether an Authorization header reached the
// service (its value is never echoed).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/actions-authz/actions-authz/internal/cli"
)

func main() {
	cli.Main("private-service", func(ctx context.Context, args []string, _, stderr io.Writer) error {
		return run(ctx, args, stderr)
	})
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := cli.NewFlagSet("private-service", stderr)
	addr := fs.String("addr", ":8080", "listen address")
	prefix := fs.String("prefix", "x-github-", "prefix of the identity headers to echo")
	probe := fs.String("probe", "", "instead of serving, GET this URL and exit 0 on 200, 1 otherwise")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *probe != "" {
		return probeURL(ctx, *probe)
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           newHandler(*prefix),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Fprintf(stderr, "private-service: listening on %s\n", *addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// echo is the JSON answer to a request.
type echo struct {
	Method string `json:"method"`
	Host   string `json:"host"`
	Path   string `json:"path"`
	// Identity holds every header with the identity prefix, lower-case names.
	Identity map[string]string `json:"identity"`
	// Authorization says whether the token reached the upstream; actions-authz
	// removes it by default (upstream.remove_token).
	Authorization string `json:"authorization"`
}

// newHandler returns the service: /healthz, and the echo of identity headers.
func newHandler(prefix string) http.Handler {
	prefix = strings.ToLower(prefix)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		e := echo{Method: r.Method, Host: r.Host, Path: r.URL.Path, Identity: map[string]string{}, Authorization: "absent"}
		for name, values := range r.Header {
			if lower := strings.ToLower(name); strings.HasPrefix(lower, prefix) {
				e.Identity[lower] = strings.Join(values, ",")
			}
		}
		if r.Header.Get("Authorization") != "" {
			e.Authorization = "present"
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(e)
	})
	return mux
}

// probeURL is the healthcheck mode: GET url, success on 200.
func probeURL(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe %s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}
