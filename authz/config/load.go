package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/internal/yamlshape"
	"github.com/actions-authz/actions-authz/claims"
)

// Load reads, validates and compiles the configuration file at path.
// Errors name the file and line; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseConfig(data, path)
}

// Parse reads a configuration file, applies the documented defaults,
// validates it and compiles its policies into the Engine returned by
// (*Config).Engine.
//
// Decoding is strict: a key the file format does not have is an error, and so
// is an unquoted number or boolean where a claim value is expected. On
// failure the error holds every problem found (errors.Join: one per line, in
// file order), each naming its place, for example
//
//	line 12: policy "deploy" (policies[0]): allow[1]: ref: invalid regex "(": ...
//
// A value of the wrong type for a plain setting (shutdown_grace: soon) is
// reported in YAML's own words, and only the other problems of that kind
// are reported with it.
func Parse(data []byte) (*Config, error) {
	return parseConfig(data, "")
}

func parseConfig(data []byte, file string) (*Config, error) {
	fail := func(ps []*yamlshape.Problem) error {
		errs := make([]error, len(ps))
		for i, p := range ps {
			p.File = file
			errs[i] = p
		}
		return errors.Join(errs...)
	}

	// 1. Syntax, into a node tree that keeps line numbers.
	root, err := parseDocument(data)
	if err != nil {
		return nil, fail([]*yamlshape.Problem{{Msg: err.Error()}})
	}

	// 2. Shape: unknown or repeated keys and malformed rules, reported with
	// their place and cut out of the tree, so that the rest of the file can
	// still be checked and every problem reported in one run.
	sc := yamlshape.Checker{
		ItemPlace: func(elem reflect.Type, i int, item *yaml.Node) string {
			if elem == reflect.TypeFor[PolicyConfig]() {
				return policyPlace(i, yamlshape.Scalar(item, "name"))
			}
			return ""
		},
		Repair: map[reflect.Type]string{reflect.TypeFor[RuleConfig](): "empty rule: list at least one claim condition"},
	}
	sc.Check(root, reflect.TypeFor[Config](), "")

	// 3. Types. A clean file is decoded strictly from its bytes (KnownFields
	// is a second line of defence behind the shape check); a file with shape
	// problems from the repaired tree.
	var cfg Config
	if len(sc.Problems) == 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(&cfg)
	} else {
		err = root.Decode(&cfg)
	}
	if err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fail(append(sc.Problems, &yamlshape.Problem{Msg: err.Error()}))
		}
		for _, msg := range te.Errors {
			sc.Problems = append(sc.Problems, &yamlshape.Problem{Msg: msg}) // yaml's own text starts with "line N:"
		}
		// A field left zero by a type error would only cause follow-on
		// errors: stop here.
		return nil, fail(sc.Problems)
	}

	// 4. Defaults, then meaning: validate and compile.
	cfg.applyDefaults()
	c := compiler{root: root, patched: sc.Patched, problems: sc.Problems}
	compiled := c.compile(&cfg)
	if len(c.problems) > 0 {
		slices.SortStableFunc(c.problems, func(a, b *yamlshape.Problem) int { return a.Line - b.Line })
		return nil, fail(c.problems)
	}
	cfg.compiled = compiled
	cfg.engine = authz.NewEngine(compiled)
	cfg.warnings = c.warnings
	cfg.hash = Hash(data)
	return &cfg, nil
}

// Hash is the Hash of a configuration file's content: the SHA-256 of
// its bytes, in hex.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// parseDocument parses exactly one YAML document and returns its root node.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty configuration")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("line %d: a second YAML document; the configuration is one document", extra.Line)
	}
	if err := yamlshape.CheckExpansion(&doc, maxExpandedNodes); err != nil {
		return nil, err
	}
	root := yamlshape.Deref(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = yamlshape.Deref(root.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the configuration must be a mapping (server:, issuers:, policies:, ...)", root.Line)
	}
	return root, nil
}

// policyPlace names policy i in messages: `policy "deploy" (policies[0])`, or
// `policies[0]` when it has no name.
func policyPlace(i int, name string) string {
	if name == "" {
		return "policies" + yamlshape.Index(i)
	}
	return "policy " + strconv.Quote(name) + " (policies" + yamlshape.Index(i) + ")"
}

// The defaults of DESIGN.md for the file's own settings, applied to zero
// values; the verifier's (token limits, cache size, issuer durations) are
// claims' own.
const (
	defaultGRPCAddr      = ":9000"
	defaultHTTPAddr      = ":9001"
	defaultShutdownGrace = 10 * time.Second
	defaultTokenHeader   = "authorization"
	defaultLogLevel      = "info"
	defaultLogDecisions  = "all"
	defaultHeaderPrefix  = "x-github-"
)

// applyDefaults replaces zero values with the documented defaults and
// lower-cases header names.
func (c *Config) applyDefaults() {
	setDefault(&c.Server.GRPCAddr, defaultGRPCAddr)
	setDefault(&c.Server.HTTPAddr, defaultHTTPAddr)
	setDefault(&c.Server.ShutdownGrace, defaultShutdownGrace)
	setDefault(&c.Token.Header, defaultTokenHeader)
	c.Token.Header = strings.ToLower(c.Token.Header)
	setDefault(&c.Token.Leeway, claims.DefaultLeeway)
	setDefault(&c.Token.MaxBytes, claims.DefaultMaxBytes)
	setDefault(&c.Token.MaxLifetime, claims.DefaultMaxLifetime)
	setDefault(&c.Cache.MaxEntries, claims.DefaultCacheMaxEntries)
	setDefault(&c.Log.Level, defaultLogLevel)
	setDefault(&c.Log.Decisions, defaultLogDecisions)
	setDefault(&c.Upstream.HeaderPrefix, defaultHeaderPrefix)
	c.Upstream.HeaderPrefix = strings.ToLower(c.Upstream.HeaderPrefix)
	if c.Upstream.Claims == nil {
		c.Upstream.Claims = slices.Clone(DefaultUpstreamClaims)
	}
	if c.Server.DrainDelay == nil {
		d := DefaultDrainDelay
		c.Server.DrainDelay = &d
	}
	if c.Upstream.RemoveToken == nil {
		yes := true
		c.Upstream.RemoveToken = &yes
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Engine returns the policy compiled when the configuration was parsed. It
// is immutable: later changes to c do not reach it. It is nil for a Config
// that did not come from Parse or Load.
func (c *Config) Engine() *authz.Engine { return c.engine }

// Hash returns the SHA-256 of the file the configuration was parsed from,
// in hex: a reload of the same bytes has the same hash, and metrics and logs
// name the configuration in force by it. It is "" for a Config that did not
// come from Parse or Load.
func (c *Config) Hash() string { return c.hash }

// Warnings returns what check should point out in a valid configuration:
// policies that opt out of owner pinning, rules that pin the owner by name
// only, policies in dry_run mode.
func (c *Config) Warnings() []string { return slices.Clone(c.warnings) }

// AllAudiences returns every audience any policy accepts: the global list
// followed by each policy's override, without repeats. The token verifier
// accepts these; each policy then checks its own.
func (c *Config) AllAudiences() []string {
	var out []string
	add := func(list []string) {
		for _, a := range list {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	add(c.Audiences)
	for _, p := range c.Policies {
		add(p.Audiences)
	}
	return out
}
