package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/authz/config"
	"github.com/actions-authz/actions-authz/claims"
	"github.com/actions-authz/actions-authz/internal/cli"
	"github.com/actions-authz/actions-authz/internal/fileread"
)

// explainOptions are the flags of explain.
type explainOptions struct {
	configPath string
	token      string
	tokenFile  string
	claimsFile string
	request    authz.Request
	at         time.Time // zero: now
	jwksFile   string
}

const explainUsage = `actions-authz explain: show how the policy decides a request, and why

  actions-authz explain --config FILE (--token T | --token-file F | --claims-file F)
                        [--policy NAME] [--method M] [--host H] [--path P]
                        [--at RFC3339] [--jwks-file F]

The token is verified as the service would (issuers, keys, audience, lifetime),
then the policy is selected (--policy, as an Envoy route's context_extensions
names it, or by --method, --host and --path) and each rule is traced to its
first failing condition. --claims-file skips verification: it holds the
token's claims as JSON. --at examines a captured token as of a moment of its
lifetime; --jwks-file reads every issuer's keys from a JWKS file instead of
fetching them. Exit status: 0 allowed, 1 not allowed, 2 usage or configuration
error. The token itself is never printed.

Flags:
`

// explain prints how the configuration decides one request: the token's
// verification, the policy selected, each rule's outcome and the decision.
func explain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseExplainFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(o.configPath)
	if err != nil {
		return cli.Exit(2, fmt.Errorf("%s is invalid:\n%w", o.configPath, err))
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stderr, "warning:", w)
	}
	engine := cfg.Engine()

	var x authz.Explanation
	if o.claimsFile != "" {
		c, err := readClaimsFile(o.claimsFile, stderr)
		if err != nil {
			return cli.Exit(2, err)
		}
		fmt.Fprintf(stdout, "token: not verified (claims read from %s)\n", o.claimsFile)
		printClaims(stdout, c)
		x = engine.Explain(authz.Input{Request: o.request, Claims: c})
	} else {
		raw, err := readToken(o)
		if err != nil {
			return cli.Exit(2, err)
		}
		vr, err := verifyForExplain(ctx, cfg, raw, o)
		if err != nil {
			return cli.Exit(2, err)
		}
		c := vr.claims
		printVerification(stdout, raw, vr, o.at)
		x = engine.Explain(authz.Input{Request: o.request, Claims: c})
		// The decision exactly as the service makes it, token refusals included.
		req := o.request
		req.Headers = map[string]string{engine.TokenHeader(): tokenHeaderValue(engine.TokenHeader(), raw)}
		x.Decision = authz.NewAuthorizer(vr, engine).Authorize(ctx, req)
		if c == nil {
			x.Audiences = nil // there is no verified audience to speak of
		}
	}

	fmt.Fprint(stdout, x.String())
	d := &x.Decision
	if d.Outcome == authz.Allow {
		for _, h := range d.Set {
			if h.Value != "" {
				fmt.Fprintf(stdout, "upstream: %s: %s\n", h.Name, h.Value)
			}
		}
		if len(d.Remove) > 0 {
			fmt.Fprintf(stdout, "upstream: removed %s\n", strings.Join(d.Remove, ", "))
		}
		return nil
	}
	return cli.Exit(1, fmt.Errorf("explain: not allowed: %s (HTTP %d)", d.Outcome, d.Outcome.HTTPStatus()))
}

func parseExplainFlags(args []string, stderr io.Writer) (*explainOptions, error) {
	o := new(explainOptions)
	fs := cli.NewFlagSet("explain", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), explainUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.configPath, "config", "", "configuration file (required)")
	fs.StringVar(&o.token, "token", "", "the token (prefer --token-file: a command line is visible to other users)")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding the token (/dev/stdin reads standard input)")
	fs.StringVar(&o.claimsFile, "claims-file", "", "JSON file of claims, evaluated without verification")
	fs.StringVar(&o.request.Policy, "policy", "", "policy name, as an Envoy route's context_extensions gives it")
	fs.StringVar(&o.request.Method, "method", "GET", "method of the request")
	fs.StringVar(&o.request.Host, "host", "", "host (:authority) of the request")
	fs.StringVar(&o.request.Path, "path", "/", "path of the request")
	at := fs.String("at", "", "evaluate the token as of this time (RFC 3339, e.g. 2025-01-29T01:50:23Z)")
	fs.StringVar(&o.jwksFile, "jwks-file", "", "read the signing keys of every configured issuer from this JWKS file")
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	if o.configPath == "" {
		return nil, cli.Usage("explain: --config is required")
	}
	sources := 0
	for _, s := range []string{o.token, o.tokenFile, o.claimsFile} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return nil, cli.Usage("explain: give exactly one of --token, --token-file and --claims-file")
	}
	if o.claimsFile != "" && (*at != "" || o.jwksFile != "") {
		return nil, cli.Usage("explain: --at and --jwks-file verify a token; --claims-file skips verification")
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return nil, cli.Usage("explain: --at %q: want an RFC 3339 time such as 2025-01-29T01:50:23Z", *at)
		}
		o.at = t
	}
	return o, nil
}

// readToken returns the token from --token or --token-file, without
// surrounding white space or a "Bearer " prefix.
func readToken(o *explainOptions) (string, error) {
	raw := o.token
	if o.tokenFile != "" {
		data, err := fileread.Limited(o.tokenFile, 64<<10)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		raw = string(data)
	}
	raw = strings.TrimSpace(raw)
	if scheme, rest, ok := strings.Cut(raw, " "); ok && strings.EqualFold(scheme, "Bearer") {
		raw = strings.TrimSpace(rest)
	}
	if raw == "" {
		return "", errors.New("the token is empty")
	}
	return raw, nil
}

