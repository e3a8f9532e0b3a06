package claims

import "errors"

// The two kinds of verification failure. A caller branches on them with
// errors.Is, never on error text: ErrInvalidToken means the client sent a
// token that must be refused (HTTP 401); ErrKeysUnavailable means the token
// could not be checked because its issuer's keys cannot be had (HTTP 503).
var (
	ErrInvalidToken    = errors.New("invalid token")
	ErrKeysUnavailable = errors.New("signing keys unavailable")
)

// Reason is a short, fixed identifier of why a token was refused. Its values
// form a small closed set, fit for metric labels and log fields.
type Reason string

// The reasons a token is refused.
const (
	ReasonTooLarge        Reason = "too_large"
	ReasonMalformed       Reason = "malformed"
	ReasonAlgorithm       Reason = "bad_algorithm"
	ReasonMissingKID      Reason = "missing_kid"
	ReasonUnknownKey      Reason = "unknown_key"
	ReasonSignature       Reason = "bad_signature"
	ReasonIssuer          Reason = "bad_issuer"
	ReasonAudience        Reason = "bad_audience"
	ReasonExpired         Reason = "expired"
	ReasonNotYetValid     Reason = "not_yet_valid"
	ReasonIssuedInFuture  Reason = "issued_in_future"
	ReasonMissingClaim    Reason = "missing_claim"
	ReasonNotIDToken      Reason = "not_an_id_token"
	ReasonLifetime        Reason = "lifetime_too_long"
	ReasonKeysUnavailable Reason = "keys_unavailable"
)

// Error is a verification failure. It wraps ErrInvalidToken or
// ErrKeysUnavailable, carries a Reason for metrics and a Description that is
// safe to show to the client (it never contains the token).
type Error struct {
	Reason      Reason
	Description string
	kind        error // ErrInvalidToken or ErrKeysUnavailable
	cause       error // underlying error, for logs; may be nil
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Description + ": " + e.cause.Error()
	}
	return e.Description
}

// Unwrap returns the kind (ErrInvalidToken or ErrKeysUnavailable) and the cause.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func invalid(r Reason, desc string, cause error) *Error {
	return &Error{Reason: r, Description: desc, kind: ErrInvalidToken, cause: cause}
}

func unavailable(desc string, cause error) *Error {
	return &Error{Reason: ReasonKeysUnavailable, Description: desc, kind: ErrKeysUnavailable, cause: cause}
}

// ReasonOf returns the Reason of a verification error, or "" for other errors.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
