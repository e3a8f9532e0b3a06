// Package examples holds only the tests that guard the files under
// examples/: each configuration passes check and its policies allow and deny
// what their comments say, the policy test files pass actions-authz test,
// the workflow asks for the right token, the Grafana dashboard queries
// metrics the binary exports, and the Envoy and forward-auth configurations
// are what Envoy and actions-authz expect. It has no code of its own; the
// programs under examples/ are packages of their own, with their own tests.
//
// The forward-auth examples are run here too, in front of the forward-auth
// server: nginx.conf and Caddyfile through real nginx and Caddy
// (proxies_test.go; they skip when the binary is missing, and fail instead
// when CI=true), traefik.yaml and envoy-http.yaml through Go proxies that
// follow Traefik's and Envoy's documented behaviour (simulated_test.go).
// Their harness, shared with forwardauth's own tests, is
// forwardauth/forwardauthtest.
//
// Tests of product code that run an example as a fixture stay with that
// code: the end-to-end stacks of envoy/localstack, and forwardauth's
// TestTrickyPathsEveryDoor, whose subject is the front doors, over the
// forward-auth examples' policy. So does the check of the mTLS example's
// keepalive against the server's minimum, which only
// cmd/actions-authz/internal/service sees.
package examples
