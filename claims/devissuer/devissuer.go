// Package devissuer is a development OIDC issuer: its own RSA key, a discovery
// document, a JWKS and an endpoint that mints GitHub-Actions-shaped tokens with
// the claims a caller asks for. "serve --dev" embeds it so the whole flow can be
// tried without GitHub, and tests use it as a stand-in for GitHub's issuer.
// It must never be trusted in production.
package devissuer
