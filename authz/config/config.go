package config

import (
	"time"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/claims"
)

// Config is the whole configuration file. Field names are the contract of
// DESIGN.md; zero values are replaced by the documented defaults when the file
// is parsed.
type Config struct {
	Server    ServerConfig          `yaml:"server"`
	Issuers   []claims.IssuerConfig `yaml:"issuers"`
	Audiences []string              `yaml:"audiences"`
	Token     TokenConfig           `yaml:"token"`
	Cache     CacheConfig           `yaml:"cache"`
	Log       LogConfig             `yaml:"log"`
	Telemetry TelemetryConfig       `yaml:"telemetry"`
	Upstream  UpstreamConfig        `yaml:"upstream"`
	Policies  []PolicyConfig        `yaml:"policies"`

	// Set by Parse: the compiled policy, the Engine over it, the warnings
	// for check and the hash of the file.
	compiled *policy.Compiled
	engine   *authz.Engine
	warnings []string
	hash     string // SHA-256 of the file, hex
}

// ServerConfig holds the listeners. The binary reads it; config only validates it.
type ServerConfig struct {
	GRPCAddr        string        `yaml:"grpc_addr"`         // default ":9000"
	HTTPAddr        string        `yaml:"http_addr"`         // default ":9001"
	ForwardAuthAddr string        `yaml:"forward_auth_addr"` // off when empty
	ShutdownGrace   time.Duration `yaml:"shutdown_grace"`    // default 10s
	// DrainDelay is how long, on SIGTERM, the service keeps answering
	// Checks while its health says NOT_SERVING, so that Envoy's health
	// checks take it out before it stops accepting them. Default 12s (see
	// DefaultDrainDelay); an explicit 0 stops at once.
	DrainDelay *time.Duration `yaml:"drain_delay"`
	TLS        *TLSConfig     `yaml:"tls"`
	// Decoder reads CheckRequests: "fast" (the default; a hand decoder that
	// hands what it cannot read to protobuf) or "protobuf" (protobuf's
	// decoder alone).
	Decoder string `yaml:"decoder"`
}

// DefaultDrainDelay is server.drain_delay when the file does not set it. The
// health check that envoy/envoy.yaml ships probes every 5s (timeout 1s), and
// Envoy takes a host out at its first NOT_SERVING answer (a definite answer,
// unlike a timeout, does not wait for unhealthy_threshold): within about 6s
// of the signal, 4s as measured by the resilience suite. 12s also covers
// two probes (unhealthy_threshold 2 × 5s, for a probe that times out), and
// leaves DNS-based discovery (a headless Service) time to catch up.
const DefaultDrainDelay = 12 * time.Second

// TLSConfig enables TLS, and with ClientCAFile mutual TLS, on the gRPC listener.
type TLSConfig struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
}

// TokenConfig says where the token is and how it is checked.
type TokenConfig struct {
	// Header is "authorization" (meaning "Bearer <jwt>") or another header that
	// carries the raw JWT. Default "authorization". Stored lower-case.
	Header   string        `yaml:"header"`
	Leeway   time.Duration `yaml:"leeway"`    // default 60s
	MaxBytes int           `yaml:"max_bytes"` // default 8192
	// MaxLifetime is the longest exp − iat accepted; default 1h. GitHub's ID
	// tokens live 5 minutes; a token meant to live for days is not one.
	MaxLifetime time.Duration `yaml:"max_lifetime"`
}

// CacheConfig bounds the verified-token cache.
type CacheConfig struct {
	MaxEntries int `yaml:"max_entries"` // default 100000
}

// LogConfig sets the log level and which decisions are logged.
type LogConfig struct {
	Level     string `yaml:"level"`     // debug | info | warn | error; default info
	Decisions string `yaml:"decisions"` // all | deny | none; default all
}

