package main

import (
	"log/slog"
	"os"

	"github.com/actions-authz/actions-authz/cmd/actions-authz/internal/gctune"
)

// gcTuningAllowed is set by main: the binary may size its garbage
// collector; a test that runs serve in process leaves the test binary's
// alone.
var gcTuningAllowed bool

// startGCTuning starts sizing the garbage collector when main allows it,
// serve's --gc-tuning asks for it and the environment sets neither GOGC nor
// GOMEMLIMIT, and logs which. It returns the tuner to Stop, or nil.
func startGCTuning(enabled bool, logger *slog.Logger) *gctune.Tuner {
	if !gcTuningAllowed || !enabled || !gctune.Tunable(os.LookupEnv) {
		logger.Info("garbage collection as the environment sets it", "GOGC", os.Getenv("GOGC"), "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
		return nil
	}
	logger.Info("garbage collection sized for a small heap: GOGC off under a memory limit while the live heap is under a third of it",
		"memory_limit_bytes", gctune.Floor)
	return gctune.Start(gctune.Floor)
}
