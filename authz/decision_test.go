package authz

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		o      Outcome
		status int
		name   string
	}{
		{Allow, 200, "allow"},
		{Deny, 403, "deny"},
		{Unauthenticated, 401, "unauthenticated"},
		{Unavailable, 503, "unavailable"},
		{TooLarge, 431, "too_large"},
		{Outcome(42), 403, "invalid"},
	}
	for _, tt := range tests {
		if got := tt.o.HTTPStatus(); got != tt.status {
			t.Errorf("%v.HTTPStatus() = %d, want %d", tt.o, got, tt.status)
		}
		if got := tt.o.String(); got != tt.name {
			t.Errorf("Outcome(%d).String() = %q, want %q", uint8(tt.o), got, tt.name)
		}
	}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name     string
		d        Decision
		www      string
		body     string
		bodyNone bool
	}{
		{
			name: "allow",
			d:    Decision{Outcome: Allow, Reason: ReasonAllowed, Policy: "deploy"},
			www:  "", bodyNone: true,
		},
		{
			name: "missing token",
			d:    Decision{Outcome: Unauthenticated, Reason: ReasonMissingToken, Description: "a bearer token is required", Policy: "deploy"},
			www:  `Bearer realm="actions-authz"`,
			body: `{"error":"invalid_request","error_description":"a bearer token is required","policy":"deploy"}`,
		},
		{
			name: "invalid request",
			d:    Decision{Outcome: Unauthenticated, Reason: ReasonInvalidRequest, Description: "several tokens in the authorization header"},
			www:  `Bearer realm="actions-authz", error="invalid_request", error_description="several tokens in the authorization header"`,
			body: `{"error":"invalid_request","error_description":"several tokens in the authorization header"}`,
		},
		{
			name: "invalid token, escaped",
			d:    Decision{Outcome: Unauthenticated, Reason: ReasonInvalidToken, Detail: "bad_issuer", Description: `issuer "https://evil" is not trusted` + "\r\nX: y\\", Policy: "deploy"},
			www:  `Bearer realm="actions-authz", error="invalid_token", error_description="issuer \"https://evil\" is not trusted  X: y\\"`,
			body: `{"error":"invalid_token","error_description":"issuer \"https://evil\" is not trusted\r\nX: y\\","policy":"deploy"}`,
		},
		{
			name: "audience",
			d:    Decision{Outcome: Unauthenticated, Reason: ReasonAudience, Description: "the token's audience is not accepted for this route", Policy: "artifacts"},
			www:  `Bearer realm="actions-authz", error="invalid_token", error_description="the token's audience is not accepted for this route"`,
			body: `{"error":"invalid_token","error_description":"the token's audience is not accepted for this route","policy":"artifacts"}`,
		},
		{
			name: "no rule",
			d:    Decision{Outcome: Deny, Reason: ReasonNoRuleMatched, Description: `policy "deploy": no rule matched`, Policy: "deploy"},
			body: `{"error":"access_denied","error_description":"policy \"deploy\": no rule matched","policy":"deploy"}`,
		},
		{
			name: "no policy",
			d:    Decision{Outcome: Deny, Reason: ReasonNoPolicy, Description: "no policy for this route"},
			body: `{"error":"access_denied","error_description":"no policy for this route"}`,
		},
		{
			name: "unavailable",
			d:    Decision{Outcome: Unavailable, Reason: ReasonKeysUnavailable, Description: "keys unavailable", Policy: "deploy"},
			body: `{"error":"temporarily_unavailable","error_description":"keys unavailable","policy":"deploy"}`,
		},
		{
			name: "headers too large",
			d:    HeadersTooLarge(),
			body: `{"error":"invalid_request","error_description":"the request has more than 1000 header fields or more than 128 KiB of them"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.WWWAuthenticate(); got != tt.www {
				t.Errorf("WWWAuthenticate() =\n\t%s\nwant\n\t%s", got, tt.www)
			}
			body := tt.d.Body()
			if tt.bodyNone {
				if body != nil {
					t.Errorf("Body() = %s, want nil", body)
				}
				return
			}
			if diff := cmp.Diff(tt.body, string(body)); diff != "" {
				t.Errorf("Body() (-want +got):\n%s", diff)
			}
			var m map[string]string
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("Body() is not JSON: %v", err)
			}
		})
	}
}

func TestShadowVerdictString(t *testing.T) {
	for v, want := range map[ShadowVerdict]string{ShadowNone: "", ShadowAllow: "allow", ShadowDeny: "deny"} {
		if got := v.String(); got != want {
			t.Errorf("ShadowVerdict(%d).String() = %q, want %q", v, got, want)
		}
	}
}
