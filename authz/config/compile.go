package config

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/authz/internal/httpsyntax"
	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/authz/internal/yamlshape"
	"github.com/actions-authz/actions-authz/claims"
)

// compiler validates a decoded configuration and compiles its policy,
// collecting every problem rather than stopping at the first. root is the
// file's node tree, for line numbers.
type compiler struct {
	root    *yaml.Node
	patched map[*yaml.Node]bool // nodes the shape check repaired, see complete

	problems []*yamlshape.Problem
	warnings []string
}

// complete reports whether mapping n is as written: the shape check cut no
// misspelt key out of it. A missing required key is only reported in a
// complete mapping; otherwise it is most likely the misspelt one.
func (c *compiler) complete(n *yaml.Node) bool { return !c.patched[yamlshape.Deref(n)] }

func (c *compiler) fail(line int, place, msg string) {
	c.problems = append(c.problems, &yamlshape.Problem{Line: line, Place: place, Msg: msg})
}

func (c *compiler) warn(line int, place, msg string) {
	c.warnings = append(c.warnings, (&yamlshape.Problem{Line: line, Place: place, Msg: msg}).Error())
}

// compile validates cfg and returns its compiled policy, only meaningful
// when no problem was recorded.
func (c *compiler) compile(cfg *Config) *policy.Compiled {
	c.server(&cfg.Server, yamlshape.Child(c.root, "server"))
	c.verifier(cfg)
	c.token(&cfg.Token, yamlshape.Child(c.root, "token"))
	c.cache(&cfg.Cache, yamlshape.Child(c.root, "cache"))
	c.log(&cfg.Log, yamlshape.Child(c.root, "log"))
	c.telemetry(&cfg.Telemetry, yamlshape.Child(c.root, "telemetry"))
	e := &policy.Compiled{TokenHeader: cfg.Token.Header, RemoveToken: *cfg.Upstream.RemoveToken}
	c.upstream(e, &cfg.Upstream, yamlshape.Child(c.root, "upstream"))
	c.policies(e, cfg, yamlshape.Child(c.root, "policies"))
	return e
}

func (c *compiler) server(s *ServerConfig, n *yaml.Node) {
	line := yamlshape.Line(n, 0)
	for _, a := range []struct{ key, addr string }{
		{"grpc_addr", s.GRPCAddr}, {"http_addr", s.HTTPAddr}, {"forward_auth_addr", s.ForwardAuthAddr},
	} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			c.fail(yamlshape.Line(yamlshape.Child(n, a.key), line), "server: "+a.key, "invalid address "+strconv.Quote(a.addr)+": want host:port or :port")
		}
	}
	if s.ShutdownGrace < 0 {
		c.fail(yamlshape.Line(yamlshape.Child(n, "shutdown_grace"), line), "server: shutdown_grace", "must not be negative")
	}
	if s.DrainDelay != nil && *s.DrainDelay < 0 {
		c.fail(yamlshape.Line(yamlshape.Child(n, "drain_delay"), line), "server: drain_delay", "must not be negative")
	}
	if t := s.TLS; t != nil && (t.CertFile == "" || t.KeyFile == "") {
		c.fail(yamlshape.Line(yamlshape.Child(n, "tls"), line), "server: tls", "cert_file and key_file are both required")
	}
	switch s.Decoder {
	case "", "fast", "protobuf":
	default:
		c.fail(yamlshape.Line(yamlshape.Child(n, "decoder"), line), "server: decoder", "invalid decoder "+strconv.Quote(s.Decoder)+": want fast or protobuf")
	}
}

// verifier checks the settings the token verifier owns with
// claims.Config.Validate, the check NewVerifier applies at start-up, and
// places each problem on its line: check and serve refuse the same files.
func (c *compiler) verifier(cfg *Config) {
	vc := claims.Config{Issuers: cfg.Issuers, Audiences: cfg.Audiences, MaxBytes: cfg.Token.MaxBytes, MaxLifetime: cfg.Token.MaxLifetime}
	var errs claims.FieldErrors
	if errors.As(vc.Validate(), &errs) {
		for _, fe := range errs {
			c.field(fileKeys[fe.Path], fe)
		}
	}
	for i, is := range cfg.Issuers {
		if strings.HasSuffix(is.URL, "/") && claims.CheckIssuerURL(is.URL) == nil {
			c.warn(yamlshape.Line(yamlshape.Child(yamlshape.Item(yamlshape.Child(c.root, "issuers"), i), "url"), 0), "issuers"+yamlshape.Index(i)+": url",
				"ends with \"/\": the issuer is matched exactly and GitHub's has no trailing slash")
		}
	}
}