// TelemetryConfig sends trace spans over OTLP. The binary reads it; config
// only validates it. Without OTLPEndpoint the standard OTEL_* environment
// variables decide whether spans are exported (see docs/operations.md); with
// neither, none are.
type TelemetryConfig struct {
	// OTLPEndpoint is the host:port of an OTLP receiver (a collector).
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// Protocol is "grpc" (OTLP/gRPC, default) or "http" (OTLP/HTTP
	// protobuf, to /v1/traces). Only with OTLPEndpoint.
	Protocol string `yaml:"protocol"`
	// Insecure sends spans in plaintext rather than over TLS. Only with
	// OTLPEndpoint.
	Insecure bool `yaml:"insecure"`
	// SampleRatio, from 0 to 1, is the share of the traces that start
	// here (a request with no traceparent) that are kept; a request with
	// one follows its parent's sampling decision. Default 1, unless
	// OTEL_TRACES_SAMPLER says otherwise.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ServiceName is the service.name of the spans. Default
	// OTEL_SERVICE_NAME, else "actions-authz".
	ServiceName string `yaml:"service_name"`
}

// UpstreamConfig says what an allowed request carries to the upstream.
type UpstreamConfig struct {
	HeaderPrefix string   `yaml:"header_prefix"` // default "x-github-"; stored lower-case
	Claims       []string `yaml:"claims"`        // default: DefaultUpstreamClaims
	RemoveToken  *bool    `yaml:"remove_token"`  // default true
}

// DefaultUpstreamClaims are the claims sent upstream when upstream.claims is absent.
var DefaultUpstreamClaims = []string{
	"repository", "repository_id", "repository_owner", "repository_owner_id", "ref", "sha",
	"workflow_ref", "job_workflow_ref", "environment", "event_name", "actor", "run_id", "run_attempt",
}

// PolicyConfig is one policy as written in the file.
type PolicyConfig struct {
	Name      string       `yaml:"name"`
	Match     *MatchConfig `yaml:"match"`     // optional; without it the policy is chosen only by name
	Audiences []string     `yaml:"audiences"` // optional override of the global list
	Mode      string       `yaml:"mode"`      // "" (enforce) or "dry_run"
	// AllowAnyRepository opts out of the owner-pinning rule. check warns about it.
	AllowAnyRepository bool         `yaml:"allow_any_repository"`
	Allow              []RuleConfig `yaml:"allow"`
	// Shadow is an optional second rule list, written and validated like
	// Allow, that is evaluated beside it and never enforced: its verdict is
	// recorded on the Decision, so that a team can see what a stricter (or
	// looser) policy would do before switching to it.
	Shadow []RuleConfig `yaml:"shadow"`
}

// MatchConfig selects a policy by request attributes; every listed
// attribute must match (AND), and a list matches any of its items.
type MatchConfig struct {
	Hosts        []string `yaml:"hosts"`         // with or without port; "*.example.com" matches subdomains
	PathPrefixes []string `yaml:"path_prefixes"` // compared with the path without its query string
	Methods      []string `yaml:"methods"`       // case-insensitive
}

// RuleConfig is one allow rule: claim name to condition, all of which must
// hold. Its keys keep the order of the file, for messages and explain.
type RuleConfig struct {
	Conditions []ConditionConfig
}

// ConditionConfig is one claim condition of a rule.
type ConditionConfig struct {
	Claim string
	Value Value
	Line  int // line in the file, for messages; 0 when unknown
}

// Value is a condition value: exactly one of Exact (an exact string, or a glob
// when it holds * or ?), AnyOf (matches if any item matches), Regex (RE2,
// anchored at both ends) or Not (negation) is set.
//
// In YAML a value is a string, a sequence of values, {regex: "..."} or
// {not: <value>}. Numbers and booleans are refused: GitHub claims are
// strings, so they must be quoted.
//
// Values compare exactly, except on the claims GitHub treats as names:
// repository_owner and repository ignore case in all of the value, and
// workflow_ref and job_workflow_ref in their repository part (owner/repo,
// before the second "/"), in every kind of value, negations included.
type Value struct {
	Exact *string
	AnyOf []Value
	Regex *string
	Not   *Value
}

// VerifierConfig is the claims.Config this configuration asks for: its
// issuers, every audience, the token limits and the cache bound. Callers add
// their hooks (Logger, Now, OnFetch, OnCache) and may narrow the issuers.
func (c *Config) VerifierConfig() claims.Config {
	return claims.Config{
		Issuers:         c.Issuers,
		Audiences:       c.AllAudiences(),
		Leeway:          c.Token.Leeway,
		MaxBytes:        c.Token.MaxBytes,
		MaxLifetime:     c.Token.MaxLifetime,
		CacheMaxEntries: c.Cache.MaxEntries,
	}
}
