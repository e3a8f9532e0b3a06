// Package helm holds no code: it is the module of the test that renders
// the Helm chart beside it (actions-authz/) with Helm's own Go library, for
// its defaults and a few value sets, decodes every object strictly into its
// Kubernetes type and checks that the objects agree with each other and
// that the rendered policy loads in actions-authz. It is a module of its
// own so that Helm and the Kubernetes API types stay out of the service's
// dependencies.
package helm
