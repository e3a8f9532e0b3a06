package authz

import (
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
	ReasonNoRuleMatched   Reason = "no_rule_matched"  // valid token, no rule allows it
	ReasonKeysUnavailable Reason = "keys_unavailable" // 503
)

// Header is a header name and value to set on the upstream request.
type Header struct {
	Name  string
	Value string // may be "": the claim is absent
}

// Decision is the answer to one request. A deny is a value, not an error.
type Decision struct {
	Outcome Outcome
	Reason  Reason
	// Detail refines Reason: the claims.Reason of a token failure.
	Detail string
	// Description is a human sentence safe to return to the client.
	Description string
	Policy      string // the selected policy, "" when none
	Rule        int    // index of the allowing rule in the policy's allow list; -1 when none
	DryRun      bool   // the policy is in dry_run mode (an Allow may hide a would-be deny)
	Claims      *claims.Claims
	// Set are the identity headers for the upstream, in configured order, on
	// Allow only. A header whose claim is absent has an empty Value.
	Set []Header
	// Remove are request headers to strip on Allow: the token header (with
	// upstream.remove_token) and every client header that carries the identity
	// prefix and is not in Set.
	Remove []string
}
