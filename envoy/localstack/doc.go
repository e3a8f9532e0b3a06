// Package localstack runs the real Envoy binary on loopback, alone or as the
// local stack of docker-compose.yaml without Docker: Envoy with
// envoy/envoy.yaml, actions-authz serve --dev with
// examples/compose/config.yaml, and the sample private service.
//
// The configuration files are the ones users copy. Their addresses are
// rewritten for loopback in one place, [Rewrite], driven by the table that
// [ComposeAddrs] returns; an address the table does not name is an error, so
// a new address in envoy/envoy.yaml cannot silently point at nothing.
//
// The end-to-end tests in this directory drive HTTP through the stack, and
// examples/localstack runs it for a person (make stack).
package localstack
