package main

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

// TestInProcessServeLeavesGCAlone: only main lets serve size the garbage
// collector; serve run in process by a test changes nothing.
func TestInProcessServeLeavesGCAlone(t *testing.T) {
	before := debug.SetGCPercent(-1)
	debug.SetGCPercent(before)
	tuner := startGCTuning(true, slog.New(slog.DiscardHandler))
	defer tuner.Stop()
	if tuner != nil {
		t.Fatal("a tuner started outside main")
	}
	if after := debug.SetGCPercent(before); after != before {
		t.Errorf("GOGC %d, want %d as before", after, before)
	}
}
