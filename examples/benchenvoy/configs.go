package main

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
)

// The configurations the benchmark compares. Each runs in its own Envoy
// with the same listener, route and upstream; only the authorization
// filters differ.
const (
	configNone      = "a none"
	configAuthz     = "b actions-authz"
	configAuthzNew  = "b actions-authz, new tokens"
	configAuthzHTTP = "b' actions-authz over HTTP"
	configJWT       = "c jwt_authn+RBAC"
	configJWTNew    = "c jwt_authn+RBAC, new tokens"
	configBase      = "d baseline"
	configBaseNew   = "d baseline, new tokens"
)

// owner is the repository_owner_id that every configuration allows: the
// development issuer's default (octo-org), and the one rule of
// examples/dev/config.yaml's default policy.
const owner = "123456"

// audience is the audience every configuration accepts: the development
// issuer's default for octo-org, as in examples/dev/config.yaml.
const audience = "https://github.com/octo-org"

// upstreamClaims are the claims jwt_authn copies into request headers
// (claim_to_headers), as actions-authz sends them by default
// (DefaultUpstreamClaims of authz/config), so that the upstream learns the same.
var upstreamClaims = []string{
	"repository", "repository_id", "repository_owner", "repository_owner_id", "ref", "sha",
	"workflow_ref", "job_workflow_ref", "environment", "event_name", "actor", "run_id", "run_attempt",
}

// envoyParams are what an Envoy bootstrap of the benchmark is rendered
// from.
type envoyParams struct {
	// Listener is where Envoy takes the load; Upstream the tiny HTTP
	// server behind it.
	Listener, Upstream string
	// Authz is the ext_authz gRPC server (configurations b and d); empty
	// for none.
	Authz string
	// HTTP has ext_authz call Authz over HTTP (http_service, to
	// actions-authz's server.forward_auth_addr, as
	// examples/forward-auth/envoy-http.yaml) instead of gRPC.
	HTTP bool
	// RawHeaders sets ext_authz's encode_raw_headers: true for
	// actions-authz, as envoy/envoy.yaml ships; the baseline reads only
	// the headers map.
	RawHeaders bool
	// JWT, when set, puts jwt_authn and RBAC in front of the router instead
	// of ext_authz (configuration c).
	JWT *jwtParams
}

// jwtParams configure jwt_authn: the issuer, its key set inline (the same
// keys actions-authz fetches), and the owner RBAC requires.
type jwtParams struct {
	Issuer, JWKS, Owner string
}

// envoyConfig renders the bootstrap of one configuration. The admin
// address is set by localstack.StartEnvoy.
func envoyConfig(p envoyParams) ([]byte, error) {
	var buf bytes.Buffer
	if err := bootstrap.Execute(&buf, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var bootstrap = template.Must(template.New("envoy").Funcs(template.FuncMap{
	"host":     func(addr string) string { h, _, _ := strings.Cut(addr, ":"); return h },
	"port":     func(addr string) string { _, p, _ := strings.Cut(addr, ":"); return p },
	"quote":    func(s string) string { return fmt.Sprintf("%q", s) },
	"claims":   func() []string { return upstreamClaims },
	"audience": func() string { return audience },
	"header":   func(claim string) string { return "x-github-" + strings.ReplaceAll(claim, "_", "-") },
}).Parse(`# A configuration of make bench-envoy (examples/benchenvoy).
static_resources:
  listeners:
  - name: bench
    address: { socket_address: { address: {{host .Listener}}, port_value: {{port .Listener}} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          codec_type: AUTO
          route_config:
            name: bench
            virtual_hosts:
            - name: upstream
              domains: ["*"]
              routes:
              - match: { prefix: / }
                route: { cluster: upstream, timeout: 15s }
{{- if and .Authz (not .HTTP)}}
                typed_per_filter_config:
                  envoy.filters.http.ext_authz:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
                    check_settings:
                      context_extensions: { policy: default }
{{- end}}
          http_filters:
{{- if and .Authz .HTTP}}
          # As examples/forward-auth/envoy-http.yaml ships it.
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              failure_mode_allow: false
              status_on_error: { code: ServiceUnavailable }
              allowed_headers:
                patterns:
                - { exact: x-request-id }
                - { prefix: x-github-, ignore_case: true }
              http_service:
                server_uri: { uri: "http://{{.Authz}}", cluster: authz, timeout: 1s }
                path_prefix: /envoy
                authorization_response:
                  allowed_upstream_headers:
                    patterns:
                    - { prefix: x-github-, ignore_case: true }
{{- else if .Authz}}
          # As envoy/envoy.yaml ships it.
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              grpc_service:
                envoy_grpc: { cluster_name: authz }
                timeout: 0.5s
              failure_mode_allow: false
              status_on_error: { code: ServiceUnavailable }
              include_peer_certificate: true
              encode_raw_headers: {{.RawHeaders}}
              stat_prefix: authz
{{- end}}
{{- with .JWT}}
          # The closest equivalent in Envoy itself: issuer, audience and
          # signature (RS256 keys) by jwt_authn, which drops the token and
          # copies the claims into headers; the owner by RBAC, from the
          # payload jwt_authn leaves in the dynamic metadata.
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                github:
                  issuer: {{quote .Issuer}}
                  audiences: [{{quote audience}}]
                  local_jwks: { inline_string: {{quote .JWKS}} }
                  forward: false
                  payload_in_metadata: github
                  # Verified tokens kept until they expire, as actions-authz
                  # keeps them (jwt_authn's default is no cache).
                  jwt_cache_config: { jwt_cache_size: 100 }
                  claim_to_headers:
{{- range claims}}
                  - { claim_name: {{.}}, header_name: {{header .}} }
{{- end}}
              rules:
              - match: { prefix: / }
                requires: { provider_name: github }
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
              rules:
                action: ALLOW
                policies:
                  owner:
                    permissions: [{ any: true }]
                    principals:
                    - metadata:
                        filter: envoy.filters.http.jwt_authn
                        path: [{ key: github }, { key: repository_owner_id }]
                        value: { string_match: { exact: {{quote .Owner}} } }
{{- end}}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstream
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: {{host .Upstream}}, port_value: {{port .Upstream}} } } }
{{- if .Authz}}
  # No health check: the baseline does not serve grpc.health.v1.
  - name: authz
    type: STATIC
    connect_timeout: 1s
{{- if not .HTTP}}
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
{{- end}}
    load_assignment:
      cluster_name: authz
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: {{host .Authz}}, port_value: {{port .Authz}} } } }
{{- end}}
`))
