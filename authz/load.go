package authz

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
)

// LoadConfig reads, validates and compiles the configuration file at path.
// Errors name the file and line; see ParseConfig.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseConfig(data, path)
}

// ParseConfig reads a configuration file, applies the documented defaults,
// validates it and compiles its policies into the Engine returned by
// (*Config).Engine.
//
// Decoding is strict: a key the file format does not have is an error, and so
// is an unquoted number or boolean where a claim value is expected. On
// failure the error holds every problem found, one per line (errors.Join),
// each naming its place, for example
//
//	line 12: policy "deploy" (policies[0]): allow[1]: ref: invalid regex "(": ...
func ParseConfig(data []byte) (*Config, error) {
	return parseConfig(data, "")
}

func parseConfig(data []byte, file string) (*Config, error) {
	fail := func(ps []*problem) error {
		errs := make([]error, len(ps))
		for i, p := range ps {
			p.file = file
			errs[i] = p
		}
		return errors.Join(errs...)
	}

	// 1. Syntax, into a node tree that keeps line numbers.
	root, err := parseDocument(data)
	if err != nil {
		return nil, fail([]*problem{{msg: err.Error()}})
	}

	// 2. Shape: unknown or repeated keys and malformed rules, with their place.
	if ps := checkShape(root, reflect.TypeFor[Config](), ""); len(ps) > 0 {
		return nil, fail(ps)
	}

	// 3. Types, strictly (the shape check has already reported unknown keys
	// with their place; KnownFields stays on as a second line of defence).
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fail([]*problem{{msg: err.Error()}})
		}
		ps := make([]*problem, len(te.Errors))
		for i, msg := range te.Errors {
			ps[i] = &problem{msg: msg} // yaml's own text starts with "line N:"
		}
		return nil, fail(ps)
	}

	// 4. Defaults, then meaning: validate and compile.
	cfg.applyDefaults()
	c := compiler{root: root}
	engine := c.compile(&cfg)
	if len(c.problems) > 0 {
		return nil, fail(c.problems)
	}
	cfg.engine = engine
	cfg.warnings = c.warnings
	sum := sha256.Sum256(data)
	cfg.hash = hex.EncodeToString(sum[:])
	return &cfg, nil
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
	root := deref(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = deref(root.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the configuration must be a mapping (server:, issuers:, policies:, ...)", root.Line)
	}
	return root, nil
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checkShape walks node n against the Go type t it will be decoded into and
// reports, with their place, keys that t does not have, keys given twice and
// the errors of types that decode themselves (rules and values). Type
// mismatches of plain fields are left to the decoder.
func checkShape(n *yaml.Node, t reflect.Type, place string) []*problem {
	n = deref(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if n.ShortTag() == "!!null" { // the decoder would drop it silently
			if t == reflect.TypeFor[RuleConfig]() {
				return []*problem{{line: n.Line, place: place, msg: "empty rule: list at least one claim condition"}}
			}
			return []*problem{{line: n.Line, place: place, msg: "missing value"}}
		}
		return problems(place, n.Decode(reflect.New(t).Interface()))
	}
	var out []*problem
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		fields, names := yamlFields(t)
		seen := make(map[string]int)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				out = append(out, checkMerge(v, t, place)...)
				continue
			}
			if line, dup := seen[k.Value]; dup {
				out = append(out, &problem{line: k.Line, place: place,
					msg: "key " + strconv.Quote(k.Value) + " given twice (first on line " + strconv.Itoa(line) + ")"})
				continue
			}
			seen[k.Value] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				out = append(out, &problem{line: k.Line, place: place,
					msg: "unknown key " + strconv.Quote(k.Value) + " (known: " + strings.Join(names, ", ") + ")"})
				continue
			}
			out = append(out, checkShape(v, ft, at(place, k.Value))...)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			p := at(place, index(i))
			if t.Elem() == reflect.TypeFor[PolicyConfig]() {
				p = policyPlace(i, scalarAt(item, "name"))
			}
			out = append(out, checkShape(item, t.Elem(), p)...)
		}
	}
	return out
}

// checkMerge checks the mappings merged with "<<: *anchor" (or a list of them).
func checkMerge(v *yaml.Node, t reflect.Type, place string) []*problem {
	v = deref(v)
	if v.Kind == yaml.SequenceNode {
		var out []*problem
		for _, m := range v.Content {
			out = append(out, checkShape(m, t, place)...)
		}
		return out
	}
	return checkShape(v, t, place)
}

// yamlFields returns the YAML keys of struct type t with their types, and
// the keys in declaration order for messages.
func yamlFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := make(map[string]reflect.Type, t.NumField())
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

// policyPlace names policy i in messages: `policy "deploy" (policies[0])`, or
// `policies[0]` when it has no name.
func policyPlace(i int, name string) string {
	if name == "" {
		return "policies" + index(i)
	}
	return "policy " + strconv.Quote(name) + " (policies" + index(i) + ")"
}

// child returns the value node of key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// item returns element i of sequence n, or nil.
func item(n *yaml.Node, i int) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return deref(n.Content[i])
}

// scalarAt returns the scalar value of key in mapping n, or "".
func scalarAt(n *yaml.Node, key string) string {
	if c := child(n, key); c != nil && c.Kind == yaml.ScalarNode {
		return c.Value
	}
	return ""
}

// lineOf returns the line of n, or fallback when n is nil.
func lineOf(n *yaml.Node, fallback int) int {
	if n == nil {
		return fallback
	}
	return n.Line
}

// The defaults of DESIGN.md, applied to zero values (issuer durations are
// defaulted by the claims package).
const (
	defaultGRPCAddr      = ":9000"
	defaultHTTPAddr      = ":9001"
	defaultShutdownGrace = 10 * time.Second
	defaultTokenHeader   = "authorization"
	defaultLeeway        = 60 * time.Second
	defaultMaxBytes      = 8192
	defaultMaxEntries    = 100000
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
	setDefault(&c.Token.Leeway, defaultLeeway)
	setDefault(&c.Token.MaxBytes, defaultMaxBytes)
	setDefault(&c.Cache.MaxEntries, defaultMaxEntries)
	setDefault(&c.Log.Level, defaultLogLevel)
	setDefault(&c.Log.Decisions, defaultLogDecisions)
	setDefault(&c.Upstream.HeaderPrefix, defaultHeaderPrefix)
	c.Upstream.HeaderPrefix = strings.ToLower(c.Upstream.HeaderPrefix)
	if c.Upstream.Claims == nil {
		c.Upstream.Claims = slices.Clone(DefaultUpstreamClaims)
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
// that did not come from ParseConfig or LoadConfig.
func (c *Config) Engine() *Engine { return c.engine }

// Hash returns the SHA-256 of the file the configuration was parsed from,
// in hex: a reload of the same bytes has the same hash, and metrics and logs
// name the configuration in force by it. It is "" for a Config that did not
// come from ParseConfig or LoadConfig.
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