// fileKeys names the claims.Config settings that the file holds elsewhere.
var fileKeys = map[string]string{"max_bytes": "token.max_bytes", "max_lifetime": "token.max_lifetime"}

// field records fe at the line of its path in the file (path, or fe.Path
// when empty). A missing setting is only reported in a complete mapping:
// otherwise it is most likely the misspelt key already reported.
func (c *compiler) field(path string, fe *claims.FieldError) {
	if path == "" {
		path = fe.Path
	}
	line, place, missingFrom := yamlshape.Find(c.root, path)
	if missingFrom != nil && !c.complete(missingFrom) {
		return
	}
	c.fail(line, place, fe.Msg)
}

// audiences checks a policy's audience list, which overrides the global one
// (that one is the verifier's, checked by claims).
func (c *compiler) audiences(list []string, n *yaml.Node, place string) {
	if len(list) == 0 {
		if list != nil && n != nil {
			c.fail(yamlshape.Line(n, 0), place, "empty list; remove the key to use the global audiences")
		}
		return
	}
	for i, a := range list {
		if a == "" {
			c.fail(yamlshape.Line(yamlshape.Item(n, i), yamlshape.Line(n, 0)), place+yamlshape.Index(i), "empty audience")
		}
	}
}

func (c *compiler) token(t *TokenConfig, n *yaml.Node) {
	if !httpsyntax.IsToken(t.Header) {
		c.fail(yamlshape.Line(yamlshape.Child(n, "header"), yamlshape.Line(n, 0)), "token: header", "invalid header name "+strconv.Quote(t.Header))
	}
}

func (c *compiler) cache(cc *CacheConfig, n *yaml.Node) {
	if cc.MaxEntries < 0 {
		c.fail(yamlshape.Line(yamlshape.Child(n, "max_entries"), yamlshape.Line(n, 0)), "cache: max_entries", "must not be negative")
	}
}

func (c *compiler) log(l *LogConfig, n *yaml.Node) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		c.fail(yamlshape.Line(yamlshape.Child(n, "level"), yamlshape.Line(n, 0)), "log: level", "invalid level "+strconv.Quote(l.Level)+": want debug, info, warn or error")
	}
	switch l.Decisions {
	case "all", "deny", "none":
	default:
		c.fail(yamlshape.Line(yamlshape.Child(n, "decisions"), yamlshape.Line(n, 0)), "log: decisions", "invalid value "+strconv.Quote(l.Decisions)+": want all, deny or none")
	}
}

func (c *compiler) telemetry(t *TelemetryConfig, n *yaml.Node) {
	line := yamlshape.Line(n, 0)
	if t.OTLPEndpoint != "" {
		if host, port, err := net.SplitHostPort(t.OTLPEndpoint); err != nil || host == "" || port == "" {
			c.fail(yamlshape.Line(yamlshape.Child(n, "otlp_endpoint"), line), "telemetry: otlp_endpoint",
				"invalid address "+strconv.Quote(t.OTLPEndpoint)+": want host:port")
		}
	}
	switch t.Protocol {
	case "", "grpc", "http":
	default:
		c.fail(yamlshape.Line(yamlshape.Child(n, "protocol"), line), "telemetry: protocol", "invalid protocol "+strconv.Quote(t.Protocol)+": want grpc or http")
	}
	if t.OTLPEndpoint == "" {
		for _, k := range []string{"protocol", "insecure"} {
			if yamlshape.Child(n, k) != nil {
				c.fail(yamlshape.Line(yamlshape.Child(n, k), line), "telemetry: "+k, "applies only with otlp_endpoint")
			}
		}
	}
	if r := t.SampleRatio; r != nil && !(*r >= 0 && *r <= 1) {
		c.fail(yamlshape.Line(yamlshape.Child(n, "sample_ratio"), line), "telemetry: sample_ratio", "must be from 0 to 1")
	}
}

