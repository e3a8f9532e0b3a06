// Package examples holds only the tests that guard the files under
// examples/: each configuration passes check and its policies allow and deny
// what their comments say, the policy test files pass actions-authz test,
// the workflow asks for the right token, the Grafana dashboard queries
// metrics the binary exports, and the Envoy and forward-auth configurations
// are what Envoy and actions-authz expect. It has no code of its own; the
// programs under examples/ are packages of their own, with their own tests.
//
// Tests of product code that run an example as a fixture stay with that
// code: the end-to-end stacks of envoy/localstack, and forwardauth's runs of
// the forward-auth examples through nginx, Caddy and simulated Traefik and
// Envoy, which share that package's test harness. So does the check of the
// mTLS example's keepalive against the server's minimum, which only
// cmd/actions-authz sees.
package examples
