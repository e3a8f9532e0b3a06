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

	"github.com/actions-authz/actions-authz/claims"
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
// failure the error holds every problem found (errors.Join: one per line, in
// file order), each naming its place, for example
//
//	line 12: policy "deploy" (policies[0]): allow[1]: ref: invalid regex "(": ...
//
// A value of the wrong type for a plain setting (shutdown_grace: soon) is
// reported in YAML's own words, and only the other problems of that kind
// are reported with it.
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

	// 2. Shape: unknown or repeated keys and malformed rules, reported with
	// their place and cut out of the tree, so that the rest of the file can
	// still be checked and every problem reported in one run.
	sc := shapeChecker{patched: make(map[*yaml.Node]bool)}
	sc.check(root, reflect.TypeFor[Config](), "")

	// 3. Types. A clean file is decoded strictly from its bytes (KnownFields
	// is a second line of defence behind the shape check); a file with shape
	// problems from the repaired tree.
	var cfg Config
	if len(sc.problems) == 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		err = dec.Decode(&cfg)
	} else {
		err = root.Decode(&cfg)
	}
	if err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fail(append(sc.problems, &problem{msg: err.Error()}))
		}
		for _, msg := range te.Errors {
			sc.problems = append(sc.problems, &problem{msg: msg}) // yaml's own text starts with "line N:"
		}
		// A field left zero by a type error would only cause follow-on
		// errors: stop here.
		return nil, fail(sc.problems)
	}

	// 4. Defaults, then meaning: validate and compile.
	cfg.applyDefaults()
	c := compiler{root: root, patched: sc.patched, problems: sc.problems}
	engine := c.compile(&cfg)
	if len(c.problems) > 0 {
		slices.SortStableFunc(c.problems, func(a, b *problem) int { return a.line - b.line })
		return nil, fail(c.problems)
	}
	cfg.engine = engine
	cfg.warnings = c.warnings
	cfg.hash = HashConfig(data)
	return &cfg, nil
}

// HashConfig is the Hash of a configuration file's content: the SHA-256 of
// its bytes, in hex.
func HashConfig(data []byte) string {
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
	if err := checkExpansion(&doc); err != nil {
		return nil, err
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

// shapeChecker walks the node tree against the Go types it will be decoded
// into. It reports keys a type does not have, keys given twice and the errors
// of the types that decode themselves (rules and values), and repairs the
// tree as it goes: such keys are cut out, and a broken rule is replaced by an
// empty one. Both are recorded in patched, so that validation does not
// report follow-on problems (a required key missing because it was
// misspelt, an empty rule). Type mismatches of plain fields are left to the
// decoder.
type shapeChecker struct {
	problems []*problem
	patched  map[*yaml.Node]bool
}

func (s *shapeChecker) check(n *yaml.Node, t reflect.Type, place string) {
	n = deref(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		s.checkSelfDecoding(n, t, place)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind == yaml.MappingNode {
			s.checkMapping(n, t, place)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			p := at(place, index(i))
			if t.Elem() == reflect.TypeFor[PolicyConfig]() {
				p = policyPlace(i, scalarAt(item, "name"))
			}
			s.check(item, t.Elem(), p)
		}
	}
}

// checkSelfDecoding decodes n into a new t, as the decoder will, and reports
// its errors with their place. A null would be dropped silently from a list.
func (s *shapeChecker) checkSelfDecoding(n *yaml.Node, t reflect.Type, place string) {
	isRule := t == reflect.TypeFor[RuleConfig]()
	var err error
	switch {
	case n.ShortTag() == "!!null" && isRule:
		err = &problem{line: n.Line, msg: "empty rule: list at least one claim condition"}
	case n.ShortTag() == "!!null":
		err = &problem{line: n.Line, msg: "missing value"}
	default:
		err = n.Decode(reflect.New(t).Interface())
	}
	if err == nil {
		return
	}
	s.problems = append(s.problems, problems(place, err)...)
	if isRule {
		*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
		s.patched[n] = true
	}
}

// checkMapping checks the keys of mapping n against struct type t.
func (s *shapeChecker) checkMapping(n *yaml.Node, t reflect.Type, place string) {
	fields, names := yamlFields(t)
	seen := make(map[string]int)
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" { // "<<: *anchor", or a list of them
			if m := deref(v); m != nil && m.Kind == yaml.SequenceNode {
				for _, c := range m.Content {
					s.check(c, t, place)
				}
			} else {
				s.check(v, t, place)
			}
			kept = append(kept, k, v)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			s.problems = append(s.problems, &problem{line: k.Line, place: place,
				msg: "key " + strconv.Quote(k.Value) + " given twice (first on line " + strconv.Itoa(line) + ")"})
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			s.problems = append(s.problems, &problem{line: k.Line, place: place,
				msg: "unknown key " + strconv.Quote(k.Value) + " (known: " + strings.Join(names, ", ") + ")"})
			continue
		}
		s.check(v, ft, at(place, k.Value))
		kept = append(kept, k, v)
	}
	if len(kept) < len(n.Content) {
		n.Content = kept
		s.patched[n] = true
	}
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