// tokenHeaderValue is the request header that carries raw: "Bearer <jwt>"
// in authorization, the bare JWT in any other header.
func tokenHeaderValue(header, raw string) string {
	if header == "authorization" {
		return "Bearer " + raw
	}
	return raw
}

// verification is the outcome of verifying the token: its claims, or why it
// was refused. It answers Authorize with that outcome.
type verification struct {
	claims *claims.Claims
	err    error
}

// Verify returns the outcome already reached, whatever the token.
func (v verification) Verify(context.Context, string) (*claims.Claims, error) { return v.claims, v.err }

// verifyForExplain verifies raw with the configuration's issuers and
// audiences, as of o.at, with keys from o.jwksFile when it is set. The error
// is a failure to set up the verifier or to load the keys; a refused token is
// a verification with an error.
func verifyForExplain(ctx context.Context, cfg *config.Config, raw string, o *explainOptions) (verification, error) {
	issuers := slices.Clone(cfg.Issuers)
	if o.jwksFile != "" {
		if _, err := os.Stat(o.jwksFile); err != nil {
			return verification{}, fmt.Errorf("--jwks-file: %w", err)
		}
		for i := range issuers {
			issuers[i].JWKSURL, issuers[i].JWKSFile = "", o.jwksFile
		}
	}
	var now func() time.Time
	if !o.at.IsZero() {
		at := o.at
		now = func() time.Time { return at }
	}
	vc := cfg.VerifierConfig()
	vc.Issuers, vc.Now = issuers, now
	v, err := claims.NewVerifier(vc)
	if err != nil {
		return verification{}, err
	}
	// Load the keys of the token's own issuer only; a token from an issuer
	// the configuration does not trust is refused without any fetch.
	if iss := unverifiedClaims(raw).Issuer; slices.ContainsFunc(issuers, func(ic claims.IssuerConfig) bool { return ic.URL == iss }) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := v.Refresh(ctx, iss); err != nil {
			return verification{}, fmt.Errorf("signing keys of issuer %s: %w", iss, err)
		}
	}
	c, err := v.Verify(ctx, raw)
	return verification{claims: c, err: err}, nil
}

// unverifiedClaims decodes the claims of a compact JWT without checking
// anything, for diagnosis only; it returns empty claims when they cannot be
// read.
func unverifiedClaims(raw string) *claims.Claims {
	c := new(claims.Claims)
	if _, _, err := jwt.NewParser().ParseUnverified(raw, c); err != nil {
		return new(claims.Claims)
	}
	return c
}

// printVerification prints whether the token verified, and its claims:
// verified ones when it did, the unverified ones (for diagnosis) when not.
func printVerification(w io.Writer, raw string, vr verification, at time.Time) {
	when := ""
	if !at.IsZero() {
		when = " as of " + at.UTC().Format(time.RFC3339)
	}
	if vr.err == nil {
		fmt.Fprintf(w, "token: valid%s\n", when)
		printClaims(w, vr.claims)
		return
	}
	var ce *claims.Error
	if errors.As(vr.err, &ce) {
		fmt.Fprintf(w, "token: invalid%s: %s (%s)\n", when, ce.Reason, ce.Description)
	} else {
		fmt.Fprintf(w, "token: invalid%s: %v\n", when, vr.err)
	}
	if u := unverifiedClaims(raw); u.Issuer != "" || u.Subject != "" {
		fmt.Fprintln(w, "claims as sent (NOT verified):")
		printClaims(w, u)
	}
}

// printClaims lists the claims that are present, registered claims first,
// times in RFC 3339.
func printClaims(w io.Writer, c *claims.Claims) {
	line := func(name, value string) {
		fmt.Fprintf(w, "  %-22s %s\n", name, value)
	}
	for _, name := range []string{"iss", "sub"} {
		if v, ok := c.Get(name); ok {
			line(name, v)
		}
	}
	if len(c.Audience) > 0 {
		line("aud", strings.Join(c.Audience, ", "))
	}
	for _, t := range []struct {
		name string
		d    *jwt.NumericDate
	}{{"iat", c.IssuedAt}, {"nbf", c.NotBefore}, {"exp", c.ExpiresAt}} {
		if t.d != nil {
			line(t.name, t.d.UTC().Format(time.RFC3339))
		}
	}
	for _, name := range claims.Names() {
		if name == "iss" || name == "sub" || name == "aud" {
			continue
		}
		if v, ok := c.Get(name); ok {
			line(name, v)
		}
	}
	// repo_property_* and claims GitHub added after this version: as the
	// token holds them, in JSON.
	for _, name := range c.Extra.Names() {
		raw, _ := c.Extra.JSON(name)
		line(name, raw)
	}
}

// registeredClaims are the JWT claims a claims file may hold besides
// GitHub's own.
var registeredClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

// readClaimsFile reads a JSON object of claims. A claim GitHub does not
// document (repo_property_* aside) is reported on stderr, in case its name
// is misspelt, and kept; a value of the wrong type for a documented claim is
// an error naming the claim.
func readClaimsFile(path string, stderr io.Writer) (*claims.Claims, error) {
	data, err := fileread.Limited(path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("--claims-file: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("--claims-file %s: not a JSON object of claims: %w", path, err)
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, known := claims.LookupField(name); !known && !slices.Contains(registeredClaims, name) && !strings.HasPrefix(name, claims.PropertyPrefix) {
			fmt.Fprintf(stderr, "warning: %s: claim %q is not one GitHub documents (kept: a policy may name it)\n", path, name)
		}
	}
	c := new(claims.Claims)
	if err := json.Unmarshal(data, c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("--claims-file %s: claim %q must be a %s (GitHub sends every claim as a string), not a JSON %s", path, te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("--claims-file %s: %w", path, err)
	}
	return c, nil
}
