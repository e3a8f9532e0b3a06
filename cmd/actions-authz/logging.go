package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/actions-authz/actions-authz/authz"
)

// newLogger returns the one JSON logger of the process. Its level is a
// LevelVar, so that a reload can change it.
func newLogger(w io.Writer, level *slog.LevelVar) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// parseLevel returns the slog level named by log.level (validated at
// load), or info.
func parseLevel(level string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Which decisions are logged (log.decisions).
const (
	logAll uint32 = iota
	logDeny
	logNone
)

// decisionLog writes one JSON line per decision, as log.decisions says:
// all; deny (every decision but a plain allow: refusals, dry_run allows that
// a rule did not grant, and shadow disagreements); or none. Lines are at
// info level. It never logs the token, only its TokenHash, and never the
// query string of the path. The setting can change while it runs.
type decisionLog struct {
	logger *slog.Logger
	mode   atomic.Uint32
}

func newDecisionLog(logger *slog.Logger, which string) *decisionLog {
	l := &decisionLog{logger: logger}
	l.set(which)
	return l
}

// set applies a log.decisions value.
func (l *decisionLog) set(which string) {
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
func (l *decisionLog) Observe(ctx context.Context, r *authz.Request, d *authz.Decision, elapsed time.Duration) {
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
	path, _, _ := strings.Cut(r.Path, "?") // the query may carry secrets
	attrs := make([]slog.Attr, 0, 22)
	attrs = append(attrs,
		slog.String("decision", d.Outcome.String()),
		slog.String("reason", string(d.Reason)),
	)
	if d.Detail != "" {
		attrs = append(attrs, slog.String("detail", d.Detail))
	}
	attrs = append(attrs, slog.String("policy", d.Policy))
	if d.Outcome == authz.Allow && d.Rule >= 0 {
		attrs = append(attrs, slog.Int("rule", d.Rule))
	}
	if d.DryRun {
		attrs = append(attrs, slog.Bool("dry_run", true))
	}
	if d.Shadow != authz.ShadowNone {
		attrs = append(attrs, slog.String("shadow", d.Shadow.String()))
		if d.Shadow == authz.ShadowAllow {
			attrs = append(attrs, slog.Int("shadow_rule", d.ShadowRule))
		}
		if d.ShadowDisagrees() {
			attrs = append(attrs, slog.Bool("shadow_disagrees", true))
		}
	}
	if c := d.Claims; c != nil {
		attrs = append(attrs,
			slog.String("repository", c.Repository),
			slog.String("ref", c.Ref),
			slog.String("sha", c.SHA),
			slog.String("run_id", c.RunID),
			slog.String("jti", c.ID),
		)
	}
	if !d.TokenHash.IsZero() {
		attrs = append(attrs, slog.String("token_sha256", d.TokenHash.String()))
	}
	attrs = append(attrs,
		slog.String("request_id", r.Headers["x-request-id"]),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", path),
		slog.Int64("latency_us", elapsed.Microseconds()),
	)
	l.logger.LogAttrs(ctx, slog.LevelInfo, "decision", attrs...)
}

// observeAll returns an ObserveFunc that calls each of fns that is not nil.
func observeAll(fns ...authz.ObserveFunc) authz.ObserveFunc {
	var list []authz.ObserveFunc
	for _, f := range fns {
		if f != nil {
			list = append(list, f)
		}
	}
	return func(ctx context.Context, r *authz.Request, d *authz.Decision, elapsed time.Duration) {
		for _, f := range list {
			f(ctx, r, d, elapsed)
		}
	}
}
