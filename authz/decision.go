package authz

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"unsafe"

	"github.com/actions-authz/actions-authz/authz/internal/httpsyntax"
	"github.com/actions-authz/actions-authz/claims"
)

// Outcome is what a front door must answer.
type Outcome uint8

// The outcomes, each with one HTTP status (see HTTPStatus).
const (
	Deny            Outcome = iota // 403: a valid token that no rule allows, or no policy for the route
	Allow                          // the request goes upstream with the identity headers
	Unauthenticated                // 401: no usable token, or a token that fails verification
	Unavailable                    // 503: the token's issuer has no usable keys
	TooLarge                       // 431: more headers, or header bytes, than a front door reads (HeadersFit)
)

// Reason is a short fixed identifier of why a decision was made, fit for a
// metric label. Token failures carry their claims.Reason in Decision.Detail.
type Reason string

// The decision reasons.
const (
	ReasonAllowed         Reason = "allowed"
	ReasonDryRun          Reason = "dry_run"          // allowed only because the policy is in dry_run mode
	ReasonMissingToken    Reason = "missing_token"    // no token header, or not "Bearer"
	ReasonInvalidRequest  Reason = "invalid_request"  // several tokens, or an unusable header value
	ReasonInvalidToken    Reason = "invalid_token"    // verification failed; Detail says why
	ReasonAudience        Reason = "audience"         // token audience not accepted by the route's policy
	ReasonNoPolicy        Reason = "no_policy"        // no policy matches the route
	ReasonUnknownPolicy   Reason = "unknown_policy"   // context_extensions names a policy that does not exist
	ReasonInvalidPath     Reason = "invalid_path"     // the path has no safe normal form to compare with path prefixes
	ReasonNoRuleMatched   Reason = "no_rule_matched"  // valid token, no rule allows it
	ReasonKeysUnavailable Reason = "keys_unavailable" // 503
)

// Header is a header name and value to set on the upstream request.
type Header struct {
	Name string
	// Value is the claim, percent-encoded where it holds a byte that is
	// not visible ASCII or a space, or a '%'; it may be "": the claim is
	// absent.
	Value string
}

// Decision is the answer to one request. A deny is a value, not an error.
type Decision struct {
	Outcome Outcome
	Reason  Reason
	// Detail refines Reason: the claims.Reason of a token failure (and
	// "bad_audience" for ReasonAudience), for ReasonUnknownPolicy the
	// policy name the route asked for, and for ReasonInvalidPath what is
	// wrong with the path ("encoded_slash", "parameter", ...). It is for
	// logs, not for the client.
	Detail string
	// Description is a human sentence safe to return to the client.
	Description string
	Policy      string // the selected policy, "" when none
	Rule        int    // index of the allowing rule in the policy's allow list; -1 when none
	DryRun      bool   // the policy is in dry_run mode (an Allow may hide a would-be deny)
	// Shadow is the verdict of the policy's shadow rules when it has some
	// and the token reached the rules (verified, audience accepted);
	// ShadowNone otherwise. ShadowRule is the index of the matching shadow
	// rule, meaningful only with ShadowAllow. They never change Outcome.
	Shadow     ShadowVerdict
	ShadowRule int
	// TokenHash identifies the token in logs without revealing it; zero
	// when the request carried no usable token. Set by Authorizer.Authorize.
	TokenHash TokenHash
	Claims    *claims.Claims
	// Set are the identity headers for the upstream, in configured order, on
	// Allow only. A header whose claim is absent has an empty Value.
	Set []Header
	// Remove are request headers to strip on Allow: the token header (with
	// upstream.remove_token) and every client header that carries the identity
	// prefix and is not in Set.
	Remove []string
}

// ShadowVerdict is what a policy's shadow rules say about a request.
type ShadowVerdict uint8

// The shadow verdicts.
const (
	ShadowNone  ShadowVerdict = iota // no shadow rules, or the token did not reach the rules
	ShadowAllow                      // a shadow rule matches
	ShadowDeny                       // no shadow rule matches
)

// String returns "", "allow" or "deny", fit for a log field or a metric label.
func (v ShadowVerdict) String() string {
	switch v {
	case ShadowAllow:
		return "allow"
	case ShadowDeny:
		return "deny"
	}
	return ""
}

// Enforced returns the verdict of the policy's enforced allow rules, in the
// terms of a shadow verdict: ShadowAllow when a rule matched, ShadowDeny when
// the rules were evaluated and none matched (a dry_run policy included), and
// ShadowNone when they were not evaluated.
func (d *Decision) Enforced() ShadowVerdict {
	switch {
	case d.Rule >= 0:
		return ShadowAllow
	case d.Reason == ReasonNoRuleMatched || d.Reason == ReasonDryRun:
		return ShadowDeny
	}
	return ShadowNone
}

