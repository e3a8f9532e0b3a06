package decisionlog

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/actions-authz/actions-authz/authz"
	"github.com/actions-authz/actions-authz/claims"
)

// TestAppendStringIsJSON: whatever a client puts in a header, the decision
// line stays one valid JSON line and the value reads back as encoding/json
// would write it.
func TestAppendStringIsJSON(t *testing.T) {
	for _, v := range []string{
		"", "plain", `quo"te`, `back\\slash`, "new\nline", "cr\rtab\t", "nul\x00bell\x07\x1f",
		"é ü 日本", "bad \xff\xfe utf8", "line\u2028sep\u2029", "\x7f", `{"injected":"field"}`,
	} {
		b := appendString([]byte("{"), "k", v)
		b = append(b[:1], b[2:]...) // drop the leading comma
		b = append(b, '}')
		if bytes.ContainsAny(b, "\n\r") {
			t.Errorf("%q: the line holds a raw line break: %s", v, b)
		}
		var got map[string]string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: not JSON: %s: %v", v, b, err)
			continue
		}
		want, _ := json.Marshal(v) // encoding/json's own reading of v
		var wantStr string
		json.Unmarshal(want, &wantStr)
		if got["k"] != wantStr {
			t.Errorf("%q: reads back as %q, want %q", v, got["k"], wantStr)
		}
	}
}

// TestAppendDecision: the hand-encoded line has every field with its value,
// in the shape of slog's JSON lines (time with milliseconds, level, msg).
func TestAppendDecision(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 15, 4, 123456789, time.UTC)
	c := &claims.Claims{Repository: "octo-org/octo-repo", Ref: "refs/heads/main", SHA: "abc", RunID: "42"}
	c.ID = "jti-1"
	r := &authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy/x?token=secret",
		Headers: map[string]string{"x-request-id": "req-\"1\""}}
	tests := []struct {
		name string
		d    authz.Decision
		want map[string]any
	}{
		{"allow", authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "deploy", Rule: 1, Claims: c,
			TokenHash: authz.HashToken("a.b.c")}, map[string]any{
			"decision": "allow", "reason": "allowed", "policy": "deploy", "rule": 1.0,
			"repository": "octo-org/octo-repo", "ref": "refs/heads/main", "sha": "abc", "run_id": "42", "jti": "jti-1",
			"token_sha256": authz.HashToken("a.b.c").String()}},
		{"dry run with shadow", authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonDryRun, Policy: "trial", Rule: -1, DryRun: true,
			Shadow: authz.ShadowAllow, ShadowRule: 2, Claims: c}, map[string]any{
			"decision": "allow", "reason": "dry_run", "policy": "trial", "dry_run": true, "shadow": "allow", "shadow_rule": 2.0,
			"shadow_disagrees": true, "repository": "octo-org/octo-repo", "ref": "refs/heads/main", "sha": "abc", "run_id": "42", "jti": "jti-1"}},
		{"no token", authz.Decision{Outcome: authz.Unauthenticated, Reason: authz.ReasonInvalidToken, Detail: "expired", Policy: "deploy", Rule: -1},
			map[string]any{"decision": "unauthenticated", "reason": "invalid_token", "detail": "expired", "policy": "deploy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := appendDecision(nil, now, r, &tt.d, 1234*time.Microsecond, trace.TraceID{})
			if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
				t.Fatalf("not one line: %q", line)
			}
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			want := map[string]any{"time": "2026-03-02T10:15:04.123Z", "level": "INFO", "msg": "decision",
				"request_id": `req-"1"`, "method": "POST", "host": "deploy.internal", "path": "/deploy/x", "latency_us": 1234.0}
			for k, v := range tt.want {
				want[k] = v
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("line (-want +got):\n%s", diff)
			}

		})
	}
}

func BenchmarkAppendDecision(b *testing.B) {
	c := &claims.Claims{Repository: "octo-org/octo-repo", Ref: "refs/heads/main", SHA: "0123456789abcdef0123456789abcdef01234567", RunID: "8123456789"}
	d := authz.Decision{Outcome: authz.Allow, Reason: authz.ReasonAllowed, Policy: "deploy", Rule: 0, Claims: c, TokenHash: authz.HashToken("x")}
	r := &authz.Request{Method: "POST", Host: "deploy.internal", Path: "/deploy/app", Headers: map[string]string{"x-request-id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendDecision(buf[:0], time.Now(), r, &d, time.Millisecond, trace.TraceID{})
	}
}
