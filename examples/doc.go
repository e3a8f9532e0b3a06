// Package examples holds only the tests that guard the files under
// examples/: each configuration passes check and its policies allow and deny
// what their comments say, the policy test files pass actions-authz test,
// the workflow asks for the right token, the Grafana dashboard queries
// metrics the binary exports, and the Envoy and forward-auth configurations
// are what Envoy and actions-authz expect. It has no code of its own; the
// programs under examples/ are packages of their own.
package examples