// ShadowDisagrees reports whether the policy's shadow rules were evaluated
// and reached another verdict than its enforced rules: the requests that
// switching to the shadow list would change.
func (d *Decision) ShadowDisagrees() bool {
	return d.Shadow != ShadowNone && d.Shadow != d.Enforced()
}

// TokenHash is the first 6 bytes of the SHA-256 of a raw token: enough to
// tell tokens apart in logs and to find every decision about one token,
// useless for recovering or replaying it. The zero value means no token.
type TokenHash [6]byte

// HashToken returns the TokenHash of a raw token.
func HashToken(raw string) TokenHash {
	// sha256 only reads its input: hashing the string's own bytes saves a
	// copy of the token (about a kilobyte of garbage) on every request.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
	return TokenHash(sum[:len(TokenHash{})])
}

// IsZero reports whether h is the zero value: no token.
func (h TokenHash) IsZero() bool { return h == TokenHash{} }

// String returns h as 12 lower-case hex digits (the first 12 of the token's
// SHA-256 in hex), or "" for the zero value.
func (h TokenHash) String() string {
	if h.IsZero() {
		return ""
	}
	return hex.EncodeToString(h[:])
}

// Realm is the realm of the WWW-Authenticate challenge on every 401.
const Realm = "actions-authz"

// RetryAfterSeconds is the Retry-After value, in seconds, that front doors
// send with a 503 (Outcome Unavailable).
const RetryAfterSeconds = 5

// HTTPStatus returns the HTTP status a front door answers with: 200 for
// Allow (the upstream's status in a proxy), 401 for Unauthenticated, 403 for
// Deny, 503 for Unavailable and 431 for TooLarge. An unknown Outcome is 403:
// fail closed.
func (o Outcome) HTTPStatus() int {
	switch o {
	case Allow:
		return http.StatusOK
	case Unauthenticated:
		return http.StatusUnauthorized
	case Unavailable:
		return http.StatusServiceUnavailable
	case TooLarge:
		return http.StatusRequestHeaderFieldsTooLarge
	}
	return http.StatusForbidden
}

// String returns "allow", "deny", "unauthenticated", "unavailable" or
// "too_large", fit for a log field or a metric label.
func (o Outcome) String() string {
	switch o {
	case Deny:
		return "deny"
	case Allow:
		return "allow"
	case Unauthenticated:
		return "unauthenticated"
	case Unavailable:
		return "unavailable"
	case TooLarge:
		return "too_large"
	}
	return "invalid"
}

// WWWAuthenticate returns the WWW-Authenticate challenge for a 401, as
// RFC 6750 words it, and "" for any other outcome. A missing token gets the
// bare challenge; an unusable request gets error="invalid_request"; a token
// that fails verification or has the wrong audience gets
// error="invalid_token". The description is the decision's Description,
// escaped for a quoted string.
func (d *Decision) WWWAuthenticate() string {
	if d.Outcome != Unauthenticated {
		return ""
	}
	const challenge = `Bearer realm="` + Realm + `"`
	var code string
	switch d.Reason {
	case ReasonInvalidRequest:
		code = "invalid_request"
	case ReasonInvalidToken, ReasonAudience:
		code = "invalid_token"
	default:
		return challenge
	}
	var b strings.Builder
	b.WriteString(challenge)
	b.WriteString(`, error="`)
	b.WriteString(code)
	b.WriteString(`"`)
	if d.Description != "" {
		b.WriteString(`, error_description="`)
		httpsyntax.WriteQuoted(&b, d.Description)
		b.WriteString(`"`)
	}
	return b.String()
}

// ErrorCode returns the OAuth-style error code of a refusal, as the JSON
// body carries it: "invalid_request" for a missing or unusable token and for
// headers over the bounds (431), "invalid_token" for a token that fails
// verification or has the wrong audience, "access_denied" for a 403 and
// "temporarily_unavailable" for a 503. It returns "" for Allow.
func (d *Decision) ErrorCode() string {
	switch d.Outcome {
	case Allow:
		return ""
	case Unauthenticated:
		if d.Reason == ReasonInvalidToken || d.Reason == ReasonAudience {
			return "invalid_token"
		}
		return "invalid_request"
	case Unavailable:
		return "temporarily_unavailable"
	case TooLarge:
		return "invalid_request"
	}
	return "access_denied"
}

// body is the JSON shape of a refusal.
type body struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Policy      string `json:"policy,omitempty"`
}

// Body returns the JSON body of a refusal:
//
//	{"error":"access_denied","error_description":"...","policy":"deploy"}
//
// with the error code of ErrorCode, the Description and the policy when one
// was selected. It never holds the token, and a 403 never says which claim
// failed. It returns nil for Allow.
func (d *Decision) Body() []byte {
	code := d.ErrorCode()
	if code == "" {
		return nil
	}
	out, err := json.Marshal(body{Error: code, Description: d.Description, Policy: d.Policy})
	if err != nil { // strings only: cannot happen
		return []byte(`{"error":"` + code + `"}`)
	}
	return out
}
