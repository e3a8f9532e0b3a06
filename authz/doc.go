// Package authz is the policy: the configuration file model, its validation
// and compilation, and a pure decision from request attributes and verified
// token claims to allow or deny.
//
// ParseConfig (or LoadConfig) reads the YAML file strictly, applies the
// documented defaults, validates every section and compiles the policies
// once into an immutable Engine. Every load error names its place in the file
// (policy, rule, claim, line), and all of them are reported together.
//
// Engine.Decide is the request path: it selects the policy for the route,
// checks the token's audience against it and evaluates its allow rules,
// returning a Decision that front doors (the Envoy ext_authz server, the
// forward-auth handler) translate into their own responses with the helpers
// on Outcome and Decision. It does no I/O and compiles nothing.
//
// Authorizer puts the pieces together for a front door: it extracts the token
// from the request headers, verifies it with a TokenVerifier (in practice a
// claims.Verifier) and calls Decide on the current Engine, which can be
// swapped atomically on reload.
package authz
