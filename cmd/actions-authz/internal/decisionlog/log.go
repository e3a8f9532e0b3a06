// Package decisionlog is the service's log output: Log encodes one JSON
// line per decision by hand, in the shape of slog's JSON lines at a
// fraction of their cost, and Writer puts every log line, decisions
// included, between the request path and a slow output.
package decisionlog

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

	"github.com/actions-authz/actions-authz/authz"
)

// Which decisions are logged (log.decisions).
const (
	logAll uint32 = iota
	logDeny
	logNone
)

// Log writes one JSON line per decision, as log.decisions says:
// all; deny (every decision but a plain allow: refusals, dry_run allows that
// a rule did not grant, and shadow disagreements); or none. Lines are at
// info level and in the shape of the logger's (slog JSON) lines. It never
// logs the token, only its TokenHash, and never the query string of the
// path. The setting can change while it runs.
//
// The line is encoded here rather than by slog: it is written on every
// Check, and appending known fields to a pooled buffer costs a fraction of
// slog's generic encoding (see BenchmarkCheckDecisionLogs). It goes to the
// logger's own output with one Write, so lines never interleave.
type Log struct {
	logger *slog.Logger // only for its level
	out    io.Writer
	mode   atomic.Uint32
	bufs   sync.Pool // *[]byte
	// TraceIDs adds the trace_id of the span in the decision's context,
	// when there is one. Set it before the first decision, when spans are
	// exported; otherwise the context is not searched.
	TraceIDs bool
}

// New returns a Log of the decisions which (a log.decisions value) to out,
// at info level when logger is enabled for it.
func New(logger *slog.Logger, out io.Writer, which string) *Log {
	l := &Log{logger: logger, out: out}
	l.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }
	l.Set(which)
	return l
}

// Set applies a log.decisions value: all, deny or none.
func (l *Log) Set(which string) {
	switch which {
	case "none":
		l.mode.Store(logNone)
	case "deny":
		l.mode.Store(logDeny)
	default:
		l.mode.Store(logAll)
	}
}

// Observe logs one decision. It is an authz.ObserveFunc.
func (l *Log) Observe(ctx context.Context, r *authz.Request, d *authz.Decision, elapsed time.Duration) {
	switch l.mode.Load() {
	case logNone:
		return
	case logDeny:
		if d.Outcome == authz.Allow && d.Reason == authz.ReasonAllowed && !d.ShadowDisagrees() {
			return
		}
	}
	if !l.logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var traceID trace.TraceID
	if l.TraceIDs {
		traceID = trace.SpanContextFromContext(ctx).TraceID()
	}
	bp := l.bufs.Get().(*[]byte)
	b := appendDecision((*bp)[:0], time.Now(), r, d, elapsed, traceID)
	l.out.Write(b)
	if cap(b) <= 64<<10 { // do not keep a buffer a pathological line grew
		*bp = b
		l.bufs.Put(bp)
	}
}

// appendDecision appends the JSON line of one decision to b, with
// trace_id unless traceID is zero.
func appendDecision(b []byte, now time.Time, r *authz.Request, d *authz.Decision, elapsed time.Duration, traceID trace.TraceID) []byte {
	b = append(b, `{"time":"`...)
	b = appendRFC3339Millis(b, now)
	b = append(b, `","level":"INFO","msg":"decision"`...)
	b = appendString(b, "decision", d.Outcome.String())
	b = appendString(b, "reason", string(d.Reason))
	if d.Detail != "" {
		b = appendString(b, "detail", d.Detail)
	}
	b = appendString(b, "policy", d.Policy)
	if d.Outcome == authz.Allow && d.Rule >= 0 {
		b = appendInt(b, "rule", int64(d.Rule))
	}
	if d.DryRun {
		b = append(b, `,"dry_run":true`...)
	}
	if d.Shadow != authz.ShadowNone {
		b = appendString(b, "shadow", d.Shadow.String())
		if d.Shadow == authz.ShadowAllow {
			b = appendInt(b, "shadow_rule", int64(d.ShadowRule))
		}
		if d.ShadowDisagrees() {
			b = append(b, `,"shadow_disagrees":true`...)
		}
	}
	if c := d.Claims; c != nil {
		b = appendString(b, "repository", c.Repository)
		b = appendString(b, "ref", c.Ref)
		b = appendString(b, "sha", c.SHA)
		b = appendString(b, "run_id", c.RunID)
		b = appendString(b, "jti", c.ID)
	}
	if !d.TokenHash.IsZero() {
		b = append(b, `,"token_sha256":"`...)
		b = hex.AppendEncode(b, d.TokenHash[:])
		b = append(b, '"')
	}
	path, _, _ := strings.Cut(r.Path, "?") // the query may carry secrets
	b = appendString(b, "request_id", r.Headers["x-request-id"])
	if traceID.IsValid() {
		b = append(b, `,"trace_id":"`...)
		b = hex.AppendEncode(b, traceID[:])
		b = append(b, '"')
	}
	b = appendString(b, "method", r.Method)
	b = appendString(b, "host", r.Host)
	b = appendString(b, "path", path)
	b = appendInt(b, "latency_us", elapsed.Microseconds())
	return append(b, "}\n"...)
}

// appendRFC3339Millis appends t as slog's JSON handler writes times:
// RFC 3339 with exactly three fractional digits.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	return t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
}

func appendInt(b []byte, key string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// appendString appends ,"key":"value" with value escaped for JSON: quotes,
// backslashes and control characters escaped, invalid UTF-8 replaced by
// U+FFFD, and U+2028 and U+2029 escaped (as encoding/json does), whatever a
// client put in its request.
func appendString(b []byte, key, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':', '"')
	const hexDigits = "0123456789abcdef"
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, v[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, v[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, v[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, v[start:]...)
	return append(b, '"')
}
