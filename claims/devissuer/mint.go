package devissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// The default claim values: a push to main of a private repository, run on a
// GitHub-hosted runner. The IDs follow GitHub's documentation examples.
const (
	defaultRepository   = "octo-org/octo-repo"
	defaultRef          = "refs/heads/main"
	defaultSHA          = "5b1c0c6f3c1d9f2a8e4b7d6a9c0e1f2d3b4a5c6d"
	defaultWorkflowFile = ".github/workflows/ci.yml"

	// notBeforeSkew is iat − nbf, as in GitHub's tokens since 2026.
	notBeforeSkew = 5 * time.Minute
	// maxLifetime bounds the "lifetime" a caller may ask for.
	maxLifetime = 366 * 24 * time.Hour
)

// Mint signs a token with the current key and returns it in compact form.
//
// The token carries a complete GitHub-shaped claim set, which claims
// overrides claim by claim. The defaults are those of a push to main:
//
//	iss                    URL()
//	aud                    Options.Audience, or "https://github.com/" + repository_owner
//	iat, nbf, exp          now, now − 5m, now + Options.Lifetime (NumericDates)
//	jti                    a random UUID
//	sub                    repo:REPOSITORY:environment:ENVIRONMENT when an environment is set,
//	                       else repo:REPOSITORY:pull_request for event_name pull_request,
//	                       else repo:REPOSITORY:ref:REF (":" in a part becomes "%3A")
//	repository             octo-org/octo-repo (repository_id 456789)
//	repository_owner       the part of repository before "/" (repository_owner_id 123456)
//	repository_visibility  private
//	ref, ref_type          refs/heads/main; ref_type is tag for refs/tags/…, else branch
//	ref_protected          false
//	base_ref, head_ref     "" (as for any event but a pull request)
//	sha                    a fixed commit; workflow_sha and job_workflow_sha follow sha
//	workflow               CI
//	workflow_ref           REPOSITORY/.github/workflows/ci.yml@REF, and so job_workflow_ref
//	event_name             push
//	actor, actor_id        octocat, 583231
//	run_id, run_number, run_attempt, check_run_id   fixed numeric strings
//	runner_environment     github-hosted
//
// Derived defaults (repository_owner, aud, sub, ref_type, the workflow refs
// and SHAs, nbf and exp) follow the values claims gives for repository,
// repository_owner, ref, sha, event_name, environment and iat.
//
// In claims:
//   - a nil value removes the claim from the token;
//   - "aud" is a string or a list of strings ([]string or []any);
//   - "exp", "iat" and "nbf" are numbers or time.Time values;
//   - every other claim is a string, or a number or boolean, which becomes
//     its decimal or "true"/"false" string, as GitHub encodes every claim;
//   - a repository custom property is a claim named repo_property_<name>
//     (none is in the defaults); a multi-select one may be given as a list
//     of strings, which becomes one comma-separated string, as GitHub
//     joins the options ("us-east-1,eu-west-1");
//   - a json.RawMessage value is copied into the payload verbatim, for tests
//     that need a claim of the wrong type;
//   - "lifetime" is not a claim: it sets exp − iat, as a number of seconds or
//     a time.Duration, between one second and a year.
//
// Mint does not modify claims.
func (iss *Issuer) Mint(claims map[string]any) (string, error) {
	return iss.MintWith(nil, claims)
}

// MintWith is Mint with changes to the JOSE header, for tests of hostile or
// malformed tokens. The header starts as {"typ":"JWT","alg":"RS256",
// "x5t":…,"kid":…} for the current key; each entry of header then sets or
// replaces that field, and a nil value removes it. Overrides are applied
// verbatim and the token is always signed with RS256 and the current key:
// "alg":"none" or "alg":"HS256" yields a token whose header lies, and a
// changed "kid" one whose signature matches no published key. A caller that
// needs another signature signs the token itself.
func (iss *Issuer) MintWith(header, claims map[string]any) (string, error) {
	payload, err := iss.payload(claims)
	if err != nil {
		return "", err
	}
	return iss.sign(header, payload)
}

// payload builds the claim set of a token from the defaults and req.
func (iss *Issuer) payload(req map[string]any) (map[string]any, error) {
	lifetime := iss.lifetime
	given := make(map[string]any, len(req))
	for name, v := range req {
		if name == "lifetime" {
			if v == nil {
				continue
			}
			d, err := parseLifetime(v)
			if err != nil {
				return nil, err
			}
			lifetime = d
			continue
		}
		if v == nil {
			given[name] = nil
			continue
		}
		c, err := convertClaim(name, v)
		if err != nil {
			return nil, err
		}
		given[name] = c
	}

	pick := func(name, def string) string {
		if s, ok := given[name].(string); ok {
			return s
		}
		return def
	}
	repo := pick("repository", defaultRepository)
	owner, _, _ := strings.Cut(repo, "/")
	owner = pick("repository_owner", owner)
	ref := pick("ref", defaultRef)
	sha := pick("sha", defaultSHA)
	refType := "branch"
	if strings.HasPrefix(ref, "refs/tags/") {
		refType = "tag"
	}
	aud := iss.audience
	if aud == "" {
		aud = "https://github.com/" + owner
	}
	iat := iss.now().Unix()
	switch t := given["iat"].(type) {
	case int64:
		iat = t
	case float64:
		iat = int64(t)
	}
	workflowRef := repo + "/" + defaultWorkflowFile + "@" + ref

	out := map[string]any{
		"iss": iss.url,
		"aud": aud,
		"sub": subject(repo, ref, pick("event_name", "push"), pick("environment", "")),
		"iat": iat,
		"nbf": iat - int64(notBeforeSkew/time.Second),
		"exp": iat + int64(lifetime/time.Second),
		"jti": newUUID(),

		"actor":                 "octocat",
		"actor_id":              "583231",
		"base_ref":              "",
		"check_run_id":          "28123456789",
		"event_name":            "push",
		"head_ref":              "",
		"job_workflow_ref":      workflowRef,
		"job_workflow_sha":      sha,
		"ref":                   ref,
		"ref_protected":         "false",
		"ref_type":              refType,
		"repository":            repo,
		"repository_id":         "456789",
		"repository_owner":      owner,
		"repository_owner_id":   "123456",
		"repository_visibility": "private",
		"run_attempt":           "1",
		"run_id":                "10123456789",
		"run_number":            "42",
		"runner_environment":    "github-hosted",
		"sha":                   sha,
		"workflow":              "CI",
		"workflow_ref":          workflowRef,
		"workflow_sha":          sha,
	}
	for name, v := range given {
		if v == nil {
			delete(out, name)
		} else {
			out[name] = v
		}
	}
	return out, nil
}