func (c *compiler) upstream(e *policy.Compiled, u *UpstreamConfig, n *yaml.Node) {
	line := yamlshape.Line(n, 0)
	e.Prefix = u.HeaderPrefix
	if !httpsyntax.IsToken(u.HeaderPrefix) {
		c.fail(yamlshape.Line(yamlshape.Child(n, "header_prefix"), line), "upstream: header_prefix", "invalid header name prefix "+strconv.Quote(u.HeaderPrefix))
	}
	claimsNode := yamlshape.Child(n, "claims")
	e.SetNames = make(map[string]struct{}, len(u.Claims))
	for i, name := range u.Claims {
		place := "upstream: claims" + yamlshape.Index(i)
		f, ok := claims.LookupField(name)
		if !ok && !strings.HasPrefix(name, claims.PropertyPrefix) {
			c.fail(yamlshape.Line(yamlshape.Item(claimsNode, i), line), place, unknownClaim(name))
			continue
		}
		if msg := c.otherClaim(name); !ok && msg != "" {
			c.fail(yamlshape.Line(yamlshape.Item(claimsNode, i), line), place, msg)
			continue
		}
		h := strings.ToLower(u.HeaderPrefix + strings.ReplaceAll(name, "_", "-"))
		if _, dup := e.SetNames[h]; dup {
			c.fail(yamlshape.Line(yamlshape.Item(claimsNode, i), line), place, "claim "+strconv.Quote(name)+" is listed twice")
			continue
		}
		e.SetNames[h] = struct{}{}
		e.Upstream = append(e.Upstream, policy.UpstreamHeader{Name: h, Field: f, Claim: name})
	}
	tokenLine := yamlshape.Line(yamlshape.Child(yamlshape.Child(c.root, "token"), "header"), line)
	switch {
	case hasKey(e.SetNames, e.TokenHeader):
		c.fail(tokenLine, "token: header", strconv.Quote(e.TokenHeader)+" is also an upstream identity header")
	case strings.HasPrefix(e.TokenHeader, e.Prefix) && !e.RemoveToken:
		c.fail(tokenLine, "token: header", strconv.Quote(e.TokenHeader)+" starts with upstream.header_prefix, so it is always removed; remove_token: false cannot keep it")
	}
}

func hasKey(m map[string]struct{}, k string) bool {
	_, ok := m[k]
	return ok
}

func unknownClaim(name string) string {
	return "unknown claim " + strconv.Quote(name) + " (known: " + strings.Join(claims.Names(), ", ") + ", repo_property_<name>)"
}

// maxPropertyName is the longest custom property name GitHub accepts.
const maxPropertyName = 75

// otherClaim returns what is wrong with the name of a claim that Claims has
// no field for, or "". A repo_property_* name must be followed by a custom
// property name: 1 to 75 letters, digits, "_", "-", "$" or "#". Any other
// name must be non-empty and printable ASCII without spaces.
func (c *compiler) otherClaim(name string) string {
	prop, isProp := strings.CutPrefix(name, claims.PropertyPrefix)
	if !isProp {
		for i := 0; i < len(name); i++ {
			if name[i] <= ' ' || name[i] > '~' {
				return "invalid claim name " + strconv.Quote(name) + ": want printable ASCII without spaces"
			}
		}
		if name == "" {
			return "empty claim name"
		}
		return ""
	}
	if prop == "" {
		return "invalid claim name " + strconv.Quote(name) + ": repo_property_ must be followed by the custom property's name"
	}
	if len(prop) > maxPropertyName {
		return "invalid claim name " + strconv.Quote(name) + ": a custom property name has at most " + strconv.Itoa(maxPropertyName) + " characters"
	}
	for i := 0; i < len(prop); i++ {
		b := prop[i]
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("_-$#", b) >= 0 {
			continue
		}
		return "invalid claim name " + strconv.Quote(name) + ": a custom property name holds only letters, digits, _, -, $ and #"
	}
	return ""
}
