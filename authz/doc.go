// Package authz decides: a pure decision from request attributes and
// verified token claims to allow or deny, and the Authorizer that front
// doors call.
//
// An Engine is a compiled, immutable policy. It comes from the
// configuration file: package authz/config reads, validates and compiles
// the file (config.Parse, config.Load) and returns the Engine with the
// Config.
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
