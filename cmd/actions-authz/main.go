// Command actions-authz is an Envoy external-authorization service that lets
// GitHub Actions workflows into private networks: it verifies the workflow's
// OIDC token, evaluates the platform team's policy for the route, and tells
// Envoy to allow the request with identity headers or to deny it.
//
// Usage:
//
//	actions-authz serve   --config FILE [--grpc-addr A] [--http-addr A] [--dev] [--dev-addr A]
//	actions-authz check   --config FILE
//	actions-authz explain --config FILE (--token T | --token-file F | --claims-file F)
//	                      [--policy NAME] [--method M] [--host H] [--path P]
//	                      [--at RFC3339] [--jwks-file F]
//	actions-authz healthcheck (--addr HOST:PORT | --grpc-addr HOST:PORT [--tls-ca F [--tls-cert F --tls-key F]])
//	actions-authz version
package main

import "github.com/actions-authz/actions-authz/internal/cli"

func main() {
	gcTuningAllowed = true // serve decides with --gc-tuning and the environment
	cli.Main("actions-authz", run)
}
