package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/actions-authz/actions-authz/authz"
)

// newLogger returns the one JSON logger of the process.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// decisionLogger writes one line per decision, as log.decisions says: all,
// deny (every decision but a plain allow) or none. It never logs the token.
func decisionLogger(logger *slog.Logger, which string) authz.ObserveFunc {
	if which == "none" {
		return nil
	}
	denyOnly := which == "deny"
	return func(ctx context.Context, r *authz.Request, d *authz.Decision, elapsed time.Duration) {
		if denyOnly && d.Outcome == authz.Allow && !d.DryRun {
			return
		}
		if !logger.Enabled(ctx, slog.LevelInfo) {
			return
		}
		path, _, _ := strings.Cut(r.Path, "?") // the query may carry secrets
		attrs := make([]slog.Attr, 0, 18)
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
		if c := d.Claims; c != nil {
			attrs = append(attrs,
				slog.String("repository", c.Repository),
				slog.String("ref", c.Ref),
				slog.String("sha", c.SHA),
				slog.String("run_id", c.RunID),
				slog.String("jti", c.ID),
			)
		}
		attrs = append(attrs,
			slog.String("request_id", r.Headers["x-request-id"]),
			slog.String("method", r.Method),
			slog.String("host", r.Host),
			slog.String("path", path),
			slog.Int64("latency_us", elapsed.Microseconds()),
		)
		logger.LogAttrs(ctx, slog.LevelInfo, "decision", attrs...)
	}
}
