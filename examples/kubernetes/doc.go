// Package kubernetes holds no code: it is the module of the test that
// decodes the example Kubernetes, Istio and Envoy Gateway manifests beside
// it strictly into their API types and checks that they agree with each
// other and with actions-authz. It is a module of its own so that the
// Kubernetes API types stay out of the service's dependencies.
package kubernetes
