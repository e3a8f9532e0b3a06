package service

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/actions-authz/actions-authz/authz"
)

// NewLogger returns the one JSON logger of the process. Its level is a
// LevelVar, so that a reload can change it.
func NewLogger(w io.Writer, level *slog.LevelVar) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// ParseLevel returns the slog level named by log.level (validated at
// load), or info.
func ParseLevel(level string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// ObserveAll returns an ObserveFunc that calls each of fns that is not nil.
func ObserveAll(fns ...authz.ObserveFunc) authz.ObserveFunc {
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
