package authz

import (
	"errors"
	"fmt"
	"testing"

	"github.com/actions-authz/actions-authz/authz/internal/policy"
	"github.com/actions-authz/actions-authz/claims"
)

func TestVerifyFailureIsErrorsIs(t *testing.T) {
	// Branching is on errors.Is, whatever the wrapping.
	err := fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", claims.ErrKeysUnavailable))
	if d := verifyFailure(err, &policy.Policy{Name: "p"}); d.Outcome != Unavailable {
		t.Errorf("wrapped ErrKeysUnavailable: %+v", d)
	}
	if d := verifyFailure(errors.New("anything"), &policy.Policy{Name: "p"}); d.Outcome != Unauthenticated || d.Reason != ReasonInvalidToken {
		t.Errorf("other error: %+v", d)
	}
}