// subject derives "sub" as GitHub does for a repository without a custom
// subject template.
func subject(repo, ref, event, environment string) string {
	esc := strings.NewReplacer(":", "%3A").Replace
	switch {
	case environment != "":
		return "repo:" + esc(repo) + ":environment:" + esc(environment)
	case event == "pull_request":
		return "repo:" + esc(repo) + ":pull_request"
	default:
		return "repo:" + esc(repo) + ":ref:" + esc(ref)
	}
}

// convertClaim checks the value of one claim and converts it to the type
// the token will carry.
func convertClaim(name string, v any) (any, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, fmt.Errorf("devissuer: claim %q: invalid JSON in json.RawMessage", name)
		}
		return raw, nil
	}
	switch name {
	case "aud":
		switch a := v.(type) {
		case string:
			return a, nil
		case []string:
			return append([]string{}, a...), nil
		case []any:
			out := make([]string, len(a))
			for i, e := range a {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("devissuer: claim \"aud\": element %d is %T, want a string", i, e)
				}
				out[i] = s
			}
			return out, nil
		}
		return nil, fmt.Errorf("devissuer: claim \"aud\": want a string or a list of strings, got %T", v)
	case "exp", "iat", "nbf":
		if n, ok := numericDate(v); ok {
			return n, nil
		}
		return nil, fmt.Errorf("devissuer: claim %q: want a number or a time.Time, got %T", name, v)
	}
	if s, ok := scalarString(v); ok {
		return s, nil
	}
	if strings.HasPrefix(name, propertyPrefix) {
		if opts, ok := stringList(v); ok {
			// A multi-select property: GitHub joins the selected options
			// into one comma-separated string.
			return strings.Join(opts, ","), nil
		}
		return nil, fmt.Errorf("devissuer: claim %q: want a string, number, boolean or a list of strings (a multi-select property), got %T", name, v)
	}
	return nil, fmt.Errorf("devissuer: claim %q: want a string, number or boolean, got %T", name, v)
}

// propertyPrefix starts the claims of repository custom properties.
const propertyPrefix = "repo_property_"

// stringList returns v as a list of strings, if it is one.
func stringList(v any) ([]string, bool) {
	switch l := v.(type) {
	case []string:
		return l, true
	case []any:
		out := make([]string, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// numericDate returns v as an int64 or finite float64 number of seconds.
func numericDate(v any) (any, bool) {
	switch t := v.(type) {
	case time.Time:
		return t.Unix(), true
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n, true
		}
		f, err := t.Float64()
		return f, err == nil && !math.IsInf(f, 0)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > math.MaxInt64 {
			return nil, false
		}
		return int64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
		return f, true
	}
	return nil, false
}

// scalarString returns a string, number or boolean as the string GitHub
// would put in a token.
func scalarString(v any) (string, bool) {
	if n, ok := v.(json.Number); ok {
		return n.String(), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String(), true
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), true
	case reflect.Float32:
		return strconv.FormatFloat(rv.Float(), 'f', -1, 32), true
	case reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'f', -1, 64), true
	}
	return "", false
}

// parseLifetime reads the "lifetime" request field: seconds, or a
// time.Duration.
func parseLifetime(v any) (time.Duration, error) {
	var d time.Duration
	switch t := v.(type) {
	case time.Duration:
		d = t
	case time.Time:
		return 0, fmt.Errorf("devissuer: lifetime: want a number of seconds, got %T", v)
	default:
		var secs float64
		switch n, _ := numericDate(v); n := n.(type) {
		case int64:
			secs = float64(n)
		case float64:
			secs = n
		default:
			return 0, fmt.Errorf("devissuer: lifetime: want a number of seconds, got %T", v)
		}
		// Clamp before converting, so that a huge number cannot overflow
		// into an acceptable Duration; the check below refuses it.
		secs = min(max(secs, -1), maxLifetime.Seconds()+1)
		d = time.Duration(secs * float64(time.Second))
	}
	if d < time.Second || d > maxLifetime {
		return 0, fmt.Errorf("devissuer: lifetime %v: want between 1s and %v", d, maxLifetime)
	}
	return d, nil
}

// sign encodes header and payload and signs them with the current key.
func (iss *Issuer) sign(header, payload map[string]any) (string, error) {
	key := iss.signer()
	h := map[string]any{"typ": "JWT", "alg": "RS256", "x5t": key.x5t, "kid": key.kid}
	for name, v := range header {
		if v == nil {
			delete(h, name)
		} else {
			h[name] = v
		}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("devissuer: encoding the header: %w", err)
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("devissuer: encoding the claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(hb) + "." + enc.EncodeToString(pb)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key.priv, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("devissuer: signing: %w", err)
	}
	return signed + "." + enc.EncodeToString(sig), nil
}
