package main

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestGCTuner drives a tuner with a stand-in live heap and runtime: GOGC
// off under a memory limit of the floor while the live heap is under a
// third of it, Go's defaults beyond, and no call while nothing changes.
func TestGCTuner(t *testing.T) {
	const floor = 24 << 20
	var live uint64
	var calls []string
	tn := newGCTuner(floor, func() uint64 { return live },
		func(p int) int { calls = append(calls, fmt.Sprintf("GOGC=%d", p)); return 0 },
		func(l int64) int64 { calls = append(calls, fmt.Sprintf("limit=%d", l)); return 0 })
	floorLimit, noLimit := fmt.Sprintf("limit=%d", floor), fmt.Sprintf("limit=%d", int64(math.MaxInt64))
	for i, st := range []struct {
		live uint64
		want []string
	}{
		{0, []string{floorLimit, "GOGC=-1"}}, // before the first collection
		{3 << 20, nil},
		{8<<20 - 1, nil},
		{8 << 20, []string{"GOGC=100", noLimit}}, // a third of the floor
		{64 << 20, nil},
		{2 << 20, []string{floorLimit, "GOGC=-1"}}, // the limit before GOGC=off
	} {
		calls = nil
		live = st.live
		tn.update()
		if !slices.Equal(calls, st.want) {
			t.Fatalf("step %d (live %d): calls %v, want %v", i, st.live, calls, st.want)
		}
	}
}

// TestGCTunerRunsAfterEveryCollection: a tune arms the next one, which the
// runtime runs after a collection.
func TestGCTunerRunsAfterEveryCollection(t *testing.T) {
	var reads atomic.Int64
	nop := func(int) int { return 0 }
	tn := newGCTuner(24<<20, func() uint64 { reads.Add(1); return 64 << 20 }, nop, func(int64) int64 { return 0 })
	tn.tune()
	for want := int64(2); want <= 4; want++ {
		deadline := time.Now().Add(5 * time.Second)
		for reads.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%d tunes, want %d after a collection", reads.Load(), want)
			}
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
	}
}

func TestGCTunable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, true},
		{map[string]string{"GOGC": "200"}, false},
		{map[string]string{"GOMEMLIMIT": "512MiB"}, false},
		{map[string]string{"GOGC": ""}, false}, // set, even if empty
		{map[string]string{"GODEBUG": "gctrace=1"}, true},
	} {
		lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		if got := gcTunable(lookup); got != tc.want {
			t.Errorf("environment %v: tunable %v, want %v", tc.env, got, tc.want)
		}
	}
}
